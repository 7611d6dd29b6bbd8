//! What the adapter and end-to-end suites share: their configuration, read
//! from the environment that `make test` (scripts/devstack.py) provides.

use aws_config::{BehaviorVersion, SdkConfig};
use secrets_core::domain::random_hex;

/// A variable the suite cannot run without. Missing means the suite was
/// started outside `make test`: fail loudly rather than pass vacuously.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these suites through `make test` (scripts/devstack.py test)")
    })
}

/// SDK configuration for the emulator (`AWS_ENDPOINT_URL` and friends).
pub async fn sdk_config() -> SdkConfig {
    required_env("AWS_ENDPOINT_URL");
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// A name no other test (or run) uses, so that tests can share one table.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", random_hex::<8>().expect("random"))
}
