use secrets_domain::Result;
use secrets_domain::input::UpdateSecret;
use secrets_domain::operation::Operation;
use secrets_domain::ports::{DataKeys, Reseal, SecretStore};
use secrets_lambda::request::{if_match, restored_version, tag_or_id, take_json_body};
use secrets_lambda::response::secret;
use secrets_lambda::{App, Body, Request, Response};

/// Both routes: an update (`PUT`), or the restore of a kept version.
pub async fn handle<S: SecretStore, K: DataKeys + Reseal>(
    app: &App<S, K>,
    request: Request,
) -> Response<Body> {
    match restored_version(&request) {
        Some(version) => restore(app, request, version).await,
        None => update(app, request).await,
    }
}

async fn update<S: SecretStore, K: DataKeys>(
    app: &App<S, K>,
    mut request: Request,
) -> Response<Body> {
    let mut exchange = app.exchange(&request);
    let result = async {
        let actor = app.actor(&request, exchange.trail()).await?;
        let key = tag_or_id(&request)?;
        exchange.trail().requested(&key);
        let precondition = if_match(&request);
        let update = UpdateSecret::from_json(&take_json_body(&mut request)?)?;
        let updated = app
            .secrets
            .update(&actor, &key, update, precondition.as_ref());
        secret(&updated.await?)
    };
    let result = result.await;
    exchange.respond(result).await
}

/// The version's value made current again, as a new version; no body.
async fn restore<S: SecretStore, K: Reseal>(
    app: &App<S, K>,
    request: Request,
    version: Result<u64>,
) -> Response<Body> {
    let mut exchange = app.exchange_as(&request, Operation::RestoreVersion);
    let result = async {
        let actor = app.actor(&request, exchange.trail()).await?;
        let key = tag_or_id(&request)?;
        exchange.trail().requested(&key);
        let precondition = if_match(&request);
        let restored = app
            .secrets
            .restore(&actor, &key, version?, precondition.as_ref());
        secret(&restored.await?)
    };
    let result = result.await;
    exchange.respond(result).await
}

#[cfg(test)]
mod tests {
    use secrets_domain::crypto::{CipherScheme, EncryptionContext, open};
    use secrets_domain::model::{SecretId, TenantId};
    use secrets_domain::operation::Operation;
    use secrets_lambda::Function;
    use secrets_testkit::app::{TestApp, audit_trail, seed};
    use secrets_testkit::events::{TestRequest, json_body};
    use secrets_testkit::tokens::{PERMISSION, token};
    use serde_json::json;

    use super::*;

    fn app() -> TestApp {
        secrets_testkit::app::app(Function::UpdateSecret)
    }

    fn update(key: &str, body: &str) -> TestRequest {
        TestRequest::for_secret("PUT", key)
            .bearer(&token("acme", &[PERMISSION]))
            .json(body)
    }

    async fn stored_value(app: &TestApp, id: &SecretId) -> Vec<u8> {
        let acme = TenantId::parse("acme").unwrap();
        let sealed = app
            .secrets
            .store()
            .sealed_value(&acme, id)
            .await
            .unwrap()
            .unwrap();
        open(
            app.secrets.keys(),
            EncryptionContext::new(&acme, id),
            &sealed,
        )
        .await
        .unwrap()
        .to_vec()
    }

