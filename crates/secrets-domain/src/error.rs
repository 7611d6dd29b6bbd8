//! The one error type of the service and its single mapping to an HTTP status
//! and a contract `ErrorResponse.type`.

use std::fmt;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can make a request fail.
///
/// `Display` is the public message: it is safe to return to the caller and to
/// log, and never contains a secret value, a token or an internal error's
/// details. Internal causes are reachable only through `source()`, for logs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; the message names the offending field.
    #[error("{message}")]
    BadRequest { message: String },

    /// No usable bearer token. `token_presented` picks the `WWW-Authenticate`
    /// challenge (RFC 6750 §3: no error code when no token was sent).
    #[error("{reason}")]
    Unauthenticated {
        reason: AuthFailure,
        token_presented: bool,
    },

    /// A valid token without the permission this API requires.
    #[error("the token does not grant the `{permission}` permission")]
    Forbidden { permission: String },

    #[error("secret not found")]
    NotFound,

    #[error("a secret with tag `{tag}` already exists")]
    TagTaken { tag: String },

    /// A restore of the value version the secret has now.
    #[error("value version {value_version} is the current value: nothing to restore")]
    VersionIsCurrent { value_version: u64 },

    /// `If-Match` names no version the secret has now (RFC 9110 §13.1.1).
    #[error("the secret has changed: If-Match does not name its current version")]
    PreconditionFailed,

    /// `If-Match` is not `*` or a list of entity tags: it names no version,
    /// so it fails like one naming another (a guarded write stays guarded).
    #[error(
        "If-Match names no version: it must be \"*\" or a comma-separated list of entity tags such as \"se0123456789abcdef.2\""
    )]
    MalformedPrecondition,

    /// An `Idempotency-Key` already used for a create with other content.
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,

    /// The tenant holds as many secrets as it may.
    #[error("the tenant already has the maximum of {limit} secrets; delete some first")]
    QuotaExceeded { limit: u64 },

    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },

    /// A dependency throttled us past the SDK's retries.
    #[error("too many requests; retry after {retry_after_secs} seconds")]
    Throttled { retry_after_secs: u32 },

    /// A dependency is briefly unavailable (timeouts, contention, 5xx).
    #[error("the service is temporarily unavailable; retry after {retry_after_secs} seconds")]
    Unavailable {
        retry_after_secs: u32,
        #[source]
        source: Option<BoxError>,
    },

    /// A fault of ours or of our configuration: never the caller's doing.
    #[error("internal error")]
    Internal {
        context: &'static str,
        #[source]
        source: Option<BoxError>,
    },
}

/// Why a token was refused. Shown to the caller: coarse on purpose, so that it
/// helps a client fix its request without helping anyone probe the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Malformed,
    Expired,
    NotYetValid,
    Invalid,
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "a bearer token is required",
            Self::Malformed => "the bearer token is malformed",
            Self::Expired => "the bearer token has expired",
            Self::NotYetValid => "the bearer token is not valid yet",
            Self::Invalid => "the bearer token is invalid",
        })
    }
}

/// Seconds a client should wait before retrying after throttling or a brief
/// outage; short because both usually clear within a second or two.
pub const DEFAULT_RETRY_AFTER_SECS: u32 = 1;

