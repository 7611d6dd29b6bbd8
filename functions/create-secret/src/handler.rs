use secrets_domain::input::CreateSecret;
use secrets_domain::ports::{DataKeys, RequestMacs, SecretStore};
use secrets_lambda::request::{idempotency_key, take_json_body};
use secrets_lambda::response::created;
use secrets_lambda::{App, Body, Request, Response};

pub async fn handle<S: SecretStore, K: DataKeys + RequestMacs>(
    app: &App<S, K>,
    mut request: Request,
) -> Response<Body> {
    let mut exchange = app.exchange(&request);
    let result = async {
        let actor = app.actor(&request, exchange.trail()).await?;
        let key = idempotency_key(&request)?;
        let create = CreateSecret::from_json(&take_json_body(&mut request)?)?;
        exchange.trail().requested_tag(&create.tag);
        let created_secret = app.secrets.create_with_key(&actor, create, key.as_ref());
        created(&created_secret.await?)
    };
    let result = result.await;
    exchange.respond(result).await
}

#[cfg(test)]
mod tests {
    use secrets_domain::model::{SecretId, Tag, TagOrId, TenantId};
    use secrets_domain::operation::Operation;
    use secrets_domain::page::PageRequest;
    use secrets_lambda::Function;
    use secrets_testkit::app::{TestApp, audit_trail};
    use secrets_testkit::events::{TestRequest, json_body};
    use secrets_testkit::tokens::{PERMISSION, token};
    use serde_json::{Value, json};

    use super::*;

    fn app() -> TestApp {
        secrets_testkit::app::app(Function::CreateSecret)
    }

    fn create(body: &str) -> TestRequest {
        TestRequest::new("POST", "/api/v1/secrets")
            .bearer(&token("acme", &[PERMISSION]))
            .json(body)
    }

    async fn total(app: &TestApp) -> u32 {
        let acme = TenantId::parse("acme").unwrap();
        app.secrets
            .list(&acme, PageRequest::new(0, 1).unwrap())
            .await
            .unwrap()
            .total
    }

