//! Deleted secrets on DynamoDB, as only the raw items and the calls show:
//! the TTL attribute a kept delete sets and a recovery clears, a recovery
//! that meets TTL's work, and how many Queries a page of the deleted list
//! may make while TTL lags.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use secrets_aws::dynamo::DynamoStore;
use secrets_aws::metrics::CallCounter;
use secrets_domain::clock::Timestamp;
use secrets_domain::deleted::{DeletedPageRequest, DeletedSecret, Deletion, RecoveryWindow};
use secrets_domain::error::Error;
use secrets_domain::model::{SecretId, SecretSummary, TenantId};
use secrets_domain::ports::{DeleteGuard, SecretChanges, SecretStore};
use secrets_testkit::conformance::{new_secret, second_value};
use secrets_tests::{required_env, sdk_config, unique};

/// How much later than the window's end TTL may remove the items: a day.
const TTL_GRACE_SECS: u64 = 86_400;

struct Table {
    store: DynamoStore,
    raw: Client,
    calls: CallCounter,
}

async fn table() -> Table {
    let sdk = sdk_config().await;
    let calls = CallCounter::default();
    let counted = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(calls.clone())
        .build();
    Table {
        store: DynamoStore::new(Client::from_conf(counted), required_env("TABLE_NAME")),
        raw: Client::new(&sdk),
        calls,
    }
}

fn tenant() -> TenantId {
    TenantId::parse(&unique("deleted")).unwrap()
}

fn now() -> Timestamp {
    secrets_domain::ports::Clock::now(&secrets_domain::clock::SystemClock)
}

impl Table {
    /// A secret with two values, deleted under `deletion`.
    async fn deleted_with_two_values(
        &self,
        tenant: &TenantId,
        tag: &str,
        deletion: &Deletion,
    ) -> DeletedSecret {
        let secret = new_secret(tag);
        self.store
            .insert(tenant, secret.clone(), None)
            .await
            .unwrap();
        let changes = SecretChanges {
            name: None,
            sealed: Some(second_value(3)),
            at: now(),
            author: "tester".into(),
            restored_from: None,
        };
        let current = self
            .store
            .update(tenant, &secret.summary, changes, None)
            .await
            .unwrap();
        self.store
            .delete(tenant, &current, DeleteGuard::Exists, deletion, None)
            .await
            .unwrap();
        self.store
            .find_deleted(tenant, &current.id)
            .await
            .unwrap()
            .expect("kept")
    }

