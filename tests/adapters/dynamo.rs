use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use secrets_aws::dynamo::DynamoStore;
use secrets_aws::kms::KmsDataKeys;
use secrets_aws::metrics::CallCounter;
use secrets_aws::reseal::LambdaResealer;
use secrets_aws::sdk::{self, CallTimeouts};
use secrets_domain::clock::SystemClock;
use secrets_domain::crypto::{EncryptionContext, SealedValue, open};
use secrets_domain::deleted::{DeletedPageRequest, RecoveryWindow};
use secrets_domain::idempotency::{IDEMPOTENCY_WINDOW_SECS, IdempotencyKey};
use secrets_domain::input::{CreateSecret, UpdateSecret};
use secrets_domain::model::{FIRST_VERSION, SecretId, SecretSummary, Tag, TagOrId, TenantId};
use secrets_domain::operation::Operation;
use secrets_domain::page::PageRequest;
use secrets_domain::ports::{Clock, DeleteGuard, SecretStore};
use secrets_domain::service::{BatchKeys, Secrets};
use secrets_domain::versions::DEFAULT_VALUE_VERSIONS_KEPT;
use secrets_testkit::{actor, conformance};
use secrets_tests::{
    AuditTable, audit_records, audit_summary, granted, required_env, sdk_config, text, unique,
};

struct Harness {
    secrets: Secrets<DynamoStore, KmsDataKeys>,
    /// As the resolve function builds it: the same store, a key source that
    /// can only unwrap.
    resolver: Secrets<DynamoStore, KmsDataKeys>,
    raw: Client,
    calls: CallCounter,
}

impl Harness {
    /// An allowed create of `tag` holding `value` for `tenant`.
    async fn created(&self, tenant: &TenantId, tag: &str, value: &str) -> SecretSummary {
        self.secrets
            .create(&actor(tenant, Operation::Create), create(tag, value))
            .await
            .unwrap()
    }

    /// An allowed update of `tag` with the JSON `body`.
    async fn updated(&self, tenant: &TenantId, tag: &str, body: &[u8]) -> SecretSummary {
        let update = UpdateSecret::from_json(body).unwrap();
        let updater = actor(tenant, Operation::Update);
        self.secrets
            .update(&updater, &by_tag(tag), update, None)
            .await
            .unwrap()
    }

    /// An allowed delete.
    async fn deleted(&self, tenant: &TenantId, key: &TagOrId) {
        let deleter = actor(tenant, Operation::Delete);
        self.secrets.delete(&deleter, key, None).await.unwrap();
    }

    /// A secret's stored envelope, and what it decrypts to through KMS.
    async fn stored(&self, tenant: &TenantId, id: &SecretId) -> (SealedValue, Vec<u8>) {
        let sealed = self
            .secrets
            .store()
            .sealed_value(tenant, id)
            .await
            .unwrap()
            .unwrap();
        let context = EncryptionContext::new(tenant, id);
        let plaintext = open(self.secrets.keys(), context, &sealed).await.unwrap();
        (sealed, plaintext.to_vec())
    }
}

/// The store and KMS key source as the functions build them, plus a call
/// counter on both clients and a plain client for looking at raw items.
async fn harness() -> Harness {
    let sdk = sdk_config().await;
    let calls = CallCounter::default();
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(calls.clone())
        .build();
    let kms = aws_sdk_kms::config::Builder::from(&sdk)
        .interceptor(calls.clone())
        .build();
    let store = DynamoStore::new(Client::from_conf(dynamodb), required_env("TABLE_NAME"))
        .with_audit_table(required_env("AUDIT_TABLE_NAME"), 400);
    let kms = aws_sdk_kms::Client::from_conf(kms);
    let keys = KmsDataKeys::new(kms.clone(), required_env("KMS_KEY_ID"))
        .with_mac_key(required_env("IDEMPOTENCY_MAC_KEY_ID"));
    Harness {
        resolver: Secrets::new(store.clone(), KmsDataKeys::unwrap_only(kms)),
        secrets: Secrets::new(store, keys),
        raw: Client::new(&sdk),
        calls,
    }
}

fn tenant() -> TenantId {
    TenantId::parse(&unique("tenant")).unwrap()
}

fn calls(expected: &[(&str, u32)]) -> BTreeMap<String, u32> {
    expected
        .iter()
        .map(|(name, n)| ((*name).to_owned(), *n))
        .collect()
}

fn create(tag: &str, value: &str) -> CreateSecret {
    let body = serde_json::json!({"tag": tag, "name": format!("Name {tag}"), "secret": value});
    CreateSecret::from_json(body.to_string().as_bytes()).unwrap()
}

fn by_tag(tag: &str) -> TagOrId {
    TagOrId::Tag(Tag::parse(tag).unwrap())
}

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

