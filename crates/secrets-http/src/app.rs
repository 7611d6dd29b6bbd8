//! What a function builds once per cold start and lends to every request.

use std::convert::Infallible;
use std::future::Future;

use aws_config::BehaviorVersion;
use lambda_http::lambda_runtime::{self, Context, Diagnostic, LambdaEvent};
use lambda_http::{Body, Error as LambdaError, Request, Response, service_fn};
use secrets_core::Result;
use secrets_core::audit::{Actor, Trail};
use secrets_core::auth::{Authenticator, Caller};
use secrets_core::aws::{retry_config, timeout_config};
use secrets_core::config::{Access, Config};
use secrets_core::dynamo::DynamoStore;
use secrets_core::kms::KmsDataKeys;
use secrets_core::metrics::CallCounter;
use secrets_core::service::Secrets;

use crate::request::authorization;
use crate::response::Exchange;

pub struct App<S, K = ()> {
    pub secrets: Secrets<S, K>,
    pub auth: Authenticator,
    /// Records the AWS usage of each invocation, for its metrics.
    usage: CallCounter,
}

impl<S, K> App<S, K> {
    pub fn new(secrets: Secrets<S, K>, auth: Authenticator) -> Self {
        Self {
            secrets,
            auth,
            usage: CallCounter::default(),
        }
    }

    /// Starts the handling of one request: its log line and metrics.
    pub fn exchange(&self, request: &Request, operation: &'static str) -> Exchange<'_> {
        Exchange::begin(request, operation, &self.usage)
    }

    pub async fn authenticate(&self, request: &Request) -> Result<Caller> {
        self.auth.authenticate(authorization(request)).await
    }

    /// Authenticates the caller of an audited operation, noting them in
    /// its trail before the permission is checked, so that a 403 is
    /// recorded under the caller's tenant too.
    pub async fn actor(&self, request: &Request, trail: &mut Trail) -> Result<Actor> {
        let identified = self.auth.identify(authorization(request)).await?;
        let actor = trail.actor(
            &identified.caller.tenant,
            identified.caller.subject.as_deref(),
        );
        identified.authorize()?;
        Ok(actor)
    }
}

impl App<DynamoStore> {
    /// The app of a function that only reads metadata: no KMS client, no
    /// KMS key, no way to call create or update, no audit trail.
    pub async fn read_only() -> std::result::Result<Self, LambdaError> {
        Self::without_keys(Access::ReadOnly).await
    }

    /// The app of delete: audited, but still without any KMS access.
    pub async fn deleting() -> std::result::Result<Self, LambdaError> {
        Self::without_keys(Access::Change).await
    }

    async fn without_keys(access: Access) -> std::result::Result<Self, LambdaError> {
        let (config, sdk) = start(access).await?;
        let usage = CallCounter::default();
        let store = store(&config, &sdk, &usage);
        let secrets = Secrets::new(store, ());
        Ok(Self {
            secrets,
            auth: authenticator(config)?,
            usage,
        })
    }
}

impl App<DynamoStore, KmsDataKeys> {
    /// The app of update: seals values under the KMS key.
    pub async fn read_write() -> std::result::Result<Self, LambdaError> {
        Self::with_keys(Access::ReadWrite).await
    }

    /// The app of create: seals values, and fingerprints idempotent creates.
    pub async fn creating() -> std::result::Result<Self, LambdaError> {
        Self::with_keys(Access::Create).await
    }

    async fn with_keys(access: Access) -> std::result::Result<Self, LambdaError> {
        let (config, sdk) = start(access).await?;
        let usage = CallCounter::default();
        let store = store(&config, &sdk, &usage);
        let key_id = config.kms_key_id.clone().unwrap_or_default();
        let mut keys = KmsDataKeys::new(kms_client(&sdk, &usage), key_id);
        if let Some(mac_key_id) = &config.mac_key_id {
            keys = keys.with_mac_key(mac_key_id);
        }
        let secrets = Secrets::new(store, keys);
        Ok(Self {
            secrets,
            auth: authenticator(config)?,
            usage,
        })
    }
}

/// Logging first, so that a configuration error is reported; then the
/// configuration, checked as a whole; then the shared SDK configuration.
async fn start(
    access: Access,
) -> std::result::Result<(Config, aws_config::SdkConfig), LambdaError> {
    crate::logging::init();
    let config =
        Config::from_env(access).inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeout_config(config.call_timeouts))
        .retry_config(retry_config())
        .load()
        .await;
    Ok((config, sdk))
}

