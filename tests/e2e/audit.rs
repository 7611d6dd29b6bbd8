//! The audit trail, read back from its table after real requests.

use secrets_tests::{audit_records, audit_summary, required_env, sdk_config, text};
use serde_json::json;

use crate::api::{Api, Tenant};
use crate::resolve::{Invocation, Resolver};

#[tokio::test]
async fn every_change_and_resolve_leaves_exactly_one_record() {
    let (api, resolver) = (Api::from_env(), Resolver::from_env());
    let tenant = api.tenant();
    let body = json!({"tag": "audited", "name": "A", "secret": "e2e-audit-marker"});
    assert_eq!(api.post(&tenant, body.clone()).await.status, 200);
    assert_eq!(api.post(&tenant, body).await.status, 409);
    assert_eq!(
        api.put(&tenant, "/audited", json!({"name": "B"}))
            .await
            .status,
        200
    );
    assert_eq!(
        api.put(&tenant, "/missing", json!({"name": "B"}))
            .await
            .status,
        404
    );
    assert_eq!(api.get(&tenant, "/audited").await.status, 200);
    assert!(matches!(
        resolver.value(&tenant.name, "audited").await,
        Invocation::Answer(_)
    ));
    assert_eq!(api.delete(&tenant, "/audited").await.status, 200);
    assert_eq!(api.delete(&tenant, "/audited").await.status, 404);
    assert!(matches!(
        resolver.value(&tenant.name, "audited").await,
        Invocation::Failed { .. }
    ));
    let without_permission = Tenant {
        name: tenant.name.clone(),
        token: api.token(&tenant.name, &[]),
    };
    assert_eq!(
        api.delete(&without_permission, "/audited").await.status,
        403
    );

    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let records = audit_records(&client, &tenant.name).await;
    assert_eq!(
        audit_summary(&records),
        [
            "createSecret allowed 200",
            "createSecret refused 409",
            "updateSecret allowed 200",
            "updateSecret refused 404",
            "resolveSecret allowed 200",
            "deleteSecret allowed 200",
            "deleteSecret refused 404",
            "resolveSecret refused 404",
            "deleteSecret refused 403",
        ]
    );
    for record in &records {
        assert_eq!(text(record, "tenant"), tenant.name);
        // A token's `sub`, or the principal API Gateway verified.
        let expected = if text(record, "operation") == "resolveSecret" {
            required_env("E2E_RESOLVE_PRINCIPAL_ARN")
        } else {
            "e2e".to_owned()
        };
        assert_eq!(text(record, "subject"), expected, "{record:?}");
        assert!(!text(record, "requestId").is_empty());
    }
    assert!(!format!("{records:?}").contains("e2e-audit-marker"));
}
