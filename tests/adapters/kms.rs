use secrets_core::crypto::{DataKeys, EncryptionContext, open, seal};
use secrets_core::domain::{SecretId, SecretValue, TenantId};
use secrets_core::kms::KmsDataKeys;
use secrets_tests::{required_env, sdk_config, unique};
use zeroize::Zeroizing;

async fn keys() -> KmsDataKeys {
    KmsDataKeys::new(
        aws_sdk_kms::Client::new(&sdk_config().await),
        required_env("KMS_KEY_ID"),
    )
}

fn ids() -> (TenantId, SecretId) {
    (
        TenantId::parse(&unique("tenant")).unwrap(),
        SecretId::generate().unwrap(),
    )
}

#[tokio::test]
async fn generated_data_keys_unwrap_only_in_their_context() {
    let keys = keys().await;
    let (tenant, id) = ids();
    let (other_tenant, other_id) = ids();
    let context = EncryptionContext::new(&tenant, &id);
    let data_key = keys.generate(context).await.unwrap();
    assert_ne!(data_key.wrapped.as_slice(), data_key.plaintext.as_slice());
    assert!(
        data_key.wrapping_key_id.starts_with("arn:aws:kms:"),
        "{}",
        data_key.wrapping_key_id
    );

    let value = SecretValue::parse(Zeroizing::new("kms round trip".into())).unwrap();
    let sealed = seal(&keys, context, &value).await.unwrap();
    assert_eq!(
        open(&keys, context, &sealed).await.unwrap().as_slice(),
        b"kms round trip"
    );
    for wrong in [
        EncryptionContext::new(&other_tenant, &id),
        EncryptionContext::new(&tenant, &other_id),
    ] {
        let error = open(&keys, wrong, &sealed).await.unwrap_err();
        assert_eq!(error.http_status(), 500, "{error}");
    }
}

#[tokio::test]
async fn a_missing_key_is_an_internal_error_not_a_crash() {
    let keys = KmsDataKeys::new(
        aws_sdk_kms::Client::new(&sdk_config().await),
        "alias/does-not-exist",
    );
    let (tenant, id) = ids();
    let error = keys
        .generate(EncryptionContext::new(&tenant, &id))
        .await
        .err()
        .unwrap();
    assert_eq!(error.http_status(), 500);
    assert_eq!(error.to_string(), "internal error");
}
