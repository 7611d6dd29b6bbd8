//! Envelope encryption through the DynamoDB store and KMS: only ciphertext
//! at rest, a data key per value, and an envelope opened only in its own
//! context.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::model::{SecretId, TagOrId};
use secrets_domain::operation::Operation;
use secrets_testkit::actor;
use secrets_tests::{required_env, unique};

use super::harness::*;

#[tokio::test]
async fn only_ciphertext_is_stored_and_values_live_apart() {
    let harness = harness().await;
    let acme = tenant();
    let marker = unique("plaintext-marker");
    let created = harness.created(&acme, "apart", &marker).await;

    // The whole table: every item this test's tenant owns, wherever it is.
    let partitions = [
        format!("TENANT#{acme}"),
        format!("SECRET#{acme}#{}", created.id),
    ];
    let mut items = Vec::new();
    for partition in &partitions {
        let found = harness
            .raw
            .query()
            .table_name(required_env("TABLE_NAME"))
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(partition.clone()))
            .send()
            .await
            .unwrap()
            .items
            .unwrap();
        items.extend(found);
    }
    let layout: BTreeMap<String, Vec<String>> = items
        .iter()
        .map(|item| {
            let partition = item["pk"].as_s().unwrap().split('#').next().unwrap();
            let sort = item["sk"].as_s().unwrap().split('#').next().unwrap();
            let mut names: Vec<String> = item.keys().cloned().collect();
            names.sort();
            (format!("{partition} {sort}"), names)
        })
        .collect();
    let expected: BTreeMap<String, Vec<String>> = [
        ("TENANT COUNT", vec!["changes", "count", "pk", "sk"]),
        ("TENANT TAG", vec!["id", "name", "pk", "sk", "version"]),
        (
            "SECRET META",
            vec![
                "createdAt",
                "lastWrite",
                "name",
                "pk",
                "sk",
                "tag",
                "updatedAt",
                "valueVersion",
                "version",
            ],
        ),
        (
            "SECRET VALUE",
            vec![
                "cipher",
                "ciphertext",
                "nonce",
                "pk",
                "sk",
                "updatedAt",
                "valueVersion",
                "wrappedKey",
                "wrappingKeyId",
            ],
        ),
        (
            "SECRET VERSION",
            vec!["createdAt", "createdBy", "pk", "sk", "valueVersion"],
        ),
    ]
    .into_iter()
    .map(|(key, names)| {
        (
            key.to_owned(),
            names.into_iter().map(str::to_owned).collect(),
        )
    })
    .collect();
    assert_eq!(layout, expected);

    for item in &items {
        for (name, value) in item {
            let bytes: &[u8] = match value {
                AttributeValue::S(text) => text.as_bytes(),
                AttributeValue::B(blob) => blob.as_ref(),
                _ => continue,
            };
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "plaintext in {name}"
            );
        }
    }

    let (_, plaintext) = harness.stored(&acme, &created.id).await;
    assert_eq!(plaintext.as_slice(), marker.as_bytes());
}

#[tokio::test]
async fn a_new_value_gets_a_new_data_key() {
    let harness = harness().await;
    let acme = tenant();
    let created = harness.created(&acme, "rotated", "old").await;
    let (before, _) = harness.stored(&acme, &created.id).await;
    harness.calls.take();
    harness
        .updated(&acme, "rotated", br#"{"secret":"new"}"#)
        .await;
    assert_eq!(
        harness.calls.take().calls.get("KMS.GenerateDataKey"),
        Some(&1)
    );
    let (after, plaintext) = harness.stored(&acme, &created.id).await;
    assert_ne!(before.wrapped_key, after.wrapped_key);
    assert_eq!(plaintext.as_slice(), b"new");
}

/// The resolve path through DynamoDB and KMS: the current plaintext for the
/// tenant that owns it, and a refusal, not another secret's value, when a
/// stored envelope has been moved onto another secret.
#[tokio::test]
async fn resolve_opens_only_an_envelope_in_its_own_context() {
    let harness = harness().await;
    let acme = tenant();
    let first = harness.created(&acme, "first", "value of first").await;
    let second = harness.created(&acme, "second", "value of second").await;
    harness.calls.take();
    let resolved = harness
        .resolver
        .resolve(&actor(&acme, Operation::Resolve), &by_tag("first"))
        .await
        .unwrap();
    assert_eq!(resolved.value.as_slice(), b"value of first");
    assert_eq!(resolved.summary, first);
    // By tag: the TAG item (the id), the META item (the value version the
    // value must have) and the VALUE item.
    assert_eq!(
        harness.calls.take().calls,
        calls(&[
            ("DynamoDB.GetItem", 3),
            ("DynamoDB.PutItem", 1),
            ("KMS.Decrypt", 1)
        ])
    );

    // Copy the first secret's VALUE item over the second's.
    let table = required_env("TABLE_NAME");
    let value_key = |id: &SecretId| {
        std::collections::HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(format!("SECRET#{acme}#{id}")),
            ),
            (
                "sk".to_owned(),
                AttributeValue::S("VALUE#0000000001".to_owned()),
            ),
        ])
    };
    let mut moved = harness
        .raw
        .get_item()
        .table_name(&table)
        .set_key(Some(value_key(&first.id)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    moved.extend(value_key(&second.id));
    harness
        .raw
        .put_item()
        .table_name(&table)
        .set_item(Some(moved))
        .send()
        .await
        .unwrap();
    let refused = harness
        .resolver
        .resolve(
            &actor(&acme, Operation::Resolve),
            &TagOrId::Id(second.id.clone()),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.http_status(), 500);
    assert_eq!(refused.to_string(), "internal error");
}
