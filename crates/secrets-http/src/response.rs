//! Responses: success bodies, and the single mapping of a core error to the
//! contract's `ErrorResponse` (or, for 429, its problem detail).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lambda_http::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE,
};
use lambda_http::http::{Response, StatusCode};
use lambda_http::lambda_runtime::Diagnostic;
use lambda_http::{Body, Request};
use secrets_core::audit::{AuditLog, AuditRecord, Operation, Trail};
use secrets_core::domain::SecretSummary;
use secrets_core::error::ErrorChain;
use secrets_core::metrics::CallCounter;
use secrets_core::service::Created;
use secrets_core::{Error, Result};
use serde::Serialize;

use crate::request::request_id;

const JSON: &str = "application/json";
const PROBLEM_JSON: &str = "application/problem+json";
const REALM: &str = "cortex-secrets";

/// One request from arrival to response: its id, its operation, and the
/// log line and metrics record it produces.
pub struct Exchange<'a> {
    request_id: String,
    operation: &'static str,
    started: Instant,
    usage: &'a CallCounter,
}

impl<'a> Exchange<'a> {
    pub fn begin(request: &Request, operation: &'static str, usage: &'a CallCounter) -> Self {
        Self::begin_invocation(request_id(request), operation, usage)
    }

    /// For a function invoked directly, by the Lambda request id.
    pub fn begin_invocation(
        request_id: String,
        operation: &'static str,
        usage: &'a CallCounter,
    ) -> Self {
        usage.take(); // whatever happened before this request is not its cost
        Self {
            request_id,
            operation,
            started: Instant::now(),
            usage,
        }
    }

    /// The audit trail of this request's operation, to be filled in as the
    /// handler learns who asks for what.
    pub fn trail(&self, operation: Operation) -> Trail {
        Trail::new(operation, self.request_id.clone())
    }

    /// As [`Self::finish`], for an audited operation: a refusal is recorded
    /// here (an allowed operation was recorded with its change).
    pub async fn finish_audited(
        self,
        result: Result<Response<Body>>,
        trail: &Trail,
        audit: &impl AuditLog,
    ) -> Response<Body> {
        if let Err(error) = &result {
            record_refusal(trail.refused(error), audit).await;
        }
        self.finish(result)
    }

    /// As [`Self::finish_invocation`], for an audited operation.
    pub async fn finish_invocation_audited<T>(
        self,
        result: Result<T>,
        trail: &Trail,
        audit: &impl AuditLog,
    ) -> std::result::Result<T, Diagnostic> {
        if let Err(error) = &result {
            record_refusal(trail.refused(error), audit).await;
        }
        self.finish_invocation(result)
    }

    /// Turns the handler's result into the response, logging it.
    pub fn finish(self, result: Result<Response<Body>>) -> Response<Body> {
        match result {
            Ok(response) => {
                self.record(Ok(response.status().as_u16()));
                response
            }
            Err(error) => {
                self.record(Err(&error));
                error_response(&error, &self.request_id)
            }
        }
    }

    /// Turns a direct invocation's result into its answer or its function
    /// error (`errorType`: the contract's error type), logging it.
    pub fn finish_invocation<T>(self, result: Result<T>) -> std::result::Result<T, Diagnostic> {
        match result {
            Ok(answer) => {
                self.record(Ok(200));
                Ok(answer)
            }
            Err(error) => {
                self.record(Err(&error));
                Err(Diagnostic {
                    error_type: error.error_type().to_owned(),
                    error_message: error.to_string(),
                })
            }
        }
    }

    /// The request's log line and metrics record. Errors are logged by their
    /// public message, plus their causes for 5xx; never a token, a body or a
    /// debug representation.
    fn record(&self, outcome: std::result::Result<u16, &Error>) {
        let elapsed_ms = self.started.elapsed().as_millis() as u64;
        let (request_id, operation) = (self.request_id.as_str(), self.operation);
        let status = match outcome {
            Ok(status) => {
                tracing::info!(request_id, operation, status, elapsed_ms, "request served");
                status
            }
            Err(error) => {
                let status = error.http_status();
                if status >= 500 {
                    tracing::error!(request_id, operation, status, elapsed_ms, error = %ErrorChain(error), "request failed");
                } else {
                    tracing::info!(request_id, operation, status, elapsed_ms, error = %error, "request refused");
                }
                status
            }
        };
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        // EMF records are read by CloudWatch from stdout, one JSON per line.
        println!(
            "{}",
            self.usage.take().to_emf(self.operation, status, now_ms)
        );
    }
}

/// Refusals change nothing, so one that cannot be stored is not worth failing
/// the request for: it goes to the function's log instead, in full.
async fn record_refusal(record: AuditRecord, audit: &impl AuditLog) {
    if let Err(error) = audit.record(&record).await {
        let record = serde_json::to_string(&record).unwrap_or_default();
        tracing::error!(audit_record = %record, error = %ErrorChain(&error), "audit record not stored");
    }
}

pub fn json<T: Serialize>(value: &T) -> Result<Response<Body>> {
    let body =
        serde_json::to_string(value).map_err(|e| Error::internal("serializing a response", e))?;
    Ok(build(StatusCode::OK, Some(JSON), Body::Text(body)))
}

/// A secret's summary, with the `ETag` of the version it describes.
pub fn secret(summary: &SecretSummary) -> Result<Response<Body>> {
    let mut response = json(summary)?;
    let etag = HeaderValue::from_str(&summary.etag())
        .map_err(|e| Error::internal("writing an ETag", e))?;
    response.headers_mut().insert(ETAG, etag);
    Ok(response)
}

