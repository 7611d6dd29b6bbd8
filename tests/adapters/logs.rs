//! With logging at its most verbose, nothing logged while sealing, storing
//! and opening a secret contains the secret's value or its data key.

use aws_sdk_dynamodb::Client;
use aws_smithy_types::base64;
use secrets_core::audit::{Actor, Operation};
use secrets_core::crypto::{DataKeys, EncryptionContext, open};
use secrets_core::domain::{SecretId, SecretKey, TenantId};
use secrets_core::dynamo::DynamoStore;
use secrets_core::input::{CreateSecret, UpdateSecret};
use secrets_core::kms::KmsDataKeys;
use secrets_core::page::PageRequest;
use secrets_core::service::Secrets;
use secrets_core::store::SecretStore;
use secrets_http::logging::capture_all;
use secrets_tests::{required_env, sdk_config, unique};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn no_secret_value_or_data_key_reaches_the_logs_even_at_trace() {
    // The SDK's own switch to log sensitive bodies, on: the ceiling must
    // hold even against an operator who turns it on.
    // SAFETY: no other thread of this test binary sets the environment.
    unsafe { std::env::set_var("LOG_SENSITIVE_BODIES", "true") };
    let captured = capture_all();
    let sdk = sdk_config().await;
    let keys = KmsDataKeys::new(aws_sdk_kms::Client::new(&sdk), required_env("KMS_KEY_ID"));
    let secrets = Secrets::new(
        DynamoStore::new(Client::new(&sdk), required_env("TABLE_NAME"))
            .with_audit_table(required_env("AUDIT_TABLE_NAME"), 0),
        keys.clone(),
    );
    let tenant = TenantId::parse(&unique("logs")).unwrap();

    // A data key in plain sight of the test, fetched through the same code.
    let probe_id = SecretId::generate().unwrap();
    let data_key = keys
        .generate(EncryptionContext::new(&tenant, &probe_id))
        .await
        .unwrap();
    let key_forms = [
        base64::encode(data_key.plaintext.as_slice()),
        hex(data_key.plaintext.as_slice()),
    ];

    let marker = unique("log-marker");
    let body = serde_json::json!({"tag": "logged", "name": "n", "secret": marker});
    let created = secrets
        .create(
            &Actor::test(&tenant, Operation::Create),
            CreateSecret::from_json(body.to_string().as_bytes()).unwrap(),
        )
        .await
        .unwrap();
    let update = serde_json::json!({"secret": format!("{marker}-2")});
    secrets
        .update(
            &Actor::test(&tenant, Operation::Update),
            &SecretKey::Id(created.id.clone()),
            UpdateSecret::from_json(update.to_string().as_bytes()).unwrap(),
            None,
        )
        .await
        .unwrap();
    secrets
        .list(&tenant, PageRequest::new(0, 10).unwrap())
        .await
        .unwrap();
    let sealed = secrets
        .store()
        .sealed_value(&tenant, &created.id)
        .await
        .unwrap()
        .unwrap();
    let opened = open(&keys, EncryptionContext::new(&tenant, &created.id), &sealed)
        .await
        .unwrap();
    assert_eq!(opened.as_slice(), format!("{marker}-2").as_bytes());

    let logs = captured.text();
    assert!(
        logs.contains("beginning attempt"),
        "the SDK's debug output was captured: {logs:.500}"
    );
    assert!(!logs.contains(&marker), "a secret value was logged");
    for form in key_forms {
        assert!(!logs.contains(&form), "a plaintext data key was logged");
    }
}
