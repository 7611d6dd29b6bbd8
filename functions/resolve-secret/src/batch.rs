//! Batch resolve: `GET /internal/v1/tenants/{tenant}/secrets?tagOrId=a&tagOrId=b`,
//! up to 20 secrets of the tenant the path names, each answered on its own.

use secrets_domain::ports::{DataKeys, SecretStore};
use secrets_lambda::request::batch_keys;
use secrets_lambda::response::resolved_batch;
use secrets_lambda::{App, Body, Request, Response};

/// As single resolve: the tenant from the path the caller's IAM policy had
/// to allow, the subject from the signature API Gateway verified; each
/// value audited before it is answered, each entry without one recorded as
/// refused.
pub async fn resolve_many<S: SecretStore, K: DataKeys>(
    app: &App<S, K>,
    request: Request,
) -> Response<Body> {
    let mut exchange = app.exchange(&request);
    let result = async {
        let actor = exchange.signed_actor(&request)?;
        let keys = batch_keys(&request)?;
        let entries = app.secrets.resolve_many(&actor, &keys).await?;
        exchange.record_refused_entries(&actor, &entries).await;
        resolved_batch(&entries, exchange.request_id())
    };
    let result = result.await;
    exchange.respond(result).await
}

#[cfg(test)]
mod tests {
    use secrets_domain::audit::Outcome;
    use secrets_lambda::Function;
    use secrets_testkit::app::{app, seed};
    use secrets_testkit::events::{TestRequest, json_body};
    use serde_json::json;

    use crate::handler::handle;

    const RUNNER: &str = "arn:aws:sts::123456789012:assumed-role/ci-runner/build-7";

    #[tokio::test]
    async fn answers_each_secret_on_its_own_from_either_event_shape() {
        let app = app(Function::ResolveSecret);
        let db = seed(&app, "acme", "db", "hunter2").await;
        let api = seed(&app, "acme", "api", "s3cr3t").await;
        seed(&app, "globex", "theirs", "not yours").await;
        let keys = ["db", api.id.as_str(), "missing", "theirs"];
        for event in TestRequest::for_resolve_many("acme", &keys)
            .signed_by(RUNNER)
            .both()
        {
            let response = handle(&app, event).await;
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["cache-control"], "no-store");
            let body = json_body(&response);
            let results = body["results"].as_array().unwrap();
            assert_eq!(
                results[..2],
                [
                    json!({"tagOrId": "db", "status": 200, "secret": {"id": db.id.as_str(), "name": "Secret db", "tag": "db", "value": "hunter2"}}),
                    json!({"tagOrId": api.id.as_str(), "status": 200, "secret": {"id": api.id.as_str(), "name": "Secret api", "tag": "api", "value": "s3cr3t"}}),
                ]
            );
            for (result, key) in results[2..].iter().zip(["missing", "theirs"]) {
                assert_eq!(result["tagOrId"], key);
                assert_eq!(result["status"], 404);
                assert_eq!(result["error"]["type"], "NOT_FOUND");
                assert_eq!(result["error"]["httpStatus"], 404);
                assert!(result["error"]["requestId"].is_string());
                assert!(result.get("secret").is_none());
            }
        }
    }

    #[tokio::test]
    async fn every_entry_leaves_one_record_in_its_place() {
        let app = app(Function::ResolveSecret);
        let db = seed(&app, "acme", "db", "never-in-a-record").await;
        let before = app.secrets.store().audit_records().len();
        let request = TestRequest::for_resolve_many("acme", &["missing", "db"]).signed_by(RUNNER);
        assert_eq!(handle(&app, request.rest_v1()).await.status(), 200);
        let records = &app.secrets.store().audit_records()[before..];
        let summary: Vec<_> = records
            .iter()
            .map(|r| {
                (
                    r.batch_item,
                    r.requested.clone(),
                    r.secret_id.clone(),
                    r.outcome.clone(),
                )
            })
            .collect();
        assert!(matches!(summary[..], [_, _]), "{summary:?}");
        assert!(summary.contains(&(Some(1), None, Some(db.id.clone()), Outcome::Allowed)));
        assert!(
            summary
                .iter()
                .any(|(item, requested, _, outcome)| *item == Some(0)
                    && requested.as_deref() == Some("missing")
                    && matches!(outcome, Outcome::Refused { status: 404, .. }))
        );
        assert!(records.iter().all(|r| r.subject.as_deref() == Some(RUNNER)));
        let trail = serde_json::to_string(records).unwrap();
        assert!(!trail.contains("never-in-a-record"));
    }

    #[tokio::test]
    async fn a_batch_that_names_nothing_usable_is_refused_whole() {
        let app = app(Function::ResolveSecret);
        seed(&app, "acme", "db", "never-out").await;
        let too_many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
        let cases = [
            (
                TestRequest::for_resolve_many("acme", &[]).signed_by(RUNNER),
                400,
            ),
            (
                TestRequest::for_resolve_many("acme", &too_many).signed_by(RUNNER),
                400,
            ),
            (
                TestRequest::for_resolve_many("acme", &["db", "bad*tag"]).signed_by(RUNNER),
                400,
            ),
            (
                TestRequest::for_resolve_many("a*", &["db"]).signed_by(RUNNER),
                400,
            ),
            // A rollback is never answered with the current values.
            (
                TestRequest::for_resolve_many("acme", &["db"])
                    .query("valueVersion", "1")
                    .signed_by(RUNNER),
                400,
            ),
            (TestRequest::for_resolve_many("acme", &["db"]), 401),
        ];
        for (request, status) in cases {
            for event in request.both() {
                let response = handle(&app, event).await;
                assert_eq!(response.status(), status);
                let body = json_body(&response);
                assert_eq!(body["httpStatus"], status, "{body}");
                assert!(!body.to_string().contains("never-out"));
                assert!(!body.to_string().contains("bad*tag"), "nothing echoed");
            }
        }
    }
}
