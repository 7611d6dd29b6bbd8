use secrets_domain::input::ResolveSecret;
use secrets_domain::ports::{DataKeys, SecretStore};
use secrets_domain::service::Resolved;
use secrets_lambda::{App, Diagnostic, LambdaEvent};
use serde_json::Value;

/// `{"tenant", "tagOrId", "caller"?}` in; `{"id", "name", "tag", "value"}`
/// out, or a function error whose `errorType` is the contract's error type.
pub async fn handle<S: SecretStore, K: DataKeys>(
    app: &App<S, K>,
    event: LambdaEvent<Value>,
) -> Result<Resolved, Diagnostic> {
    let mut exchange = app.invocation(&event.context);
    let result = async {
        let request = ResolveSecret::from_event(&event.payload)?;
        let trail = exchange.trail();
        let actor = trail.actor(&request.tenant, request.on_behalf_of.as_deref());
        trail.requested(&request.key);
        app.secrets.resolve(&actor, &request.key).await
    };
    let result = result.await;
    exchange.answer(result).await
}

#[cfg(test)]
mod tests {
    use secrets_domain::audit::Outcome;
    use secrets_domain::input::CreateSecret;
    use secrets_domain::model::TenantId;
    use secrets_domain::operation::Operation;
    use secrets_lambda::Function;
    use secrets_lambda::lambda_runtime::Context;
    use secrets_testkit::actor;
    use secrets_testkit::app::{TestApp, app};
    use serde_json::json;

    use super::*;

    async fn resolver_with(tenant: &str, tag: &str, value: &str) -> (TestApp, String) {
        let app = app(Function::ResolveSecret);
        let body = json!({"tag": tag, "name": "Database", "secret": value}).to_string();
        let created = app
            .secrets
            .create(
                &actor(&TenantId::parse(tenant).unwrap(), Operation::Create),
                CreateSecret::from_json(body.as_bytes()).unwrap(),
            )
            .await
            .unwrap();
        (app, created.id.to_string())
    }

    async fn invoke(app: &TestApp, event: Value) -> Result<Value, Diagnostic> {
        let event = LambdaEvent::new(event, Context::default());
        handle(app, event)
            .await
            .map(|resolved| serde_json::to_value(&resolved).unwrap())
    }

    #[tokio::test]
    async fn answers_the_plaintext_by_tag_or_id() {
        let (app, id) = resolver_with("acme", "db", "hunter2 ✓").await;
        for key in ["db", id.as_str()] {
            let answer = invoke(&app, json!({"tenant": "acme", "tagOrId": key}))
                .await
                .unwrap();
            assert_eq!(
                answer,
                json!({"id": id, "name": "Database", "tag": "db", "value": "hunter2 ✓"})
            );
        }
    }

    #[tokio::test]
    async fn refusals_are_function_errors_with_the_contract_types() {
        let (app, id) = resolver_with("acme", "db", "v").await;
        for (event, error_type) in [
            (json!({"tenant": "globex", "tagOrId": "db"}), "NOT_FOUND"),
            (json!({"tenant": "globex", "tagOrId": id}), "NOT_FOUND"),
            (json!({"tenant": "acme", "tagOrId": "nope"}), "NOT_FOUND"),
            (json!({"tenant": "acme"}), "BAD_REQUEST"),
            (json!("db"), "BAD_REQUEST"),
        ] {
            let error = invoke(&app, event.clone()).await.unwrap_err();
            assert_eq!(error.error_type, error_type, "{event}");
        }
    }

    #[tokio::test]
    async fn every_invocation_leaves_exactly_one_audit_record() {
        let (app, id) = resolver_with("acme", "db", "never-in-a-record").await;
        let before = app.secrets.store().audit_records().len();
        let events = [
            json!({"tenant": "acme", "tagOrId": "db", "caller": "runner-7"}),
            json!({"tenant": "globex", "tagOrId": id}),
            json!({"tenant": "acme"}),
        ];
        for event in &events {
            let _ = invoke(&app, event.clone()).await;
        }
        let records = &app.secrets.store().audit_records()[before..];
        assert_eq!(records.len(), events.len());
        assert!(records.iter().all(|r| r.operation == Operation::Resolve));
        assert_eq!(records[0].outcome, Outcome::Allowed);
        assert_eq!(records[0].subject.as_deref(), Some("runner-7"));
        assert_eq!(records[0].secret_id.as_ref().unwrap().as_str(), id);
        assert!(matches!(
            records[1].outcome,
            Outcome::Refused { status: 404, .. }
        ));
        assert_eq!(records[1].tenant.as_ref().unwrap().as_str(), "globex");
        assert_eq!(records[1].requested.as_deref(), Some(id.as_str()));
        assert!(matches!(
            records[2].outcome,
            Outcome::Refused { status: 400, .. }
        ));
        assert_eq!(records[2].tenant, None);
        let trail = serde_json::to_string(records).unwrap();
        assert!(!trail.contains("never-in-a-record"));
    }
}
