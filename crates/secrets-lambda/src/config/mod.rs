//! Function configuration from environment variables, read and checked once
//! at start-up. Every problem is reported at once, by variable name. The
//! token settings are in [`auth`].

mod auth;

use std::time::Duration;

use secrets_aws::dynamo::{DEFAULT_COUNT_SHARDS, MAX_COUNT_SHARDS};
use secrets_aws::sdk::CallTimeouts;
use secrets_domain::auth::AuthSettings;
use secrets_domain::deleted::{
    DEFAULT_RECOVERY_WINDOW_DAYS, MAX_RECOVERY_WINDOW_DAYS, RecoveryWindow,
};
use secrets_domain::ports::DEFAULT_MAX_SECRETS_PER_TENANT;
use secrets_domain::versions::{DEFAULT_VALUE_VERSIONS_KEPT, MAX_VALUE_VERSIONS_KEPT};

use crate::function::{Function, KmsUse};

pub use auth::*;

/// Where the audit trail goes, for the functions that keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    pub table_name: String,
    /// 0: records never expire.
    pub retention_days: u64,
}

/// The longest audit retention offered; 0 keeps records for ever.
pub const MAX_AUDIT_RETENTION_DAYS: u64 = 3650;

pub const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 2_000;
pub const DEFAULT_OPERATION_TIMEOUT_MS: u64 = 5_000;
/// Below the functions' 10 s timeout, so that a stuck call ends in a 503.
pub const MAX_CALL_TIMEOUT_MS: u64 = 9_000;

/// Beyond this, skipping to the deepest page could outlast the function.
pub const MAX_MAX_SECRETS_PER_TENANT: u64 = 250_000;

pub struct Config {
    pub table_name: String,
    pub max_secrets_per_tenant: u64,
    /// Fixed for a table's life: every function of a stack reads it from
    /// the same template parameter (docs/design.md, "Count shards").
    pub count_shards: u16,
    /// How many value versions each secret keeps (the newest).
    pub value_versions_kept: u64,
    /// How long a deleted secret stays recoverable; none deletes at once.
    pub recovery_window: RecoveryWindow,
    pub call_timeouts: CallTimeouts,
    /// Present exactly for the functions that seal values.
    pub kms_key_id: Option<String>,
    /// Present exactly for the function that fingerprints idempotent creates.
    pub mac_key_id: Option<String>,
    /// The reseal function (its `live` alias) a restore invokes: present
    /// exactly for the update function.
    pub reseal_function: Option<String>,
    /// The EventBridge bus change events go to (`EVENT_BUS_NAME`, default
    /// `default`): present exactly for the publish function.
    pub event_bus: Option<String>,
    /// Present exactly for the functions behind the public API.
    pub auth: Option<AuthSettings>,
    /// Present exactly for the functions that change or resolve secrets.
    pub audit: Option<AuditSettings>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .0.join("; "))]
pub struct ConfigError(pub Vec<String>);

