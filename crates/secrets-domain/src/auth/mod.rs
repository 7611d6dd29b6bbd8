//! Bearer JWT authentication: signature with an explicitly allowed algorithm
//! and a key of the matching type, the `typ` header when an allow-list is
//! set, required `exp`/`iss`/`aud`/`sub`, `nbf` when present, then the
//! tenant and permission claims.

mod jwks_cache;
mod pem;

use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

pub use jwks_cache::{JwksCache, JwksTiming, parse_jwks};

use crate::error::{AuthFailure, Error, Result};
use crate::model::TenantId;
use crate::ports::FetchJwks;

/// Longest `Authorization` header worth parsing; real tokens are far shorter.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Where verification keys come from.
pub enum KeySource {
    /// HS256 with a secret shared with the issuer (local development).
    SharedSecret(Zeroizing<Vec<u8>>),
    /// One RSA (RS256) or EC P-256 (ES256) public key in PEM.
    PublicKeyPem(String),
    /// The issuer's JWKS, fetched when first needed and cached.
    Jwks { url: String, timing: JwksTiming },
}

pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    /// The allow-list; `None` allows what the key verifies: its one
    /// algorithm for a static key, RS256 and ES256 for a JWKS.
    pub algorithms: Option<Vec<Algorithm>>,
    pub keys: KeySource,
    pub permission: String,
    pub tenant_claim: String,
    pub leeway_secs: u64,
    /// Allowed `typ` header values (RFC 8725 §3.11), such as `at+jwt` for
    /// RFC 9068 access tokens; `None` accepts any `typ` or none.
    pub types: Option<Vec<String>>,
}

/// The longest `sub` accepted: identity providers issue far shorter ones
/// (UUIDs, `provider|id`), and the subject is written to every audit record.
pub const MAX_SUBJECT_CHARS: usize = 255;

/// Who is calling, once the token has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    /// The token's `sub`: every token names one, for the audit trail.
    pub subject: String,
}

/// The caller a verified token names, before its permission is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    pub caller: Caller,
    missing_permission: Option<String>,
}

impl Identified {
    /// The caller, if the token grants the permission; else a 403.
    pub fn authorize(self) -> Result<Caller> {
        match self.missing_permission {
            None => Ok(self.caller),
            Some(permission) => Err(Error::Forbidden { permission }),
        }
    }
}

enum Keys {
    /// One key, which verifies exactly one algorithm.
    Static {
        key: DecodingKey,
        algorithm: Algorithm,
    },
    Jwks(JwksCache),
}

pub struct Authenticator {
    keys: Keys,
    allowed: Vec<Algorithm>,
    issuer: String,
    audience: String,
    leeway_secs: u64,
    permission: String,
    tenant_claim: String,
    /// Normalised media types ([`media_type`]); `None` when unchecked.
    types: Option<Vec<String>>,
}

impl Authenticator {
    /// Checks the settings and loads static keys; fails on anything that
    /// would otherwise surface as a refused request later. `jwks` connects
    /// to the JWKS URL of a [`KeySource::Jwks`] (the HTTP fetch of
    /// `secrets-aws` in the functions); it is not called for static keys.
    pub fn new(
        settings: AuthSettings,
        jwks: impl FnOnce(&str) -> std::result::Result<Box<dyn FetchJwks>, String>,
    ) -> std::result::Result<Self, String> {
        let keys = match settings.keys {
            KeySource::SharedSecret(secret) => {
                if secret.len() < 32 {
                    return Err("the HS256 shared secret must be at least 32 bytes".into());
                }
                Keys::Static {
                    key: DecodingKey::from_secret(&secret),
                    algorithm: Algorithm::HS256,
                }
            }
            KeySource::PublicKeyPem(pem) => {
                let (key, algorithm) = pem::public_key(&pem)?;
                Keys::Static { key, algorithm }
            }
            KeySource::Jwks { url, timing } => Keys::Jwks(JwksCache::new(jwks(&url)?, timing)),
        };
        let allowed = match &keys {
            Keys::Static { algorithm, .. } => vec![*algorithm],
            Keys::Jwks(_) => vec![Algorithm::RS256, Algorithm::ES256],
        };
        let algorithms = settings.algorithms.unwrap_or_else(|| allowed.clone());
        if algorithms.is_empty() {
            return Err("at least one JWT algorithm must be allowed".into());
        }
        if let Some(unusable) = algorithms.iter().find(|a| !allowed.contains(a)) {
            return Err(format!(
                "JWT algorithm {unusable:?} cannot be verified with the configured key (it verifies {allowed:?})"
            ));
        }
        for (name, value) in [
            ("issuer", &settings.issuer),
            ("audience", &settings.audience),
            ("permission", &settings.permission),
            ("tenant claim", &settings.tenant_claim),
        ] {
            if value.trim().is_empty() {
                return Err(format!("the JWT {name} must not be empty"));
            }
        }
        let types = settings
            .types
            .map(|types| types.iter().map(|t| media_type(t)).collect::<Vec<_>>());
        if types.as_ref().is_some_and(Vec::is_empty) {
            return Err("the JWT type allow-list, when set, must name at least one type".into());
        }
        Ok(Self {
            types,
            keys,
            allowed: algorithms,
            issuer: settings.issuer,
            audience: settings.audience,
            leeway_secs: settings.leeway_secs,
            permission: settings.permission,
            tenant_claim: settings.tenant_claim,
        })
    }

