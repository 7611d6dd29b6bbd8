//! The DynamoDB store against the emulator: the conformance suite every
//! store runs, and what each operation costs in calls.

use secrets_domain::model::{FIRST_VERSION, SecretId, TagOrId};
use secrets_domain::operation::Operation;
use secrets_domain::page::PageRequest;
use secrets_domain::ports::SecretStore;
use secrets_domain::service::BatchKeys;
use secrets_testkit::{actor, conformance};
use secrets_tests::{AuditTable, audit_records, text};

use super::harness::*;

#[tokio::test]
async fn the_dynamodb_store_conforms() {
    let harness = harness().await;
    conformance::run_all(
        harness.secrets.store(),
        tenant,
        &AuditTable(harness.raw.clone()),
    )
    .await;
    // A limit of 3 is too small for shares: every create near it reads the
    // shards, with one shard, two or sixteen (the read-free check below a
    // shard's share is covered in pages.rs, the_limit_holds_across_shards).
    for shards in [1, 2, 16] {
        let limited = harness
            .secrets
            .store()
            .clone()
            .with_max_secrets(3)
            .with_count_shards(shards);
        conformance::the_tenant_limit_holds(&limited, &tenant()).await;
        conformance::a_recovery_counts_against_the_limit(&limited, &tenant()).await;
    }
}

#[tokio::test]
async fn each_operation_makes_the_fewest_calls() {
    let harness = harness().await;
    let acme = tenant();
    let created = harness.created(&acme, "counted", "v").await;
    assert_eq!(
        harness.calls.take().calls,
        calls(&[
            ("KMS.GenerateDataKey", 1),
            ("DynamoDB.TransactWriteItems", 1)
        ])
    );

    harness
        .secrets
        .get(&acme, &by_tag("counted"))
        .await
        .unwrap();
    assert_eq!(
        harness.calls.take().calls,
        calls(&[("DynamoDB.GetItem", 1)]),
        "get by tag"
    );
    harness
        .secrets
        .get(&acme, &TagOrId::Id(created.id.clone()))
        .await
        .unwrap();
    assert_eq!(
        harness.calls.take().calls,
        calls(&[("DynamoDB.GetItem", 1)]),
        "get by id"
    );

    harness
        .secrets
        .list(&acme, PageRequest::new(0, 250).unwrap())
        .await
        .unwrap();
    assert_eq!(
        harness.calls.take().calls,
        calls(&[("DynamoDB.Query", 2)]),
        "page 0: the count shards, the rows"
    );

    harness
        .updated(&acme, "counted", br#"{"name":"Renamed"}"#)
        .await;
    assert_eq!(
        harness.calls.take().calls,
        calls(&[("DynamoDB.GetItem", 1), ("DynamoDB.TransactWriteItems", 1)]),
        "a rename needs no KMS"
    );

    harness
        .updated(&acme, "counted", br#"{"secret":"second"}"#)
        .await;
    assert_eq!(
        harness.calls.take().calls,
        calls(&[
            ("DynamoDB.GetItem", 2),
            ("KMS.GenerateDataKey", 1),
            ("DynamoDB.Query", 1),
            ("DynamoDB.TransactWriteItems", 1)
        ]),
        "a new value by tag: TAG, META, the kept versions, the write"
    );

    let listed = harness
        .secrets
        .versions(&acme, &by_tag("counted"))
        .await
        .unwrap();
    assert_eq!(listed.versions.len(), 2);
    let usage = harness.calls.take();
    assert_eq!(
        usage.calls,
        calls(&[("DynamoDB.GetItem", 2), ("DynamoDB.Query", 1)]),
        "versions by tag: TAG, META, the VERSION items"
    );
    assert_eq!(
        usage.read_capacity_units, 3.0,
        "one unit each: the version items are small, no value is read"
    );

    harness.deleted(&acme, &by_tag("counted")).await;
    assert_eq!(
        harness.calls.take().calls,
        calls(&[
            ("DynamoDB.GetItem", 1),
            ("DynamoDB.Query", 1),
            ("DynamoDB.TransactWriteItems", 1)
        ]),
        "delete: TAG, the kept versions, the write"
    );
}

/// A batch resolve's reads: twenty secrets' summaries in one call, their
/// values in another, one read unit per item (each under 4 KB), and the
/// IAM action it needs.
#[tokio::test]
async fn batch_reads_take_one_call_for_twenty_secrets() {
    let harness = harness().await;
    let acme = tenant();
    let mut keys = Vec::new();
    for i in 0..20 {
        let created = harness.created(&acme, &format!("batch-{i:02}"), "v").await;
        keys.push(if i % 2 == 0 {
            by_tag(&format!("batch-{i:02}"))
        } else {
            TagOrId::Id(created.id)
        });
    }
    harness.calls.take();
    let store = harness.secrets.store();
    let found = store.find_many(&acme, &keys).await.unwrap();
    let usage = harness.calls.take();
    assert_eq!(usage.calls, calls(&[("DynamoDB.BatchGetItem", 1)]));
    assert_eq!(
        usage.read_capacity_units, 20.0,
        "strongly consistent, small items"
    );
    assert_eq!(
        usage.iam_actions.into_iter().collect::<Vec<_>>(),
        ["dynamodb:BatchGetItem"]
    );
    let values: Vec<(SecretId, u64)> = found
        .into_iter()
        .map(|f| (f.unwrap().id, FIRST_VERSION))
        .collect();
    let sealed = store.sealed_versions(&acme, &values).await.unwrap();
    assert!(sealed.iter().all(Option::is_some));
    assert_eq!(
        harness.calls.take().calls,
        calls(&[("DynamoDB.BatchGetItem", 1)])
    );
}

/// A batch resolve of 20 secrets, half named by tag: three BatchGetItems
/// (the keys, the records the tags name, the values), a Decrypt per value,
/// and an audit record per secret, each kept (one request id, told apart
/// by the secret's place in the batch).
#[tokio::test]
async fn a_batch_resolve_of_twenty_reads_in_three_calls_and_audits_each() {
    let harness = harness().await;
    let acme = tenant();
    let mut keys = Vec::new();
    for i in 0..20 {
        let created = harness
            .created(&acme, &format!("many-{i:02}"), &format!("value {i}"))
            .await;
        keys.push(if i % 2 == 0 {
            by_tag(&format!("many-{i:02}"))
        } else {
            TagOrId::Id(created.id)
        });
    }
    harness.calls.take();
    let resolver = actor(&acme, Operation::Resolve);
    let batch = BatchKeys::new(keys).unwrap();
    let entries = harness
        .resolver
        .resolve_many(&resolver, &batch)
        .await
        .unwrap();
    let values: Vec<String> = entries
        .iter()
        .map(|(_, result)| String::from_utf8(result.as_ref().unwrap().value.to_vec()).unwrap())
        .collect();
    assert_eq!(
        values,
        (0..20).map(|i| format!("value {i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        harness.calls.take().calls,
        calls(&[
            ("DynamoDB.BatchGetItem", 3),
            ("KMS.Decrypt", 20),
            ("DynamoDB.PutItem", 20)
        ])
    );
    let records = audit_records(&harness.raw, acme.as_str()).await;
    let resolved: Vec<_> = records
        .iter()
        .filter(|record| text(record, "operation") == "resolveSecret")
        .collect();
    assert_eq!(resolved.len(), 20, "no record overwrote another");
    assert!(
        resolved
            .iter()
            .all(|r| text(r, "requestId") == resolver.request_id)
    );
}
