//! A function's app over the doubles, for handler tests: a memory store,
//! local keys, and a verifier of [`crate::tokens::token`]s.

use secrets_domain::audit::Outcome;
use secrets_domain::auth::{AuthSettings, Authenticator, KeySource};
use secrets_domain::deleted::{DEFAULT_RECOVERY_WINDOW_DAYS, RecoveryWindow};
use secrets_domain::model::{SecretSummary, Tag, TagOrId, TenantId};
use secrets_domain::operation::Operation;
use secrets_domain::service::Secrets;
use secrets_lambda::{App, Function};
use serde_json::json;
use zeroize::Zeroizing;

use crate::auth::settings;
use crate::tokens::SHARED_SECRET;
use crate::{LocalDataKeys, MemoryStore, actor};

pub type TestApp = App<MemoryStore, LocalDataKeys>;

/// The app of `function`, verifying tokens exactly when the function does.
pub fn app(function: Function) -> TestApp {
    let auth = function.authenticates().then(|| {
        let settings = AuthSettings {
            algorithms: None,
            ..settings(
                KeySource::SharedSecret(Zeroizing::new(SHARED_SECRET.to_vec())),
                &[],
            )
        };
        Authenticator::new(settings, |_| Err("no JWKS in tests".into()))
            .expect("valid test settings")
    });
    App::new(
        function,
        // Deleted secrets kept for the deployments' default window.
        Secrets::new(MemoryStore::default(), LocalDataKeys::default())
            .with_recovery_window(RecoveryWindow::days(DEFAULT_RECOVERY_WINDOW_DAYS)),
        auth,
    )
}

/// Creates a secret directly through the service, as test set-up.
pub async fn seed(app: &TestApp, tenant: &str, tag: &str, value: &str) -> SecretSummary {
    let body = json!({"tag": tag, "name": format!("Secret {tag}"), "secret": value}).to_string();
    let request =
        secrets_domain::input::CreateSecret::from_json(body.as_bytes()).expect("valid seed");
    let tenant = TenantId::parse(tenant).expect("tenant");
    app.secrets
        .create(&actor(&tenant, Operation::Create), request)
        .await
        .expect("seeded")
}

/// Gives `tag`'s secret a new value through the service, as test set-up:
/// its next value version.
pub async fn reseed(app: &TestApp, tenant: &str, tag: &str, value: &str) -> SecretSummary {
    let body = json!({ "secret": value }).to_string();
    let request =
        secrets_domain::input::UpdateSecret::from_json(body.as_bytes()).expect("valid value");
    let tenant = TenantId::parse(tenant).expect("tenant");
    let key = TagOrId::Tag(Tag::parse(tag).expect("tag"));
    app.secrets
        .update(&actor(&tenant, Operation::Update), &key, request, None)
        .await
        .expect("new value")
}

/// The audit trail so far, as (operation, tenant, status): 200 for allowed
/// operations, the refusal's status otherwise.
pub fn audit_trail(app: &TestApp) -> Vec<(Operation, Option<String>, u16)> {
    app.secrets
        .store()
        .audit_records()
        .into_iter()
        .map(|record| {
            let status = match record.outcome {
                Outcome::Allowed => 200,
                Outcome::Refused { status, .. } => status,
            };
            (
                record.operation,
                record.tenant.map(|t| t.to_string()),
                status,
            )
        })
        .collect()
}
