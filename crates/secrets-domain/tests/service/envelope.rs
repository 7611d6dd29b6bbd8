//! The envelope with local keys: a value opens only in its own context,
//! under a fresh data key each time, and not at all without one.

use secrets_domain::crypto::{EncryptionContext, open, seal};
use secrets_domain::model::{SecretId, SecretValue, TenantId};
use secrets_testkit::LocalDataKeys;
use zeroize::Zeroizing;

fn value(text: &str) -> SecretValue {
    SecretValue::parse(Zeroizing::new(text.to_owned())).unwrap()
}

fn ids() -> (TenantId, TenantId, SecretId, SecretId) {
    (
        TenantId::parse("tenant-a").unwrap(),
        TenantId::parse("tenant-b").unwrap(),
        SecretId::generate().unwrap(),
        SecretId::generate().unwrap(),
    )
}

#[tokio::test]
async fn a_sealed_value_opens_only_in_its_own_context() {
    let keys = LocalDataKeys::default();
    let (tenant, other_tenant, id, other_id) = ids();
    let sealed = seal(
        &keys,
        EncryptionContext::new(&tenant, &id),
        1,
        &value("hunter2"),
    )
    .await
    .unwrap();
    assert!(!sealed.ciphertext.windows(7).any(|w| w == b"hunter2"));
    let opened = open(&keys, EncryptionContext::new(&tenant, &id), &sealed)
        .await
        .unwrap();
    assert_eq!(opened.as_slice(), b"hunter2");
    for wrong in [
        EncryptionContext::new(&other_tenant, &id),
        EncryptionContext::new(&tenant, &other_id),
    ] {
        assert!(open(&keys, wrong, &sealed).await.is_err());
    }
}

#[tokio::test]
async fn every_value_gets_a_fresh_data_key_and_nonce() {
    let keys = LocalDataKeys::default();
    let (tenant, _, id, _) = ids();
    let context = EncryptionContext::new(&tenant, &id);
    let first = seal(&keys, context, 1, &value("same")).await.unwrap();
    let second = seal(&keys, context, 1, &value("same")).await.unwrap();
    assert_eq!(keys.generated(), 2);
    assert_ne!(first.wrapped_key, second.wrapped_key);
    assert_ne!(first.nonce, second.nonce);
    assert_ne!(first.ciphertext, second.ciphertext);
}

#[tokio::test]
async fn no_data_key_means_no_ciphertext() {
    let keys = LocalDataKeys::default();
    keys.fail();
    let (tenant, _, id, _) = ids();
    let error = seal(&keys, EncryptionContext::new(&tenant, &id), 1, &value("v"))
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 503);
}
