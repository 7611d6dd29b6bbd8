//! Resolve.

use super::*;

#[tokio::test]
async fn resolve_opens_the_current_value_for_its_own_tenant_only() {
    let service = service();
    let (acme, other) = (tenant("acme"), tenant("other"));
    let created = create_secret(&service, &acme, "db", "first").await;
    let by_id = TagOrId::Id(created.id.clone());
    for key in [&by_tag("db"), &by_id] {
        let resolved = service
            .resolve(&acting(&acme, Operation::Resolve), key)
            .await
            .unwrap();
        assert_eq!(
            serde_json::to_value(&resolved).unwrap(),
            serde_json::json!({"id": created.id.as_str(), "name": "Name of db", "tag": "db", "value": "first"})
        );
    }
    let update = new_value("second");
    update_secret(&service, &acme, &by_id, update)
        .await
        .unwrap();
    assert_eq!(
        &service
            .resolve(&acting(&acme, Operation::Resolve), &by_id)
            .await
            .unwrap()
            .value[..],
        b"second"
    );
    for (tenant, key) in [(&other, &by_id), (&other, &by_tag("db"))] {
        let refused = service
            .resolve(&acting(tenant, Operation::Resolve), key)
            .await
            .unwrap_err();
        assert_eq!(refused.http_status(), 404);
    }
    service
        .delete(&acting(&acme, Operation::Delete), &by_id, None)
        .await
        .unwrap();
    let gone = service
        .resolve(&acting(&acme, Operation::Resolve), &by_id)
        .await
        .unwrap_err();
    assert_eq!(gone.http_status(), 404);
}

#[tokio::test]
async fn a_resolve_that_cannot_be_recorded_returns_no_value() {
    let service = service();
    let acme = tenant("acme");
    create_secret(&service, &acme, "db", "v").await;
    service.store().interference().refuse_audit_records();
    let error = service
        .resolve(&acting(&acme, Operation::Resolve), &by_tag("db"))
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 503);
}
