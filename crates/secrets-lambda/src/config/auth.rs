//! The token settings of the functions behind the public API: issuer,
//! audience, keys, algorithms, token types, the permission this function
//! asks for, and how long JWKS keys are believed.

use std::str::FromStr;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use zeroize::Zeroizing;

use secrets_domain::auth::{AuthSettings, JwksTiming, KeySource};
use secrets_domain::operation::Operation;

use super::Variables;
use crate::function::Function;

pub const DEFAULT_PERMISSION: &str = "CREATE_SECRETS";
pub const DEFAULT_TENANT_CLAIM: &str = "tenant";
pub const DEFAULT_LEEWAY_SECS: u64 = 5;
/// Clock skew beyond this is a clock to fix, not a leeway to grant.
pub const MAX_LEEWAY_SECS: u64 = 30;
pub const DEFAULT_JWKS_MIN_REFRESH_SECS: u64 = 60;
/// Below this, a flood of unknown `kid`s becomes a flood on the issuer.
pub const MIN_JWKS_MIN_REFRESH_SECS: u64 = 5;
pub const DEFAULT_JWKS_MAX_AGE_SECS: u64 = 3600;
/// Below this, every warm instance asks the issuer every minute.
pub const MIN_JWKS_MAX_AGE_SECS: u64 = 60;
/// A day: long enough to ride out an issuer's outage of hours, short enough
/// that a withdrawn key stops verifying the same day (docs/design.md).
pub const DEFAULT_JWKS_HARD_MAX_AGE_SECS: u64 = 86_400;
pub const MAX_JWKS_HARD_MAX_AGE_SECS: u64 = 7 * 86_400;

/// Which permission variable a function's operation reads: the contract
/// has one permission for everything, which stays the default of each.
fn permission_variable(function: Function) -> Option<&'static str> {
    match function.operation() {
        Operation::List | Operation::Get | Operation::ListVersions | Operation::ListDeleted => {
            Some("JWT_READ_PERMISSION")
        }
        Operation::Create | Operation::Update | Operation::RestoreVersion => {
            Some("JWT_CHANGE_PERMISSION")
        }
        // Who may delete may undo a delete.
        Operation::Delete | Operation::RecoverDeleted => Some("JWT_DELETE_PERMISSION"),
        Operation::Resolve | Operation::Reseal | Operation::PublishChanges => None,
    }
}

/// The token settings; `None` (with the problems noted) when unusable.
pub(super) fn settings<L: Fn(&str) -> Option<String>>(
    env: &mut Variables<L>,
    function: Function,
) -> Option<AuthSettings> {
    let issuer = env.required("JWT_ISSUER");
    let audience = env.required("JWT_AUDIENCE");
    let leeway_secs = env.number(
        "JWT_LEEWAY_SECONDS",
        DEFAULT_LEEWAY_SECS,
        0..=MAX_LEEWAY_SECS,
        "seconds",
    );
    let keys = key_source(env);
    let algorithms = env.get("JWT_ALGORITHMS").map(|list| {
        list.split(',')
            .map(str::trim)
            .filter_map(|name| match Algorithm::from_str(name) {
                Ok(algorithm) => Some(algorithm),
                Err(_) => {
                    env.problems
                        .push(format!("JWT_ALGORITHMS: unknown algorithm `{name}`"));
                    None
                }
            })
            .collect()
    });
    let types = env.get("JWT_TYPES").map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|typ| !typ.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    let default_permission = env
        .get("JWT_PERMISSION")
        .unwrap_or_else(|| DEFAULT_PERMISSION.to_owned());
    let permission = permission_variable(function)
        .and_then(|name| env.get(name))
        .unwrap_or(default_permission);
    Some(AuthSettings {
        issuer,
        audience,
        algorithms,
        keys: keys?,
        permission,
        tenant_claim: env
            .get("JWT_TENANT_CLAIM")
            .unwrap_or_else(|| DEFAULT_TENANT_CLAIM.to_owned()),
        leeway_secs,
        types,
    })
}

