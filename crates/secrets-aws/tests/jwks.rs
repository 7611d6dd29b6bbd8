//! The JWKS fetch over real HTTP, alone and behind the token verifier.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use secrets_aws::jwks::{HttpJwks, MAX_JWKS_BYTES};
use secrets_domain::auth::{Authenticator, Caller, JwksCache, JwksTiming, KeySource};
use secrets_domain::error::{AuthFailure, Result};
use secrets_domain::ports::FetchJwks;
use secrets_testkit::JwksServer;
use secrets_testkit::auth::{bearer, refusal as failure, rsa_jwk as jwk, settings};
use secrets_testkit::tokens::{AUDIENCE, ISSUER, Minter, RSA_A_PRIVATE, RSA_B_PRIVATE};
use serde_json::Value;

fn claims() -> Value {
    Minter::for_test_apps().claims("acme", &["CREATE_SECRETS"])
}

fn rsa_token(private_pem: &str, kid: Option<&str>, claims: &Value) -> String {
    Minter::rs256(private_pem, kid, ISSUER, AUDIENCE).sign(claims)
}

async fn outcome(auth: &Authenticator, header: Option<&str>) -> Result<Caller> {
    auth.authenticate(header.map(str::as_bytes)).await
}

fn document() -> String {
    jwks_document(vec![jwk(RSA_A_PRIVATE, "a")])
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
    // The fetched key is one the verifier's cache can use.
    let cache = JwksCache::new(HttpJwks::connect(&server.url).unwrap(), timing(60));
    assert!(cache.key("a", Algorithm::RS256).await.is_some());
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

#[tokio::test]
async fn an_unreachable_endpoint_is_an_error_not_a_hang() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    assert!(HttpJwks::new(&url).unwrap().fetch().await.is_err());
}

fn timing(min_refresh_secs: u64) -> JwksTiming {
    JwksTiming {
        min_refresh_interval: Duration::from_secs(min_refresh_secs),
        max_age: Duration::from_secs(600),
        hard_max_age: Duration::from_secs(3600),
    }
}

fn jwks_document(keys: Vec<Jwk>) -> String {
    serde_json::to_string(&JwkSet { keys }).unwrap()
}

fn http_jwks_auth(url: &str, min_refresh_interval: Duration) -> Authenticator {
    let source = KeySource::Jwks {
        url: url.to_owned(),
        timing: JwksTiming {
            min_refresh_interval,
            ..timing(60)
        },
    };
    Authenticator::new(settings(source, &[Algorithm::RS256]), HttpJwks::connect).unwrap()
}

#[tokio::test]
async fn a_flood_of_unknown_kids_makes_one_http_fetch_per_interval() {
    let server = JwksServer::start("200 OK", jwks_document(vec![jwk(RSA_A_PRIVATE, "a")])).await;
    let auth = http_jwks_auth(&server.url, Duration::from_secs(60));
    for i in 0..200 {
        let token = rsa_token(RSA_A_PRIVATE, Some(&format!("unknown-{i}")), &claims());
        assert_eq!(failure(outcome(&auth, Some(&bearer(&token))).await).0, 401);
    }
    let known = rsa_token(RSA_A_PRIVATE, Some("a"), &claims());
    assert!(outcome(&auth, Some(&bearer(&known))).await.is_ok());
    assert_eq!(
        server.hits(),
        1,
        "one fetch for 200 unknown kids and a known one"
    );
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_one_more_http_fetch() {
    let server = JwksServer::start("200 OK", jwks_document(vec![jwk(RSA_A_PRIVATE, "a")])).await;
    let auth = http_jwks_auth(&server.url, Duration::from_millis(300));
    let old = rsa_token(RSA_A_PRIVATE, Some("a"), &claims());
    assert!(outcome(&auth, Some(&bearer(&old))).await.is_ok());
    server.serve(
        "200 OK",
        jwks_document(vec![jwk(RSA_A_PRIVATE, "a"), jwk(RSA_B_PRIVATE, "b")]),
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let rotated = rsa_token(RSA_B_PRIVATE, Some("b"), &claims());
    assert!(outcome(&auth, Some(&bearer(&rotated))).await.is_ok());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_cold_start_with_an_unreachable_jwks_answers_401_promptly() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    let auth = http_jwks_auth(&url, Duration::from_secs(60));
    let started = std::time::Instant::now();
    let token = rsa_token(RSA_A_PRIVATE, Some("a"), &claims());
    assert_eq!(
        failure(outcome(&auth, Some(&bearer(&token))).await),
        (401, Some(AuthFailure::Invalid))
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the fetch timeout"
    );
}

#[tokio::test]
async fn a_jwks_endpoint_that_goes_down_leaves_the_cached_keys_working() {
    let server = JwksServer::start("200 OK", jwks_document(vec![jwk(RSA_A_PRIVATE, "a")])).await;
    let auth = http_jwks_auth(&server.url, Duration::ZERO);
    let token = rsa_token(RSA_A_PRIVATE, Some("a"), &claims());
    assert!(outcome(&auth, Some(&bearer(&token))).await.is_ok());
    server.serve("503 Service Unavailable", "{}".into());
    let unknown = rsa_token(RSA_B_PRIVATE, Some("b"), &claims());
    assert_eq!(
        failure(outcome(&auth, Some(&bearer(&unknown))).await).0,
        401
    );
    assert!(outcome(&auth, Some(&bearer(&token))).await.is_ok());
    assert_eq!(server.hits(), 2, "the failed refresh was tried once");
}
