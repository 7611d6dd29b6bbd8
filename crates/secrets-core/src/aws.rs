//! Turning AWS SDK failures into the service's error, by what a caller can do
//! about them: retry later (429, 503) or nothing (500).

use std::fmt::Debug;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::config::CallTimeouts;
use crate::error::{DEFAULT_RETRY_AFTER_SECS, Error};

/// Attempts per AWS call, the first included: throttling and brief outages
/// get two retries, with the SDK's jittered backoff, then become 429/503.
pub const MAX_ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

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

/// Error codes meaning "too many requests" (after the SDK's own retries).
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
];

/// Error codes meaning "a brief outage on AWS's side".
const UNAVAILABLE_CODES: &[&str] = &[
    "InternalServerError",
    "ServiceUnavailable",
    "KMSInternalException",
    "DependencyTimeoutException",
    "TransactionInProgressException",
];

pub(crate) fn classify<E, R>(context: &'static str, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let code = error.code().map(str::to_owned);
    match (&error, code.as_deref()) {
        (SdkError::ServiceError(_), Some(code)) if THROTTLING_CODES.contains(&code) => {
            Error::Throttled {
                retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
            }
        }
        (SdkError::ServiceError(_), Some(code)) if UNAVAILABLE_CODES.contains(&code) => {
            unavailable(error)
        }
        (
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_),
            _,
        ) => unavailable(error),
        _ => Error::internal(context, error),
    }
}

pub(crate) fn unavailable(source: impl Into<crate::error::BoxError>) -> Error {
    Error::Unavailable {
        retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
        source: Some(source.into()),
    }
}
