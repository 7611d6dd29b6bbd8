//! With logging at its most verbose, nothing logged while sealing, storing
//! and opening a secret contains the secret's value or any data key that
//! sealed or opened it.

use std::sync::Mutex;

use aws_sdk_dynamodb::Client;
use aws_smithy_types::base64;
use secrets_aws::dynamo::DynamoStore;
use secrets_aws::kms::KmsDataKeys;
use secrets_domain::crypto::{DATA_KEY_LEN, EncryptionContext, SealedValue, open};
use secrets_domain::error::Result;
use secrets_domain::input::{CreateSecret, UpdateSecret};
use secrets_domain::model::{TagOrId, TenantId};
use secrets_domain::operation::Operation;
use secrets_domain::page::PageRequest;
use secrets_domain::ports::{DataKey, DataKeys, RequestMacs, SecretStore};
use secrets_domain::service::Secrets;
use secrets_lambda::logging::capture_all;
use secrets_testkit::actor;
use secrets_tests::{required_env, sdk_config, unique};
use zeroize::Zeroizing;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// KMS data keys, with a copy of every plaintext key they hand out: the
/// keys the test must not find in the logs.
struct Recording {
    kms: KmsDataKeys,
    handed_out: Mutex<Vec<[u8; DATA_KEY_LEN]>>,
}

impl Recording {
    fn keep(&self, key: &[u8; DATA_KEY_LEN]) {
        self.handed_out.lock().unwrap().push(*key);
    }
}

impl DataKeys for Recording {
    async fn generate(&self, context: EncryptionContext<'_>) -> Result<DataKey> {
        let key = self.kms.generate(context).await?;
        self.keep(&key.plaintext);
        Ok(key)
    }

    async fn unwrap_key(
        &self,
        sealed: &SealedValue,
        context: EncryptionContext<'_>,
    ) -> Result<Zeroizing<[u8; DATA_KEY_LEN]>> {
        let key = self.kms.unwrap_key(sealed, context).await?;
        self.keep(&key);
        Ok(key)
    }
}

/// What a create needs of its keys; this test's creates have no
/// `Idempotency-Key`, so they ask for no MAC.
impl RequestMacs for Recording {
    async fn mac(&self, digest: &[u8; 32]) -> Result<Vec<u8>> {
        self.kms.mac(digest).await
    }
}

#[tokio::test]
async fn no_secret_value_or_data_key_reaches_the_logs_even_at_trace() {
    // The SDK's own switch to log sensitive bodies, on: the ceiling must
    // hold even against an operator who turns it on.
    // SAFETY: no other thread of this test binary sets the environment.
    unsafe { std::env::set_var("LOG_SENSITIVE_BODIES", "true") };
    let captured = capture_all();
    let sdk = sdk_config().await;
    let keys = Recording {
        kms: KmsDataKeys::new(aws_sdk_kms::Client::new(&sdk), required_env("KMS_KEY_ID")),
        handed_out: Mutex::default(),
    };
    let secrets = Secrets::new(
        DynamoStore::new(Client::new(&sdk), required_env("TABLE_NAME"))
            .with_audit_table(required_env("AUDIT_TABLE_NAME"), 0),
        keys,
    );
    let tenant = TenantId::parse(&unique("logs")).unwrap();

    let marker = unique("log-marker");
    let body = serde_json::json!({"tag": "logged", "name": "n", "secret": marker});
    let created = secrets
        .create(
            &actor(&tenant, Operation::Create),
            CreateSecret::from_json(body.to_string().as_bytes()).unwrap(),
        )
        .await
        .unwrap();
    let update = serde_json::json!({"secret": format!("{marker}-2")});
    secrets
        .update(
            &actor(&tenant, Operation::Update),
            &TagOrId::Id(created.id.clone()),
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
    let context = EncryptionContext::new(&tenant, &created.id);
    let opened = open(secrets.keys(), context, &sealed).await.unwrap();
    assert_eq!(opened.as_slice(), format!("{marker}-2").as_bytes());

    let logs = captured.text();
    assert!(
        logs.contains("beginning attempt"),
        "the SDK's debug output was captured: {logs:.500}"
    );
    assert!(!logs.contains(&marker), "a secret value was logged");
    let handed_out = secrets.keys().handed_out.lock().unwrap().clone();
    assert_eq!(
        handed_out.len(),
        3,
        "the create's and the update's data keys, and the one unwrapped to open"
    );
    assert_eq!(
        handed_out[1], handed_out[2],
        "opened with the key that sealed"
    );
    for key in handed_out {
        for form in [base64::encode(key), hex(&key)] {
            assert!(!logs.contains(&form), "a plaintext data key was logged");
        }
    }
}
