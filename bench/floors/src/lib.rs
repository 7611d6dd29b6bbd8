//! What the floors share: the SDK configuration every real function builds
//! at cold start, configured as the functions configure it.

use std::time::Duration;

use aws_config::SdkConfig;
use secrets_aws::sdk::{self, CallTimeouts};

pub async fn sdk_config() -> SdkConfig {
    sdk::load(CallTimeouts {
        attempt: Duration::from_secs(2),
        operation: Duration::from_secs(5),
    })
    .await
}