    /// The secret's items, by sort key: META and each version's pair.
    async fn items(
        &self,
        tenant: &TenantId,
        id: &SecretId,
    ) -> HashMap<String, HashMap<String, AttributeValue>> {
        let output = self
            .raw
            .query()
            .table_name(required_env("TABLE_NAME"))
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("SECRET#{tenant}#{id}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        output
            .items()
            .iter()
            .map(|item| (item["sk"].as_s().unwrap().clone(), item.clone()))
            .collect()
    }
}

impl Table {
    /// The secret's entry among its tenant's deleted secrets, if any.
    async fn deleted_entry(
        &self,
        tenant: &TenantId,
        id: &SecretId,
    ) -> Option<HashMap<String, AttributeValue>> {
        self.raw
            .get_item()
            .table_name(required_env("TABLE_NAME"))
            .key("pk", AttributeValue::S(format!("TENANT#{tenant}")))
            .key("sk", AttributeValue::S(format!("DELETED#{id}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }
}

fn sort_keys_of_two_values() -> Vec<&'static str> {
    vec![
        "META",
        "VALUE#0000000001",
        "VALUE#0000000002",
        "VERSION#0000000001",
        "VERSION#0000000002",
    ]
}

#[tokio::test]
async fn a_kept_delete_expires_every_item_a_day_past_its_window_and_recovery_keeps_them() {
    let table = table().await;
    let acme = tenant();
    let deletion = RecoveryWindow::days(7).deletion(now(), "tester");
    let deleted = table
        .deleted_with_two_values(&acme, "expiring", &deletion)
        .await;
    let id = &deleted.summary.id;
    let expected = (deleted.purge_at.secs() + TTL_GRACE_SECS).to_string();

    let items = table.items(&acme, id).await;
    let mut keys: Vec<&str> = items.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, sort_keys_of_two_values());
    for (key, item) in &items {
        let expires = item.get("expiresAt").and_then(|v| v.as_n().ok());
        assert_eq!(expires, Some(&expected), "{key}");
    }
    // The entry the list shows and a recovery removes expires with them.
    let entry = table.deleted_entry(&acme, id).await.expect("listed");
    let expires = entry.get("expiresAt").and_then(|v| v.as_n().ok());
    assert_eq!(expires, Some(&expected), "DELETED#");

    table
        .store
        .recover(&acme, &deleted, now(), None)
        .await
        .unwrap();
    let items = table.items(&acme, id).await;
    assert_eq!(items.len(), 5);
    assert!(table.deleted_entry(&acme, id).await.is_none(), "unlisted");
    for (key, item) in &items {
        assert!(!item.contains_key("expiresAt"), "{key} kept for good");
        assert!(!item.contains_key("purgeAt"), "{key}");
    }
}

/// Were TTL to remove a kept item before a recovery commits (it cannot
/// inside the window: the day's grace), the recovery is refused as past
/// its window, and writes nothing, not even a stub of the missing item.
#[tokio::test]
async fn a_recovery_that_meets_ttl_is_refused_and_recreates_nothing() {
    let table = table().await;
    let acme = tenant();
    let deletion = RecoveryWindow::days(7).deletion(now(), "tester");
    let deleted = table
        .deleted_with_two_values(&acme, "raced", &deletion)
        .await;
    let id = &deleted.summary.id;
    table
        .raw
        .delete_item()
        .table_name(required_env("TABLE_NAME"))
        .key("pk", AttributeValue::S(format!("SECRET#{acme}#{id}")))
        .key("sk", AttributeValue::S("VALUE#0000000001".into()))
        .send()
        .await
        .unwrap();

    let error = table
        .store
        .recover(&acme, &deleted, now(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotFound), "{error}");
    let items = table.items(&acme, id).await;
    assert!(!items.contains_key("VALUE#0000000001"), "no stub written");
    assert_eq!(items.len(), 4);
    assert!(items["META"].contains_key("deletedAt"), "still deleted");
    let listed = table
        .store
        .deleted(&acme, &DeletedPageRequest::new(None, 10).unwrap(), now())
        .await
        .unwrap();
    assert_eq!(listed.secrets, vec![deleted], "still listed");
}

/// Ended entries TTL has yet to remove cost a page at most four Queries
/// of its size and one more; past that the page is cut short.
#[tokio::test]
async fn a_page_of_the_deleted_makes_at_most_four_queries() {
    let table = table().await;
    let acme = tenant();
    let ended = Deletion {
        purge_at: Some(now()),
        ..RecoveryWindow::days(7).deletion(now(), "tester")
    };
    let mut ids = Vec::new();
    for i in 0..13 {
        let secret = new_secret(&format!("ended-{i:02}"));
        let summary: SecretSummary = secret.summary.clone();
        table.store.insert(&acme, secret, None).await.unwrap();
        table
            .store
            .delete(&acme, &summary, DeleteGuard::Exists, &ended, None)
            .await
            .unwrap();
        ids.push(summary.id);
    }
    ids.sort();
    table.calls.take();

    let request = DeletedPageRequest::new(None, 1).unwrap();
    let page = table
        .store
        .deleted(&acme, &request, now().plus_secs(1))
        .await
        .unwrap();
    assert!(page.secrets.is_empty());
    assert_eq!(page.next.as_ref(), Some(&ids[7]), "after the eighth read");
    assert_eq!(table.calls.take().calls["DynamoDB.Query"], 4);
    let rest = DeletedPageRequest::new(page.next, 1).unwrap();
    let last = table
        .store
        .deleted(&acme, &rest, now().plus_secs(1))
        .await
        .unwrap();
    assert_eq!((last.secrets.len(), last.next), (0, None));
    assert_eq!(
        table.calls.take().calls["DynamoDB.Query"],
        3,
        "the five left: two, two, one"
    );
}
