//! Bearer JWT verification: algorithms, keys, claims, the permission and
//! the tenant; keys from a JWKS (a fake fetcher here; over HTTP in
//! secrets-aws's tests).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, get_current_timestamp};
use secrets_domain::auth::{Authenticator, Caller, JwksTiming, KeySource, MAX_TOKEN_BYTES};
use secrets_domain::error::{AuthFailure, Result};
use secrets_domain::ports::{FetchFuture, FetchJwks};
use secrets_testkit::auth::{bearer, refusal as failure, rsa_jwk as jwk, settings};
use secrets_testkit::tokens::{
    AUDIENCE, EC_A_PRIVATE, EC_A_PUBLIC, ISSUER, Minter, RSA_A_PRIVATE, RSA_A_PUBLIC,
    RSA_B_PRIVATE, SHARED_SECRET, sign, unsigned, with, without,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

fn no_jwks(_: &str) -> std::result::Result<Box<dyn FetchJwks>, String> {
    Err("this test has no JWKS".into())
}

fn hs256() -> Authenticator {
    Authenticator::new(
        settings(
            KeySource::SharedSecret(Zeroizing::new(SHARED_SECRET.to_vec())),
            &[Algorithm::HS256],
        ),
        no_jwks,
    )
    .unwrap()
}

/// A verifier of `algorithm` with one public key in PEM.
fn pem_auth(pem: &str, algorithm: Algorithm) -> Authenticator {
    let settings = settings(KeySource::PublicKeyPem(pem.into()), &[algorithm]);
    Authenticator::new(settings, no_jwks).unwrap()
}

fn claims() -> Value {
    Minter::for_test_apps()
        .subject("user-1")
        .ttl_secs(300)
        .claims("acme", &["CREATE_SECRETS"])
}

fn hs_token(claims: &Value) -> String {
    Minter::for_test_apps().sign(claims)
}

fn rsa_token(private_pem: &str, kid: Option<&str>, claims: &Value) -> String {
    Minter::rs256(private_pem, kid, ISSUER, AUDIENCE).sign(claims)
}

async fn outcome(auth: &Authenticator, header: Option<&str>) -> Result<Caller> {
    auth.authenticate(header.map(str::as_bytes)).await
}

#[tokio::test]
async fn a_valid_token_yields_the_tenant_and_subject() {
    let caller = outcome(&hs256(), Some(&bearer(&hs_token(&claims()))))
        .await
        .unwrap();
    assert_eq!(caller.tenant.as_str(), "acme");
    assert_eq!(caller.subject, "user-1");
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
        // The audit trail names every caller.
        (without(claims(), "sub"), AuthFailure::Invalid),
        (with(claims(), "sub", json!("")), AuthFailure::Invalid),
        (with(claims(), "sub", json!(7)), AuthFailure::Invalid),
        (
            with(claims(), "sub", json!("x".repeat(256))),
            AuthFailure::Invalid,
        ),
        (
            with(claims(), "sub", json!("user\u{202e}1")),
            AuthFailure::Invalid,
        ),
        (
            with(claims(), "tenant", json!(" acme")),
            AuthFailure::Invalid,
        ),
        (
            with(claims(), "tenant", json!("ac\u{200b}me")),
            AuthFailure::Invalid,
        ),
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

fn typed(types: &[&str]) -> Authenticator {
    let mut settings = settings(
        KeySource::SharedSecret(Zeroizing::new(SHARED_SECRET.to_vec())),
        &[Algorithm::HS256],
    );
    settings.types = Some(types.iter().map(|t| (*t).to_owned()).collect());
    Authenticator::new(settings, no_jwks).unwrap()
}

fn token_typed(typ: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = typ.map(str::to_owned);
    Minter::for_test_apps().sign_under(header, &claims())
}

#[tokio::test]
async fn with_a_type_allow_list_only_tokens_of_those_types_pass() {
    let auth = typed(&["at+jwt"]);
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt"] {
        let token = token_typed(Some(typ));
        assert!(outcome(&auth, Some(&bearer(&token))).await.is_ok(), "{typ}");
    }
    for typ in [None, Some("JWT"), Some("id+jwt"), Some("application/jwt")] {
        let token = token_typed(typ);
        assert_eq!(
            failure(outcome(&auth, Some(&bearer(&token))).await),
            (401, Some(AuthFailure::Invalid)),
            "{typ:?}"
        );
    }
    // Without the list, any type passes, as before.
    for typ in [None, Some("JWT"), Some("id+jwt")] {
        let token = token_typed(typ);
        assert!(outcome(&hs256(), Some(&bearer(&token))).await.is_ok());
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
    let none = unsigned(&claims());
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
    let rsa = pem_auth(RSA_A_PUBLIC, Algorithm::RS256);
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

    let ec = pem_auth(EC_A_PUBLIC, Algorithm::ES256);
    let es256 = sign(
        Header::new(Algorithm::ES256),
        &claims(),
        &EncodingKey::from_ec_pem(EC_A_PRIVATE.as_bytes()).unwrap(),
    );
    assert!(outcome(&ec, Some(&bearer(&es256))).await.is_ok());
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let rsa = pem_auth(RSA_A_PUBLIC, Algorithm::RS256);
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
    assert!(Authenticator::new(settings(short, &[Algorithm::HS256]), no_jwks).is_err());
    let garbage = KeySource::PublicKeyPem("not a key".into());
    assert!(Authenticator::new(settings(garbage, &[Algorithm::RS256]), no_jwks).is_err());
    let mismatch = KeySource::PublicKeyPem(RSA_A_PUBLIC.into());
    assert!(
        Authenticator::new(
            settings(mismatch, &[Algorithm::RS256, Algorithm::HS256]),
            no_jwks
        )
        .is_err()
    );
    let secret = KeySource::SharedSecret(Zeroizing::new(SHARED_SECRET.to_vec()));
    assert!(Authenticator::new(settings(secret, &[Algorithm::RS256]), no_jwks).is_err());
    // With a JWKS that connects, the algorithms alone decide.
    let connects = |_: &str| Ok(Box::new(FakeJwks::default()) as Box<dyn FetchJwks>);
    assert!(Authenticator::new(settings(jwks_source(), &[Algorithm::RS256]), connects).is_ok());
    assert!(Authenticator::new(settings(jwks_source(), &[Algorithm::HS256]), connects).is_err());
    assert!(Authenticator::new(settings(jwks_source(), &[]), connects).is_err());
}

// --- JWKS ---------------------------------------------------------------

fn jwks_source() -> KeySource {
    KeySource::Jwks {
        url: "https://issuer.test/.well-known/jwks.json".into(),
        timing: JwksTiming {
            min_refresh_interval: Duration::from_secs(60),
            max_age: Duration::from_secs(600),
            hard_max_age: Duration::from_secs(7200),
        },
    }
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
    Authenticator::new(
        settings(jwks_source(), &[Algorithm::RS256, Algorithm::ES256]),
        move |_| Ok(Box::new(fake)),
    )
    .unwrap()
}

/// A JWKS serving key `a`, and a verifier reading it.
fn serving_key_a() -> (FakeJwks, Authenticator) {
    let fake = FakeJwks::default();
    fake.serve(vec![jwk(RSA_A_PRIVATE, "a")]);
    let auth = jwks_auth(&fake);
    (fake, auth)
}

#[tokio::test(start_paused = true)]
async fn jwks_keys_are_fetched_once_and_cached() {
    let (fake, auth) = serving_key_a();
    assert_eq!(fake.fetches(), 0, "nothing is fetched before it is needed");
    for _ in 0..5 {
        let token = rsa_token(RSA_A_PRIVATE, Some("a"), &claims());
        assert!(outcome(&auth, Some(&bearer(&token))).await.is_ok());
    }
    assert_eq!(fake.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_interval() {
    let (fake, auth) = serving_key_a();
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
    let (fake, auth) = serving_key_a();
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
    let (fake, auth) = serving_key_a();
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
async fn cached_keys_stop_verifying_after_the_hard_maximum_age() {
    let (fake, auth) = serving_key_a();
    let token = || rsa_token(RSA_A_PRIVATE, Some("a"), &claims());
    assert!(outcome(&auth, Some(&bearer(&token()))).await.is_ok());
    fake.go_down();
    tokio::time::advance(Duration::from_secs(7100)).await;
    assert!(outcome(&auth, Some(&bearer(&token()))).await.is_ok());
    tokio::time::advance(Duration::from_secs(200)).await;
    assert_eq!(
        failure(outcome(&auth, Some(&bearer(&token()))).await),
        (401, Some(AuthFailure::Invalid)),
        "a key not confirmed for longer than the hard maximum age is not trusted"
    );
    // The issuer back: the next refresh restores trust.
    fake.serve(vec![jwk(RSA_A_PRIVATE, "a")]);
    tokio::time::advance(Duration::from_secs(61)).await;
    assert!(outcome(&auth, Some(&bearer(&token()))).await.is_ok());
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
    let (_fake, auth) = serving_key_a();
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
    let (_fake, auth) = serving_key_a();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("a".into());
    let token = sign(
        header,
        &claims(),
        &EncodingKey::from_ec_pem(EC_A_PRIVATE.as_bytes()).unwrap(),
    );
    assert_eq!(failure(outcome(&auth, Some(&bearer(&token))).await).0, 401);
}
