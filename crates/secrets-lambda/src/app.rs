//! What a function builds once per cold start and lends to every request.

use lambda_http::Error as LambdaError;
use lambda_http::Request;
use secrets_aws::dynamo::DynamoStore;
use secrets_aws::event_bus::EventBus;
use secrets_aws::jwks::HttpJwks;
use secrets_aws::metrics::CallCounter;
use secrets_aws::sdk;
use secrets_domain::Result;
use secrets_domain::audit::{Actor, Trail};
use secrets_domain::auth::{AuthSettings, Authenticator, Caller};
use secrets_domain::error::Error;
use secrets_domain::operation::Operation;
use secrets_domain::service::Secrets;

use crate::config::Config;
use crate::exchange::Exchange;
use crate::function::Function;
use crate::function_keys::{FunctionKeys, KeyClients};
use crate::request::{authorization, request_id};

pub struct App<S, K = ()> {
    pub(crate) function: Function,
    pub secrets: Secrets<S, K>,
    /// `None` exactly for the function behind an IAM route (resolve):
    /// API Gateway verifies its callers' signatures.
    auth: Option<Authenticator>,
    /// Records the AWS usage of each invocation, for its metrics.
    pub(crate) usage: CallCounter,
    /// The deployed function's name, the dimension of the stack's alarms
    /// on its metrics.
    pub(crate) function_name: String,
}

impl<S, K> App<S, K> {
    /// An app over any store and keys (tests use in-memory ones).
    pub fn new(function: Function, secrets: Secrets<S, K>, auth: Option<Authenticator>) -> Self {
        Self {
            function,
            secrets,
            auth,
            usage: CallCounter::default(),
            function_name: function.name().to_owned(),
        }
    }

    pub fn function(&self) -> Function {
        self.function
    }

    /// Starts the handling of an HTTP request for the function's operation.
    pub fn exchange(&self, request: &Request) -> Exchange<'_, S, K> {
        self.exchange_as(request, self.function.operation())
    }

    /// Starts the handling of an HTTP request for another operation this
    /// function serves on a route of its own: logged, measured and
    /// recorded under that operation's name.
    pub fn exchange_as(&self, request: &Request, operation: Operation) -> Exchange<'_, S, K> {
        debug_assert!(self.function.operations().contains(&operation));
        Exchange::begin(self, request_id(request), operation)
    }

    /// The caller of a request, if its token verifies and grants the
    /// permission.
    pub async fn authenticate(&self, request: &Request) -> Result<Caller> {
        self.authenticator()?
            .authenticate(authorization(request))
            .await
    }

    /// Authenticates the caller of an audited operation, noting them in
    /// its trail before the permission is checked, so that a 403 is
    /// recorded under the caller's tenant too.
    pub async fn actor(&self, request: &Request, trail: &mut Trail) -> Result<Actor> {
        let identified = self
            .authenticator()?
            .identify(authorization(request))
            .await?;
        let actor = trail.actor(&identified.caller.tenant, &identified.caller.subject);
        identified.authorize()?;
        Ok(actor)
    }

    fn authenticator(&self) -> Result<&Authenticator> {
        self.auth.as_ref().ok_or(Error::Internal {
            context: "authenticating a request",
            source: Some("this function has no token settings".into()),
        })
    }
}

/// The app of a function behind a route, on AWS, with the keys `K` its
/// handler takes (`()` for the functions that use no KMS key) and a token
/// verifier.
pub async fn start<K: FunctionKeys>(
    function: Function,
) -> std::result::Result<App<DynamoStore, K>, LambdaError> {
    if !function.authenticates() {
        return Err(invalid(format!(
            "{} is behind an IAM route: start it with start_signed",
            function.name()
        )));
    }
    assemble(function, |settings| {
        Authenticator::new(settings, HttpJwks::connect)
    })
    .await
}