impl Config {
    /// The settings `function` needs, from the environment.
    pub fn from_env(function: Function) -> Result<Self, ConfigError> {
        Self::from_lookup(function, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        function: Function,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut env = Variables {
            lookup,
            problems: Vec::new(),
        };
        // The reseal function only does cryptography: no table.
        let table_name = match function.uses_table() {
            true => env.required("TABLE_NAME"),
            false => String::new(),
        };
        let kms = function.kms();
        let kms_key_id = matches!(
            kms,
            KmsUse::Seal | KmsUse::SealAndFingerprint | KmsUse::Reseal
        )
        .then(|| env.required("KMS_KEY_ID"));
        let mac_key_id =
            (kms == KmsUse::SealAndFingerprint).then(|| env.required("IDEMPOTENCY_MAC_KEY_ID"));
        let reseal_function =
            (function == Function::UpdateSecret).then(|| env.required("RESEAL_FUNCTION_NAME"));
        let event_bus = (function == Function::PublishChanges).then(|| event_bus(&mut env));
        let audit = function.is_audited().then(|| AuditSettings {
            table_name: env.required("AUDIT_TABLE_NAME"),
            retention_days: env.number(
                "AUDIT_RETENTION_DAYS",
                0,
                0..=MAX_AUDIT_RETENTION_DAYS,
                "days",
            ),
        });
        let attempt_ms = env.number(
            "SDK_ATTEMPT_TIMEOUT_MS",
            DEFAULT_ATTEMPT_TIMEOUT_MS,
            100..=MAX_CALL_TIMEOUT_MS,
            "milliseconds",
        );
        let operation_ms = env.number(
            "SDK_OPERATION_TIMEOUT_MS",
            DEFAULT_OPERATION_TIMEOUT_MS,
            100..=MAX_CALL_TIMEOUT_MS,
            "milliseconds",
        );
        let max_secrets_per_tenant = env.number(
            "MAX_SECRETS_PER_TENANT",
            DEFAULT_MAX_SECRETS_PER_TENANT,
            1..=MAX_MAX_SECRETS_PER_TENANT,
            "secrets",
        );
        let count_shards = env.number(
            "COUNT_SHARDS",
            u64::from(DEFAULT_COUNT_SHARDS),
            1..=u64::from(MAX_COUNT_SHARDS),
            "shards",
        ) as u16;
        let value_versions_kept = env.number(
            "VALUE_VERSIONS_KEPT",
            DEFAULT_VALUE_VERSIONS_KEPT,
            1..=MAX_VALUE_VERSIONS_KEPT,
            "versions",
        );
        // Read by every function, used by the delete function's deletes.
        let recovery_window = RecoveryWindow::days(env.number(
            "RECOVERY_WINDOW_DAYS",
            DEFAULT_RECOVERY_WINDOW_DAYS,
            0..=MAX_RECOVERY_WINDOW_DAYS,
            "days",
        ));
        if attempt_ms > operation_ms {
            env.problems
                .push("SDK_ATTEMPT_TIMEOUT_MS must not exceed SDK_OPERATION_TIMEOUT_MS".to_owned());
        }
        let auth = if function.authenticates() {
            auth::settings(&mut env, function)
        } else {
            None
        };
        if !env.problems.is_empty() {
            return Err(ConfigError(env.problems));
        }
        Ok(Self {
            table_name,
            max_secrets_per_tenant,
            count_shards,
            value_versions_kept,
            recovery_window,
            call_timeouts: CallTimeouts {
                attempt: Duration::from_millis(attempt_ms),
                operation: Duration::from_millis(operation_ms),
            },
            kms_key_id,
            mac_key_id,
            reseal_function,
            event_bus,
            auth,
            audit,
        })
    }
}

/// A bus name or ARN, as EventBridge takes them; the default bus unless set.
fn event_bus<L: Fn(&str) -> Option<String>>(env: &mut Variables<L>) -> String {
    let bus = env
        .get("EVENT_BUS_NAME")
        .unwrap_or_else(|| "default".to_owned());
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-/:".contains(c);
    if bus.len() > 1600 || !bus.chars().all(allowed) {
        env.problems
            .push("EVENT_BUS_NAME must be an event bus name or ARN".to_owned());
    }
    bus
}

/// The environment being read, and every problem found in it so far.
pub(crate) struct Variables<L> {
    lookup: L,
    pub(crate) problems: Vec<String>,
}

impl<L: Fn(&str) -> Option<String>> Variables<L> {
    /// Blank counts as unset.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    pub(crate) fn required(&mut self, name: &str) -> String {
        self.get(name).unwrap_or_else(|| {
            self.problems.push(format!("{name} is required"));
            String::new()
        })
    }

