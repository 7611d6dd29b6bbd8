use secrets_domain::ports::SecretStore;
use secrets_lambda::request::{if_match, tag_or_id};
use secrets_lambda::response::empty;
use secrets_lambda::{App, Body, Request, Response};

pub async fn handle<S: SecretStore, K>(app: &App<S, K>, request: Request) -> Response<Body> {
    let mut exchange = app.exchange(&request);
    let result = async {
        let actor = app.actor(&request, exchange.trail()).await?;
        let key = tag_or_id(&request)?;
        exchange.trail().requested(&key);
        let precondition = if_match(&request);
        app.secrets
            .delete(&actor, &key, precondition.as_ref())
            .await?;
        empty()
    };
    let result = result.await;
    exchange.respond(result).await
}

#[cfg(test)]
mod tests {
    use secrets_domain::model::TenantId;
    use secrets_domain::operation::Operation;
    use secrets_domain::page::PageRequest;
    use secrets_lambda::Function;
    use secrets_testkit::app::{TestApp, audit_trail, seed};
    use secrets_testkit::events::{TestRequest, json_body};
    use secrets_testkit::tokens::{PERMISSION, token};
    use serde_json::Value;

    use super::*;

    fn app() -> TestApp {
        secrets_testkit::app::app(Function::DeleteSecret)
    }

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

    #[tokio::test]
    async fn if_match_deletes_only_the_version_it_names() {
        let app = app();
        let secret = seed(&app, "acme", "db", "v").await;
        let guarded = |tag: &str| {
            TestRequest::for_secret("DELETE", "db")
                .bearer(&token("acme", &[PERMISSION]))
                .header("If-Match", tag)
        };
        let stale = format!("\"{}.7\"", secret.id);
        for (tag, status) in [
            (stale.as_str(), 412),
            ("W/\"whatever\"", 412),
            ("no-quotes", 412),
            (&secret.etag(), 200),
            (&secret.etag(), 404),
        ] {
            let response = handle(&app, guarded(tag).http_v2()).await;
            assert_eq!(response.status(), status, "{tag}");
        }
    }

    #[tokio::test]
    async fn every_authenticated_request_leaves_exactly_one_audit_record() {
        let app = app();
        let secret = seed(&app, "acme", "db", "v").await;
        let seeded = audit_trail(&app).len();
        let acme = token("acme", &[PERMISSION]);
        for request in [
            TestRequest::for_secret("DELETE", "db"),
            TestRequest::for_secret("DELETE", "db").bearer(&token("globex", &[PERMISSION])),
            TestRequest::for_secret("DELETE", "db").bearer(&token("acme", &[])),
            TestRequest::for_secret("DELETE", secret.id.as_str()).bearer(&acme),
            TestRequest::for_secret("DELETE", "db").bearer(&acme),
        ] {
            handle(&app, request.rest_v1()).await;
        }
        let acme = Some("acme".to_owned());
        assert_eq!(
            audit_trail(&app)[seeded..],
            [
                (Operation::Delete, Some("globex".to_owned()), 404),
                (Operation::Delete, acme.clone(), 403),
                (Operation::Delete, acme.clone(), 200),
                (Operation::Delete, acme, 404),
            ]
        );
        let deleted = &app.secrets.store().audit_records()[seeded + 2];
        assert_eq!(deleted.secret_id.as_ref(), Some(&secret.id));
        assert_eq!(deleted.tag.as_ref().map(|t| t.as_str()), Some("db"));
    }
}
