use secrets_aws::kms::KmsDataKeys;
use secrets_domain::crypto::{EncryptionContext, open, seal};
use secrets_domain::model::{SecretId, SecretValue, TenantId};
use secrets_domain::ports::DataKeys;
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
    let sealed = seal(&keys, context, 1, &value).await.unwrap();
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

/// Moving a stored envelope, or any part of it, to another secret or tenant
/// makes it undecryptable: KMS refuses the wrapped key under the wrong
/// context, and AES-GCM refuses a ciphertext under the wrong key or context.
#[tokio::test]
async fn swapped_or_tampered_envelopes_fail_to_decrypt() {
    use secrets_domain::crypto::SealedValue;

    let keys = keys().await;
    let (tenant, a) = ids();
    let (_, b) = ids();
    let (other_tenant, c) = ids();
    let value = |text: &str| SecretValue::parse(Zeroizing::new(text.into())).unwrap();
    let seal_for = |tenant, id| {
        let keys = keys.clone();
        let value = value("swap me");
        async move {
            seal(&keys, EncryptionContext::new(tenant, id), 1, &value)
                .await
                .unwrap()
        }
    };
    let (sealed_a, sealed_b, sealed_c) = (
        seal_for(&tenant, &a).await,
        seal_for(&tenant, &b).await,
        seal_for(&other_tenant, &c).await,
    );
    let context_a = EncryptionContext::new(&tenant, &a);
    assert!(open(&keys, context_a, &sealed_a).await.is_ok());

    let with = |change: &dyn Fn(&mut SealedValue)| {
        let mut sealed = sealed_a.clone();
        change(&mut sealed);
        sealed
    };
    let forgeries: Vec<(&str, SealedValue)> = vec![
        ("another secret's envelope", sealed_b.clone()),
        ("another tenant's envelope", sealed_c.clone()),
        (
            "another secret's wrapped key",
            with(&|s| s.wrapped_key = sealed_b.wrapped_key.clone()),
        ),
        (
            "another tenant's wrapped key",
            with(&|s| s.wrapped_key = sealed_c.wrapped_key.clone()),
        ),
        (
            "another secret's ciphertext and nonce",
            with(&|s| {
                s.ciphertext = sealed_b.ciphertext.clone();
                s.nonce = sealed_b.nonce;
            }),
        ),
        (
            "a flipped ciphertext byte",
            with(&|s| s.ciphertext[0] ^= 0x01),
        ),
        (
            "a flipped tag byte",
            with(&|s| *s.ciphertext.last_mut().unwrap() ^= 0x80),
        ),
        ("a flipped nonce byte", with(&|s| s.nonce[11] ^= 0x01)),
        (
            "a flipped wrapped key byte",
            with(&|s| s.wrapped_key[20] ^= 0x01),
        ),
        (
            "a truncated ciphertext",
            with(&|s| s.ciphertext.truncate(4)),
        ),
    ];
    for (name, forged) in forgeries {
        assert!(
            open(&keys, context_a, &forged).await.is_err(),
            "{name} decrypted"
        );
    }
}
