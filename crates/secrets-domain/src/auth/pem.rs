//! A verification key from PEM, read here rather than by jsonwebtoken's
//! `use_pem` feature: that pulls an ASN.1 parser and a date library into
//! every function for a string read once at start-up. aws-lc-rs, which
//! verifies the signatures, checks the key itself.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey};

const NOT_A_KEY: &str = "the JWT public key is neither an RSA (2048 to 8192 bits) nor an EC P-256 \
                         public key in PEM";

/// An RSA key (`PUBLIC KEY` or `RSA PUBLIC KEY`) verifies RS256, an EC P-256
/// key (`PUBLIC KEY`) ES256; anything else is refused.
pub fn public_key(pem: &str) -> Result<(DecodingKey, Algorithm), String> {
    let der = der(pem).ok_or_else(|| NOT_A_KEY.to_owned())?;
    if ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der).is_ok() {
        Ok((DecodingKey::from_rsa_der(&der), Algorithm::RS256))
    } else if ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &der).is_ok() {
        Ok((DecodingKey::from_ec_der(&der), Algorithm::ES256))
    } else {
        Err(NOT_A_KEY.to_owned())
    }
}

/// The DER between `-----BEGIN {label}-----` and `-----END {label}-----`.
fn der(pem: &str) -> Option<Vec<u8>> {
    let rest = pem.trim().strip_prefix("-----BEGIN ")?;
    let (label, rest) = rest.split_once("-----")?;
    if !matches!(label, "PUBLIC KEY" | "RSA PUBLIC KEY") {
        return None;
    }
    let body = rest.strip_suffix(&format!("-----END {label}-----"))?;
    let base64: String = body.split_ascii_whitespace().collect();
    STANDARD.decode(base64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = include_str!("../../../secrets-testkit/testdata/rsa-a.public.pem");
    const EC: &str = include_str!("../../../secrets-testkit/testdata/ec-a.public.pem");

    #[test]
    fn rsa_and_ec_keys_get_their_algorithm() {
        assert_eq!(public_key(RSA).unwrap().1, Algorithm::RS256);
        assert_eq!(public_key(EC).unwrap().1, Algorithm::ES256);
        let crlf = EC.replace('\n', "\r\n");
        assert_eq!(public_key(&crlf).unwrap().1, Algorithm::ES256);
    }

    #[test]
    fn anything_else_is_refused() {
        let private = include_str!("../../../secrets-testkit/testdata/rsa-a.private.pem");
        let truncated = RSA.replace("-----END PUBLIC KEY-----", "");
        let relabelled = RSA.replace("PUBLIC KEY", "CERTIFICATE");
        let mangled = RSA.replacen("MII", "MIJ", 1);
        let not_base64 = RSA.replacen('M', "*", 1);
        for pem in [
            private,
            &truncated,
            &relabelled,
            &mangled,
            &not_base64,
            "",
            "PUBLIC KEY",
        ] {
            assert_eq!(public_key(pem).err().as_deref(), Some(NOT_A_KEY), "{pem}");
        }
    }
}
