//! openapi/cortex-secrets.json must say what the code does: its limits,
//! the statuses each operation can answer, the error types, and the shapes
//! of the bodies. (schemathesis checks the running service against it too.)

use std::collections::BTreeSet;

use lambda_http::Body;
use secrets_domain::Error;
use secrets_domain::clock::Timestamp;
use secrets_domain::error::AuthFailure;
use secrets_domain::model::{
    MAX_NAME_CHARS, MAX_SECRET_BYTES, MAX_TAG_LEN, SecretId, SecretName, SecretSummary, Tag,
};
use secrets_domain::page::{DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE, Page, PageRequest};
use secrets_domain::service::VersionList;
use secrets_domain::versions::ValueVersion;
use secrets_lambda::request::MAX_BODY_BYTES;
use secrets_lambda::response::{error_response, versions};
use serde_json::Value;

fn document() -> Value {
    serde_json::from_str(include_str!("../../../openapi/cortex-secrets.json")).unwrap()
}

fn upstream() -> Value {
    serde_json::from_str(include_str!(
        "../../../openapi/upstream/cortex-secrets-openapi.json"
    ))
    .unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

fn number(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

/// One of each error. Adding a variant breaks the match below, which is the
/// reminder to list it here too.
fn every_error() -> Vec<Error> {
    let all = vec![
        Error::bad_request("x"),
        Error::unauthenticated(AuthFailure::Invalid),
        Error::Forbidden {
            permission: "P".into(),
        },
        Error::NotFound,
        Error::TagTaken { tag: "t".into() },
        Error::VersionIsCurrent { value_version: 1 },
        Error::QuotaExceeded { limit: 1 },
        Error::PreconditionFailed,
        Error::MalformedPrecondition,
        Error::IdempotencyKeyReused,
        Error::PayloadTooLarge { limit: 1 },
        Error::Throttled {
            retry_after_secs: 1,
        },
        Error::Unavailable {
            retry_after_secs: 1,
            source: None,
        },
        Error::internal("test", "x"),
    ];
    for error in &all {
        match error {
            Error::BadRequest { .. }
            | Error::Unauthenticated { .. }
            | Error::Forbidden { .. }
            | Error::NotFound
            | Error::TagTaken { .. }
            | Error::VersionIsCurrent { .. }
            | Error::QuotaExceeded { .. }
            | Error::PreconditionFailed
            | Error::MalformedPrecondition
            | Error::IdempotencyKeyReused
            | Error::PayloadTooLarge { .. }
            | Error::Throttled { .. }
            | Error::Unavailable { .. }
            | Error::Internal { .. } => {}
        }
    }
    all
}

#[test]
fn request_limits_are_the_codes_limits() {
    let doc = document();
    let create = &schema(&doc, "CreateSecretRequest")["properties"];
    let update = &schema(&doc, "UpdateSecretRequest")["properties"];
    assert_eq!(number(&create["tag"]["maxLength"]), MAX_TAG_LEN as u64);
    assert_eq!(number(&create["tag"]["minLength"]), 1);
    assert_eq!(create["tag"]["pattern"], "^[A-Za-z0-9_-]+$");
    for properties in [create, update] {
        assert_eq!(
            number(&properties["name"]["maxLength"]),
            MAX_NAME_CHARS as u64
        );
        assert_eq!(number(&properties["name"]["minLength"]), 1);
        assert_eq!(
            number(&properties["secret"]["maxLength"]),
            MAX_SECRET_BYTES as u64
        );
        assert_eq!(number(&properties["secret"]["minLength"]), 1);
    }
    let too_large = &doc["components"]["responses"]["PayloadTooLarge"]["description"];
    assert!(
        too_large
            .as_str()
            .unwrap()
            .contains(&format!("{} KiB", MAX_BODY_BYTES / 1024)),
        "{too_large}"
    );
}

#[test]
fn paging_parameters_are_the_codes_defaults_and_ranges() {
    let doc = document();
    let parameters = doc["paths"]["/api/v1/secrets"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let find = |name: &str| {
        parameters
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not documented"))
    };
    let (page, size) = (find("page"), find("pageSize"));
    assert_eq!(page["required"], false);
    assert_eq!(size["required"], false);
    assert_eq!(number(&page["schema"]["default"]), 0);
    assert_eq!(number(&page["schema"]["minimum"]), 0);
    assert_eq!(number(&page["schema"]["maximum"]), u64::from(MAX_PAGE));
    assert_eq!(
        number(&size["schema"]["default"]),
        u64::from(DEFAULT_PAGE_SIZE)
    );
    assert_eq!(number(&size["schema"]["minimum"]), 1);
    assert_eq!(number(&size["schema"]["maximum"]), u64::from(MAX_PAGE_SIZE));
}

#[test]
fn every_error_type_is_a_member_of_the_contracts_enum() {
    for doc in [document(), upstream()] {
        let allowed: BTreeSet<&str> = schema(&doc, "ErrorResponse")["properties"]["type"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for error in every_error() {
            assert!(
                allowed.contains(error.error_type()),
                "{}",
                error.error_type()
            );
        }
    }
}

/// What each operation can answer: 200, the errors every operation can
/// meet, and its own.
fn statuses(operation: &str) -> BTreeSet<u16> {
    let common = [200, 401, 403, 429, 500, 503];
    let own: &[u16] = match operation {
        "listAllSecrets" => &[400],
        "createSecret" => &[400, 409, 413, 422],
        "getSecret" | "listSecretVersions" => &[404],
        "updateSecret" => &[400, 404, 412, 413],
        "deleteSecret" => &[404, 412],
        "restoreSecretVersion" => &[404, 409, 412],
        "listDeletedSecrets" => &[400],
        // A tag taken since, or the tenant at its limit.
        "recoverDeletedSecret" => &[404, 409],
        other => panic!("unknown operation {other}"),
    };
    common.iter().chain(own).copied().collect()
}

fn documented(doc: &Value) -> Vec<(String, BTreeSet<u16>)> {
    let mut operations = Vec::new();
    for methods in doc["paths"].as_object().unwrap().values() {
        for operation in methods.as_object().unwrap().values() {
            let codes = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|code| code.parse().unwrap())
                .collect();
            operations.push((operation["operationId"].as_str().unwrap().to_owned(), codes));
        }
    }
    operations
}

#[test]
fn each_operation_documents_exactly_the_statuses_it_can_answer() {
    let upstream: Vec<_> = documented(&upstream());
    for (operation, codes) in documented(&document()) {
        let expected = statuses(&operation);
        let missing: Vec<_> = expected.difference(&codes).collect();
        assert!(
            missing.is_empty(),
            "{operation} does not document {missing:?}"
        );
        // Anything more must come from the upstream document, unchanged
        // (our own operations inherit nothing).
        let none = BTreeSet::new();
        let inherited = upstream
            .iter()
            .find(|(op, _)| *op == operation)
            .map_or(&none, |(_, codes)| codes);
        let extra: Vec<_> = codes
            .difference(&expected)
            .filter(|code| !inherited.contains(code))
            .collect();
        assert!(
            extra.is_empty(),
            "{operation} documents {extra:?}, which it never answers"
        );
    }
}

fn property_names(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn required(schema: &Value) -> BTreeSet<String> {
    schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn bodies_have_the_documented_shapes() {
    let doc = document();
    let summary = SecretSummary {
        id: SecretId::generate().unwrap(),
        name: SecretName::parse("Name".into()).unwrap(),
        tag: Tag::parse("tag").unwrap(),
        version: secrets_domain::model::FIRST_VERSION,
        value_version: None,
    };
    let secret = serde_json::to_value(&summary).unwrap();
    let secret_schema = schema(&doc, "SecretResponse");
    assert_eq!(keys(&secret), property_names(secret_schema));
    assert!(required(secret_schema).is_subset(&keys(&secret)));

    let version = |number, restored_from| ValueVersion {
        number,
        created_at: Timestamp::from_millis(1_795_000_000_000),
        created_by: "someone".into(),
        restored_from,
    };
    let list = VersionList {
        secret: SecretSummary {
            value_version: Some(2),
            ..summary.clone()
        },
        versions: vec![version(2, Some(1)), version(1, None)],
    };
    let Body::Text(text) = versions(&list).unwrap().into_body() else {
        panic!("no body")
    };
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        keys(&listed),
        property_names(schema(&doc, "SecretVersionsResponse"))
    );
    let version_schema = schema(&doc, "SecretVersion");
    for shown in listed["versions"].as_array().unwrap() {
        assert!(
            keys(shown).is_subset(&property_names(version_schema)),
            "{shown}"
        );
        assert!(required(version_schema).is_subset(&keys(shown)), "{shown}");
    }
    assert_eq!(listed["versions"][0]["restoredFrom"], 1);
    assert_eq!(listed["versions"][0]["current"], true);
    assert_eq!(
        listed["versions"][0]["createdAt"],
        "2026-11-18T11:06:40.000Z"
    );

    let page =
        serde_json::to_value(Page::new(PageRequest::new(0, 1).unwrap(), vec![summary], 1)).unwrap();
    let page_schema = schema(&doc, "AllSecretsResponse");
    assert_eq!(keys(&page), property_names(page_schema));

    for error in every_error() {
        let response = error_response(&error, "request-id");
        let Body::Text(text) = response.body() else {
            panic!("no body")
        };
        let body: Value = serde_json::from_str(text).unwrap();
        let shape = if response.status() == 429 {
            schema(&doc, "TooManyRequestsProblemDetail")
        } else {
            schema(&doc, "ErrorResponse")
        };
        assert!(keys(&body).is_subset(&property_names(shape)), "{body}");
        assert!(required(shape).is_subset(&keys(&body)), "{body}");
    }
}
