use secrets_domain::operation::Operation;
use secrets_domain::ports::SecretStore;
use secrets_lambda::request::{names_versions, tag_or_id};
use secrets_lambda::response::{secret, versions};
use secrets_lambda::{App, Body, Request, Response};

/// Both routes: the secret, or its kept value versions (metadata only),
/// each under its own operation in logs and metrics.
pub async fn handle<S: SecretStore, K>(app: &App<S, K>, request: Request) -> Response<Body> {
    let listing = names_versions(&request);
    let exchange = match listing {
        true => app.exchange_as(&request, Operation::ListVersions),
        false => app.exchange(&request),
    };
    let result = async {
        let caller = app.authenticate(&request).await?;
        let key = tag_or_id(&request)?;
        match listing {
            true => versions(&app.secrets.versions(&caller.tenant, &key).await?),
            false => secret(&app.secrets.get(&caller.tenant, &key).await?),
        }
    };
    exchange.respond(result.await).await
}

#[cfg(test)]
mod tests {
    use secrets_lambda::Function;
    use secrets_testkit::app::{TestApp, reseed, seed};
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

    #[tokio::test]
    async fn lists_a_secrets_versions_newest_first_from_either_event_shape() {
        let app = app();
        let created = seed(&app, "acme", "db", "first-marker").await;
        let updated = reseed(&app, "acme", "db", "second-marker").await;
        for key in ["db", created.id.as_str()] {
            for event in TestRequest::for_versions(key)
                .bearer(&token("acme", &[PERMISSION]))
                .both()
            {
                let response = handle(&app, event).await;
                assert_eq!(response.status(), 200, "{key}");
                assert_eq!(response.headers()["etag"], updated.etag().as_str());
                let body = json_body(&response);
                let versions = body["versions"].as_array().unwrap();
                let shown: Vec<_> = versions
                    .iter()
                    .map(|v| {
                        (
                            v["valueVersion"].clone(),
                            v["current"].clone(),
                            v["createdBy"].clone(),
                        )
                    })
                    .collect();
                assert_eq!(
                    shown,
                    [
                        (json!(2), json!(true), json!("tester")),
                        (json!(1), json!(false), json!("tester"))
                    ]
                );
                let created_at = versions[0]["createdAt"].as_str().unwrap();
                assert!(
                    created_at.ends_with('Z') && created_at.len() == 24,
                    "{created_at}"
                );
                assert!(versions[0].get("restoredFrom").is_none());
                let text = format!("{:?}", response.body());
                assert!(!text.contains("marker"), "never a value: {text}");
            }
        }
    }

    #[tokio::test]
    async fn a_secret_tagged_versions_is_still_a_secret() {
        let app = app();
        seed(&app, "acme", "versions", "v").await;
        let bearer = token("acme", &[PERMISSION]);
        let get = handle(
            &app,
            TestRequest::for_secret("GET", "versions")
                .bearer(&bearer)
                .rest_v1(),
        )
        .await;
        assert_eq!(json_body(&get)["tag"], "versions");
        let listed = handle(
            &app,
            TestRequest::for_versions("versions")
                .bearer(&bearer)
                .http_v2(),
        )
        .await;
        assert_eq!(json_body(&listed)["versions"][0]["valueVersion"], 1);
    }

    #[tokio::test]
    async fn versions_of_an_unknown_or_foreign_secret_are_404() {
        let app = app();
        let secret = seed(&app, "acme", "db", "v").await;
        for (tenant, key) in [
            ("acme", "nope"),
            ("globex", "db"),
            ("globex", secret.id.as_str()),
        ] {
            let response = handle(
                &app,
                TestRequest::for_versions(key)
                    .bearer(&token(tenant, &[PERMISSION]))
                    .http_v2(),
            )
            .await;
            assert_eq!(response.status(), 404, "{tenant} {key}");
            assert_eq!(json_body(&response)["type"], "NOT_FOUND");
        }
    }
}
