//! Reading what a handler needs out of an API Gateway request (REST v1 or
//! HTTP v2 events alike), as core values or core errors.

use std::borrow::Cow;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use secrets_domain::deleted::DeletedPageRequest;
use secrets_domain::error::AuthFailure;
use secrets_domain::idempotency::IdempotencyKey;
use secrets_domain::model::{MAX_TENANT_CHARS, SecretId, TagOrId, TenantId};
use secrets_domain::page::PageRequest;
use secrets_domain::precondition::IfMatch;
use secrets_domain::service::BatchKeys;
use secrets_domain::{Error, Result};
use zeroize::Zeroizing;

/// The largest body worth reading. A maximal secret (64 KiB) escaped as
/// `\u00XX` takes 384 KiB of JSON, and a maximal name 3 KiB more: anything
/// larger cannot be a valid request.
pub const MAX_BODY_BYTES: usize = 400 * 1024;

/// The path parameter naming a secret, as in the contract's paths.
const TAG_OR_ID_PARAMETER: &str = "tagOrId";
/// Where the contract's secrets live; what follows is a key, then maybe
/// `/versions`.
const SECRETS_PATH: &str = "/api/v1/secrets/";
const VERSIONS_SEGMENT: &str = "versions";
const RESTORE_SEGMENT: &str = "restore";
/// Where deleted secrets are listed; what follows is an id, then
/// `/restore`.
const DELETED_PATH: &str = "/api/v1/deleted-secrets";
/// The path parameter naming a deleted secret.
const ID_PARAMETER: &str = "id";
/// The query parameter of a resolve of an earlier value.
const VALUE_VERSION_PARAMETER: &str = "valueVersion";
/// The path parameter naming the tenant, on the resolve route.
const TENANT_PARAMETER: &str = "tenant";
/// The longest principal ARN worth recording (IAM's own limit is 2,048).
const MAX_PRINCIPAL_ARN_CHARS: usize = 2048;

/// The id API Gateway gave this request (what its access logs show), else
/// Lambda's own request id.
pub fn request_id(request: &Request) -> String {
    let gateway_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    };
    gateway_id
        .or_else(|| {
            request
                .lambda_context_ref()
                .map(|context| context.request_id.clone())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

pub fn authorization(request: &Request) -> Option<&[u8]> {
    request
        .headers()
        .get(lambda_http::http::header::AUTHORIZATION)
        .map(|value| value.as_bytes())
}

/// The secret a path addresses. A segment that is neither an id nor a valid
/// tag cannot name any secret, so it is a 404 like any unknown secret.
pub fn tag_or_id(request: &Request) -> Result<TagOrId> {
    let from_parameters = request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first(TAG_OR_ID_PARAMETER))
        .map(Cow::Borrowed);
    let path = request.raw_http_path();
    let raw = from_parameters
        .or_else(|| {
            let after_base = path.split_once(SECRETS_PATH).map(|(_, rest)| rest);
            let segment = after_base.map(|rest| rest.split('/').next().unwrap_or(rest));
            segment
                .or_else(|| path.rsplit('/').next())
                .map(Cow::Borrowed)
        })
        .ok_or(Error::NotFound)?;
    // Ids and tags are plain ASCII: a `%` can only be percent-encoding, left
    // encoded by some routers and decoded by others.
    let decoded = if raw.contains('%') {
        Cow::Owned(percent_decode(&raw).ok_or(Error::NotFound)?)
    } else {
        raw
    };
    TagOrId::parse(&decoded).ok_or(Error::NotFound)
}

/// Whether the request is for a secret's versions
/// (`/api/v1/secrets/{tagOrId}/versions`) rather than the secret itself.
/// Told from the path after the secrets' base: the key is one segment (no
/// tag or id holds a `/`), so `versions` after it is the route, while a
/// secret tagged `versions` is `/api/v1/secrets/versions`.
pub fn names_versions(request: &Request) -> bool {
    let path = request.raw_http_path();
    path.split_once(SECRETS_PATH)
        .and_then(|(_, rest)| rest.split_once('/'))
        .is_some_and(|(_, below)| below == VERSIONS_SEGMENT)
}

/// For a restore (`/api/v1/secrets/{tagOrId}/versions/{valueVersion}/restore`),
/// the version to restore: `None` for any other route, 404 for a segment
/// that names no version (no secret has one).
pub fn restored_version(request: &Request) -> Option<Result<u64>> {
    let path = request.raw_http_path();
    let (_, rest) = path.split_once(SECRETS_PATH)?;
    let mut segments = rest.split('/').skip(1);
    let (Some(VERSIONS_SEGMENT), Some(number), Some(RESTORE_SEGMENT), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return None;
    };
    let parsed = number
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| number.parse::<u64>().ok())
        .flatten()
        .filter(|number| *number >= 1);
    Some(parsed.ok_or(Error::NotFound))
}