    /// Authenticates the value of an `Authorization` header and checks the
    /// permission.
    pub async fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Caller> {
        self.identify(authorization).await?.authorize()
    }

    /// Verifies the token and says who it names, leaving the permission to
    /// be checked: so that a refusal for a missing permission can still be
    /// recorded under the caller's tenant.
    pub async fn identify(&self, authorization: Option<&[u8]>) -> Result<Identified> {
        let token = bearer_token(authorization)?;
        let claims = self.verify(token).await?;
        let tenant = claims
            .get(&self.tenant_claim)
            .and_then(Value::as_str)
            .and_then(TenantId::parse)
            .ok_or(Error::unauthenticated(AuthFailure::Invalid))?;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|sub| (1..=MAX_SUBJECT_CHARS).contains(&sub.chars().count()))
            .filter(|sub| crate::text::hidden(sub).is_none())
            .ok_or(Error::unauthenticated(AuthFailure::Invalid))?
            .to_owned();
        let missing_permission =
            (!grants(&claims, &self.permission)).then(|| self.permission.clone());
        Ok(Identified {
            caller: Caller { tenant, subject },
            missing_permission,
        })
    }

    async fn verify(&self, token: &str) -> Result<Map<String, Value>> {
        let invalid = || Error::unauthenticated(AuthFailure::Invalid);
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Error::unauthenticated(AuthFailure::Malformed))?;
        // The header chooses nothing on its own: its algorithm must be allowed
        // and match the key's type; embedded `jwk`/`jku`/`x5u` are ignored.
        if !self.allowed.contains(&header.alg) {
            return Err(invalid());
        }
        // Explicit typing: a token minted for another purpose (an ID token,
        // a logout token) is refused even when its claims would pass.
        if let Some(types) = &self.types {
            let typ = header.typ.as_deref().map(media_type);
            if !typ.is_some_and(|typ| types.contains(&typ)) {
                return Err(invalid());
            }
        }
        let key = match &self.keys {
            Keys::Static { key, algorithm } if *algorithm == header.alg => key.clone(),
            Keys::Static { .. } => return Err(invalid()),
            Keys::Jwks(cache) => {
                let kid = header.kid.as_deref().ok_or_else(invalid)?;
                cache.key(kid, header.alg).await.ok_or_else(invalid)?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway_secs;
        validation.validate_nbf = true;
        validation.required_spec_claims =
            HashSet::from(["exp", "iss", "aud", "sub"].map(str::to_owned));
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|error| {
                Error::unauthenticated(match error.kind() {
                    ErrorKind::ExpiredSignature => AuthFailure::Expired,
                    ErrorKind::ImmatureSignature => AuthFailure::NotYetValid,
                    ErrorKind::InvalidToken
                    | ErrorKind::Base64(_)
                    | ErrorKind::Json(_)
                    | ErrorKind::Utf8(_) => AuthFailure::Malformed,
                    _ => AuthFailure::Invalid,
                })
            })
    }
}

/// `typ` as a media type: case-insensitive, `application/` implied when
/// no `/` is given (RFC 7515 §4.1.9), so `at+jwt` and
/// `application/AT+JWT` are the same type.
fn media_type(typ: &str) -> String {
    let typ = typ.trim().to_ascii_lowercase();
    if typ.contains('/') {
        typ
    } else {
        format!("application/{typ}")
    }
}

fn bearer_token(authorization: Option<&[u8]>) -> Result<&str> {
    let value = authorization.ok_or(Error::unauthenticated(AuthFailure::Missing))?;
    let malformed = || Error::unauthenticated(AuthFailure::Malformed);
    if value.len() > MAX_TOKEN_BYTES {
        return Err(malformed());
    }
    let value = std::str::from_utf8(value).map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim_start_matches(' ');
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.contains(char::is_whitespace)
    {
        return Err(malformed());
    }
    Ok(token)
}

/// The permission may come as an element of a `permissions` array or as one
/// of the space-separated words of a `scope` string (OAuth 2.0 style).
fn grants(claims: &Map<String, Value>, permission: &str) -> bool {
    let in_permissions = claims
        .get("permissions")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(|p| p.as_str() == Some(permission)));
    let in_scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .is_some_and(|scope| scope.split(' ').any(|word| word == permission));
    in_permissions || in_scope
}
