use secrets_core::audit::Operation;
use secrets_core::crypto::DataKeys;
use secrets_core::input::ResolveSecret;
use secrets_core::service::Resolved;
use secrets_core::store::SecretStore;
use secrets_http::{Diagnostic, LambdaEvent, Resolver};
use serde_json::Value;

/// `{"tenant", "tagOrId", "caller"?}` in; `{"id", "name", "tag", "value"}`
/// out, or a function error whose `errorType` is the contract's error type.
pub async fn handle<S: SecretStore, K: DataKeys>(
    app: &Resolver<S, K>,
    event: LambdaEvent<Value>,
) -> Result<Resolved, Diagnostic> {
    let exchange = app.exchange(&event.context, "resolveSecret");
    let mut trail = exchange.trail(Operation::Resolve);
    let result = async {
        let request = ResolveSecret::from_event(&event.payload)?;
        let actor = trail.actor(&request.tenant, request.on_behalf_of.as_deref());
        trail.requested(&request.key);
        app.secrets.resolve(&actor, &request.key).await
    };
    let result = result.await;
    exchange
        .finish_invocation_audited(result, &trail, app.secrets.store())
        .await
}

#[cfg(test)]
mod tests {
    use secrets_core::audit::{Actor, Outcome};
    use secrets_core::crypto::LocalDataKeys;
    use secrets_core::domain::TenantId;
    use secrets_core::input::CreateSecret;
    use secrets_core::service::Secrets;
    use secrets_core::store::MemoryStore;
    use secrets_http::lambda_runtime::Context;
    use serde_json::json;

    use super::*;

    type TestResolver = Resolver<MemoryStore, LocalDataKeys>;

    async fn resolver_with(tenant: &str, tag: &str, value: &str) -> (TestResolver, String) {
        let app = Resolver::new(Secrets::new(
            MemoryStore::default(),
            LocalDataKeys::default(),
        ));
        let body = json!({"tag": tag, "name": "Database", "secret": value}).to_string();
        let created = app
            .secrets
            .create(
                &Actor::test(&TenantId::parse(tenant).unwrap(), Operation::Create),
                CreateSecret::from_json(body.as_bytes()).unwrap(),
            )
            .await
            .unwrap();
        (app, created.id.to_string())
    }

    async fn invoke(app: &TestResolver, event: Value) -> Result<Value, Diagnostic> {
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
