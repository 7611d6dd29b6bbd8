//! The service over the memory store and local keys: each operation's
//! rules, in a file of its own.

mod audit;
mod batch_resolve;
mod create;
mod delete;
mod deleted;
mod envelope;
mod idempotency;
mod resolve;
mod restore;
mod update;

use secrets_domain::audit::{Actor, Outcome};
use secrets_domain::crypto::{CipherScheme, EncryptionContext, SealedValue, open};
use secrets_domain::error::{Error, Result};
use secrets_domain::idempotency::IdempotencyKey;
use secrets_domain::input::{CreateSecret, UpdateSecret};
use secrets_domain::model::{
    SecretId, SecretName, SecretSummary, SecretValue, Tag, TagOrId, TenantId,
};
use secrets_domain::operation::Operation;
use secrets_domain::page::PageRequest;
use secrets_domain::ports::SecretStore;
use secrets_domain::precondition::IfMatch;
use secrets_domain::service::Secrets;
use secrets_testkit::{LocalDataKeys, MemoryStore};
use zeroize::Zeroizing;

fn service() -> Secrets<MemoryStore, LocalDataKeys> {
    Secrets::new(MemoryStore::default(), LocalDataKeys::default())
}

fn acting(tenant: &TenantId, operation: Operation) -> Actor {
    secrets_testkit::actor(tenant, operation)
}

async fn total<S: SecretStore, K>(service: &Secrets<S, K>, tenant: &TenantId) -> u32 {
    service
        .list(tenant, PageRequest::new(0, 10).unwrap())
        .await
        .unwrap()
        .total
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn create_request(tag: &str, value: &str) -> CreateSecret {
    CreateSecret {
        tag: Tag::parse(tag).unwrap(),
        name: SecretName::parse(format!("Name of {tag}")).unwrap(),
        secret: SecretValue::parse(Zeroizing::new(value.into())).unwrap(),
    }
}

fn by_tag(tag: &str) -> TagOrId {
    TagOrId::Tag(Tag::parse(tag).unwrap())
}

/// A secret's stored envelope.
async fn stored(
    service: &Secrets<MemoryStore, LocalDataKeys>,
    tenant: &TenantId,
    id: &SecretId,
) -> SealedValue {
    service
        .store()
        .sealed_value(tenant, id)
        .await
        .unwrap()
        .expect("a stored value")
}

async fn stored_plaintext(
    service: &Secrets<MemoryStore, LocalDataKeys>,
    tenant: &TenantId,
    id: &SecretId,
) -> Vec<u8> {
    let sealed = stored(service, tenant, id).await;
    open(service.keys(), EncryptionContext::new(tenant, id), &sealed)
        .await
        .unwrap()
        .to_vec()
}

fn if_match(header: &str) -> IfMatch {
    IfMatch::parse(header.as_bytes())
}

/// `tag` of `tenant`, holding `value`, as an allowed create made it.
async fn create_secret(
    service: &Secrets<MemoryStore, LocalDataKeys>,
    tenant: &TenantId,
    tag: &str,
    value: &str,
) -> SecretSummary {
    service
        .create(
            &acting(tenant, Operation::Create),
            create_request(tag, value),
        )
        .await
        .unwrap()
}

/// An update of `key` by `tenant`, without If-Match.
async fn update_secret(
    service: &Secrets<MemoryStore, LocalDataKeys>,
    tenant: &TenantId,
    key: &TagOrId,
    request: UpdateSecret,
) -> Result<SecretSummary> {
    let updater = acting(tenant, Operation::Update);
    service.update(&updater, key, request, None).await
}

/// An update that sets a new value only.
fn new_value(value: &str) -> UpdateSecret {
    UpdateSecret {
        name: None,
        secret: Some(SecretValue::parse(Zeroizing::new(value.into())).unwrap()),
    }
}

fn rename(name: &str) -> UpdateSecret {
    UpdateSecret {
        name: Some(SecretName::parse(name.into()).unwrap()),
        secret: None,
    }
}

fn key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::parse(raw.as_bytes()).unwrap()
}
