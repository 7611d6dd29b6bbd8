//! Verification keys from the issuer's JWKS: fetched on first need, cached,
//! refreshed at most once per interval, and kept when the endpoint is down.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, HOST};
use hyper::rt::{Read, Write};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

/// Largest JWKS document accepted; real ones are a few KiB.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The fetch happens inside a request, so it must be short.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<JwkSet, String>> + Send + 'a>>;

/// Gets the current JWKS document.
pub trait FetchJwks: Send + Sync {
    fn fetch(&self) -> FetchFuture<'_>;
}

/// Fetches a JWKS over HTTPS (or HTTP, for local issuers) on one plain
/// HTTP/1 connection per fetch: hyper and rustls, which the AWS SDK links
/// in anyway, without a pooled client whose HTTP/2 half would come along.
/// Fetches are rare (at most one per refresh interval), so there is nothing
/// to pool. Redirects are not followed.
pub struct HttpJwks {
    url: Uri,
    /// `None` for an `http://` URL.
    tls: Option<TlsConnector>,
}

impl HttpJwks {
    /// Fails when the URL is not an absolute http(s) URL, or the system has
    /// no CA roots to verify an https one with.
    pub fn new(url: &str) -> Result<Self, String> {
        let url: Uri = url
            .parse()
            .map_err(|_| "the JWKS URL is not a valid URL".to_owned())?;
        if url.host().is_none() {
            return Err("the JWKS URL has no host".to_owned());
        }
        let tls = match url.scheme_str() {
            Some("https") => Some(tls_connector()?),
            Some("http") => None,
            _ => return Err("the JWKS URL must be http or https".to_owned()),
        };
        Ok(Self { url, tls })
    }

    async fn fetch_document(&self) -> Result<JwkSet, String> {
        let failed = |e: &dyn std::fmt::Display| format!("fetching the JWKS failed: {e}");
        let host = self.url.host().unwrap_or_default();
        let port = self
            .url
            .port_u16()
            .unwrap_or(if self.tls.is_some() { 443 } else { 80 });
        let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| failed(&e))?;
        let body = match &self.tls {
            Some(tls) => {
                let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                    .map_err(|e| failed(&e))?;
                let stream = tls.connect(name, tcp).await.map_err(|e| failed(&e))?;
                self.exchange(TokioIo::new(stream)).await?
            }
            None => self.exchange(TokioIo::new(tcp)).await?,
        };
        parse_jwks(&body)
    }

    /// One GET on a fresh connection; the body, at most `MAX_JWKS_BYTES`.
    async fn exchange<T>(&self, io: T) -> Result<Bytes, String>
    where
        T: Read + Write + Unpin + Send + 'static,
    {
        let failed = |e: &dyn std::fmt::Display| format!("fetching the JWKS failed: {e}");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| failed(&e))?;
        // Drives the connection until the response is read; dropped with it.
        let connection = tokio::spawn(connection);
        let path = self.url.path_and_query().map_or("/", |p| p.as_str());
        let authority = self.url.authority().map_or("", |a| a.as_str());
        let request = Request::get(path)
            .header(HOST, authority)
            .header(ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| failed(&e))?;
        let response = sender.send_request(request).await.map_err(|e| failed(&e));
        let body = match response {
            Ok(response) if !response.status().is_success() => Err(format!(
                "fetching the JWKS failed: HTTP {}",
                response.status()
            )),
            Ok(response) => Limited::new(response.into_body(), MAX_JWKS_BYTES)
                .collect()
                .await
                .map(|collected| collected.to_bytes())
                .map_err(|e| {
                    if e.is::<LengthLimitError>() {
                        format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes")
                    } else {
                        format!("reading the JWKS failed: {e}")
                    }
                }),
            Err(e) => Err(e),
        };
        connection.abort();
        body
    }
}

/// TLS with aws-lc-rs (as the SDK uses) and the system's CA roots.
fn tls_connector() -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        return Err("no CA certificates to verify the JWKS endpoint with".to_owned());
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("cannot set up TLS for the JWKS endpoint: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

impl FetchJwks for HttpJwks {
    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(async {
            tokio::time::timeout(FETCH_TIMEOUT, self.fetch_document())
                .await
                .unwrap_or_else(|_| Err(format!("fetching the JWKS took over {FETCH_TIMEOUT:?}")))
        })
    }
}

/// Reads a JWKS document, skipping keys of types this library cannot parse
/// rather than refusing the whole set because of one of them.
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

pub struct JwksCache {
    fetcher: Box<dyn FetchJwks>,
    state: RwLock<CacheState>,
    refreshing: tokio::sync::Mutex<()>,
    min_refresh_interval: Duration,
    max_age: Duration,
}

impl JwksCache {
    pub fn new(
        fetcher: Box<dyn FetchJwks>,
        min_refresh_interval: Duration,
        max_age: Duration,
    ) -> Self {
        Self {
            fetcher,
            state: RwLock::new(CacheState::default()),
            refreshing: tokio::sync::Mutex::new(()),
            min_refresh_interval,
            max_age,
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
        let stale = state
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.max_age);
        (state.keys.get(kid).cloned(), stale)
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
                .is_some_and(|at| at.elapsed() < self.min_refresh_interval)
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
    use super::super::test_server::JwksServer;
    use super::*;

    fn document() -> String {
        let pem = include_str!("../../testdata/rsa-a.private.pem");
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some("a".into());
        serde_json::json!({ "keys": [jwk] }).to_string()
    }

    #[test]
    fn only_absolute_http_and_https_urls_are_taken() {
        // https also loads the system's CA roots, as a cold start does.
        assert!(HttpJwks::new("https://issuer.example/.well-known/jwks.json").is_ok());
        assert!(HttpJwks::new("http://127.0.0.1:8080/jwks").is_ok());
        for url in [
            "/jwks.json",
            "ftp://issuer.example/jwks",
            "https://",
            "not a url",
        ] {
            assert!(HttpJwks::new(url).is_err(), "{url}");
        }
    }

    #[tokio::test]
    async fn fetches_a_jwks_over_http() {
        let server = JwksServer::start("200 OK", document()).await;
        let set = HttpJwks::new(&server.url).unwrap().fetch().await.unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(usable_keys(&set).len(), 1);
    }

    #[tokio::test]
    async fn refuses_error_statuses_and_oversized_documents() {
        let server = JwksServer::start("500 Internal Server Error", "{}".into()).await;
        assert!(HttpJwks::new(&server.url).unwrap().fetch().await.is_err());
        server.serve(
            "200 OK",
            format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(MAX_JWKS_BYTES)),
        );
        let error = HttpJwks::new(&server.url)
            .unwrap()
            .fetch()
            .await
            .unwrap_err();
        assert!(error.contains("larger than"), "{error}");
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

    #[tokio::test]
    async fn an_unreachable_endpoint_is_an_error_not_a_hang() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        drop(listener);
        assert!(HttpJwks::new(&url).unwrap().fetch().await.is_err());
    }
}