/// A create's answer: the secret, marked when it replays an earlier answer.
pub fn created(created: &Created) -> Result<Response<Body>> {
    let mut response = secret(&created.secret)?;
    if created.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// 200 with no body, as the contract's delete answers.
pub fn empty() -> Result<Response<Body>> {
    Ok(build(StatusCode::OK, None, Body::Empty))
}

fn build(status: StatusCode, content_type: Option<&'static str>, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(content_type) = content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    // Nothing this API returns should sit in a shared or browser cache.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorResponse<'a> {
    message: String,
    #[serde(rename = "type")]
    error_type: &'static str,
    http_status: u16,
    request_id: &'a str,
}

/// The contract's `TooManyRequestsProblemDetail` (RFC 9457).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TooManyRequests {
    #[serde(rename = "type")]
    problem_type: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    retry_after: u32,
}

pub fn error_response(error: &Error, request_id: &str) -> Response<Body> {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match (error, error.retry_after_secs()) {
        (Error::Throttled { .. }, Some(retry_after)) => {
            let problem = TooManyRequests {
                problem_type: "about:blank",
                title: "Too Many Requests",
                status: status.as_u16(),
                detail: error.to_string(),
                retry_after,
            };
            build(status, Some(PROBLEM_JSON), Body::Text(serialize(&problem)))
        }
        _ => {
            let body = ErrorResponse {
                message: error.to_string(),
                error_type: error.error_type(),
                http_status: status.as_u16(),
                request_id,
            };
            build(status, Some(JSON), Body::Text(serialize(&body)))
        }
    };
    let headers = response.headers_mut();
    if let Some(retry_after) = error.retry_after_secs() {
        headers.insert(RETRY_AFTER, HeaderValue::from(retry_after));
    }
    if let Some(challenge) = challenge(error) {
        headers.insert(WWW_AUTHENTICATE, challenge);
    }
    response
}

/// RFC 6750 §3: which bearer challenge goes with a 401 or 403.
fn challenge(error: &Error) -> Option<HeaderValue> {
    let value = match error {
        Error::Unauthenticated {
            token_presented: false,
            ..
        } => format!("Bearer realm=\"{REALM}\""),
        Error::Unauthenticated { .. } => {
            format!("Bearer realm=\"{REALM}\", error=\"invalid_token\"")
        }
        Error::Forbidden { permission } => {
            format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{permission}\""
            )
        }
        _ => return None,
    };
    HeaderValue::from_str(&value).ok()
}

fn serialize<T: Serialize>(value: &T) -> String {
    // Serializing these plain structs cannot fail; an empty body beats a panic.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use secrets_core::error::AuthFailure;
    use serde_json::{Value, json};

    use super::*;

    fn body(response: &Response<Body>) -> Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
        response.headers().get(name).map(|v| v.to_str().unwrap())
    }

    #[test]
    fn errors_use_the_contract_error_shape() {
        let response = error_response(&Error::bad_request("tag is required"), "req-1");
        assert_eq!(response.status(), 400);
        assert_eq!(header(&response, "content-type"), Some("application/json"));
        assert_eq!(
            body(&response),
            json!({"message": "tag is required", "type": "BAD_REQUEST", "httpStatus": 400, "requestId": "req-1"})
        );
    }

    #[test]
    fn internal_errors_say_nothing_about_their_cause() {
        let response = error_response(
            &Error::internal("writing", "table secrets-prod not found"),
            "req-2",
        );
        assert_eq!(response.status(), 500);
        assert_eq!(body(&response)["message"], "internal error");
        assert_eq!(body(&response)["type"], "UNHANDLED_EXCEPTION");
    }

    #[test]
    fn auth_errors_carry_the_bearer_challenge() {
        let missing = error_response(&Error::unauthenticated(AuthFailure::Missing), "r");
        assert_eq!(missing.status(), 401);
        assert_eq!(
            header(&missing, "www-authenticate"),
            Some("Bearer realm=\"cortex-secrets\"")
        );
        let invalid = error_response(&Error::unauthenticated(AuthFailure::Expired), "r");
        assert_eq!(
            header(&invalid, "www-authenticate"),
            Some("Bearer realm=\"cortex-secrets\", error=\"invalid_token\"")
        );
        let forbidden = error_response(
            &Error::Forbidden {
                permission: "CREATE_SECRETS".into(),
            },
            "r",
        );
        assert_eq!(forbidden.status(), 403);
        assert_eq!(body(&forbidden)["type"], "FORBIDDEN");
        assert!(
            header(&forbidden, "www-authenticate")
                .unwrap()
                .contains("insufficient_scope")
        );
    }

    #[test]
    fn throttling_is_a_problem_detail_with_retry_after() {
        let response = error_response(
            &Error::Throttled {
                retry_after_secs: 2,
            },
            "r",
        );
        assert_eq!(response.status(), 429);
        assert_eq!(
            header(&response, "content-type"),
            Some("application/problem+json")
        );
        assert_eq!(header(&response, "retry-after"), Some("2"));
        let problem = body(&response);
        assert_eq!(
            (problem["status"].clone(), problem["retryAfter"].clone()),
            (json!(429), json!(2))
        );
        assert_eq!(problem["title"], "Too Many Requests");
    }

    #[test]
    fn brief_outages_say_when_to_retry() {
        let response = error_response(
            &Error::Unavailable {
                retry_after_secs: 1,
                source: None,
            },
            "r",
        );
        assert_eq!(response.status(), 503);
        assert_eq!(header(&response, "retry-after"), Some("1"));
    }

    #[test]
    fn every_response_is_uncacheable() {
        for response in [empty().unwrap(), error_response(&Error::NotFound, "r")] {
            assert_eq!(header(&response, "cache-control"), Some("no-store"));
        }
    }
}
