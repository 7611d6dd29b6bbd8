//! Idempotency-Key on create over HTTP, and what the audit trail says of it.

use reqwest::Method;
use secrets_tests::{audit_records, audit_summary, sdk_config};
use serde_json::{Value, json};

use crate::api::{Api, Reply, Tenant};
use crate::resolve::observe;

async fn create_with_key(api: &Api, tenant: &Tenant, key: &str, body: Value) -> Reply {
    api.send_as(
        Method::POST,
        "",
        tenant,
        &[("Idempotency-Key", key)],
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_retried_create_gets_its_first_answer_and_a_reused_key_is_422() {
    let api = Api::from_env();
    let tenant = api.tenant();
    let key = secrets_tests::unique("idempotency");
    let body = json!({"tag": "once", "name": "Once", "secret": "e2e-idem-marker"});

    let first = create_with_key(&api, &tenant, &key, body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.header("idempotent-replayed").is_none());
    // A retry after a lost answer, and another after a change.
    for _ in 0..2 {
        let retry = create_with_key(&api, &tenant, &key, body.clone()).await;
        assert_eq!(retry.status, 200, "{}", retry.body);
        assert_eq!(retry.body, first.body, "byte for byte");
        assert_eq!(retry.header("etag"), first.header("etag"));
        assert_eq!(retry.header("idempotent-replayed"), Some("true"));
        api.put(&tenant, "/once", json!({"name": "Renamed"})).await;
    }
    assert_eq!(api.total(&tenant).await, 1);

    let before = observe(&api, &tenant, "once").await;
    let changed = json!({"tag": "once", "name": "Once", "secret": "something else"});
    create_with_key(&api, &tenant, &key, changed)
        .await
        .error(422, "ILLEGAL_ARGUMENT_ERROR");
    // Without the key, the contract's conflict.
    api.post(&tenant, body.clone()).await.error(409, "CONFLICT");
    assert_eq!(observe(&api, &tenant, "once").await, before);
    assert_eq!(before.value.as_deref(), Some("e2e-idem-marker"));
    create_with_key(&api, &tenant, &"k".repeat(256), body)
        .await
        .error(400, "BAD_REQUEST");

    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let records = audit_records(&client, &tenant.name).await;
    let creates: Vec<(String, bool)> = audit_summary(&records)
        .into_iter()
        .zip(&records)
        .filter(|(summary, _)| summary.starts_with("createSecret"))
        .map(|(summary, record)| (summary, record.contains_key("replayed")))
        .collect();
    let expected = [
        ("createSecret allowed 200", false),
        ("createSecret allowed 200", true),
        ("createSecret allowed 200", true),
        ("createSecret refused 422", false),
        ("createSecret refused 409", false),
        ("createSecret refused 400", false),
    ];
    assert_eq!(
        creates,
        expected.map(|(summary, replayed)| (summary.to_owned(), replayed))
    );
    assert!(!format!("{records:?}").contains("e2e-idem-marker"));
}
