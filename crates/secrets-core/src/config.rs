//! Function configuration from environment variables, read and checked once
//! at start-up. Every problem is reported at once, by variable name.

use std::str::FromStr;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use zeroize::Zeroizing;

use crate::auth::{AuthSettings, KeySource};
use crate::store::DEFAULT_MAX_SECRETS_PER_TENANT;

pub const DEFAULT_PERMISSION: &str = "CREATE_SECRETS";
pub const DEFAULT_TENANT_CLAIM: &str = "tenant";
pub const DEFAULT_LEEWAY_SECS: u64 = 5;
/// Clock skew beyond this is a clock to fix, not a leeway to grant.
pub const MAX_LEEWAY_SECS: u64 = 30;
pub const DEFAULT_JWKS_MIN_REFRESH_SECS: u64 = 60;
pub const DEFAULT_JWKS_MAX_AGE_SECS: u64 = 3600;

/// Whether the function writes secret values (and so needs a KMS key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// Bounds on each AWS call: one attempt, and the call with its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallTimeouts {
    pub attempt: Duration,
    pub operation: Duration,
}

pub const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 2_000;
pub const DEFAULT_OPERATION_TIMEOUT_MS: u64 = 5_000;
/// Below the functions' 10 s timeout, so that a stuck call ends in a 503.
pub const MAX_CALL_TIMEOUT_MS: u64 = 9_000;

/// Beyond this, skipping to the deepest page could outlast the function.
pub const MAX_MAX_SECRETS_PER_TENANT: u64 = 250_000;

pub struct Config {
    pub table_name: String,
    pub max_secrets_per_tenant: u64,
    pub call_timeouts: CallTimeouts,
    /// Present exactly for `Access::ReadWrite`.
    pub kms_key_id: Option<String>,
    pub auth: AuthSettings,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .0.join("; "))]
pub struct ConfigError(pub Vec<String>);

