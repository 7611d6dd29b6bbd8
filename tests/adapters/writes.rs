//! The DynamoDB store's writes: one audit item per allowed change, the
//! idempotent create's fingerprint, and writes that damage and races do
//! not stop.

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::clock::SystemClock;
use secrets_domain::idempotency::{IDEMPOTENCY_WINDOW_SECS, IdempotencyKey};
use secrets_domain::model::TagOrId;
use secrets_domain::operation::Operation;
use secrets_domain::ports::{Clock, DeleteGuard, SecretStore};
use secrets_testkit::{actor, conformance};
use secrets_tests::{audit_records, audit_summary, required_env, text};

use super::harness::*;

/// Allowed changes are recorded in their own transactions, resolves before
/// their value is returned; failed writes leave no allowed record behind.
#[tokio::test]
async fn each_allowed_operation_writes_exactly_one_audit_item() {
    let harness = harness().await;
    let acme = tenant();
    let created = harness.created(&acme, "audited", "marker-value").await;
    harness
        .secrets
        .create(&actor(&acme, Operation::Create), create("audited", "v"))
        .await
        .unwrap_err();
    harness
        .updated(&acme, "audited", br#"{"name":"renamed"}"#)
        .await;
    harness
        .resolver
        .resolve(&actor(&acme, Operation::Resolve), &by_tag("audited"))
        .await
        .unwrap();
    let deleter = actor(&acme, Operation::Delete);
    harness
        .secrets
        .delete(&deleter, &TagOrId::Id(created.id.clone()), None)
        .await
        .unwrap();

    let records = audit_records(&harness.raw, acme.as_str()).await;
    assert_eq!(
        audit_summary(&records),
        [
            "createSecret allowed 200",
            "updateSecret allowed 200",
            "resolveSecret allowed 200",
            "deleteSecret allowed 200",
        ]
    );
    let deleted = records.last().unwrap();
    assert_eq!(text(deleted, "secretId"), created.id.as_str());
    assert_eq!(text(deleted, "tag"), "audited");
    assert_eq!(text(deleted, "subject"), "tester");
    assert_eq!(text(deleted, "requestId"), deleter.request_id);
    assert!(text(deleted, "time").ends_with('Z'));
    assert!(deleted.contains_key("expiresAt"));
    assert!(!format!("{records:?}").contains("marker-value"));
}

#[tokio::test]
async fn an_idempotent_create_is_remembered_by_a_keyed_fingerprint_for_a_day() {
    let harness = harness().await;
    let acme = tenant();
    let creator = actor(&acme, Operation::Create);
    let key = IdempotencyKey::parse(b"adapter-key").unwrap();
    let first = harness
        .secrets
        .create_with_key(&creator, create("once", "idem-marker"), Some(&key))
        .await
        .unwrap();
    let item_key = |key: &IdempotencyKey| {
        std::collections::HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(format!("IDEMPOTENCY#{acme}#{}", key.digest("tester"))),
            ),
            ("sk".to_owned(), AttributeValue::S("IDEMPOTENCY".into())),
        ])
    };
    let record = harness
        .raw
        .get_item()
        .table_name(required_env("TABLE_NAME"))
        .set_key(Some(item_key(&key)))
        .send()
        .await
        .unwrap()
        .item
        .expect("the record");
    let fingerprint = record["fingerprint"].as_b().unwrap().as_ref().to_vec();
    assert_eq!(fingerprint.len(), 32, "HMAC-SHA-256");
    assert!(!format!("{record:?}").contains("idem-marker"));
    assert!(!format!("{record:?}").contains("adapter-key"));
    let expires: u64 = record["expiresAt"].as_n().unwrap().parse().unwrap();
    // A window from the create's time, which is now or up to a minute ago
    // (the old bound, a window from now or later, failed whenever the clock
    // ticked into the next second between the create and this read).
    let remaining = expires - SystemClock.now().secs();
    assert!(
        (IDEMPOTENCY_WINDOW_SECS - 60..=IDEMPOTENCY_WINDOW_SECS).contains(&remaining),
        "{remaining}"
    );

    harness.calls.take();
    let again = harness
        .secrets
        .create_with_key(&creator, create("once", "idem-marker"), Some(&key))
        .await
        .unwrap();
    assert_eq!((again.secret, again.replayed), (first.secret.clone(), true));
    assert_eq!(
        harness.calls.take().calls,
        calls(&[
            ("KMS.GenerateMac", 1),
            ("DynamoDB.GetItem", 1),
            ("DynamoDB.PutItem", 1)
        ]),
        "a replay: fingerprint, record, audit record; no data key, no write"
    );
    let error = harness
        .secrets
        .create_with_key(&creator, create("once", "another value"), Some(&key))
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 422);

    // Past its time the record is as good as gone, TTL or not: the key
    // starts afresh, and a retry of the old create meets its own tag.
    harness
        .raw
        .update_item()
        .table_name(required_env("TABLE_NAME"))
        .set_key(Some(item_key(&key)))
        .update_expression("SET expiresAt = :past")
        .expression_attribute_values(
            ":past",
            AttributeValue::N((SystemClock.now().secs() - 1).to_string()),
        )
        .send()
        .await
        .unwrap();
    let error = harness
        .secrets
        .create_with_key(&creator, create("once", "idem-marker"), Some(&key))
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 409);
    let renewed = harness
        .secrets
        .create_with_key(&creator, create("twice", "v"), Some(&key))
        .await
        .unwrap();
    assert!(!renewed.replayed);
    assert_ne!(renewed.secret.id, first.secret.id);
}

