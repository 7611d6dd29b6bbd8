//! Responses: success bodies, and the single mapping of a core error to the
//! contract's `ErrorResponse` (or, for 429, its problem detail).

use lambda_http::Body;
use lambda_http::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE,
};
use lambda_http::http::{Response, StatusCode};
use secrets_domain::deleted::DeletedPage;
use secrets_domain::model::{SecretId, SecretSummary};
use secrets_domain::service::{BatchEntry, Created, Resolved, VersionList};
use secrets_domain::{Error, Result};
use serde::Serialize;

const JSON: &str = "application/json";
const PROBLEM_JSON: &str = "application/problem+json";
const REALM: &str = "cortex-secrets";

pub fn json<T: Serialize>(value: &T) -> Result<Response<Body>> {
    let body =
        serde_json::to_string(value).map_err(|e| Error::internal("serializing a response", e))?;
    Ok(build(StatusCode::OK, Some(JSON), Body::Text(body)))
}

/// A secret's summary, with the `ETag` of the version it describes.
pub fn secret(summary: &SecretSummary) -> Result<Response<Body>> {
    with_etag(json(summary)?, summary)
}

fn with_etag(mut response: Response<Body>, summary: &SecretSummary) -> Result<Response<Body>> {
    let etag = HeaderValue::from_str(&summary.etag())
        .map_err(|e| Error::internal("writing an ETag", e))?;
    response.headers_mut().insert(ETAG, etag);
    Ok(response)
}

/// A secret's kept value versions, newest first, with the secret's `ETag`:
/// `{"versions": [{"valueVersion", "createdAt", "createdBy", "current",
/// "restoredFrom"?}]}`. Metadata only: no value is ever read for it.
pub fn versions(list: &VersionList) -> Result<Response<Body>> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Version<'a> {
        value_version: u64,
        created_at: String,
        created_by: &'a str,
        current: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        restored_from: Option<u64>,
    }
    #[derive(Serialize)]
    struct Versions<'a> {
        versions: Vec<Version<'a>>,
    }
    let versions = list
        .versions
        .iter()
        .map(|version| Version {
            value_version: version.number,
            created_at: version.created_at.rfc3339().to_string(),
            created_by: &version.created_by,
            current: list.is_current(version),
            restored_from: version.restored_from,
        })
        .collect();
    with_etag(json(&Versions { versions })?, &list.secret)
}

/// A page of a tenant's deleted secrets still recoverable, in id order:
/// `{"secrets": [{"id", "name", "tag", "deletedAt", "deletedBy",
/// "purgeAt"}], "next": id | null}` (`next`: where the following page
/// starts, as `after`). Metadata only.
pub fn deleted(page: &DeletedPage) -> Result<Response<Body>> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Deleted<'a> {
        id: &'a str,
        name: &'a str,
        tag: &'a str,
        deleted_at: String,
        deleted_by: &'a str,
        purge_at: String,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        secrets: Vec<Deleted<'a>>,
        next: Option<&'a str>,
    }
    let secrets = page
        .secrets
        .iter()
        .map(|deleted| Deleted {
            id: deleted.summary.id.as_str(),
            name: deleted.summary.name.as_str(),
            tag: deleted.summary.tag.as_str(),
            deleted_at: deleted.deleted_at.rfc3339().to_string(),
            deleted_by: &deleted.deleted_by,
            purge_at: deleted.purge_at.rfc3339().to_string(),
        })
        .collect();
    let next = page.next.as_ref().map(SecretId::as_str);
    json(&Page { secrets, next })
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

/// A resolved secret with its plaintext: `{"id", "name", "tag", "value"}`,
/// never cached (as every answer here).
pub fn resolved(resolved: &Resolved) -> Result<Response<Body>> {
    json(resolved)
}

/// A batch resolve's answer: `{"results": [...]}`, one per key in the
/// order asked, each its secret with the value (`status` 200) or its own
/// error in the contract's `ErrorResponse` shape.
pub fn resolved_batch(entries: &[BatchEntry], request_id: &str) -> Result<Response<Body>> {
    let results: Vec<BatchResult<'_>> = entries
        .iter()
        .map(|(key, result)| match result {
            Ok(resolved) => BatchResult {
                tag_or_id: key.to_string(),
                status: 200,
                secret: Some(resolved),
                error: None,
            },
            Err(error) => BatchResult {
                tag_or_id: key.to_string(),
                status: error.http_status(),
                secret: None,
                error: Some(ErrorResponse {
                    message: error.to_string(),
                    error_type: error.error_type(),
                    http_status: error.http_status(),
                    request_id,
                }),
            },
        })
        .collect();
    json(&BatchAnswer { results })
}

#[derive(Serialize)]
struct BatchAnswer<'a> {
    results: Vec<BatchResult<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchResult<'a> {
    tag_or_id: String,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a Resolved>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorResponse<'a>>,
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
    use secrets_domain::error::AuthFailure;
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