/// The value version a resolve asks for (`?valueVersion=n`), if any: a
/// whole number from 1, given once.
pub fn value_version(request: &Request) -> Result<Option<u64>> {
    let query = request.query_string_parameters_ref();
    let given = query
        .and_then(|query| query.all(VALUE_VERSION_PARAMETER))
        .unwrap_or_default();
    let invalid = || Error::bad_request("valueVersion must be a whole number from 1, given once");
    match given.as_slice() {
        [] => Ok(None),
        [one] if one.bytes().all(|b| b.is_ascii_digit()) => match one.parse::<u64>() {
            Ok(number) if number >= 1 => Ok(Some(number)),
            _ => Err(invalid()),
        },
        _ => Err(invalid()),
    }
}

/// Whether the request names one secret in its path (`{tagOrId}`), as
/// resolve's single route does; its batch route names them in the query.
pub fn names_one_secret(request: &Request) -> bool {
    request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first(TAG_OR_ID_PARAMETER))
        .is_some()
}

/// A batch resolve's keys: every `tagOrId` query parameter, in order (1 to
/// 20 different ones). A value that is neither a tag nor an id is a 400
/// naming its place, not its text: nothing the caller sent is echoed. A
/// batch answers current values only: a `valueVersion` (a rollback) is a
/// 400, never silently the current values.
pub fn batch_keys(request: &Request) -> Result<BatchKeys> {
    let query = request.query_string_parameters_ref();
    if query.is_some_and(|query| query.first(VALUE_VERSION_PARAMETER).is_some()) {
        return Err(Error::bad_request(
            "a batch resolves current values only: resolve an earlier value (valueVersion) on its own",
        ));
    }
    let raw = query
        .and_then(|query| query.all(TAG_OR_ID_PARAMETER))
        .unwrap_or_default();
    let keys = raw
        .iter()
        .enumerate()
        .map(|(place, raw)| {
            TagOrId::parse(raw).ok_or_else(|| {
                Error::bad_request(format!(
                    "tagOrId number {} is neither a tag nor a secret id",
                    place + 1
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    BatchKeys::new(keys)
}

/// The IAM principal whose SigV4 signature API Gateway verified, as it
/// puts it in the request context (REST: `identity.userArn`; HTTP API:
/// `authorizer.iam.userArn`). Nothing the caller sends can set it; a
/// request without one did not come through an `AWS_IAM` route, and is
/// refused however it got here.
pub fn signed_principal(request: &Request) -> Result<String> {
    let principal = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.user_arn.clone(),
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.iam.as_ref())
            .and_then(|iam| iam.user_arn.clone()),
        _ => None,
    };
    principal
        .filter(|arn| {
            arn.starts_with("arn:")
                && arn.len() <= MAX_PRINCIPAL_ARN_CHARS
                && !arn.chars().any(char::is_control)
        })
        .ok_or(Error::unauthenticated(AuthFailure::Missing))
}

/// The tenant the resolve path names. Only RFC 3986's unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`): a path segment of them reaches the
/// IAM resource ARN exactly as written, never encoded, and holds none of
/// IAM's wildcards (`*`, `?`), so a policy naming `.../tenants/acme/*`
/// means exactly tenant `acme`. `.` and `..` would be path steps.
pub fn path_tenant(request: &Request) -> Result<TenantId> {
    let raw = request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first(TENANT_PARAMETER))
        .unwrap_or_default();
    let unreserved = raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let tenant = (unreserved && !matches!(raw, "." | ".."))
        .then(|| TenantId::parse(raw))
        .flatten();
    tenant.ok_or_else(|| {
        Error::bad_request(format!(
            "tenant must be 1 to {MAX_TENANT_CHARS} characters of A-Z a-z 0-9 - . _ ~ (not . or ..)"
        ))
    })
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = raw.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// The request's `If-Match`, if any; several header lines are one list.
pub fn if_match(request: &Request) -> Option<IfMatch> {
    let mut lines = request
        .headers()
        .get_all(lambda_http::http::header::IF_MATCH)
        .iter()
        .peekable();
    lines.peek()?;
    let joined = lines
        .map(|line| line.as_bytes())
        .collect::<Vec<_>>()
        .join(&b","[..]);
    Some(IfMatch::parse(&joined))
}

/// The request's `Idempotency-Key`, if any. Sent twice, it is ambiguous: 400.
pub fn idempotency_key(request: &Request) -> Result<Option<IdempotencyKey>> {
    let mut lines = request.headers().get_all("idempotency-key").iter();
    match (lines.next(), lines.next()) {
        (None, _) => Ok(None),
        (Some(line), None) => IdempotencyKey::parse(line.as_bytes()).map(Some),
        (Some(_), Some(_)) => Err(Error::bad_request("Idempotency-Key must be sent once")),
    }
}

/// Whether the request is on the deleted secrets' routes rather than the
/// contract's (no path under `/api/v1/secrets/` can hold this one).
pub fn names_deleted(request: &Request) -> bool {
    request.raw_http_path().contains(DELETED_PATH)
}

/// The id of the deleted secret a recovery names
/// (`/api/v1/deleted-secrets/{id}/restore`); 404 for one that cannot be a
/// secret's id, as for any unknown secret.
pub fn deleted_id(request: &Request) -> Result<SecretId> {
    let from_parameters = request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first(ID_PARAMETER))
        .map(str::to_owned);
    let path = request.raw_http_path();
    let from_path = || {
        let (_, rest) = path.split_once(DELETED_PATH)?;
        Some(rest.trim_start_matches('/').split('/').next()?.to_owned())
    };
    let raw = from_parameters.or_else(from_path).ok_or(Error::NotFound)?;
    SecretId::parse(&raw).ok_or(Error::NotFound)
}

/// A page of deleted secrets: `after` (an id) and `pageSize`, each
/// optional and given at most once.
pub fn deleted_page_request(request: &Request) -> Result<DeletedPageRequest> {
    let query = request.query_string_parameters_ref();
    let values = |name: &str| query.and_then(|q| q.all(name)).unwrap_or_default();
    DeletedPageRequest::from_query(&values("after"), &values("pageSize"))
}

pub fn page_request(request: &Request) -> Result<PageRequest> {
    let query = request.query_string_parameters_ref();
    let values = |name: &str| query.and_then(|q| q.all(name)).unwrap_or_default();
    PageRequest::from_query(&values("page"), &values("pageSize"))
}

/// Takes the JSON body out of the request, checking its size and media type.
/// The returned buffer is wiped when dropped, since it may hold a secret.
/// A missing body or a wrong media type is a 400, as the contract documents
/// for these operations, rather than an undocumented 415.
pub fn take_json_body(request: &mut Request) -> Result<Zeroizing<Vec<u8>>> {
    let is_json = request
        .headers()
        .get(lambda_http::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_json_media_type);
    let body = Zeroizing::new(match std::mem::take(request.body_mut()) {
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    });
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    if body.is_empty() {
        return Err(Error::bad_request("a JSON request body is required"));
    }
    if !is_json {
        return Err(Error::bad_request("Content-Type must be application/json"));
    }
    Ok(body)
}

/// `application/json` or any `+json` type, parameters (charset) ignored.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.rsplit_once('+').is_some_and(|(kind, suffix)| {
            kind.starts_with("application/") && suffix.eq_ignore_ascii_case("json")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_are_recognised_with_parameters() {
        for yes in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json_media_type(yes), "{yes}");
        }
        for no in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "text/json",
            "application/jsonx",
        ] {
            assert!(!is_json_media_type(no), "{no}");
        }
    }

    #[test]
    fn percent_decoding_is_strict() {
        assert_eq!(percent_decode("my%2Dtag").as_deref(), Some("my-tag"));
        assert_eq!(percent_decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
