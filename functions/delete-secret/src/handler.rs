use secrets_core::store::SecretStore;
use secrets_http::request::secret_key;
use secrets_http::response::empty;
use secrets_http::{App, Body, Request, Response};

pub async fn handle<S: SecretStore, K>(app: &App<S, K>, request: Request) -> Response<Body> {
    let exchange = app.exchange(&request, "deleteSecret");
    let result = async {
        let caller = app.authenticate(&request).await?;
        let key = secret_key(&request)?;
        app.secrets.delete(&caller.tenant, &key).await?;
        empty()
    };
    exchange.finish(result.await)
}

#[cfg(test)]
mod tests {
    use secrets_core::domain::TenantId;
    use secrets_core::page::PageRequest;
    use secrets_http::testing::{PERMISSION, TestRequest, app, json_body, seed, token};
    use serde_json::Value;

    use super::*;

    #[tokio::test]
    async fn deletes_by_tag_or_id_with_an_empty_200() {
        let app = app();
        let by_id = seed(&app, "acme", "one", "v").await;
        seed(&app, "acme", "two", "v").await;
        let acme = token("acme", &[PERMISSION]);
        for (key, event) in [
            (
                "two",
                TestRequest::for_secret("DELETE", "two")
                    .bearer(&acme)
                    .rest_v1(),
            ),
            (
                by_id.id.as_str(),
                TestRequest::for_secret("DELETE", by_id.id.as_str())
                    .bearer(&acme)
                    .http_v2(),
            ),
        ] {
            let response = handle(&app, event).await;
            assert_eq!(response.status(), 200, "{key}");
            assert_eq!(json_body(&response), Value::Null);
        }
        let page = app
            .secrets
            .list(
                &TenantId::parse("acme").unwrap(),
                PageRequest::new(0, 10).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(page.total, 0);
    }

    #[tokio::test]
    async fn a_second_delete_and_another_tenants_delete_are_404() {
        let app = app();
        seed(&app, "acme", "db", "v").await;
        let foreign = handle(
            &app,
            TestRequest::for_secret("DELETE", "db")
                .bearer(&token("globex", &[PERMISSION]))
                .rest_v1(),
        )
        .await;
        assert_eq!(foreign.status(), 404);
        let acme = token("acme", &[PERMISSION]);
        for expected in [200, 404] {
            let request = TestRequest::for_secret("DELETE", "db").bearer(&acme);
            assert_eq!(handle(&app, request.rest_v1()).await.status(), expected);
        }
    }

    #[tokio::test]
    async fn a_body_or_content_type_on_delete_is_ignored() {
        let app = app();
        seed(&app, "acme", "db", "v").await;
        let request = TestRequest::for_secret("DELETE", "db")
            .bearer(&token("acme", &[PERMISSION]))
            .header("Content-Type", "text/plain")
            .body("ignored");
        assert_eq!(handle(&app, request.http_v2()).await.status(), 200);
    }

    #[tokio::test]
    async fn needs_the_permission() {
        let app = app();
        seed(&app, "acme", "db", "v").await;
        let response = handle(
            &app,
            TestRequest::for_secret("DELETE", "db")
                .bearer(&token("acme", &["READ"]))
                .http_v2(),
        )
        .await;
        assert_eq!(response.status(), 403);
    }
}
