use secrets_domain::operation::Operation;
use secrets_domain::ports::SecretStore;
use secrets_lambda::request::{deleted_page_request, names_deleted, page_request};
use secrets_lambda::response::{deleted, json};
use secrets_lambda::{App, Body, Request, Response};

/// Both routes: a page of the tenant's secrets, or of its deleted secrets
/// still recoverable (metadata only), each under its own operation.
pub async fn handle<S: SecretStore, K>(app: &App<S, K>, request: Request) -> Response<Body> {
    let listing_deleted = names_deleted(&request);
    let exchange = match listing_deleted {
        true => app.exchange_as(&request, Operation::ListDeleted),
        false => app.exchange(&request),
    };
    let result = async {
        let caller = app.authenticate(&request).await?;
        match listing_deleted {
            true => {
                let page = deleted_page_request(&request)?;
                deleted(&app.secrets.deleted(&caller.tenant, &page).await?)
            }
            false => json(
                &app.secrets
                    .list(&caller.tenant, page_request(&request)?)
                    .await?,
            ),
        }
    };
    exchange.respond(result.await).await
}

#[cfg(test)]
mod tests {
    use secrets_domain::model::{TagOrId, TenantId};
    use secrets_lambda::Function;
    use secrets_testkit::app::{TestApp, seed};
    use secrets_testkit::events::{TestRequest, json_body};
    use secrets_testkit::tokens::{PERMISSION, token};
    use serde_json::{Value, json};

    use super::*;

    fn app() -> TestApp {
        secrets_testkit::app::app(Function::ListSecrets)
    }

    fn list(token: &str) -> TestRequest {
        TestRequest::new("GET", "/api/v1/secrets").bearer(token)
    }

    #[tokio::test]
    async fn lists_pages_in_tag_order_from_either_event_shape() {
        let app = app();
        for tag in ["charlie", "alpha", "bravo"] {
            seed(&app, "acme", tag, "v").await;
        }
        let request = list(&token("acme", &[PERMISSION]))
            .query("page", "0")
            .query("pageSize", "2");
        for event in request.both() {
            let response = handle(&app, event).await;
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["content-type"], "application/json");
            let body = json_body(&response);
            assert_eq!(
                (
                    body["page"].clone(),
                    body["total"].clone(),
                    body["totalPages"].clone()
                ),
                (json!(0), json!(3), json!(2))
            );
            let tags: Vec<_> = body["secrets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["tag"].clone())
                .collect();
            assert_eq!(tags, [json!("alpha"), json!("bravo")]);
            assert_eq!(
                body["secrets"][0].as_object().unwrap().len(),
                3,
                "id, name and tag only"
            );
        }
        let last = handle(
            &app,
            list(&token("acme", &[PERMISSION]))
                .query("page", "1")
                .query("pageSize", "2")
                .http_v2(),
        )
        .await;
        assert_eq!(json_body(&last)["secrets"][0]["tag"], "charlie");
    }

    #[tokio::test]
    async fn defaults_to_page_0_of_250_and_is_empty_past_the_end() {
        let app = app();
        seed(&app, "acme", "only", "v").await;
        let first = json_body(&handle(&app, list(&token("acme", &[PERMISSION])).rest_v1()).await);
        assert_eq!(
            (
                first["page"].clone(),
                first["secrets"].as_array().unwrap().len()
            ),
            (json!(0), 1)
        );
        let past = json_body(
            &handle(
                &app,
                list(&token("acme", &[PERMISSION]))
                    .query("page", "5")
                    .rest_v1(),
            )
            .await,
        );
        assert_eq!(
            past,
            json!({"page": 5, "secrets": [], "total": 1, "totalPages": 1})
        );
    }

    #[tokio::test]
    async fn only_the_callers_tenant_is_listed() {
        let app = app();
        seed(&app, "acme", "mine", "v").await;
        let body = json_body(&handle(&app, list(&token("globex", &[PERMISSION])).http_v2()).await);
        assert_eq!(
            body,
            json!({"page": 0, "secrets": [], "total": 0, "totalPages": 0})
        );
    }

    #[tokio::test]
    async fn bad_paging_is_400_naming_the_parameter() {
        let app = app();
        for (name, value) in [
            ("page", "-1"),
            ("pageSize", "0"),
            ("pageSize", "1001"),
            ("page", "x"),
        ] {
            let response = handle(
                &app,
                list(&token("acme", &[PERMISSION]))
                    .query(name, value)
                    .rest_v1(),
            )
            .await;
            assert_eq!(response.status(), 400, "{name}={value}");
            let body = json_body(&response);
            assert_eq!(body["type"], "BAD_REQUEST");
            assert!(
                body["message"].as_str().unwrap().starts_with(name),
                "{body}"
            );
        }
    }

    #[tokio::test]
    async fn needs_a_token_with_the_permission() {
        let app = app();
        let anonymous = handle(&app, TestRequest::new("GET", "/api/v1/secrets").http_v2()).await;
        assert_eq!(anonymous.status(), 401);
        assert_eq!(
            anonymous.headers()["www-authenticate"],
            "Bearer realm=\"cortex-secrets\""
        );
        let forbidden = handle(&app, list(&token("acme", &[])).rest_v1()).await;
        assert_eq!(forbidden.status(), 403);
        assert_eq!(json_body(&forbidden)["requestId"], "v1-request-id");
    }

    #[tokio::test]
    async fn lists_deleted_secrets_by_id_from_either_event_shape() {
        let app = app();
        let acme = TenantId::parse("acme").unwrap();
        let deleter = secrets_testkit::actor(&acme, Operation::Delete);
        let mut ids = Vec::new();
        for tag in ["alpha", "bravo", "charlie"] {
            let created = seed(&app, "acme", tag, "v").await;
            let key = TagOrId::Id(created.id.clone());
            app.secrets.delete(&deleter, &key, None).await.unwrap();
            ids.push(created.id.to_string());
        }
        ids.sort();
        let bearer = token("acme", &[PERMISSION]);
        let first = TestRequest::new("GET", "/api/v1/deleted-secrets")
            .query("pageSize", "2")
            .bearer(&bearer);
        let response = handle(&app, first.rest_v1()).await;
        assert_eq!(response.status(), 200);
        let page = json_body(&response);
        let listed: Vec<_> = page["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].clone())
            .collect();
        assert_eq!(listed, [json!(ids[0]), json!(ids[1])]);
        assert_eq!(page["next"], json!(ids[1]));
        assert!(
            page["secrets"][0]["deletedAt"].is_string()
                && page["secrets"][0]["purgeAt"].is_string()
        );
        assert!(page["secrets"][0].get("value").is_none());
        let second = TestRequest::new("GET", "/api/v1/deleted-secrets")
            .query("after", &ids[1])
            .bearer(&bearer);
        let page = json_body(&handle(&app, second.http_v2()).await);
        assert_eq!(page["secrets"][0]["id"], json!(ids[2]));
        assert_eq!(page["next"], Value::Null);
        // Another tenant's are not its own; a bad page is a 400.
        let globex = TestRequest::new("GET", "/api/v1/deleted-secrets")
            .bearer(&token("globex", &[PERMISSION]));
        let page = json_body(&handle(&app, globex.rest_v1()).await);
        assert_eq!(page["secrets"], json!([]));
        let bad = TestRequest::new("GET", "/api/v1/deleted-secrets")
            .query("after", "not-an-id")
            .bearer(&bearer);
        assert_eq!(handle(&app, bad.http_v2()).await.status(), 400);
    }
}