/// The IAM actions each function's code needs, per the manifest that the
/// template check also reads: the code must need exactly these.
#[tokio::test]
async fn each_function_needs_exactly_the_iam_actions_it_is_granted() {
    let harness = harness().await;
    let acme = tenant();
    let secret = harness
        .secrets
        .create_with_key(
            &actor(&acme, Operation::Create),
            create("iam", "v"),
            Some(&IdempotencyKey::parse(b"iam-1").unwrap()),
        )
        .await
        .unwrap()
        .secret;
    let creating = harness.calls.take().iam_actions;
    // The conflict path needs nothing more than the success path.
    harness
        .secrets
        .create_with_key(
            &actor(&acme, Operation::Create),
            create("iam", "v"),
            Some(&IdempotencyKey::parse(b"iam-2").unwrap()),
        )
        .await
        .unwrap_err();
    assert_eq!(harness.calls.take().iam_actions, creating);
    // Near the tenant's limit, a create reads every count shard first (a
    // limit this small always does): that Query is the create role's too.
    let near_limit = Secrets::new(
        harness.secrets.store().clone().with_max_secrets(1),
        harness.secrets.keys().clone(),
    );
    near_limit
        .create(&actor(&acme, Operation::Create), create("iam-limit", "v"))
        .await
        .unwrap_err();
    let at_limit = harness.calls.take();
    assert_eq!(at_limit.calls.get("DynamoDB.Query"), Some(&1));
    let creating: std::collections::BTreeSet<_> =
        creating.into_iter().chain(at_limit.iam_actions).collect();
    assert_eq!(creating, granted("CreateSecretFunction"));

    harness.secrets.get(&acme, &by_tag("iam")).await.unwrap();
    harness
        .secrets
        .get(&acme, &TagOrId::Id(secret.id.clone()))
        .await
        .unwrap();
    // The versions list is the get function's second route.
    harness
        .secrets
        .versions(&acme, &by_tag("iam"))
        .await
        .unwrap();
    assert_eq!(
        harness.calls.take().iam_actions,
        granted("GetSecretFunction")
    );

    harness.created(&acme, "iam-2", "v").await;
    harness.created(&acme, "iam-3", "v").await;
    harness.calls.take();
    // A walk (which remembers where pages start), and past the end.
    for page in [0, 1, 2, 5] {
        harness
            .secrets
            .list(&acme, PageRequest::new(page, 1).unwrap())
            .await
            .unwrap();
    }
    // Its other route: the deleted secrets.
    let first = DeletedPageRequest::new(None, 10).unwrap();
    harness.secrets.deleted(&acme, &first).await.unwrap();
    assert_eq!(
        harness.calls.take().iam_actions,
        granted("ListSecretsFunction")
    );

    for body in [
        &br#"{"name":"n"}"#[..],
        br#"{"secret":"s"}"#,
        br#"{"name":"m","secret":"t"}"#,
    ] {
        harness.updated(&acme, "iam", body).await;
    }
    // Past the versions kept: the oldest are deleted with the new value.
    for i in 0..DEFAULT_VALUE_VERSIONS_KEPT {
        let body = format!(r#"{{"secret":"value {i}"}}"#);
        harness.updated(&acme, "iam", body.as_bytes()).await;
    }
    let mut recorded = harness.calls.take().iam_actions;
    // A restore (the update function's other route), through the invoker
    // the function starts with. The emulator runs no reseal function, so
    // the invoke is refused, but it was made: its action is recorded.
    let timeouts = CallTimeouts {
        attempt: Duration::from_secs(2),
        operation: Duration::from_secs(5),
    };
    let lambda = sdk::lambda_client(&sdk_config().await, &harness.calls, timeouts);
    let restorer = Secrets::new(
        harness.secrets.store().clone(),
        LambdaResealer::new(lambda, "reseal-secret:live"),
    );
    restorer
        .restore(
            &actor(&acme, Operation::RestoreVersion),
            &by_tag("iam"),
            5,
            None,
        )
        .await
        .unwrap_err();
    let restore = harness.calls.take();
    assert_eq!(restore.calls.get("Lambda.Invoke"), Some(&1));
    recorded.extend(restore.iam_actions);
    assert_eq!(recorded, granted("UpdateSecretFunction"));

    for key in [by_tag("iam"), TagOrId::Id(secret.id.clone())] {
        harness
            .resolver
            .resolve(&actor(&acme, Operation::Resolve), &key)
            .await
            .unwrap();
    }
    harness
        .resolver
        .resolve(&actor(&acme, Operation::Resolve), &by_tag("unknown"))
        .await
        .unwrap_err();
    let batch = BatchKeys::new([by_tag("iam"), TagOrId::Id(secret.id.clone())]).unwrap();
    harness
        .resolver
        .resolve_many(&actor(&acme, Operation::Resolve), &batch)
        .await
        .unwrap();
    assert_eq!(
        harness.calls.take().iam_actions,
        granted("ResolveSecretFunction")
    );

    harness.deleted(&acme, &by_tag("iam")).await;
    let mut deleting = harness.calls.take().iam_actions;
    // With a recovery window: a kept delete, then its recovery (the delete
    // function's other route) near the tenant's limit, which a limit this
    // small always is: it reads the count shards.
    let kept = harness.created(&acme, "iam-kept", "v").await;
    harness.calls.take();
    let keeping = Secrets::new(harness.secrets.store().clone().with_max_secrets(3), ())
        .with_recovery_window(RecoveryWindow::days(7));
    keeping
        .delete(&actor(&acme, Operation::Delete), &by_tag("iam-kept"), None)
        .await
        .unwrap();
    keeping
        .recover(&actor(&acme, Operation::RecoverDeleted), &kept.id)
        .await
        .unwrap();
    let recovery = harness.calls.take();
    // The kept versions, read by the delete and the recovery; the counts.
    assert_eq!(recovery.calls.get("DynamoDB.Query"), Some(&3));
    deleting.extend(recovery.iam_actions);
    assert_eq!(deleting, granted("DeleteSecretFunction"));
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
/// so that renames racing a delete cannot wear out its attempts (503).
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
    store
        .delete(
            &acme,
            &read,
            DeleteGuard::Exists,
            &conformance::at_once(),
            None,
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
}
