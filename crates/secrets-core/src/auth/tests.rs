use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{EncodingKey, Header, get_current_timestamp};
use serde_json::json;

use super::jwks::FetchFuture;
use super::*;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "cortex-secrets";
const SHARED_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-only";
const RSA_A_PRIVATE: &str = include_str!("../../testdata/rsa-a.private.pem");
const RSA_A_PUBLIC: &str = include_str!("../../testdata/rsa-a.public.pem");
const RSA_B_PRIVATE: &str = include_str!("../../testdata/rsa-b.private.pem");
const EC_A_PRIVATE: &str = include_str!("../../testdata/ec-a.private.pem");
const EC_A_PUBLIC: &str = include_str!("../../testdata/ec-a.public.pem");

fn settings(keys: KeySource, algorithms: &[Algorithm]) -> AuthSettings {
    AuthSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        algorithms: Some(algorithms.to_vec()),
        keys,
        permission: "CREATE_SECRETS".into(),
        tenant_claim: "tenant".into(),
        leeway_secs: 5,
    }
}

fn hs256() -> Authenticator {
    Authenticator::new(settings(
        KeySource::SharedSecret(Zeroizing::new(SHARED_SECRET.to_vec())),
        &[Algorithm::HS256],
    ))
    .unwrap()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": get_current_timestamp() + 300,
        "sub": "user-1",
        "tenant": "acme",
        "permissions": ["CREATE_SECRETS"],
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

fn sign(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn hs_token(claims: &Value) -> String {
    sign(
        Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SHARED_SECRET),
    )
}

fn rsa_token(private_pem: &str, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    sign(
        header,
        claims,
        &EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn outcome(auth: &Authenticator, header: Option<&str>) -> Result<Caller> {
    auth.authenticate(header.map(str::as_bytes)).await
}

fn failure(result: Result<Caller>) -> (u16, Option<AuthFailure>) {
    match result {
        Ok(caller) => panic!("accepted: {caller:?}"),
        Err(Error::Unauthenticated { reason, .. }) => (401, Some(reason)),
        Err(other) => (other.http_status(), None),
    }
}

fn b64(json: &Value) -> String {
    // Unpadded base64url, as JWTs use it; small enough to write out here.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = serde_json::to_vec(json).unwrap();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn a_valid_token_yields_the_tenant_and_subject() {
    let caller = outcome(&hs256(), Some(&bearer(&hs_token(&claims()))))
        .await
        .unwrap();
    assert_eq!(caller.tenant.as_str(), "acme");
    assert_eq!(caller.subject.as_deref(), Some("user-1"));
}

#[tokio::test]
async fn the_scheme_is_case_insensitive_and_the_permission_may_be_a_scope() {
    let token = hs_token(&without(
        with(claims(), "scope", json!("read CREATE_SECRETS")),
        "permissions",
    ));
    assert!(
        outcome(&hs256(), Some(&format!("bearer {token}")))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn missing_and_malformed_headers_are_401() {
    let auth = hs256();
    assert_eq!(
        failure(outcome(&auth, None).await),
        (401, Some(AuthFailure::Missing))
    );
    let oversized = bearer(&"a".repeat(MAX_TOKEN_BYTES));
    for header in [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer a.b",
        "Bearer a.b.c.d",
        "Bearer x y",
        &oversized,
    ] {
        assert_eq!(
            failure(outcome(&auth, Some(header)).await).0,
            401,
            "{header:?}"
        );
    }
}

#[tokio::test]
async fn tokens_with_bad_claims_are_401() {
    let auth = hs256();
    let now = get_current_timestamp();
    let cases = [
        (with(claims(), "exp", json!(now - 60)), AuthFailure::Expired),
        (
            with(claims(), "nbf", json!(now + 60)),
            AuthFailure::NotYetValid,
        ),
        (
            with(claims(), "exp", json!((now + 300).to_string())),
            AuthFailure::Invalid,
        ),
        (without(claims(), "exp"), AuthFailure::Invalid),
        (without(claims(), "iss"), AuthFailure::Invalid),
        (without(claims(), "aud"), AuthFailure::Invalid),
        (
            with(claims(), "iss", json!("https://evil.test")),
            AuthFailure::Invalid,
        ),
        (
            with(claims(), "aud", json!("someone-else")),
            AuthFailure::Invalid,
        ),
        (
            with(claims(), "aud", json!(["a", "b"])),
            AuthFailure::Invalid,
        ),
        (without(claims(), "tenant"), AuthFailure::Invalid),
        (with(claims(), "tenant", json!(42)), AuthFailure::Invalid),
        (with(claims(), "tenant", json!("")), AuthFailure::Invalid),
    ];
    for (claims, reason) in cases {
        let result = outcome(&auth, Some(&bearer(&hs_token(&claims)))).await;
        assert_eq!(failure(result), (401, Some(reason)), "{claims}");
    }
}

#[tokio::test]
async fn clock_skew_within_the_leeway_is_tolerated() {
    let now = get_current_timestamp();
    let token = hs_token(&with(
        with(claims(), "exp", json!(now - 2)),
        "nbf",
        json!(now + 2),
    ));
    assert!(outcome(&hs256(), Some(&bearer(&token))).await.is_ok());
}

#[tokio::test]
async fn an_audience_array_containing_ours_is_accepted() {
    let token = hs_token(&with(claims(), "aud", json!(["other", AUDIENCE])));
    assert!(outcome(&hs256(), Some(&bearer(&token))).await.is_ok());
}

#[tokio::test]
async fn a_valid_token_without_the_permission_is_403() {
    for claims in [
        without(claims(), "permissions"),
        with(claims(), "permissions", json!([])),
        with(claims(), "permissions", json!("CREATE_SECRETS")),
        with(
            without(claims(), "permissions"),
            "scope",
            json!("CREATE_SECRETS_EXTRA"),
        ),
    ] {
        let error = outcome(&hs256(), Some(&bearer(&hs_token(&claims))))
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), 403, "{claims}");
        assert_eq!(error.error_type(), "FORBIDDEN");
    }
}

#[tokio::test]
async fn unsigned_and_disallowed_algorithms_are_refused() {
    let auth = hs256();
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims())
    );
    assert_eq!(failure(outcome(&auth, Some(&bearer(&none))).await).0, 401);
    let hs512 = sign(
        Header::new(Algorithm::HS512),
        &claims(),
        &EncodingKey::from_secret(SHARED_SECRET),
    );
    assert_eq!(
        failure(outcome(&auth, Some(&bearer(&hs512))).await),
        (401, Some(AuthFailure::Invalid))
    );
    let rs256 = rsa_token(RSA_A_PRIVATE, None, &claims());
    assert_eq!(
        failure(outcome(&auth, Some(&bearer(&rs256))).await),
        (401, Some(AuthFailure::Invalid))
    );
}

#[tokio::test]
async fn public_keys_in_pem_verify_rs256_and_es256() {
    let rsa = Authenticator::new(settings(
        KeySource::PublicKeyPem(RSA_A_PUBLIC.into()),
        &[Algorithm::RS256],
    ))
    .unwrap();
    assert!(
        outcome(
            &rsa,
            Some(&bearer(&rsa_token(RSA_A_PRIVATE, None, &claims())))
        )
        .await
        .is_ok()
    );
    let other_key = rsa_token(RSA_B_PRIVATE, None, &claims());
    assert_eq!(
        failure(outcome(&rsa, Some(&bearer(&other_key))).await).0,
        401
    );

    let ec = Authenticator::new(settings(
        KeySource::PublicKeyPem(EC_A_PUBLIC.into()),
        &[Algorithm::ES256],
    ))
    .unwrap();
    let es256 = sign(
        Header::new(Algorithm::ES256),
        &claims(),
        &EncodingKey::from_ec_pem(EC_A_PRIVATE.as_bytes()).unwrap(),
    );
    assert!(outcome(&ec, Some(&bearer(&es256))).await.is_ok());
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let rsa = Authenticator::new(settings(
        KeySource::PublicKeyPem(RSA_A_PUBLIC.into()),
        &[Algorithm::RS256],
    ))
    .unwrap();
    let confused = sign(
        Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(RSA_A_PUBLIC.as_bytes()),
    );
    assert_eq!(
        failure(outcome(&rsa, Some(&bearer(&confused))).await),
        (401, Some(AuthFailure::Invalid))
    );
}

#[test]
fn settings_that_cannot_work_fail_at_start_up() {
    let short = KeySource::SharedSecret(Zeroizing::new(b"short".to_vec()));
    assert!(Authenticator::new(settings(short, &[Algorithm::HS256])).is_err());
    let garbage = KeySource::PublicKeyPem("not a key".into());
    assert!(Authenticator::new(settings(garbage, &[Algorithm::RS256])).is_err());
    let mismatch = KeySource::PublicKeyPem(RSA_A_PUBLIC.into());
    assert!(Authenticator::new(settings(mismatch, &[Algorithm::RS256, Algorithm::HS256])).is_err());
    let secret = KeySource::SharedSecret(Zeroizing::new(SHARED_SECRET.to_vec()));
    assert!(Authenticator::new(settings(secret, &[Algorithm::RS256])).is_err());
    assert!(Authenticator::new(settings(jwks_source(), &[Algorithm::HS256])).is_err());
    assert!(Authenticator::new(settings(jwks_source(), &[])).is_err());
}

// --- JWKS ---------------------------------------------------------------

fn jwks_source() -> KeySource {
    KeySource::Jwks {
        url: "https://issuer.test/.well-known/jwks.json".into(),
        min_refresh_interval: Duration::from_secs(60),
        max_age: Duration::from_secs(600),
    }
}

fn jwk(private_pem: &str, kid: &str) -> Jwk {
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap();
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(kid.into());
    jwk
}

/// Serves a swappable JWKS, or fails, and counts fetches.
#[derive(Clone, Default)]
struct FakeJwks {
    keys: Arc<Mutex<Option<Vec<Jwk>>>>,
    fetches: Arc<AtomicUsize>,
}

impl FakeJwks {
    fn serve(&self, keys: Vec<Jwk>) {
        *self.keys.lock().unwrap() = Some(keys);
    }

    fn go_down(&self) {
        *self.keys.lock().unwrap() = None;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl FetchJwks for FakeJwks {
    fn fetch(&self) -> FetchFuture<'_> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let keys = self.keys.lock().unwrap().clone();
        Box::pin(async move {
            keys.map(|keys| JwkSet { keys })
                .ok_or_else(|| "connection refused".to_owned())
        })
    }
}

fn jwks_auth(fake: &FakeJwks) -> Authenticator {
    let fake = fake.clone();
    Authenticator::with_jwks_fetcher(
        settings(jwks_source(), &[Algorithm::RS256, Algorithm::ES256]),
        move |_| Ok(Box::new(fake)),
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn jwks_keys_are_fetched_once_and_cached() {
    let fake = FakeJwks::default();
    fake.serve(vec![jwk(RSA_A_PRIVATE, "a")]);
    let auth = jwks_auth(&fake);
    assert_eq!(fake.fetches(), 0, "nothing is fetched before it is needed");
    for _ in 0..5 {
        let token = rsa_token(RSA_A_PRIVATE, Some("a"), &claims());
        assert!(outcome(&auth, Some(&bearer(&token))).await.is_ok());
    }
    assert_eq!(fake.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_interval() {
    let fake = FakeJwks::default();
    fake.serve(vec![jwk(RSA_A_PRIVATE, "a")]);
    let auth = jwks_auth(&fake);
    for i in 0..100 {
        let token = rsa_token(RSA_A_PRIVATE, Some(&format!("unknown-{i}")), &claims());
        assert_eq!(failure(outcome(&auth, Some(&bearer(&token))).await).0, 401);
    }
    assert_eq!(fake.fetches(), 1);
    tokio::time::advance(Duration::from_secs(61)).await;
    let token = rsa_token(RSA_A_PRIVATE, Some("unknown-again"), &claims());
    assert_eq!(failure(outcome(&auth, Some(&bearer(&token))).await).0, 401);
    assert_eq!(fake.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_rotated_key_is_accepted_after_one_refetch() {
    let fake = FakeJwks::default();
    fake.serve(vec![jwk(RSA_A_PRIVATE, "a")]);
    let auth = jwks_auth(&fake);
    assert!(
        outcome(
            &auth,
            Some(&bearer(&rsa_token(RSA_A_PRIVATE, Some("a"), &claims())))
        )
        .await
        .is_ok()
    );
    fake.serve(vec![jwk(RSA_A_PRIVATE, "a"), jwk(RSA_B_PRIVATE, "b")]);
    tokio::time::advance(Duration::from_secs(61)).await;
    assert!(
        outcome(
            &auth,
            Some(&bearer(&rsa_token(RSA_B_PRIVATE, Some("b"), &claims())))
        )
        .await
        .is_ok()
    );
    assert_eq!(fake.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn cached_keys_keep_working_while_the_jwks_endpoint_is_down() {
    let fake = FakeJwks::default();
    fake.serve(vec![jwk(RSA_A_PRIVATE, "a")]);
    let auth = jwks_auth(&fake);
    let token = || rsa_token(RSA_A_PRIVATE, Some("a"), &claims());
    assert!(outcome(&auth, Some(&bearer(&token()))).await.is_ok());
    fake.go_down();
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert!(
        outcome(&auth, Some(&bearer(&token()))).await.is_ok(),
        "stale keys still verify"
    );
    let unknown = rsa_token(RSA_B_PRIVATE, Some("b"), &claims());
    assert_eq!(
        failure(outcome(&auth, Some(&bearer(&unknown))).await).0,
        401
    );
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_jwks_at_cold_start_gives_401_not_a_crash() {
    let fake = FakeJwks::default();
    let auth = jwks_auth(&fake);
    let token = rsa_token(RSA_A_PRIVATE, Some("a"), &claims());
    assert_eq!(
        failure(outcome(&auth, Some(&bearer(&token))).await),
        (401, Some(AuthFailure::Invalid))
    );
}

#[tokio::test(start_paused = true)]
async fn keys_embedded_in_the_token_header_are_ignored() {
    let fake = FakeJwks::default();
    fake.serve(vec![jwk(RSA_A_PRIVATE, "a")]);
    let auth = jwks_auth(&fake);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("attacker".into());
    header.jwk = Some(jwk(RSA_B_PRIVATE, "attacker"));
    header.jku = Some("https://evil.test/jwks.json".into());
    let token = sign(
        header,
        &claims(),
        &EncodingKey::from_rsa_pem(RSA_B_PRIVATE.as_bytes()).unwrap(),
    );
    assert_eq!(failure(outcome(&auth, Some(&bearer(&token))).await).0, 401);
}

#[tokio::test(start_paused = true)]
async fn a_jwks_key_only_verifies_its_own_algorithm() {
    let fake = FakeJwks::default();
    fake.serve(vec![jwk(RSA_A_PRIVATE, "a")]);
    let auth = jwks_auth(&fake);
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("a".into());
    let token = sign(
        header,
        &claims(),
        &EncodingKey::from_ec_pem(EC_A_PRIVATE.as_bytes()).unwrap(),
    );
    assert_eq!(failure(outcome(&auth, Some(&bearer(&token))).await).0, 401);
}

// --- JWKS over real HTTP ------------------------------------------------

fn jwks_document(keys: Vec<Jwk>) -> String {
    serde_json::to_string(&JwkSet { keys }).unwrap()
}

fn http_jwks_auth(url: &str, min_refresh_interval: Duration) -> Authenticator {
    let source = KeySource::Jwks {
        url: url.to_owned(),
        min_refresh_interval,
        max_age: Duration::from_secs(600),
    };
    Authenticator::new(settings(source, &[Algorithm::RS256])).unwrap()
}

#[tokio::test]
async fn a_flood_of_unknown_kids_makes_one_http_fetch_per_interval() {
    let server =
        test_server::JwksServer::start("200 OK", jwks_document(vec![jwk(RSA_A_PRIVATE, "a")]))
            .await;
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
    let server =
        test_server::JwksServer::start("200 OK", jwks_document(vec![jwk(RSA_A_PRIVATE, "a")]))
            .await;
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
    let server =
        test_server::JwksServer::start("200 OK", jwks_document(vec![jwk(RSA_A_PRIVATE, "a")]))
            .await;
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