impl Error {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
        }
    }

    pub fn unauthenticated(reason: AuthFailure) -> Self {
        Self::Unauthenticated {
            token_presented: reason != AuthFailure::Missing,
            reason,
        }
    }

    pub fn internal(context: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Internal {
            context,
            source: Some(source.into()),
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Self::BadRequest { .. } => 400,
            Self::Unauthenticated { .. } => 401,
            Self::Forbidden { .. } => 403,
            Self::NotFound => 404,
            Self::TagTaken { .. } | Self::QuotaExceeded { .. } | Self::VersionIsCurrent { .. } => {
                409
            }
            Self::PreconditionFailed | Self::MalformedPrecondition => 412,
            Self::IdempotencyKeyReused => 422,
            Self::PayloadTooLarge { .. } => 413,
            Self::Throttled { .. } => 429,
            Self::Unavailable { .. } => 503,
            Self::Internal { .. } => 500,
        }
    }

    /// The contract's `ErrorResponse.type`. Always a member of the upstream
    /// enum, so clients generated from the contract can decode every error;
    /// where the enum has no exact member the status carries the meaning.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } | Self::PayloadTooLarge { .. } => "BAD_REQUEST",
            Self::Unauthenticated { .. } => "UNCATEGORIZED",
            Self::Forbidden { .. } => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            // The version changed under the client: a conflict of state.
            Self::TagTaken { .. }
            | Self::QuotaExceeded { .. }
            | Self::VersionIsCurrent { .. }
            | Self::PreconditionFailed
            | Self::MalformedPrecondition => "CONFLICT",
            // The client misused the key it chose: an illegal argument.
            Self::IdempotencyKeyReused => "ILLEGAL_ARGUMENT_ERROR",
            Self::Throttled { .. } => "INTEGRATION_RATE_LIMITED",
            Self::Unavailable { .. } => "INTEGRATION_UNAVAILABLE",
            Self::Internal { .. } => "UNHANDLED_EXCEPTION",
        }
    }

    /// Seconds for `Retry-After`, for the errors a retry can cure.
    pub fn retry_after_secs(&self) -> Option<u32> {
        match self {
            Self::Throttled { retry_after_secs }
            | Self::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

/// Formats an error and all its sources on one line, with `Display` only:
/// debug representations of SDK errors can carry request details.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_one_status_and_a_contract_type() {
        let cases = [
            (Error::bad_request("tag is required"), 400, "BAD_REQUEST"),
            (
                Error::unauthenticated(AuthFailure::Missing),
                401,
                "UNCATEGORIZED",
            ),
            (
                Error::Forbidden {
                    permission: "CREATE_SECRETS".into(),
                },
                403,
                "FORBIDDEN",
            ),
            (Error::NotFound, 404, "NOT_FOUND"),
            (Error::TagTaken { tag: "a".into() }, 409, "CONFLICT"),
            (Error::QuotaExceeded { limit: 5 }, 409, "CONFLICT"),
            (Error::PreconditionFailed, 412, "CONFLICT"),
            (Error::MalformedPrecondition, 412, "CONFLICT"),
            (Error::IdempotencyKeyReused, 422, "ILLEGAL_ARGUMENT_ERROR"),
            (Error::PayloadTooLarge { limit: 1 }, 413, "BAD_REQUEST"),
            (
                Error::Throttled {
                    retry_after_secs: 1,
                },
                429,
                "INTEGRATION_RATE_LIMITED",
            ),
            (
                Error::Unavailable {
                    retry_after_secs: 1,
                    source: None,
                },
                503,
                "INTEGRATION_UNAVAILABLE",
            ),
            (Error::internal("test", "boom"), 500, "UNHANDLED_EXCEPTION"),
        ];
        for (error, status, error_type) in cases {
            assert_eq!(error.http_status(), status, "{error}");
            assert_eq!(error.error_type(), error_type, "{error}");
        }
    }

    #[test]
    fn internal_errors_keep_their_cause_out_of_the_public_message() {
        let error = Error::internal("reading the table", "connection reset by 10.0.0.7");
        assert_eq!(error.to_string(), "internal error");
        assert_eq!(
            ErrorChain(&error).to_string(),
            "internal error: connection reset by 10.0.0.7"
        );
    }

    #[test]
    fn only_a_missing_token_gets_a_challenge_without_an_error_code() {
        assert!(matches!(
            Error::unauthenticated(AuthFailure::Missing),
            Error::Unauthenticated {
                token_presented: false,
                ..
            }
        ));
        assert!(matches!(
            Error::unauthenticated(AuthFailure::Expired),
            Error::Unauthenticated {
                token_presented: true,
                ..
            }
        ));
    }
}
