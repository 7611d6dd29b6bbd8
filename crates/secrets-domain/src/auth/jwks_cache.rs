//! Verification keys from the issuer's JWKS: fetched on first need, cached,
//! refreshed at most once per interval, kept while the endpoint is down, and
//! dropped once no refresh has succeeded for the hard maximum age.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::time::Instant;

use crate::ports::FetchJwks;

/// Reads a JWKS document, skipping keys of types this library cannot parse
/// rather than refusing the whole set because of one of them. For the
/// fetchers, which hand the cache a parsed set.
pub fn parse_jwks(document: &[u8]) -> Result<JwkSet, String> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let document: Document =
        serde_json::from_slice(document).map_err(|e| format!("the JWKS is not a JWK set: {e}"))?;
    let keys = document
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
        .collect();
    Ok(JwkSet { keys })
}

#[derive(Clone)]
struct CachedKey {
    key: DecodingKey,
    algorithm: Algorithm,
}

#[derive(Default)]
struct CacheState {
    keys: HashMap<String, CachedKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// When the cache fetches, and how long what it fetched is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksTiming {
    /// At most one fetch per this interval, however many unknown `kid`s.
    pub min_refresh_interval: Duration,
    /// Cached keys are refreshed (when possible) after this age.
    pub max_age: Duration,
    /// Cached keys are no longer trusted after this age, even when no
    /// refresh can succeed: a key the issuer has withdrawn (leaked, say)
    /// stops verifying within this time, whatever blocks the endpoint. The
    /// price: an issuer unreachable for longer makes every token a 401.
    pub hard_max_age: Duration,
}

pub struct JwksCache {
    fetcher: Box<dyn FetchJwks>,
    state: RwLock<CacheState>,
    refreshing: tokio::sync::Mutex<()>,
    timing: JwksTiming,
}

impl JwksCache {
    pub fn new(fetcher: Box<dyn FetchJwks>, timing: JwksTiming) -> Self {
        Self {
            fetcher,
            state: RwLock::new(CacheState::default()),
            refreshing: tokio::sync::Mutex::new(()),
            timing,
        }
    }

    /// The key for `kid` if it verifies `algorithm`. An unknown `kid` or an
    /// old cache triggers a refresh, unless one was tried within the
    /// interval; a failed refresh keeps the keys already cached.
    pub async fn key(&self, kid: &str, algorithm: Algorithm) -> Option<DecodingKey> {
        let (cached, stale) = self.lookup(kid);
        if cached.is_none() || stale {
            self.refresh().await;
        }
        let (cached, _) = self.lookup(kid);
        cached
            .filter(|cached| cached.algorithm == algorithm)
            .map(|cached| cached.key)
    }

    fn lookup(&self, kid: &str) -> (Option<CachedKey>, bool) {
        let state = self
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let age = state.fetched_at.map(|at| at.elapsed());
        let stale = age.is_none_or(|age| age >= self.timing.max_age);
        let trusted = age.is_some_and(|age| age < self.timing.hard_max_age);
        let key = trusted.then(|| state.keys.get(kid).cloned()).flatten();
        (key, stale)
    }

    async fn refresh(&self) {
        // One refresh at a time; whoever waited re-checks the interval, so a
        // burst of unknown kids costs a single fetch.
        let _guard = self.refreshing.lock().await;
        {
            let mut state = self
                .state
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if state
                .last_attempt
                .is_some_and(|at| at.elapsed() < self.timing.min_refresh_interval)
            {
                return;
            }
            state.last_attempt = Some(Instant::now());
        }
        match self.fetcher.fetch().await {
            Ok(set) => {
                let keys = usable_keys(&set);
                tracing::info!(keys = keys.len(), "refreshed the JWKS");
                let mut state = self
                    .state
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                state.keys = keys;
                state.fetched_at = Some(Instant::now());
            }
            Err(error) => tracing::warn!(%error, "JWKS refresh failed; keeping the cached keys"),
        }
    }
}

/// Signing keys with a `kid` that this service can verify: RSA for RS256 and
/// EC P-256 for ES256. Symmetric keys in a JWKS are never trusted.
fn usable_keys(set: &JwkSet) -> HashMap<String, CachedKey> {
    set.keys
        .iter()
        .filter(|jwk| !matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature))
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
                _ => return None,
            };
            if let Some(declared) = jwk.common.key_algorithm
                && Algorithm::from_str(&declared.to_string()).ok() != Some(algorithm)
            {
                return None;
            }
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, CachedKey { key, algorithm }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> String {
        let pem = include_str!("../../../secrets-testkit/testdata/rsa-a.private.pem");
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some("a".into());
        serde_json::json!({ "keys": [jwk] }).to_string()
    }

    #[test]
    fn keys_that_cannot_verify_are_skipped_and_the_others_kept() {
        let usable: serde_json::Value = serde_json::from_str(&document()).unwrap();
        let with_others = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "broken", "n": 5},
            {"kty": "oct", "kid": "symmetric", "k": "c2VjcmV0"},
            {"kty": "weird", "kid": "x"},
            usable["keys"][0],
        ]});
        let set = parse_jwks(with_others.to_string().as_bytes()).unwrap();
        let keys = usable_keys(&set);
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["a"]);
    }
}