fn store(config: &Config, sdk: &aws_config::SdkConfig, usage: &CallCounter) -> DynamoStore {
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(usage.clone())
        .build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(dynamodb),
        &config.table_name,
    )
    .with_max_secrets(config.max_secrets_per_tenant);
    match &config.audit {
        Some(audit) => store.with_audit_table(&audit.table_name, audit.retention_days),
        None => store,
    }
}

fn kms_client(sdk: &aws_config::SdkConfig, usage: &CallCounter) -> aws_sdk_kms::Client {
    let kms = aws_sdk_kms::config::Builder::from(sdk)
        .interceptor(usage.clone())
        .build();
    aws_sdk_kms::Client::from_conf(kms)
}

fn authenticator(config: Config) -> std::result::Result<Authenticator, LambdaError> {
    let settings = config
        .auth
        .ok_or_else(|| LambdaError::from("a public API function needs token settings"))?;
    Authenticator::new(settings).map_err(|problem| {
        tracing::error!(error = %problem, "cannot start");
        LambdaError::from(format!("invalid configuration: {problem}"))
    })
}

/// What the resolve function builds once per cold start: no authenticator
/// (IAM is its only door), a key source that can only unwrap.
pub struct Resolver<S, K> {
    pub secrets: Secrets<S, K>,
    usage: CallCounter,
}

impl<S, K> Resolver<S, K> {
    pub fn new(secrets: Secrets<S, K>) -> Self {
        Self {
            secrets,
            usage: CallCounter::default(),
        }
    }

    /// Starts the handling of one invocation: its log line and metrics.
    pub fn exchange(&self, context: &Context, operation: &'static str) -> Exchange<'_> {
        Exchange::begin_invocation(context.request_id.clone(), operation, &self.usage)
    }
}

impl Resolver<DynamoStore, KmsDataKeys> {
    pub async fn from_env() -> std::result::Result<Self, LambdaError> {
        let (config, sdk) = start(Access::Resolve).await?;
        let usage = CallCounter::default();
        let store = store(&config, &sdk, &usage);
        let keys = KmsDataKeys::unwrap_only(kms_client(&sdk, &usage));
        Ok(Self {
            secrets: Secrets::new(store, keys),
            usage,
        })
    }
}

/// Runs the Lambda loop of a directly invoked function: JSON event in,
/// JSON answer or function error out. Leaked as in [`serve`].
pub async fn serve_invocations<S, K, H, F, T>(
    app: Resolver<S, K>,
    handler: H,
) -> std::result::Result<(), LambdaError>
where
    S: Send + Sync + 'static,
    K: Send + Sync + 'static,
    H: Fn(&'static Resolver<S, K>, LambdaEvent<serde_json::Value>) -> F,
    F: Future<Output = std::result::Result<T, Diagnostic>> + Send + 'static,
    T: serde::Serialize,
{
    let app: &'static Resolver<S, K> = Box::leak(Box::new(app));
    // Boxed: the runtime's layered future is too deep a type for the
    // compiler to lay out inline in the caller's `main`.
    Box::pin(lambda_runtime::run(service_fn(move |event| {
        handler(app, event)
    })))
    .await
}

/// Runs the Lambda loop with `handler`. The app is leaked on purpose: it
/// lives exactly as long as the process, and a `'static` borrow lets every
/// invocation use the same clients without reference counting.
pub async fn serve<S, K, H, F>(app: App<S, K>, handler: H) -> std::result::Result<(), LambdaError>
where
    S: Send + Sync + 'static,
    K: Send + Sync + 'static,
    H: Fn(&'static App<S, K>, Request) -> F,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let app: &'static App<S, K> = Box::leak(Box::new(app));
    lambda_http::run(service_fn(move |request| {
        let response = handler(app, request);
        async move { Ok::<_, Infallible>(response.await) }
    }))
    .await
}
