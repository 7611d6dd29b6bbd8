use secrets_domain::model::TagOrId;
use secrets_domain::operation::Operation;
use secrets_domain::ports::SecretStore;
use secrets_lambda::request::{deleted_id, if_match, names_deleted, tag_or_id};
use secrets_lambda::response::{empty, secret};
use secrets_lambda::{App, Body, Request, Response};

/// Both routes: a delete (kept for the recovery window, if any), or the
/// recovery of a deleted secret under its tag, each under its operation.
pub async fn handle<S: SecretStore, K>(app: &App<S, K>, request: Request) -> Response<Body> {
    let recovering = names_deleted(&request);
    let mut exchange = match recovering {
        true => app.exchange_as(&request, Operation::RecoverDeleted),
        false => app.exchange(&request),
    };
    let result = async {
        let actor = app.actor(&request, exchange.trail()).await?;
        if recovering {
            let id = deleted_id(&request)?;
            exchange.trail().requested(&TagOrId::Id(id.clone()));
            return secret(&app.secrets.recover(&actor, &id).await?);
        }
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

    #[tokio::test]
    async fn recovers_a_deleted_secret_from_either_event_shape() {
        let app = app();
        let acme = token("acme", &[PERMISSION]);
        for (tag, shape) in [("one", 1), ("two", 2)] {
            let created = seed(&app, "acme", tag, "v").await;
            let delete = TestRequest::for_secret("DELETE", tag).bearer(&acme);
            assert_eq!(handle(&app, delete.rest_v1()).await.status(), 200);
            let recovery = TestRequest::for_recovery(created.id.as_str()).bearer(&acme);
            let event = if shape == 1 {
                recovery.rest_v1()
            } else {
                recovery.http_v2()
            };
            let response = handle(&app, event).await;
            assert_eq!(response.status(), 200, "{tag}");
            let body = json_body(&response);
            assert_eq!(
                (body["id"].as_str(), body["tag"].as_str()),
                (Some(created.id.as_str()), Some(tag))
            );
            let etag = response.headers()["etag"].to_str().unwrap();
            assert_eq!(etag, format!("\"{}.{}\"", created.id, created.version + 1));
        }
        let recoveries: Vec<_> = audit_trail(&app)
            .into_iter()
            .filter(|(operation, _, status)| {
                *operation == Operation::RecoverDeleted && *status == 200
            })
            .collect();
        assert_eq!(recoveries.len(), 2);
    }

    #[tokio::test]
    async fn a_recovery_of_no_deleted_secret_is_404() {
        let app = app();
        let live = seed(&app, "acme", "db", "v").await;
        let acme = token("acme", &[PERMISSION]);
        for id in [live.id.as_str(), "se0000000000000000", "not-an-id", "x%2Fy"] {
            let event = TestRequest::for_recovery(id).bearer(&acme).rest_v1();
            assert_eq!(handle(&app, event).await.status(), 404, "{id}");
        }
    }
}
