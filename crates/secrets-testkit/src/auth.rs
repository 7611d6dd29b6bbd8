//! What tests of token verification share: the test issuer's settings, and
//! reading a verdict.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use secrets_domain::auth::{AuthSettings, Caller, KeySource};
use secrets_domain::error::{AuthFailure, Error, Result};

use crate::tokens::{AUDIENCE, ISSUER, PERMISSION};

/// The test issuer's settings with `keys`, allowing `algorithms`.
pub fn settings(keys: KeySource, algorithms: &[Algorithm]) -> AuthSettings {
    AuthSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        algorithms: Some(algorithms.to_vec()),
        keys,
        permission: PERMISSION.into(),
        tenant_claim: "tenant".into(),
        leeway_secs: 5,
        types: None,
    }
}

/// An `Authorization` header value.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The status and, for a 401, the reason of a refused token.
pub fn refusal(result: Result<Caller>) -> (u16, Option<AuthFailure>) {
    match result {
        Ok(caller) => panic!("accepted: {caller:?}"),
        Err(Error::Unauthenticated { reason, .. }) => (401, Some(reason)),
        Err(other) => (other.http_status(), None),
    }
}

/// The public JWK of an RSA private key in PEM, under `kid`.
pub fn rsa_jwk(private_pem: &str, kid: &str) -> Jwk {
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("an RSA key in PEM");
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("a JWK");
    jwk.common.key_id = Some(kid.into());
    jwk
}