/// Exactly one of the three key settings.
fn key_source<L: Fn(&str) -> Option<String>>(env: &mut Variables<L>) -> Option<KeySource> {
    // Read only for a JWKS: the template sets the timings for every key source.
    let jwks = env.get("JWT_JWKS_URL").map(|url| (url, jwks_timing(env)));
    let sources: Vec<KeySource> = [
        env.get("JWT_HS256_SECRET")
            .map(|secret| KeySource::SharedSecret(Zeroizing::new(secret.into_bytes()))),
        env.get("JWT_PUBLIC_KEY_PEM").map(KeySource::PublicKeyPem),
        jwks.map(|(url, timing)| KeySource::Jwks { url, timing }),
    ]
    .into_iter()
    .flatten()
    .collect();
    // Keys fetched over plain HTTP are keys anyone on the path can replace;
    // only a local stack, saying so, may use them.
    let plain_http_allowed = env.get("JWT_JWKS_ALLOW_HTTP").as_deref() == Some("true");
    match <[KeySource; 1]>::try_from(sources) {
        Ok([KeySource::Jwks { url, .. }])
            if !(url.starts_with("https://")
                || plain_http_allowed && url.starts_with("http://")) =>
        {
            env.problems.push(
                "JWT_JWKS_URL must be an https URL (http only with JWT_JWKS_ALLOW_HTTP=true, for a local stack)"
                    .to_owned(),
            );
            None
        }
        Ok([source]) => Some(source),
        Err(_) => {
            env.problems.push(
                "set exactly one of JWT_HS256_SECRET, JWT_PUBLIC_KEY_PEM and JWT_JWKS_URL"
                    .to_owned(),
            );
            None
        }
    }
}