impl Config {
    pub fn from_env(access: Access) -> Result<Self, ConfigError> {
        Self::from_lookup(access, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        access: Access,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let mut required = |name: &str| {
            get(name).unwrap_or_else(|| {
                problems.push(format!("{name} is required"));
                String::new()
            })
        };
        let table_name = required("TABLE_NAME");
        let issuer = required("JWT_ISSUER");
        let audience = required("JWT_AUDIENCE");
        let kms_key_id = match access {
            Access::ReadWrite => Some(required("KMS_KEY_ID")),
            Access::ReadOnly => None,
        };

        let mut number = |name: &str,
                          default: u64,
                          range: std::ops::RangeInclusive<u64>,
                          unit: &str| match get(name) {
            None => default,
            Some(raw) => match raw.parse::<u64>() {
                Ok(value) if range.contains(&value) => value,
                _ => {
                    problems.push(format!(
                        "{name} must be a whole number of {unit} from {} to {}",
                        range.start(),
                        range.end()
                    ));
                    default
                }
            },
        };
        let leeway_secs = number(
            "JWT_LEEWAY_SECONDS",
            DEFAULT_LEEWAY_SECS,
            0..=MAX_LEEWAY_SECS,
            "seconds",
        );
        let min_refresh = number(
            "JWT_JWKS_MIN_REFRESH_SECONDS",
            DEFAULT_JWKS_MIN_REFRESH_SECS,
            0..=86_400,
            "seconds",
        );
        let max_age = number(
            "JWT_JWKS_MAX_AGE_SECONDS",
            DEFAULT_JWKS_MAX_AGE_SECS,
            0..=7 * 86_400,
            "seconds",
        );
        let attempt_ms = number(
            "SDK_ATTEMPT_TIMEOUT_MS",
            DEFAULT_ATTEMPT_TIMEOUT_MS,
            100..=MAX_CALL_TIMEOUT_MS,
            "milliseconds",
        );
        let operation_ms = number(
            "SDK_OPERATION_TIMEOUT_MS",
            DEFAULT_OPERATION_TIMEOUT_MS,
            100..=MAX_CALL_TIMEOUT_MS,
            "milliseconds",
        );
        let max_secrets_per_tenant = number(
            "MAX_SECRETS_PER_TENANT",
            DEFAULT_MAX_SECRETS_PER_TENANT,
            1..=MAX_MAX_SECRETS_PER_TENANT,
            "secrets",
        );
        if attempt_ms > operation_ms {
            problems
                .push("SDK_ATTEMPT_TIMEOUT_MS must not exceed SDK_OPERATION_TIMEOUT_MS".to_owned());
        }

        let key_sources: Vec<KeySource> = [
            get("JWT_HS256_SECRET")
                .map(|secret| KeySource::SharedSecret(Zeroizing::new(secret.into_bytes()))),
            get("JWT_PUBLIC_KEY_PEM").map(KeySource::PublicKeyPem),
            get("JWT_JWKS_URL").map(|url| KeySource::Jwks {
                url,
                min_refresh_interval: Duration::from_secs(min_refresh),
                max_age: Duration::from_secs(max_age),
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        let key_source = match <[KeySource; 1]>::try_from(key_sources) {
            Ok([KeySource::Jwks { url, .. }])
                if !(url.starts_with("https://") || url.starts_with("http://")) =>
            {
                problems.push("JWT_JWKS_URL must be an http(s) URL".to_owned());
                None
            }
            Ok([source]) => Some(source),
            Err(_) => {
                problems.push(
                    "set exactly one of JWT_HS256_SECRET, JWT_PUBLIC_KEY_PEM and JWT_JWKS_URL"
                        .to_owned(),
                );
                None
            }
        };

        let algorithms = get("JWT_ALGORITHMS").map(|list| {
            list.split(',')
                .map(str::trim)
                .filter_map(|name| match Algorithm::from_str(name) {
                    Ok(algorithm) => Some(algorithm),
                    Err(_) => {
                        problems.push(format!("JWT_ALGORITHMS: unknown algorithm `{name}`"));
                        None
                    }
                })
                .collect()
        });

        let (Some(keys), true) = (key_source, problems.is_empty()) else {
            return Err(ConfigError(problems));
        };
        Ok(Self {
            table_name,
            max_secrets_per_tenant,
            call_timeouts: CallTimeouts {
                attempt: Duration::from_millis(attempt_ms),
                operation: Duration::from_millis(operation_ms),
            },
            kms_key_id,
            auth: AuthSettings {
                issuer,
                audience,
                algorithms,
                keys,
                permission: get("JWT_PERMISSION").unwrap_or_else(|| DEFAULT_PERMISSION.to_owned()),
                tenant_claim: get("JWT_TENANT_CLAIM")
                    .unwrap_or_else(|| DEFAULT_TENANT_CLAIM.to_owned()),
                leeway_secs,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::auth::Authenticator;

    fn config(access: Access, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Config::from_lookup(access, |name| vars.get(name).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        ("TABLE_NAME", "secrets"),
        ("JWT_ISSUER", "https://issuer.test"),
        ("JWT_AUDIENCE", "cortex-secrets"),
        ("JWT_HS256_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    #[test]
    fn a_minimal_reader_configuration_uses_the_defaults() {
        let config = config(Access::ReadOnly, BASE).unwrap();
        assert_eq!(config.table_name, "secrets");
        assert!(config.kms_key_id.is_none());
        assert_eq!(config.auth.permission, "CREATE_SECRETS");
        assert_eq!(config.auth.tenant_claim, "tenant");
        assert_eq!(config.auth.leeway_secs, 5);
        assert_eq!(config.max_secrets_per_tenant, 100_000);
        assert_eq!(
            config.call_timeouts,
            CallTimeouts {
                attempt: Duration::from_secs(2),
                operation: Duration::from_secs(5)
            }
        );
        assert!(config.auth.algorithms.is_none());
        assert!(Authenticator::new(config.auth).is_ok());
    }

    #[test]
    fn writers_need_a_kms_key() {
        let error = config(Access::ReadWrite, BASE).err().unwrap();
        assert_eq!(
            error.to_string(),
            "invalid configuration: KMS_KEY_ID is required"
        );
        let mut vars = BASE.to_vec();
        vars.push(("KMS_KEY_ID", "alias/cortex-secrets"));
        assert_eq!(
            config(Access::ReadWrite, &vars)
                .unwrap()
                .kms_key_id
                .as_deref(),
            Some("alias/cortex-secrets")
        );
    }

    #[test]
    fn every_problem_is_reported_by_name() {
        let error = config(
            Access::ReadWrite,
            &[
                ("JWT_HS256_SECRET", "x"),
                ("JWT_JWKS_URL", "https://issuer.test/jwks"),
                ("JWT_LEEWAY_SECONDS", "600"),
                ("JWT_ALGORITHMS", "HS256,none"),
                ("SDK_ATTEMPT_TIMEOUT_MS", "9000"),
                ("SDK_OPERATION_TIMEOUT_MS", "20000"),
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
            "exactly one of JWT_HS256_SECRET",
            "JWT_LEEWAY_SECONDS must be",
            "unknown algorithm `none`",
            "SDK_OPERATION_TIMEOUT_MS must be a whole number of milliseconds from 100 to 9000",
        ] {
            assert!(error.contains(expected), "{expected} missing from: {error}");
        }
    }

    #[test]
    fn jwks_settings_are_read() {
        let mut vars: Vec<_> = BASE
            .iter()
            .filter(|(k, _)| *k != "JWT_HS256_SECRET")
            .copied()
            .collect();
        vars.extend([
            ("JWT_JWKS_URL", "https://issuer.test/.well-known/jwks.json"),
            ("JWT_JWKS_MIN_REFRESH_SECONDS", "30"),
            ("JWT_ALGORITHMS", "RS256"),
        ]);
        let config = config(Access::ReadOnly, &vars).unwrap();
        assert!(matches!(
            config.auth.keys,
            KeySource::Jwks { min_refresh_interval, .. } if min_refresh_interval == Duration::from_secs(30)
        ));
        assert_eq!(config.auth.algorithms, Some(vec![Algorithm::RS256]));
    }
}
