//! What the DynamoDB adapter suites share: the store and key source as the
//! functions build them, with their calls counted, and small builders.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeSerializationInterceptorContextRef,
};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
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
    let store = store_on(Client::from_conf(dynamodb));
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

/// The store as the functions build it, but every transaction's answer is
/// lost after DynamoDB applied it (a 500 in its place, no SDK retry): what
/// a timeout or a dropped connection leaves a writer not knowing.
pub async fn store_losing_transaction_answers(calls: &CallCounter) -> DynamoStore {
    let sdk = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(calls.clone())
        .interceptor(LoseTransactionAnswers)
        .retry_config(RetryConfig::disabled())
        .build();
    store_on(Client::from_conf(dynamodb))
}

/// The store as the functions configure it, on `client`.
fn store_on(client: Client) -> DynamoStore {
    DynamoStore::new(client, required_env("TABLE_NAME"))
        .with_audit_table(required_env("AUDIT_TABLE_NAME"), 400)
}

#[derive(Debug)]
struct LoseTransactionAnswers;

#[derive(Debug)]
struct ATransaction;

impl Storable for ATransaction {
    type Storer = StoreReplace<Self>;
}

impl Intercept for LoseTransactionAnswers {
    fn name(&self) -> &'static str {
        "LoseTransactionAnswers"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if context
            .input()
            .downcast_ref::<TransactWriteItemsInput>()
            .is_some()
        {
            cfg.interceptor_state().store_put(ATransaction);
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if cfg.load::<ATransaction>().is_some() {
            let response = context.response_mut();
            *response.status_mut() = 500.try_into()?;
            *response.body_mut() = SdkBody::from(
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"lost"}"#,
            );
        }
        Ok(())
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
