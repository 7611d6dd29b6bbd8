//! How every AWS client of a function is set up: bounded attempts and
//! timeouts, and the metrics interceptor.

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;

use crate::metrics::CallCounter;

/// Attempts per AWS call, the first included: throttling and brief outages
/// get two retries, with the SDK's jittered backoff, then become 429/503.
pub const MAX_ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Bounds on each AWS call: one attempt, and the call with its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallTimeouts {
    pub attempt: Duration,
    pub operation: Duration,
}

pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// Every AWS call is bounded, inside the functions' 10 s timeout: a stuck
/// dependency costs a 503, never a timed-out invocation.
pub fn timeout_config(timeouts: CallTimeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(timeouts.attempt)
        .operation_timeout(timeouts.operation)
        .build()
}

/// The shared SDK configuration of one function: loaded once per cold start.
pub async fn load(timeouts: CallTimeouts) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeout_config(timeouts))
        .retry_config(retry_config())
        .load()
        .await
}

/// A DynamoDB client whose calls `usage` counts.
pub fn dynamodb_client(
    sdk: &aws_config::SdkConfig,
    usage: &CallCounter,
) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(usage.clone())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A Lambda client (the reseal function's invoker) whose calls `usage`
/// counts. One attempt may take the whole operation's bound: a reseal is
/// two KMS calls in another function (after a cold start, perhaps), and
/// cutting it at one attempt's bound would only pay for it twice. A
/// reseal slower than that is a 503, as a KMS call would be.
pub fn lambda_client(
    sdk: &aws_config::SdkConfig,
    usage: &CallCounter,
    timeouts: CallTimeouts,
) -> aws_sdk_lambda::Client {
    let config = aws_sdk_lambda::config::Builder::from(sdk)
        .timeout_config(timeout_config(CallTimeouts {
            attempt: timeouts.operation,
            ..timeouts
        }))
        .interceptor(usage.clone())
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

/// An EventBridge client whose calls `usage` counts.
pub fn eventbridge_client(
    sdk: &aws_config::SdkConfig,
    usage: &CallCounter,
) -> aws_sdk_eventbridge::Client {
    let config = aws_sdk_eventbridge::config::Builder::from(sdk)
        .interceptor(usage.clone())
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

/// A KMS client whose calls `usage` counts.
pub fn kms_client(sdk: &aws_config::SdkConfig, usage: &CallCounter) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::config::Builder::from(sdk)
        .interceptor(usage.clone())
        .build();
    aws_sdk_kms::Client::from_conf(config)
}