/// The app of a function behind an `AWS_IAM` route: API Gateway verifies
/// its callers, so it has no token verifier, nor the code of one.
pub async fn start_signed<K: FunctionKeys>(
    function: Function,
) -> std::result::Result<App<DynamoStore, K>, LambdaError> {
    if function.authenticates() {
        return Err(invalid(format!(
            "{} verifies tokens: start it with start",
            function.name()
        )));
    }
    assemble(function, |_| {
        Err("a function behind an IAM route verifies no tokens".to_owned())
    })
    .await
}

/// A function with no HTTP route and no table (the reseal function): its
/// keys, and what measures its invocations.
pub struct KeysOnly<K> {
    pub keys: K,
    pub usage: CallCounter,
    pub function_name: String,
}

/// The keys of a function that serves no HTTP route and uses no table (the
/// reseal function): logging, its configuration, the KMS client, once.
pub async fn start_keys<K: FunctionKeys>(
    function: Function,
) -> std::result::Result<KeysOnly<K>, LambdaError> {
    crate::logging::init();
    let config = Config::from_env(function).map_err(|error| cannot_start(error.to_string()))?;
    let sdk = sdk::load(config.call_timeouts).await;
    let usage = CallCounter::default();
    let clients = KeyClients {
        sdk: &sdk,
        usage: &usage,
    };
    let keys = K::start(function, &config, &clients).map_err(invalid)?;
    Ok(KeysOnly {
        keys,
        usage,
        function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .unwrap_or_else(|_| function.name().to_owned()),
    })
}

/// The bus of the function that publishes change events from the audit
/// table's stream: logging, its configuration, the EventBridge client,
/// once.
pub async fn start_events(function: Function) -> std::result::Result<EventBus, LambdaError> {
    crate::logging::init();
    let config = Config::from_env(function).map_err(|error| cannot_start(error.to_string()))?;
    let Some(bus) = config.event_bus else {
        return Err(invalid(format!("{} publishes no events", function.name())));
    };
    let sdk = sdk::load(config.call_timeouts).await;
    let client = sdk::eventbridge_client(&sdk, &CallCounter::default());
    Ok(EventBus::new(client, bus))
}

/// Logging first, so that a configuration error is reported; then the
/// configuration `function` needs, checked as a whole; then the AWS
/// clients, the keys and the token verifier, each once. `verifier` is
/// generic so that a function that verifies no tokens links no verifier.
async fn assemble<K: FunctionKeys>(
    function: Function,
    verifier: impl FnOnce(AuthSettings) -> std::result::Result<Authenticator, String>,
) -> std::result::Result<App<DynamoStore, K>, LambdaError> {
    crate::logging::init();
    // Its message already says "invalid configuration".
    let config = Config::from_env(function).map_err(|error| cannot_start(error.to_string()))?;
    let sdk = sdk::load(config.call_timeouts).await;
    let usage = CallCounter::default();
    let mut store = DynamoStore::new(sdk::dynamodb_client(&sdk, &usage), &config.table_name)
        .with_max_secrets(config.max_secrets_per_tenant)
        .with_count_shards(config.count_shards)
        .with_versions_kept(config.value_versions_kept);
    if let Some(audit) = &config.audit {
        store = store.with_audit_table(&audit.table_name, audit.retention_days);
    }
    let clients = KeyClients {
        sdk: &sdk,
        usage: &usage,
    };
    let keys = K::start(function, &config, &clients).map_err(invalid)?;
    let auth = config.auth.map(verifier).transpose().map_err(invalid)?;
    Ok(App {
        function,
        secrets: Secrets::new(store, keys).with_recovery_window(config.recovery_window),
        auth,
        usage,
        // Lambda sets it; elsewhere (the bench's runtime) the binary's name.
        function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .unwrap_or_else(|_| function.name().to_owned()),
    })
}

fn invalid(problem: String) -> LambdaError {
    cannot_start(format!("invalid configuration: {problem}"))
}

fn cannot_start(message: String) -> LambdaError {
    tracing::error!(error = %message, "cannot start");
    LambdaError::from(message)
}
