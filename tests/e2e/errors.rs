//! Every error status the API gives, each in the contract's error shape,
//! none echoing a secret, none changing stored data.

use jsonwebtoken::get_current_timestamp;
use reqwest::Method;
use serde_json::json;

use crate::api::{Api, PERMISSION};
use crate::resolve::observe;

const MARKER: &str = "do-not-echo-this-secret";

/// Request bodies the create endpoint must refuse with 400, and a word of
/// the message that must name the problem.
fn invalid_create_bodies() -> Vec<(String, &'static str)> {
    let body = |tag: &str, name: &str, secret: &str| {
        json!({"tag": tag, "name": name, "secret": secret}).to_string()
    };
    vec![
        (
            json!({"name": "n", "secret": MARKER}).to_string(),
            "tag is required",
        ),
        (
            json!({"tag": "t", "secret": MARKER}).to_string(),
            "name is required",
        ),
        (
            json!({"tag": "t", "name": "n"}).to_string(),
            "secret is required",
        ),
        (body("has space", "n", MARKER), "tag must be"),
        (body("caf\u{e9}", "n", MARKER), "tag must be"),
        (body("..", "n", MARKER), "tag must be"),
        (body("", "n", MARKER), "tag must be"),
        (body(&"t".repeat(101), "n", MARKER), "tag must be"),
        (
            body("se0123456789abcdef", "n", MARKER),
            "tag must not have the shape",
        ),
        (body("t", "   ", MARKER), "name must not be blank"),
        (body("t", &"n".repeat(256), MARKER), "name must be 1 to 255"),
        (body("t", "n", ""), "secret must be 1 to 65536"),
        (
            body("t", "n", &"s".repeat(64 * 1024 + 1)),
            "secret must be 1 to 65536",
        ),
        (
            json!({"tag": "t", "name": null, "secret": MARKER}).to_string(),
            "name must be a string, not null",
        ),
        (
            json!({"tag": 5, "name": "n", "secret": MARKER}).to_string(),
            "tag must be a string, not a number",
        ),
        (
            json!({"tag": "t", "name": "n", "secret": [MARKER]}).to_string(),
            "secret must be a string, not an array",
        ),
        (
            format!(r#"{{"tag":"t","name":"n","secret":"{MARKER}","tag":"u"}}"#),
            "appears more than once",
        ),
        (
            format!(r#"{{"tag":"t","name":"n","secret":"{MARKER}""#),
            "not valid JSON",
        ),
        (format!(r#"["t","n","{MARKER}"]"#), "must be a JSON object"),
        (format!(r#""{MARKER}""#), "must be a JSON object"),
        (
            format!(
                r#"{{"tag":"t","name":"n","secret":"{MARKER}","x":{}{}}}"#,
                "[".repeat(40),
                "]".repeat(40)
            ),
            "nests deeper",
        ),
    ]
}

#[tokio::test]
async fn invalid_create_bodies_are_400_naming_the_field_and_write_nothing() {
    let api = Api::from_env();
    let tenant = api.tenant();
    for (body, expected) in invalid_create_bodies() {
        let reply = api
            .send(
                Method::POST,
                "",
                Some(&tenant.token),
                Some(("application/json", body.clone())),
            )
            .await;
        let error = reply.error(400, "BAD_REQUEST");
        assert!(
            error["message"].as_str().unwrap().contains(expected),
            "{body:.80}: {error}"
        );
        assert!(
            !reply.body.contains(MARKER),
            "echoed the secret: {}",
            reply.body
        );
    }
    assert_eq!(api.total(&tenant).await, 0);
}

#[tokio::test]
async fn invalid_updates_are_400_and_change_nothing() {
    let api = Api::from_env();
    let tenant = api.tenant();
    api.create(&tenant, "kept").await;
    let before = observe(&api, &tenant, "kept").await;
    assert_eq!(before.value.as_deref(), Some("s3cr3t"));
    for (body, expected) in [
        (json!({"name": ""}), "name must be 1 to 255"),
        (json!({"name": 7}), "name must be a string"),
        (json!({"secret": ""}), "secret must be 1 to 65536"),
        (json!({"secret": null}), "secret must be a string, not null"),
    ] {
        let reply = api.put(&tenant, "/kept", body.clone()).await;
        let error = reply.error(400, "BAD_REQUEST");
        assert!(
            error["message"].as_str().unwrap().contains(expected),
            "{body}: {error}"
        );
    }
    assert_eq!(observe(&api, &tenant, "kept").await, before);
}

#[tokio::test]
async fn bad_paging_is_400_naming_the_parameter() {
    let api = Api::from_env();
    let tenant = api.tenant();
    for (query, parameter) in [
        ("page=-1", "page "),
        ("page=2147483648", "page "),
        ("page=1.5", "page "),
        ("page=abc", "page "),
        ("page=1&page=2", "page "),
        ("pageSize=0", "pageSize "),
        ("pageSize=1001", "pageSize "),
        ("pageSize=-3", "pageSize "),
        ("pageSize=99999999999999999999", "pageSize "),
    ] {
        let error = api
            .get(&tenant, &format!("?{query}"))
            .await
            .error(400, "BAD_REQUEST");
        assert!(
            error["message"].as_str().unwrap().starts_with(parameter),
            "{query}: {error}"
        );
    }
}

#[tokio::test]
async fn missing_or_invalid_tokens_are_401_with_a_bearer_challenge() {
    let api = Api::from_env();
    let missing = api.send(Method::GET, "", None, None).await;
    missing.error(401, "UNCATEGORIZED");
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"cortex-secrets\"")
    );

    let now = get_current_timestamp();
    let tenant = api.tenant();
    let invalid_tokens = [
        "not-a-jwt".to_owned(),
        api.token_with(&tenant.name, &[PERMISSION], json!({"exp": now - 120})),
        api.token_with(&tenant.name, &[PERMISSION], json!({"aud": "someone-else"})),
        api.token_with(
            &tenant.name,
            &[PERMISSION],
            json!({"iss": "https://elsewhere.test"}),
        ),
        api.token_with(&tenant.name, &[PERMISSION], json!({"tenant": null})),
        format!("{}x", api.token(&tenant.name, &[PERMISSION])),
    ];
    for token in &invalid_tokens {
        for method in [Method::GET, Method::POST] {
            let reply = api
                .send(
                    method,
                    "",
                    Some(token),
                    Some(("application/json", "{}".into())),
                )
                .await;
            reply.error(401, "UNCATEGORIZED");
            assert_eq!(
                reply.header("www-authenticate"),
                Some("Bearer realm=\"cortex-secrets\", error=\"invalid_token\"")
            );
            assert!(!reply.body.contains(token.as_str()), "echoed the token");
        }
    }
}

#[tokio::test]
async fn a_token_without_the_permission_is_403_on_every_operation() {
    let api = Api::from_env();
    let owner = api.tenant();
    api.create(&owner, "guarded").await;
    let token = api.token(&owner.name, &["READ_SECRETS"]);
    let body = Some((
        "application/json",
        json!({"tag": "t", "name": "n", "secret": "s"}).to_string(),
    ));
    for (method, path) in [
        (Method::GET, ""),
        (Method::POST, ""),
        (Method::GET, "/guarded"),
        (Method::PUT, "/guarded"),
        (Method::DELETE, "/guarded"),
    ] {
        let reply = api
            .send(method.clone(), path, Some(&token), body.clone())
            .await;
        reply.error(403, "FORBIDDEN");
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .contains("insufficient_scope"),
            "{method} {path}"
        );
    }
    assert_eq!(api.total(&owner).await, 1);
}

#[tokio::test]
async fn bodies_must_be_declared_json_and_not_too_large() {
    let api = Api::from_env();
    let tenant = api.tenant();
    let body = json!({"tag": "t", "name": "n", "secret": MARKER}).to_string();
    for content_type in ["", "text/plain"] {
        let reply = api
            .send(
                Method::POST,
                "",
                Some(&tenant.token),
                Some((content_type, body.clone())),
            )
            .await;
        let error = reply.error(400, "BAD_REQUEST");
        assert_eq!(error["message"], "Content-Type must be application/json");
    }
    let huge = json!({"tag": "t", "name": "n", "secret": "s".repeat(450 * 1024)}).to_string();
    let reply = api
        .send(
            Method::POST,
            "",
            Some(&tenant.token),
            Some(("application/json", huge)),
        )
        .await;
    reply.error(413, "BAD_REQUEST");
    assert_eq!(api.total(&tenant).await, 0);
}

#[tokio::test]
async fn unknown_secrets_are_404() {
    let api = Api::from_env();
    let tenant = api.tenant();
    for path in [
        "/no-such-tag",
        "/se0000000000000000",
        "/not%20a%20tag",
        &format!("/{}", "x".repeat(300)),
    ] {
        api.get(&tenant, path).await.error(404, "NOT_FOUND");
        api.delete(&tenant, path).await.error(404, "NOT_FOUND");
    }
}
