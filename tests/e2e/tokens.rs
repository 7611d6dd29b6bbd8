//! The JWT abuse table, over HTTP against a stack verifying HS256 tokens:
//! every row is 401 with a bearer challenge, never a 5xx, never an echo of
//! the token. (JWKS-only rows, unknown kids and key rotation, are tests of
//! the verifier in secrets-domain, and over a real HTTP JWKS server in
//! secrets-aws.)

use jsonwebtoken::{Algorithm, EncodingKey, Header, get_current_timestamp};
use reqwest::Method;
use secrets_testkit::tokens::{self, RSA_A_PRIVATE, base64url as b64, sign};
use serde_json::{Value, json};

use crate::api::{Api, PERMISSION};

/// (row name, the Authorization header's token)
fn abusive_tokens(api: &Api, tenant: &str) -> Vec<(&'static str, String)> {
    let now = get_current_timestamp();
    let valid = api.token(tenant, &[PERMISSION]);
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&valid)
        .unwrap()
        .claims;
    let with = |key: &str, value: Value| tokens::with(claims.clone(), key, value);
    let without = |key: &str| tokens::without(claims.clone(), key);
    // Tokens signed with the stack's own secret, with a bad claim each.
    let resigned = |claims: Value| api.sign_claims(Header::new(Algorithm::HS256), &claims);
    let (header, payload, signature) = {
        let mut parts = valid.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let attacker = EncodingKey::from_secret(b"an attacker's own secret, 32 bytes long");
    let mut embedded = Header::new(Algorithm::HS256);
    embedded.jku = Some("https://attacker.example/jwks.json".into());
    embedded.jwk = Some(
        serde_json::from_value(
            json!({"kty": "oct", "k": b64(b"an attacker's own secret, 32 bytes long")}),
        )
        .unwrap(),
    );
    vec![
        (
            "alg none",
            format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#)),
        ),
        (
            "alg none, signature kept",
            format!("{}.{payload}.{signature}", b64(br#"{"alg":"none"}"#)),
        ),
        (
            "HS384, outside the allow-list",
            api.sign_claims(Header::new(Algorithm::HS384), &claims),
        ),
        (
            "HS512, outside the allow-list",
            api.sign_claims(Header::new(Algorithm::HS512), &claims),
        ),
        (
            "RS256, outside the allow-list",
            sign(
                Header::new(Algorithm::RS256),
                &claims,
                &EncodingKey::from_rsa_pem(RSA_A_PRIVATE.as_bytes()).unwrap(),
            ),
        ),
        (
            "signed with another secret",
            sign(Header::new(Algorithm::HS256), &claims, &attacker),
        ),
        ("embedded jwk and jku", sign(embedded, &claims, &attacker)),
        ("expired", resigned(with("exp", json!(now - 120)))),
        ("not yet valid", resigned(with("nbf", json!(now + 120)))),
        (
            "exp as a string",
            resigned(with("exp", json!((now + 600).to_string()))),
        ),
        ("exp missing", resigned(without("exp"))),
        ("iss missing", resigned(without("iss"))),
        ("aud missing", resigned(without("aud"))),
        (
            "wrong iss",
            resigned(with("iss", json!("https://attacker.example"))),
        ),
        ("wrong aud", resigned(with("aud", json!("another-service")))),
        (
            "aud array without ours",
            resigned(with("aud", json!(["a", "b"]))),
        ),
        ("tenant missing", resigned(without("tenant"))),
        ("tenant not a string", resigned(with("tenant", json!(42)))),
        ("1 segment", header.clone()),
        ("2 segments", format!("{header}.{payload}")),
        ("4 segments", format!("{valid}.{signature}")),
        ("bad base64", format!("{header}!.{payload}.{signature}")),
        (
            "header not JSON",
            format!("{}.{payload}.{signature}", b64(b"not json")),
        ),
        (
            "huge header",
            format!(
                "{}.{payload}.{signature}",
                b64(format!(r#"{{"alg":"HS256","x":"{}"}}"#, "a".repeat(16 * 1024)).as_bytes())
            ),
        ),
        (
            "payload tampered",
            format!(
                "{header}.{}.{signature}",
                b64(with("tenant", json!("someone-else")).to_string().as_bytes())
            ),
        ),
        ("signature stripped", format!("{header}.{payload}.")),
    ]
}

#[tokio::test]
async fn every_abusive_token_is_401_without_echo() {
    let api = Api::from_env();
    let tenant = api.tenant();
    api.create(&tenant, "guarded").await;
    let rows = abusive_tokens(&api, &tenant.name);
    assert_eq!(rows.len(), 26, "the table's size, for the record");
    for (name, token) in rows {
        for (method, path) in [(Method::GET, "/guarded"), (Method::DELETE, "/guarded")] {
            let reply = api.send(method.clone(), path, Some(&token), None).await;
            assert_eq!(
                reply.status, 401,
                "{name}: {method} answered {}: {}",
                reply.status, reply.body
            );
            reply.error(401, "UNCATEGORIZED");
            assert!(
                reply
                    .header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{name}"
            );
            let echoed = token.len() > 8 && reply.body.contains(&token[..token.len().min(40)]);
            assert!(!echoed, "{name}: echoed the token");
        }
    }
    assert_eq!(
        api.get(&tenant, "/guarded").await.status,
        200,
        "the secret survived"
    );
}