    #[tokio::test]
    async fn renames_without_a_data_key_from_either_event_shape() {
        let app = app();
        let secret = seed(&app, "acme", "db", "v").await;
        for (name, event) in [
            ("By tag", update("db", r#"{"name":"By tag"}"#).rest_v1()),
            (
                "By id",
                update(secret.id.as_str(), r#"{"name":"By id"}"#).http_v2(),
            ),
        ] {
            let response = handle(&app, event).await;
            assert_eq!(response.status(), 200);
            assert_eq!(
                json_body(&response),
                json!({"id": secret.id.as_str(), "name": name, "tag": "db"})
            );
        }
        assert_eq!(
            app.secrets.keys().generated(),
            1,
            "only the seed's data key"
        );
        assert_eq!(stored_value(&app, &secret.id).await, b"v");
    }

    #[tokio::test]
    async fn a_new_value_is_sealed_under_a_new_data_key() {
        let app = app();
        let secret = seed(&app, "acme", "db", "old").await;
        let response = handle(&app, update("db", r#"{"secret":"new-marker"}"#).rest_v1()).await;
        assert_eq!(response.status(), 200);
        assert!(!json_body(&response).to_string().contains("new-marker"));
        assert_eq!(app.secrets.keys().generated(), 2);
        assert_eq!(stored_value(&app, &secret.id).await, b"new-marker");
    }

    #[tokio::test]
    async fn the_tag_is_immutable_and_unknown_fields_ignored() {
        let app = app();
        let secret = seed(&app, "acme", "db", "v").await;
        let response = handle(
            &app,
            update("db", r#"{"tag":"other","id":"se0000000000000000"}"#).http_v2(),
        )
        .await;
        assert_eq!(
            json_body(&response),
            json!({"id": secret.id.as_str(), "name": "Secret db", "tag": "db"})
        );
    }

    #[tokio::test]
    async fn unknown_and_foreign_secrets_are_404() {
        let app = app();
        seed(&app, "acme", "db", "v").await;
        assert_eq!(
            handle(&app, update("nope", r#"{"name":"x"}"#).rest_v1())
                .await
                .status(),
            404
        );
        let foreign = TestRequest::for_secret("PUT", "db")
            .bearer(&token("globex", &[PERMISSION]))
            .json(r#"{"name":"x"}"#);
        assert_eq!(handle(&app, foreign.http_v2()).await.status(), 404);
    }

    #[tokio::test]
    async fn invalid_fields_are_400_and_change_nothing() {
        let app = app();
        seed(&app, "acme", "db", "v").await;
        for (body, message) in [
            (r#"{"name":""}"#, "name must be 1 to 255"),
            (r#"{"name":null}"#, "name must be a string, not null"),
            (r#"{"secret":12}"#, "secret must be a string, not a number"),
            (
                r#"{"name":"ok","name":"twice"}"#,
                "field `name` appears more than once",
            ),
        ] {
            let response = handle(&app, update("db", body).rest_v1()).await;
            assert_eq!(response.status(), 400, "{body}");
            assert!(
                json_body(&response)["message"]
                    .as_str()
                    .unwrap()
                    .contains(message),
                "{body}"
            );
        }
        let unchanged = handle(&app, update("db", "{}").rest_v1()).await;
        assert_eq!(json_body(&unchanged)["name"], "Secret db");
    }

    #[tokio::test]
    async fn a_body_must_be_declared_json() {
        let app = app();
        seed(&app, "acme", "db", "v").await;
        let request = TestRequest::for_secret("PUT", "db")
            .bearer(&token("acme", &[PERMISSION]))
            .body(r#"{"name":"x"}"#);
        let response = handle(&app, request.http_v2()).await;
        assert_eq!(response.status(), 400);
        assert_eq!(
            json_body(&response)["message"],
            "Content-Type must be application/json"
        );
    }

    fn etag(response: &Response<Body>) -> &str {
        response.headers()["etag"].to_str().unwrap()
    }

    #[tokio::test]
    async fn if_match_guards_the_update_and_the_etag_moves_on() {
        let app = app();
        let secret = seed(&app, "acme", "db", "v").await;
        let guarded = |tag: &str, body: &str| update("db", body).header("If-Match", tag);

        let renamed = handle(&app, guarded(&secret.etag(), r#"{"name":"Two"}"#).rest_v1()).await;
        assert_eq!(renamed.status(), 200);
        let second = format!("\"{}.2\"", secret.id);
        assert_eq!(etag(&renamed), second);
        assert_eq!(json_body(&renamed)["name"], "Two", "the contract's body");

        for body in [r#"{"secret":"lost-update"}"#, "{}"] {
            let stale = handle(&app, guarded(&secret.etag(), body).http_v2()).await;
            assert_eq!(stale.status(), 412, "{body}");
            assert_eq!(json_body(&stale)["type"], "CONFLICT");
        }
        assert_eq!(stored_value(&app, &secret.id).await, b"v");

        let malformed = handle(&app, guarded("se-no-quotes", r#"{"name":"x"}"#).rest_v1()).await;
        assert_eq!(malformed.status(), 412);
        assert!(
            json_body(&malformed)["message"]
                .as_str()
                .unwrap()
                .contains("entity tags")
        );
        let any = handle(&app, guarded("*", r#"{"name":"Three"}"#).rest_v1()).await;
        assert_eq!(etag(&any), format!("\"{}.3\"", secret.id));
        // Without If-Match, the contract's unconditional update.
        let plain = handle(&app, update("db", r#"{"name":"Four"}"#).rest_v1()).await;
        assert_eq!(etag(&plain), format!("\"{}.4\"", secret.id));
        assert_eq!(
            audit_trail(&app)
                .iter()
                .map(|(_, _, status)| *status)
                .collect::<Vec<_>>(),
            [200, 200, 412, 412, 412, 200, 200]
        );
    }

    /// Every request but the one without a token (which is only logged and
    /// counted) leaves exactly one record.
    #[tokio::test]
    async fn every_authenticated_request_leaves_exactly_one_audit_record() {
        let app = app();
        seed(&app, "acme", "db", "v").await;
        let seeded = audit_trail(&app).len();
        for request in [
            update("db", r#"{"secret":"audit-marker"}"#),
            update("db", "{}"),
            update("nope", r#"{"name":"x"}"#),
            update("db", r#"{"name":""}"#),
            TestRequest::for_secret("PUT", "db").json("{}"),
        ] {
            handle(&app, request.http_v2()).await;
        }
        let acme = Some("acme".to_owned());
        assert_eq!(
            audit_trail(&app)[seeded..],
            [
                (Operation::Update, acme.clone(), 200),
                (Operation::Update, acme.clone(), 200),
                (Operation::Update, acme.clone(), 404),
                (Operation::Update, acme, 400),
            ],
            "the 401 left no record"
        );
    }

    #[tokio::test]
    async fn restores_a_kept_version_as_a_new_one_from_either_event_shape() {
        let app = app();
        let created = seed(&app, "acme", "db", "good").await;
        secrets_testkit::app::reseed(&app, "acme", "db", "bad").await;
        let bearer = token("acme", &[PERMISSION]);
        let mut value_version = 2;
        for event in TestRequest::for_restore("db", "1").bearer(&bearer).both() {
            let response = handle(&app, event).await;
            assert_eq!(response.status(), 200);
            assert_eq!(json_body(&response)["id"], created.id.as_str());
            value_version += 1;
            let acme = TenantId::parse("acme").unwrap();
            let sealed = app
                .secrets
                .store()
                .sealed_value(&acme, &created.id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(sealed.scheme, CipherScheme::V2 { value_version });
            let context = EncryptionContext::new(&acme, &created.id);
            let opened = open(app.secrets.keys(), context, &sealed).await.unwrap();
            assert_eq!(opened.as_slice(), b"good", "restored as {value_version}");
        }
        let records = app.secrets.store().audit_records();
        let restores = records
            .iter()
            .filter(|r| r.operation == Operation::RestoreVersion)
            .count();
        assert_eq!(restores, 2);
    }

    #[tokio::test]
    async fn a_restore_of_no_kept_version_is_404_and_of_the_current_one_409() {
        let app = app();
        seed(&app, "acme", "db", "one").await;
        let bearer = token("acme", &[PERMISSION]);
        for (version, status) in [("1", 409), ("2", 404), ("0", 404), ("x", 404), ("01x", 404)] {
            let event = TestRequest::for_restore("db", version)
                .bearer(&bearer)
                .rest_v1();
            assert_eq!(handle(&app, event).await.status(), status, "{version}");
        }
        let event = TestRequest::for_restore("db", "1")
            .bearer(&token("globex", &[PERMISSION]))
            .http_v2();
        assert_eq!(handle(&app, event).await.status(), 404);
    }
}