fn jwks_timing<L: Fn(&str) -> Option<String>>(env: &mut Variables<L>) -> JwksTiming {
    let min_refresh = env.number(
        "JWT_JWKS_MIN_REFRESH_SECONDS",
        DEFAULT_JWKS_MIN_REFRESH_SECS,
        MIN_JWKS_MIN_REFRESH_SECS..=3600,
        "seconds",
    );
    let max_age = env.number(
        "JWT_JWKS_MAX_AGE_SECONDS",
        DEFAULT_JWKS_MAX_AGE_SECS,
        MIN_JWKS_MAX_AGE_SECS..=86_400,
        "seconds",
    );
    let hard_max_age = env.number(
        "JWT_JWKS_HARD_MAX_AGE_SECONDS",
        DEFAULT_JWKS_HARD_MAX_AGE_SECS,
        MIN_JWKS_MAX_AGE_SECS..=MAX_JWKS_HARD_MAX_AGE_SECS,
        "seconds",
    );
    if hard_max_age <= max_age {
        env.problems.push(
            "JWT_JWKS_HARD_MAX_AGE_SECONDS must exceed JWT_JWKS_MAX_AGE_SECONDS (keys must be refreshable before they expire)"
                .to_owned(),
        );
    }
    JwksTiming {
        min_refresh_interval: Duration::from_secs(min_refresh),
        max_age: Duration::from_secs(max_age),
        hard_max_age: Duration::from_secs(hard_max_age),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{BASE, config};
    use super::*;

    fn jwks_vars(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut vars: Vec<_> = BASE
            .iter()
            .filter(|(k, _)| *k != "JWT_HS256_SECRET")
            .copied()
            .collect();
        vars.extend(extra);
        vars
    }

    fn problems(function: Function, vars: &[(&str, &str)]) -> String {
        config(function, vars).err().unwrap().to_string()
    }

    #[test]
    fn jwks_settings_are_read() {
        let vars = jwks_vars(&[
            ("JWT_JWKS_URL", "https://issuer.test/.well-known/jwks.json"),
            ("JWT_JWKS_MIN_REFRESH_SECONDS", "30"),
            ("JWT_ALGORITHMS", "RS256"),
        ]);
        let config = config(Function::GetSecret, &vars).unwrap();
        let auth = config.auth.unwrap();
        assert!(matches!(
            auth.keys,
            KeySource::Jwks { timing, .. } if timing == JwksTiming {
                min_refresh_interval: Duration::from_secs(30),
                max_age: Duration::from_secs(DEFAULT_JWKS_MAX_AGE_SECS),
                hard_max_age: Duration::from_secs(DEFAULT_JWKS_HARD_MAX_AGE_SECS),
            }
        ));
        assert_eq!(auth.algorithms, Some(vec![Algorithm::RS256]));
        assert_eq!(auth.types, None);
    }

    #[test]
    fn a_jwks_is_fetched_over_https_unless_the_local_stack_says_otherwise() {
        let plain = ("JWT_JWKS_URL", "http://127.0.0.1:8080/jwks.json");
        let error = problems(Function::GetSecret, &jwks_vars(&[plain]));
        assert!(
            error.contains("JWT_JWKS_URL must be an https URL"),
            "{error}"
        );
        let error = problems(
            Function::GetSecret,
            &jwks_vars(&[plain, ("JWT_JWKS_ALLOW_HTTP", "yes")]),
        );
        assert!(
            error.contains("JWT_JWKS_URL must be an https URL"),
            "{error}"
        );
        let local = jwks_vars(&[plain, ("JWT_JWKS_ALLOW_HTTP", "true")]);
        assert!(config(Function::GetSecret, &local).is_ok());
        let not_a_url = ("JWT_JWKS_URL", "ftp://issuer.test/jwks.json");
        let local = jwks_vars(&[not_a_url, ("JWT_JWKS_ALLOW_HTTP", "true")]);
        assert!(config(Function::GetSecret, &local).is_err());
    }

    #[test]
    fn jwks_timings_have_floors_and_keys_a_hard_maximum_age() {
        let url = ("JWT_JWKS_URL", "https://issuer.test/jwks.json");
        for (variable, value, expected) in [
            (
                "JWT_JWKS_MIN_REFRESH_SECONDS",
                "0",
                "JWT_JWKS_MIN_REFRESH_SECONDS must be a whole number of seconds from 5 to 3600",
            ),
            (
                "JWT_JWKS_MAX_AGE_SECONDS",
                "10",
                "JWT_JWKS_MAX_AGE_SECONDS must be a whole number of seconds from 60 to 86400",
            ),
            (
                "JWT_JWKS_HARD_MAX_AGE_SECONDS",
                "3600",
                "JWT_JWKS_HARD_MAX_AGE_SECONDS must exceed JWT_JWKS_MAX_AGE_SECONDS",
            ),
            (
                "JWT_JWKS_HARD_MAX_AGE_SECONDS",
                "9999999",
                "JWT_JWKS_HARD_MAX_AGE_SECONDS must be a whole number of seconds from 60 to 604800",
            ),
        ] {
            let error = problems(Function::GetSecret, &jwks_vars(&[url, (variable, value)]));
            assert!(error.contains(expected), "{variable}={value}: {error}");
        }
    }

    #[test]
    fn jwks_timings_are_not_judged_without_a_jwks() {
        let mut vars = BASE.to_vec();
        vars.push(("JWT_JWKS_HARD_MAX_AGE_SECONDS", "60"));
        assert!(config(Function::GetSecret, &vars).is_ok());
    }

    #[test]
    fn token_types_are_an_optional_list() {
        let mut vars = BASE.to_vec();
        vars.push(("JWT_TYPES", " at+jwt, application/jwt ,"));
        let auth = config(Function::GetSecret, &vars).unwrap().auth.unwrap();
        assert_eq!(
            auth.types,
            Some(vec!["at+jwt".to_owned(), "application/jwt".to_owned()])
        );
    }

    #[test]
    fn each_operation_may_ask_for_its_own_permission() {
        let permission = |function, vars: &[(&str, &str)]| {
            let mut all = BASE.to_vec();
            all.extend([
                ("KMS_KEY_ID", "k"),
                ("IDEMPOTENCY_MAC_KEY_ID", "m"),
                ("RESEAL_FUNCTION_NAME", "reseal-secret"),
                ("AUDIT_TABLE_NAME", "audit"),
            ]);
            all.extend(vars);
            config(function, &all).unwrap().auth.unwrap().permission
        };
        // One permission for everything, as the contract has it.
        for function in [
            Function::ListSecrets,
            Function::GetSecret,
            Function::CreateSecret,
            Function::UpdateSecret,
            Function::DeleteSecret,
        ] {
            assert_eq!(permission(function, &[]), DEFAULT_PERMISSION);
            assert_eq!(
                permission(function, &[("JWT_PERMISSION", "secrets")]),
                "secrets"
            );
        }
        let split = [
            ("JWT_PERMISSION", "secrets:all"),
            ("JWT_READ_PERMISSION", "secrets:read"),
            ("JWT_CHANGE_PERMISSION", "secrets:write"),
            ("JWT_DELETE_PERMISSION", "secrets:delete"),
        ];
        for (function, expected) in [
            (Function::ListSecrets, "secrets:read"),
            (Function::GetSecret, "secrets:read"),
            (Function::CreateSecret, "secrets:write"),
            (Function::UpdateSecret, "secrets:write"),
            (Function::DeleteSecret, "secrets:delete"),
        ] {
            assert_eq!(permission(function, &split), expected, "{function:?}");
        }
        // Unset ones fall back to the one permission.
        let only_read = [("JWT_READ_PERMISSION", "secrets:read")];
        assert_eq!(
            permission(Function::DeleteSecret, &only_read),
            DEFAULT_PERMISSION
        );
    }
}
