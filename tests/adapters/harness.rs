//! What the DynamoDB adapter suites share: the store and key source as the
//! functions build them, with their calls counted, and small builders.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use secrets_aws::dynamo::DynamoStore;
use secrets_aws::kms::KmsDataKeys;
use secrets_aws::metrics::CallCounter;
use secrets_domain::crypto::{EncryptionContext, SealedValue, open};
use secrets_domain::input::{CreateSecret, UpdateSecret};
use secrets_domain::model::{SecretId, SecretSummary, Tag, TagOrId, TenantId};
use secrets_domain::operation::Operation;
use secrets_domain::ports::SecretStore;
use secrets_domain::service::Secrets;
use secrets_testkit::actor;
use secrets_tests::{required_env, sdk_config, unique};

pub struct Harness {
    pub secrets: Secrets<DynamoStore, KmsDataKeys>,
    /// As the resolve function builds it: the same store, a key source that
    /// can only unwrap.
    pub resolver: Secrets<DynamoStore, KmsDataKeys>,
    pub raw: Client,
    pub calls: CallCounter,
}

impl Harness {
    /// An allowed create of `tag` holding `value` for `tenant`.
    pub async fn created(&self, tenant: &TenantId, tag: &str, value: &str) -> SecretSummary {
        self.secrets
            .create(&actor(tenant, Operation::Create), create(tag, value))
            .await
            .unwrap()
    }

    /// An allowed update of `tag` with the JSON `body`.
    pub async fn updated(&self, tenant: &TenantId, tag: &str, body: &[u8]) -> SecretSummary {
        let update = UpdateSecret::from_json(body).unwrap();
        let updater = actor(tenant, Operation::Update);
        self.secrets
            .update(&updater, &by_tag(tag), update, None)
            .await
            .unwrap()
    }

    /// An allowed delete.
    pub async fn deleted(&self, tenant: &TenantId, key: &TagOrId) {
        let deleter = actor(tenant, Operation::Delete);
        self.secrets.delete(&deleter, key, None).await.unwrap();
    }

    /// A secret's stored envelope, and what it decrypts to through KMS.
    pub async fn stored(&self, tenant: &TenantId, id: &SecretId) -> (SealedValue, Vec<u8>) {
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
pub async fn harness() -> Harness {
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

pub fn tenant() -> TenantId {
    TenantId::parse(&unique("tenant")).unwrap()
}

pub fn calls(expected: &[(&str, u32)]) -> BTreeMap<String, u32> {
    expected
        .iter()
        .map(|(name, n)| ((*name).to_owned(), *n))
        .collect()
}

pub fn create(tag: &str, value: &str) -> CreateSecret {
    let body = serde_json::json!({"tag": tag, "name": format!("Name {tag}"), "secret": value});
    CreateSecret::from_json(body.to_string().as_bytes()).unwrap()
}

pub fn by_tag(tag: &str) -> TagOrId {
    TagOrId::Tag(Tag::parse(tag).unwrap())
}