/// A version's pair damaged outside the service (its value item gone) does
/// not make the secret impossible to change or delete: kept versions are
/// removed unconditionally, META's condition alone guards the write.
#[tokio::test]
async fn a_damaged_version_pair_blocks_neither_a_new_value_nor_a_delete() {
    let harness = harness().await;
    let acme = tenant();
    let created = harness.created(&acme, "damaged", "first").await;
    harness
        .raw
        .delete_item()
        .table_name(required_env("TABLE_NAME"))
        .key(
            "pk",
            AttributeValue::S(format!("SECRET#{acme}#{}", created.id)),
        )
        .key("sk", AttributeValue::S("VALUE#0000000001".into()))
        .send()
        .await
        .unwrap();
    harness
        .updated(&acme, "damaged", br#"{"secret":"second"}"#)
        .await;
    harness.deleted(&acme, &by_tag("damaged")).await;
    let store = harness.secrets.store();
    assert!(store.versions(&acme, &created.id).await.unwrap().is_empty());
}

/// A delete without `If-Match` that meets renames made after its read is
/// not disturbed by them (they change nothing it removes): one transaction,
/// so that renames racing a delete cannot wear out its attempts (503). Its
/// audit record (so its change event) names the version it read.
#[tokio::test]
async fn a_delete_is_not_disturbed_by_renames_after_its_read() {
    let harness = harness().await;
    let acme = tenant();
    let read = harness.created(&acme, "renamed-under", "v").await;
    for i in 0..3 {
        let body = format!(r#"{{"name":"Name {i}"}}"#);
        harness
            .updated(&acme, "renamed-under", body.as_bytes())
            .await;
    }
    harness.calls.take();
    let store = harness.secrets.store();
    let record = actor(&acme, Operation::Delete).allowed(&read, SystemClock.now());
    store
        .delete(
            &acme,
            &read,
            DeleteGuard::Exists,
            &conformance::at_once(),
            Some(&record),
        )
        .await
        .unwrap();
    assert_eq!(
        harness.calls.take().calls["DynamoDB.TransactWriteItems"],
        1,
        "the stale read needed no second attempt"
    );
    assert_eq!(
        store.find(&acme, &by_tag("renamed-under")).await.unwrap(),
        None
    );
    let audit = audit_records(&harness.raw, acme.as_str()).await;
    let deleted = audit.last().unwrap();
    assert_eq!(text(deleted, "operation"), "deleteSecret");
    assert_eq!(
        deleted.get("secretVersion"),
        Some(&AttributeValue::N("1".into()))
    );
}
