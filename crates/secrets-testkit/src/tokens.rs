//! The one JWT minter of the test suites and of `make token`: claims as the
//! service expects them, signed with a shared secret, an RSA or an EC key.
//! Tests that need a malformed token start from [`Minter::claims`] and
//! change it with [`with`] and [`without`], or sign by hand with [`sign`].

use jsonwebtoken::{Algorithm, EncodingKey, Header, get_current_timestamp};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "cortex-secrets";
pub const PERMISSION: &str = "CREATE_SECRETS";
/// The HS256 secret that test apps verify and [`token`] signs with.
pub const SHARED_SECRET: &[u8] = b"test-only-shared-secret-of-32-bytes-or-more";

/// Test key pairs (testdata/README.md): they sign nothing outside tests.
pub const RSA_A_PRIVATE: &str = include_str!("../testdata/rsa-a.private.pem");
pub const RSA_A_PUBLIC: &str = include_str!("../testdata/rsa-a.public.pem");
pub const RSA_B_PRIVATE: &str = include_str!("../testdata/rsa-b.private.pem");
pub const EC_A_PRIVATE: &str = include_str!("../testdata/ec-a.private.pem");
pub const EC_A_PUBLIC: &str = include_str!("../testdata/ec-a.public.pem");

/// Signs tokens for one issuer and audience with one key.
#[derive(Clone)]
pub struct Minter {
    key: EncodingKey,
    header: Header,
    issuer: String,
    audience: String,
    subject: String,
    ttl_secs: u64,
}

impl Minter {
    /// HS256 with a shared secret, as the local stack verifies.
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Self {
        Self::new(
            EncodingKey::from_secret(secret),
            Header::new(Algorithm::HS256),
            issuer,
            audience,
        )
    }

    /// RS256 with a private key in PEM, naming `kid` if given.
    pub fn rs256(private_pem: &str, kid: Option<&str>, issuer: &str, audience: &str) -> Self {
        let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("an RSA key in PEM");
        Self::new(key, Header::new(Algorithm::RS256), issuer, audience).kid(kid)
    }

    /// ES256 with a P-256 private key in PEM, naming `kid` if given.
    pub fn es256(private_pem: &str, kid: Option<&str>, issuer: &str, audience: &str) -> Self {
        let key = EncodingKey::from_ec_pem(private_pem.as_bytes()).expect("an EC key in PEM");
        Self::new(key, Header::new(Algorithm::ES256), issuer, audience).kid(kid)
    }

    /// What test apps ([`crate::app`]) accept.
    pub fn for_test_apps() -> Self {
        Self::hs256(SHARED_SECRET, ISSUER, AUDIENCE)
    }

    fn new(key: EncodingKey, header: Header, issuer: &str, audience: &str) -> Self {
        Self {
            key,
            header,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            subject: "tester".to_owned(),
            ttl_secs: 600,
        }
    }

    fn kid(mut self, kid: Option<&str>) -> Self {
        self.header.kid = kid.map(str::to_owned);
        self
    }

    /// The `sub` claim of the tokens it mints (default `tester`).
    pub fn subject(mut self, subject: &str) -> Self {
        subject.clone_into(&mut self.subject);
        self
    }

    /// How long its tokens are valid (default 600 s).
    pub fn ttl_secs(mut self, ttl_secs: u64) -> Self {
        self.ttl_secs = ttl_secs;
        self
    }

    /// The claims of a valid token for `tenant` holding `permissions`.
    pub fn claims(&self, tenant: &str, permissions: &[&str]) -> Value {
        let now = get_current_timestamp();
        json!({
            "iss": self.issuer,
            "aud": self.audience,
            "sub": self.subject,
            "iat": now,
            "exp": now + self.ttl_secs,
            "tenant": tenant,
            "permissions": permissions,
        })
    }

    /// Any claims, signed as this minter signs.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_under(self.header.clone(), claims)
    }

    /// Any claims under any header, signed with this minter's key.
    pub fn sign_under(&self, header: Header, claims: &Value) -> String {
        sign(header, claims, &self.key)
    }

    /// A valid token for `tenant` holding `permissions`.
    pub fn token(&self, tenant: &str, permissions: &[&str]) -> String {
        self.sign(&self.claims(tenant, permissions))
    }
}

/// A valid token of the test apps for `tenant` holding `permissions`.
pub fn token(tenant: &str, permissions: &[&str]) -> String {
    Minter::for_test_apps().token(tenant, permissions)
}

/// `claims` with `key` set to `value`.
pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

/// `claims` without `key`.
pub fn without(mut claims: Value, key: &str) -> Value {
    if let Some(object) = claims.as_object_mut() {
        object.remove(key);
    }
    claims
}

/// Unpadded base64url, as the parts of a JWT are encoded: for hand-made
/// tokens.
pub fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An unsigned token (`alg: none`) of `claims`: what no verifier may accept.
pub fn unsigned(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!(
        "{}.{}.",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    )
}

/// `claims` under any header, with any key: for tokens no minter would make.
pub fn sign(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).expect("claims that serialize")
}
