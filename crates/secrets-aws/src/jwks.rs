//! The issuer's JWKS over HTTP(S): the fetcher behind the domain's
//! [`FetchJwks`] port, which the token verifier's cache calls at most once
//! per refresh interval.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, HOST};
use hyper::rt::{Read, Write};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::JwkSet;
use rustls::pki_types::ServerName;
use secrets_domain::auth::parse_jwks;
use secrets_domain::ports::{FetchFuture, FetchJwks};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Largest JWKS document accepted; real ones are a few KiB.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The fetch happens inside a request, so it must be short.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

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

    /// As the token verifier asks for a fetcher of a JWKS URL.
    pub fn connect(url: &str) -> Result<Box<dyn FetchJwks>, String> {
        Self::new(url).map(|jwks| Box::new(jwks) as Box<dyn FetchJwks>)
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