    #[tokio::test]
    async fn creates_a_secret_and_answers_with_its_summary_only() {
        let app = app();
        for (tag, event) in [
            (
                "from-v1",
                create(r#"{"tag":"from-v1","name":"One","secret":"hunter2-marker"}"#).rest_v1(),
            ),
            (
                "from-v2",
                create(r#"{"tag":"from-v2","name":"Two","secret":"hunter2-marker"}"#).http_v2(),
            ),
        ] {
            let response = handle(&app, event).await;
            assert_eq!(response.status(), 200);
            let body = json_body(&response);
            assert_eq!(body["tag"], tag);
            assert!(
                SecretId::has_id_shape(body["id"].as_str().unwrap()),
                "{body}"
            );
            assert_eq!(body.as_object().unwrap().len(), 3);
            assert_eq!(
                response.headers()["etag"],
                format!("\"{}.1\"", body["id"].as_str().unwrap()).as_str()
            );
            assert!(!body.to_string().contains("hunter2-marker"));
        }
        assert_eq!(app.secrets.keys().generated(), 2, "one data key per value");
        assert_eq!(total(&app).await, 2);
    }

    #[tokio::test]
    async fn unknown_fields_are_ignored_and_never_applied() {
        let app = app();
        let body = r#"{"tag":"t","name":"n","secret":"s","id":"se0000000000000000","total":9}"#;
        let created = json_body(&handle(&app, create(body).rest_v1()).await);
        assert_ne!(created["id"], "se0000000000000000");
        let acme = TenantId::parse("acme").unwrap();
        assert!(
            app.secrets
                .get(&acme, &TagOrId::Tag(Tag::parse("t").unwrap()))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_taken_tag_is_409_conflict_and_counts_once() {
        let app = app();
        let body = r#"{"tag":"dup","name":"n","secret":"s"}"#;
        assert_eq!(handle(&app, create(body).rest_v1()).await.status(), 200);
        let response = handle(&app, create(body).http_v2()).await;
        assert_eq!(response.status(), 409);
        assert_eq!(json_body(&response)["type"], "CONFLICT");
        assert_eq!(total(&app).await, 1);
    }

    #[tokio::test]
    async fn invalid_bodies_are_400_naming_the_field_and_write_nothing() {
        let app = app();
        let cases = [
            (r#"{"name":"n","secret":"s"}"#, "tag is required"),
            (
                r#"{"tag":"bad tag","name":"n","secret":"s"}"#,
                "tag must be",
            ),
            (
                r#"{"tag":"se0123456789abcdef","name":"n","secret":"s"}"#,
                "tag must not have the shape",
            ),
            (
                r#"{"tag":"t","name":"  ","secret":"s"}"#,
                "name must not be blank",
            ),
            (r#"{"tag":"t","name":"n","secret":""}"#, "secret must be"),
            (
                r#"{"tag":"t","name":"n","secret":null}"#,
                "secret must be a string",
            ),
            ("not json", "request body must be a JSON object"),
            (r#"{"tag":"t","#, "request body is not valid JSON"),
            ("[]", "request body must be a JSON object"),
        ];
        for (body, message) in cases {
            let response = handle(&app, create(body).http_v2()).await;
            assert_eq!(response.status(), 400, "{body}");
            let error = json_body(&response);
            assert_eq!(error["type"], "BAD_REQUEST");
            assert!(
                error["message"].as_str().unwrap().contains(message),
                "{body}: {error}"
            );
        }
        assert_eq!(total(&app).await, 0);
    }

    #[tokio::test]
    async fn a_secret_over_64_kib_is_400_and_a_body_over_the_limit_413() {
        let app = app();
        let big = format!(
            r#"{{"tag":"t","name":"n","secret":"{}"}}"#,
            "s".repeat(64 * 1024 + 1)
        );
        assert_eq!(handle(&app, create(&big).rest_v1()).await.status(), 400);
        let huge = format!(
            r#"{{"tag":"t","name":"n","secret":"{}"}}"#,
            "s".repeat(500 * 1024)
        );
        let response = handle(&app, create(&huge).rest_v1()).await;
        assert_eq!(response.status(), 413);
        assert_eq!(json_body(&response)["type"], "BAD_REQUEST");
    }

    #[tokio::test]
    async fn a_body_that_is_missing_or_not_declared_json_is_400() {
        let app = app();
        let body = r#"{"tag":"t","name":"n","secret":"s"}"#;
        let untyped = TestRequest::new("POST", "/api/v1/secrets")
            .bearer(&token("acme", &[PERMISSION]))
            .body(body);
        let form = untyped
            .clone()
            .header("Content-Type", "application/x-www-form-urlencoded");
        for request in [untyped, form] {
            let response = handle(&app, request.rest_v1()).await;
            assert_eq!(response.status(), 400);
            assert_eq!(
                json_body(&response)["message"],
                "Content-Type must be application/json"
            );
        }
        let missing =
            TestRequest::new("POST", "/api/v1/secrets").bearer(&token("acme", &[PERMISSION]));
        let response = handle(&app, missing.http_v2()).await;
        assert_eq!(
            json_body(&response)["message"],
            "a JSON request body is required"
        );
        let with_charset = TestRequest::new("POST", "/api/v1/secrets")
            .bearer(&token("acme", &[PERMISSION]))
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body);
        assert_eq!(handle(&app, with_charset.http_v2()).await.status(), 200);
    }

    #[tokio::test]
    async fn authentication_comes_before_validation() {
        let app = app();
        let anonymous = TestRequest::new("POST", "/api/v1/secrets").json("not json");
        assert_eq!(handle(&app, anonymous.rest_v1()).await.status(), 401);
        let forbidden = TestRequest::new("POST", "/api/v1/secrets")
            .bearer(&token("acme", &[]))
            .json("{}");
        let response = handle(&app, forbidden.http_v2()).await;
        assert_eq!(response.status(), 403);
        assert_eq!(json_body(&response)["type"], "FORBIDDEN");
        assert_eq!(
            json_body(&anonymous_error(&app).await)["type"],
            Value::from("UNCATEGORIZED")
        );
    }

    async fn anonymous_error(app: &TestApp) -> Response<Body> {
        handle(
            app,
            TestRequest::new("POST", "/api/v1/secrets")
                .json("{}")
                .http_v2(),
        )
        .await
    }

    #[tokio::test]
    async fn error_bodies_have_the_contract_shape() {
        let app = app();
        let body = json_body(&handle(&app, create("{}").rest_v1()).await);
        assert_eq!(
            body,
            json!({
                "message": "tag is required; name is required; secret is required",
                "type": "BAD_REQUEST",
                "httpStatus": 400,
                "requestId": "v1-request-id",
            })
        );
    }

    fn body_text(response: &Response<Body>) -> String {
        match response.body() {
            Body::Text(text) => text.clone(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_retry_with_its_idempotency_key_gets_the_first_answer_again() {
        let app = app();
        let body = r#"{"tag":"db","name":"n","secret":"v"}"#;
        let keyed = |key: &str, body: &str| create(body).header("Idempotency-Key", key);

        let first = handle(&app, keyed("key-1", body).rest_v1()).await;
        assert_eq!(first.status(), 200);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let retry = handle(&app, keyed("key-1", body).http_v2()).await;
        assert_eq!(retry.status(), 200, "not 409");
        assert_eq!(retry.headers()["idempotent-replayed"], "true");
        assert_eq!(body_text(&retry), body_text(&first));
        assert_eq!(retry.headers()["etag"], first.headers()["etag"]);
        assert_eq!(total(&app).await, 1);

        let other_body = handle(
            &app,
            keyed("key-1", r#"{"tag":"db","name":"n","secret":"w"}"#).rest_v1(),
        )
        .await;
        assert_eq!(other_body.status(), 422);
        assert_eq!(json_body(&other_body)["type"], "ILLEGAL_ARGUMENT_ERROR");
        let unkeyed = handle(&app, create(body).rest_v1()).await;
        assert_eq!(
            unkeyed.status(),
            409,
            "the contract's answer without the key"
        );
        let bad_key = handle(&app, keyed(&"k".repeat(256), body).rest_v1()).await;
        assert_eq!(bad_key.status(), 400);
        assert_eq!(
            audit_trail(&app)
                .iter()
                .map(|(_, _, status)| *status)
                .collect::<Vec<_>>(),
            [200, 200, 422, 409, 400]
        );
        let replayed: Vec<bool> = app
            .secrets
            .store()
            .audit_records()
            .iter()
            .map(|record| record.replayed)
            .collect();
        assert_eq!(replayed, [false, true, false, false, false]);
    }

    /// Every request but one without a valid token: anonymous callers
    /// could otherwise grow the audit table without limit.
    #[tokio::test]
    async fn every_authenticated_request_leaves_exactly_one_audit_record() {
        let app = app();
        let body = r#"{"tag":"db","name":"n","secret":"audit-marker"}"#;
        for request in [
            create(body),
            create(body),
            create(r#"{"tag":"db"}"#),
            TestRequest::new("POST", "/api/v1/secrets").json(body),
        ] {
            handle(&app, request.rest_v1()).await;
        }
        let acme = Some("acme".to_owned());
        assert_eq!(
            audit_trail(&app),
            [
                (Operation::Create, acme.clone(), 200),
                (Operation::Create, acme.clone(), 409),
                (Operation::Create, acme, 400),
            ],
            "the 401 left no record"
        );
        let stored = app.secrets.store().audit_records();
        assert!(!format!("{stored:?}").contains("audit-marker"));
        assert_eq!(stored[1].requested.as_deref(), Some("db"));
    }
}
