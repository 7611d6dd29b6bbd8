//! Turning AWS SDK failures into the service's error, by what a caller can do
//! about them: retry later (429, 503) or nothing (500).

use std::fmt::Debug;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use secrets_domain::error::{BoxError, DEFAULT_RETRY_AFTER_SECS, Error};

/// Error codes meaning "too many requests" (after the SDK's own retries).
pub(crate) const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    // Lambda's, for an invoke beyond the reseal function's concurrency.
    "TooManyRequestsException",
];

/// Error codes meaning "a brief outage on AWS's side".
const UNAVAILABLE_CODES: &[&str] = &[
    "InternalServerError",
    "ServiceUnavailable",
    "KMSInternalException",
    "DependencyTimeoutException",
    "TransactionInProgressException",
    // A single write of an item that a transaction holds: try again soon.
    "TransactionConflictException",
    // Lambda's: its own failure to run an invoke, or a function being
    // updated or woken (both pass within seconds).
    "ServiceException",
    "ResourceConflictException",
    "ResourceNotReadyException",
];

pub(crate) fn classify<E, R>(context: &'static str, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let code = error.code().map(str::to_owned);
    match (&error, code.as_deref()) {
        (SdkError::ServiceError(_), Some(code)) if THROTTLING_CODES.contains(&code) => throttled(),
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

pub(crate) fn throttled() -> Error {
    Error::Throttled {
        retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
    }
}

pub(crate) fn unavailable(source: impl Into<BoxError>) -> Error {
    Error::Unavailable {
        retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
        source: Some(source.into()),
    }
}
