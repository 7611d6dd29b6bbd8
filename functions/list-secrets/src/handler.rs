use secrets_domain::ports::SecretStore;
use secrets_lambda::request::page_request;
use secrets_lambda::response::json;
use secrets_lambda::{App, Body, Request, Response};

pub async fn handle<S: SecretStore, K>(app: &App<S, K>, request: Request) -> Response<Body> {
    let exchange = app.exchange(&request);
    let result = async {
        let caller = app.authenticate(&request).await?;
        let page = page_request(&request)?;
        json(&app.secrets.list(&caller.tenant, page).await?)
    };
    exchange.respond(result.await).await
}

#[cfg(test)]
mod tests {
    use secrets_lambda::Function;
    use secrets_testkit::app::{TestApp, seed};
    use secrets_testkit::events::{TestRequest, json_body};
    use secrets_testkit::tokens::{PERMISSION, token};
    use serde_json::json;

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
}
