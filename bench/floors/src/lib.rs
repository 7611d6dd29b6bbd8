//! What the floors share: the SDK configuration every real function builds
//! at cold start, configured as the functions configure it.

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use secrets_core::aws::{retry_config, timeout_config};
use secrets_core::config::CallTimeouts;

pub async fn sdk_config() -> SdkConfig {
    let timeouts = CallTimeouts {
        attempt: Duration::from_secs(2),
        operation: Duration::from_secs(5),
    };
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeout_config(timeouts))
        .retry_config(retry_config())
        .load()
        .await
}