    pub(crate) fn number(
        &mut self,
        name: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
        unit: &str,
    ) -> u64 {
        let Some(raw) = self.get(name) else {
            return default;
        };
        match raw.parse::<u64>() {
            Ok(value) if range.contains(&value) => value,
            _ => {
                self.problems.push(format!(
                    "{name} must be a whole number of {unit} from {} to {}",
                    range.start(),
                    range.end()
                ));
                default
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrets_domain::auth::Authenticator;

    use super::*;

    pub(super) fn config(function: Function, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Config::from_lookup(function, |name| vars.get(name).cloned())
    }

    pub(super) const BASE: &[(&str, &str)] = &[
        ("TABLE_NAME", "secrets"),
        ("JWT_ISSUER", "https://issuer.test"),
        ("JWT_AUDIENCE", "cortex-secrets"),
        ("JWT_HS256_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    #[test]
    fn a_minimal_reader_configuration_uses_the_defaults() {
        let config = config(Function::GetSecret, BASE).unwrap();
        assert_eq!(config.table_name, "secrets");
        assert!(config.kms_key_id.is_none());
        assert_eq!(config.auth.as_ref().unwrap().permission, "CREATE_SECRETS");
        assert_eq!(config.auth.as_ref().unwrap().tenant_claim, "tenant");
        assert_eq!(config.auth.as_ref().unwrap().leeway_secs, 5);
        assert_eq!(config.max_secrets_per_tenant, 100_000);
        assert_eq!(config.count_shards, 16);
        assert_eq!(config.value_versions_kept, 10);
        assert_eq!(config.recovery_window, RecoveryWindow::days(7));
        assert_eq!(
            config.call_timeouts,
            CallTimeouts {
                attempt: Duration::from_secs(2),
                operation: Duration::from_secs(5)
            }
        );
        assert!(config.auth.as_ref().unwrap().algorithms.is_none());
        assert!(Authenticator::new(config.auth.unwrap(), |_| Err("no JWKS".into())).is_ok());
    }

    #[test]
    fn writers_need_a_kms_key_and_an_audit_table() {
        let error = config(Function::UpdateSecret, BASE).err().unwrap();
        assert_eq!(
            error.to_string(),
            "invalid configuration: KMS_KEY_ID is required; RESEAL_FUNCTION_NAME is required; \
             AUDIT_TABLE_NAME is required"
        );
        let mut vars = BASE.to_vec();
        vars.extend([
            ("KMS_KEY_ID", "alias/cortex-secrets"),
            ("RESEAL_FUNCTION_NAME", "reseal-secret"),
            ("AUDIT_TABLE_NAME", "audit"),
            ("AUDIT_RETENTION_DAYS", "400"),
        ]);
        assert_eq!(
            config(Function::UpdateSecret, &vars).unwrap().audit,
            Some(AuditSettings {
                table_name: "audit".into(),
                retention_days: 400
            })
        );
        assert_eq!(
            config(Function::UpdateSecret, &vars)
                .unwrap()
                .kms_key_id
                .as_deref(),
            Some("alias/cortex-secrets")
        );
        assert_eq!(
            config(Function::UpdateSecret, &vars).unwrap().mac_key_id,
            None
        );

        // Create also fingerprints idempotent requests, with its HMAC key.
        let error = config(Function::CreateSecret, &vars).err().unwrap();
        assert_eq!(
            error.to_string(),
            "invalid configuration: IDEMPOTENCY_MAC_KEY_ID is required"
        );
        vars.push(("IDEMPOTENCY_MAC_KEY_ID", "alias/cortex-secrets-idempotency"));
        assert_eq!(
            config(Function::CreateSecret, &vars)
                .unwrap()
                .mac_key_id
                .as_deref(),
            Some("alias/cortex-secrets-idempotency")
        );
    }

    #[test]
    fn every_problem_is_reported_by_name() {
        let error = config(
            Function::UpdateSecret,
            &[
                ("JWT_HS256_SECRET", "x"),
                ("JWT_JWKS_URL", "https://issuer.test/jwks"),
                ("JWT_LEEWAY_SECONDS", "600"),
                ("JWT_ALGORITHMS", "HS256,none"),
                ("SDK_ATTEMPT_TIMEOUT_MS", "9000"),
                ("SDK_OPERATION_TIMEOUT_MS", "20000"),
                ("COUNT_SHARDS", "0"),
                ("VALUE_VERSIONS_KEPT", "41"),
                ("RECOVERY_WINDOW_DAYS", "31"),
            ],
        )
        .err()
        .unwrap()
        .to_string();
        for expected in [
            "TABLE_NAME is required",
            "JWT_ISSUER is required",
            "JWT_AUDIENCE is required",
            "KMS_KEY_ID is required",
            "AUDIT_TABLE_NAME is required",
            "exactly one of JWT_HS256_SECRET",
            "JWT_LEEWAY_SECONDS must be",
            "unknown algorithm `none`",
            "SDK_OPERATION_TIMEOUT_MS must be a whole number of milliseconds from 100 to 9000",
            "COUNT_SHARDS must be a whole number of shards from 1 to 256",
            "VALUE_VERSIONS_KEPT must be a whole number of versions from 1 to 40",
            "RECOVERY_WINDOW_DAYS must be a whole number of days from 0 to 30",
        ] {
            assert!(error.contains(expected), "{expected} missing from: {error}");
        }
    }

    #[test]
    fn the_resolve_function_needs_no_token_settings_and_no_key() {
        let vars = [("TABLE_NAME", "secrets"), ("AUDIT_TABLE_NAME", "audit")];
        let resolver = config(Function::ResolveSecret, &vars).unwrap();
        assert!(resolver.auth.is_none());
        assert!(resolver.kms_key_id.is_none());
        assert_eq!(resolver.audit.unwrap().retention_days, 0);
        let error = config(Function::ResolveSecret, &[]).err().unwrap();
        assert_eq!(
            error.to_string(),
            "invalid configuration: TABLE_NAME is required; AUDIT_TABLE_NAME is required"
        );
        assert!(config(Function::GetSecret, BASE).unwrap().audit.is_none());
    }
}
