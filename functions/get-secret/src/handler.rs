use secrets_domain::ports::SecretStore;
use secrets_lambda::request::tag_or_id;
use secrets_lambda::response::secret;
use secrets_lambda::{App, Body, Request, Response};

pub async fn handle<S: SecretStore, K>(app: &App<S, K>, request: Request) -> Response<Body> {
    let exchange = app.exchange(&request);
    let result = async {
        let caller = app.authenticate(&request).await?;
        let key = tag_or_id(&request)?;
        secret(&app.secrets.get(&caller.tenant, &key).await?)
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
        secrets_testkit::app::app(Function::GetSecret)
    }

    #[tokio::test]
    async fn finds_a_secret_by_tag_or_id_from_either_event_shape() {
        let app = app();
        let secret = seed(&app, "acme", "db-password", "hunter2").await;
        let expected =
            json!({"id": secret.id.as_str(), "name": "Secret db-password", "tag": "db-password"});
        for key in ["db-password", secret.id.as_str(), "db%2Dpassword"] {
            for event in TestRequest::for_secret("GET", key)
                .bearer(&token("acme", &[PERMISSION]))
                .both()
            {
                let response = handle(&app, event).await;
                assert_eq!(response.status(), 200, "{key}");
                assert_eq!(json_body(&response), expected);
                assert_eq!(response.headers()["etag"], secret.etag().as_str());
            }
        }
    }

    #[tokio::test]
    async fn unknown_malformed_and_foreign_keys_are_404() {
        let app = app();
        let secret = seed(&app, "acme", "db", "v").await;
        let cases = [
            ("acme", "nope"),
            ("acme", "se0000000000000000"),
            ("acme", "not%20a%20tag"),
            ("acme", "%zz"),
            ("globex", "db"),
            ("globex", secret.id.as_str()),
        ];
        for (tenant, key) in cases {
            let response = handle(
                &app,
                TestRequest::for_secret("GET", key)
                    .bearer(&token(tenant, &[PERMISSION]))
                    .rest_v1(),
            )
            .await;
            assert_eq!(response.status(), 404, "{tenant} {key}");
            assert_eq!(json_body(&response)["type"], "NOT_FOUND");
        }
    }

    #[tokio::test]
    async fn never_returns_the_value() {
        let app = app();
        seed(&app, "acme", "db", "hunter2-marker").await;
        let response = handle(
            &app,
            TestRequest::for_secret("GET", "db")
                .bearer(&token("acme", &[PERMISSION]))
                .http_v2(),
        )
        .await;
        assert!(!format!("{:?}", response.body()).contains("hunter2-marker"));
    }

    #[tokio::test]
    async fn an_invalid_token_is_401_with_the_bearer_challenge() {
        let app = app();
        let response = handle(
            &app,
            TestRequest::for_secret("GET", "db")
                .bearer("not.a.token")
                .http_v2(),
        )
        .await;
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"cortex-secrets\", error=\"invalid_token\""
        );
        assert_eq!(json_body(&response)["requestId"], "v2-request-id");
    }
}
