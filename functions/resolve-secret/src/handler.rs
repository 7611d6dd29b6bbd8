use secrets_domain::ports::{DataKeys, SecretStore};
use secrets_lambda::request::{names_one_secret, tag_or_id, value_version};
use secrets_lambda::response::resolved;
use secrets_lambda::{App, Body, Request, Response};

use crate::batch::resolve_many;

/// Both routes: one secret named in the path, or a batch in the query.
pub async fn handle<S: SecretStore, K: DataKeys>(
    app: &App<S, K>,
    request: Request,
) -> Response<Body> {
    if names_one_secret(&request) {
        resolve_one(app, request).await
    } else {
        resolve_many(app, request).await
    }
}

/// The tenant comes from the path, which the caller's IAM policy had to
/// allow; the audit subject from the signature API Gateway verified. The
/// current value, or a kept earlier one with `?valueVersion=n`.
async fn resolve_one<S: SecretStore, K: DataKeys>(
    app: &App<S, K>,
    request: Request,
) -> Response<Body> {
    let mut exchange = app.exchange(&request);
    let result = async {
        let actor = exchange.signed_actor(&request)?;
        let key = tag_or_id(&request)?;
        exchange.trail().requested(&key);
        let secrets = &app.secrets;
        let found = match value_version(&request)? {
            None => secrets.resolve(&actor, &key).await?,
            Some(number) => secrets.resolve_version(&actor, &key, number).await?,
        };
        resolved(&found)
    };
    let result = result.await;
    exchange.respond(result).await
}

#[cfg(test)]
mod tests {
    use secrets_domain::audit::Outcome;
    use secrets_domain::operation::Operation;
    use secrets_lambda::Function;
    use secrets_testkit::app::{TestApp, app, reseed, seed};
    use secrets_testkit::events::{TestRequest, json_body};
    use serde_json::json;

    use super::*;

    const RUNNER: &str = "arn:aws:sts::123456789012:assumed-role/ci-runner/build-7";

    async fn resolver_with(tenant: &str, tag: &str, value: &str) -> (TestApp, String) {
        let app = app(Function::ResolveSecret);
        let created = seed(&app, tenant, tag, value).await;
        (app, created.id.to_string())
    }

    #[tokio::test]
    async fn answers_the_plaintext_by_tag_or_id_from_either_event_shape() {
        let (app, id) = resolver_with("acme", "db", "hunter2 ✓").await;
        for key in ["db", id.as_str()] {
            for event in TestRequest::for_resolve("acme", key)
                .signed_by(RUNNER)
                .both()
            {
                let response = handle(&app, event).await;
                assert_eq!(response.status(), 200, "{key}");
                assert_eq!(response.headers()["cache-control"], "no-store");
                assert_eq!(
                    json_body(&response),
                    json!({"id": id, "name": "Secret db", "tag": "db", "value": "hunter2 ✓"})
                );
            }
        }
    }

    #[tokio::test]
    async fn answers_a_kept_earlier_value_by_its_version_and_records_which() {
        let (app, id) = resolver_with("acme", "db", "first").await;
        reseed(&app, "acme", "db", "second").await;
        let before = app.secrets.store().audit_records().len();
        for (version, value) in [("1", "first"), ("2", "second")] {
            for event in TestRequest::for_resolve("acme", &id)
                .query("valueVersion", version)
                .signed_by(RUNNER)
                .both()
            {
                let response = handle(&app, event).await;
                assert_eq!(response.status(), 200, "{version}");
                assert_eq!(json_body(&response)["value"], value);
            }
        }
        let opened: Vec<_> = app.secrets.store().audit_records()[before..]
            .iter()
            .map(|r| r.value_version)
            .collect();
        assert_eq!(opened, [Some(1), Some(1), Some(2), Some(2)]);
        for (version, status) in [
            ("3", 404),
            ("0", 400),
            ("x", 400),
            ("-1", 400),
            ("1.0", 400),
        ] {
            let event = TestRequest::for_resolve("acme", "db")
                .query("valueVersion", version)
                .signed_by(RUNNER)
                .http_v2();
            let response = handle(&app, event).await;
            assert_eq!(response.status(), status, "{version}");
        }
        let twice = TestRequest::for_resolve("acme", "db")
            .query("valueVersion", "1")
            .query("valueVersion", "2")
            .signed_by(RUNNER)
            .rest_v1();
        assert_eq!(handle(&app, twice).await.status(), 400);
    }

    #[tokio::test]
    async fn refusals_have_the_contract_shape() {
        let (app, id) = resolver_with("acme", "db", "v").await;
        for (tenant, key, status) in [
            ("globex", "db", 404),
            ("globex", id.as_str(), 404),
            ("acme", "nope", 404),
            ("acme", "not%20a%20tag", 404),
            ("a*", "db", 400),
            ("ac%2Fme", "db", 400),
            ("..", "db", 400),
            (" acme", "db", 400),
        ] {
            for event in TestRequest::for_resolve(tenant, key)
                .signed_by(RUNNER)
                .both()
            {
                let response = handle(&app, event).await;
                assert_eq!(response.status(), status, "{tenant} {key}");
                let body = json_body(&response);
                assert_eq!(body["httpStatus"], status, "{body}");
                assert!(body["message"].is_string() && body["type"].is_string());
            }
        }
    }

    #[tokio::test]
    async fn a_request_api_gateway_did_not_verify_is_refused_unrecorded() {
        let (app, _) = resolver_with("acme", "db", "never-out").await;
        let before = app.secrets.store().audit_records().len();
        for event in TestRequest::for_resolve("acme", "db").both() {
            let response = handle(&app, event).await;
            assert_eq!(response.status(), 401);
            assert!(!format!("{:?}", response.body()).contains("never-out"));
        }
        assert_eq!(app.secrets.store().audit_records().len(), before);
    }

    #[tokio::test]
    async fn every_signed_request_leaves_one_record_naming_the_verified_principal() {
        let (app, id) = resolver_with("acme", "db", "never-in-a-record").await;
        let before = app.secrets.store().audit_records().len();
        let requests = [
            TestRequest::for_resolve("acme", "db").signed_by(RUNNER),
            TestRequest::for_resolve("globex", &id).signed_by(RUNNER),
            TestRequest::for_resolve("a*b", "db").signed_by(RUNNER),
        ];
        for request in &requests {
            handle(&app, request.rest_v1()).await;
        }
        let records = &app.secrets.store().audit_records()[before..];
        assert_eq!(records.len(), requests.len());
        assert!(records.iter().all(|r| r.operation == Operation::Resolve));
        assert_eq!(records[0].outcome, Outcome::Allowed);
        assert_eq!(records[0].subject.as_deref(), Some(RUNNER));
        assert_eq!(records[0].secret_id.as_ref().unwrap().as_str(), id);
        assert!(matches!(
            records[1].outcome,
            Outcome::Refused { status: 404, .. }
        ));
        assert_eq!(records[1].tenant.as_ref().unwrap().as_str(), "globex");
        assert_eq!(records[1].subject.as_deref(), Some(RUNNER));
        assert_eq!(records[1].requested.as_deref(), Some(id.as_str()));
        assert!(matches!(
            records[2].outcome,
            Outcome::Refused { status: 400, .. }
        ));
        assert_eq!(records[2].tenant, None);
        assert_eq!(records[2].subject.as_deref(), Some(RUNNER));
        let trail = serde_json::to_string(records).unwrap();
        assert!(!trail.contains("never-in-a-record"));
    }
}
