//! Request bodies: JSON in, validated domain values out, with errors that
//! name the field and never repeat what the caller sent.

mod json;

use zeroize::Zeroizing;

use crate::error::Result;
use crate::model::{SecretName, SecretValue, Tag};
pub use json::MAX_JSON_DEPTH;
use json::{Problems, parse_object};

/// A valid `POST /api/v1/secrets` body.
#[derive(Debug)]
pub struct CreateSecret {
    pub tag: Tag,
    pub name: SecretName,
    pub secret: SecretValue,
}

/// A valid `PUT /api/v1/secrets/{tagOrId}` body: each field optional.
#[derive(Debug, Default)]
pub struct UpdateSecret {
    pub name: Option<SecretName>,
    pub secret: Option<SecretValue>,
}

impl CreateSecret {
    pub fn from_json(body: &[u8]) -> Result<Self> {
        let mut members = parse_object(body, &["tag", "name", "secret"])?;
        let mut problems = Problems::default();
        let tag = problems.check(members.take(0).required("tag").and_then(|t| Tag::parse(&t)));
        let name = problems.check(members.take(1).required("name").and_then(SecretName::parse));
        let secret = problems.check(
            members
                .take(2)
                .required("secret")
                .and_then(|s| SecretValue::parse(Zeroizing::new(s))),
        );
        match (tag, name, secret) {
            (Some(tag), Some(name), Some(secret)) => Ok(Self { tag, name, secret }),
            _ => Err(problems.into_error()),
        }
    }
}

impl UpdateSecret {
    pub fn from_json(body: &[u8]) -> Result<Self> {
        let mut members = parse_object(body, &["name", "secret"])?;
        let mut problems = Problems::default();
        let name = problems.check(
            members
                .take(0)
                .optional("name")
                .and_then(|n| n.map(SecretName::parse).transpose()),
        );
        let secret = problems.check(
            members
                .take(1)
                .optional("secret")
                .and_then(|s| s.map(|s| SecretValue::parse(Zeroizing::new(s))).transpose()),
        );
        match (name, secret) {
            (Some(name), Some(secret)) => Ok(Self { name, secret }),
            _ => Err(problems.into_error()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.secret.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create_error(body: &str) -> String {
        let error = CreateSecret::from_json(body.as_bytes()).unwrap_err();
        assert_eq!(error.http_status(), 400, "{body}");
        error.to_string()
    }

    #[test]
    fn a_complete_create_body_parses_and_ignores_unknown_fields() {
        let body = br#"{"tag":"db-password","name":"DB","secret":"hunter2","id":"se0000000000000000","extra":[1,{"a":null}]}"#;
        let create = CreateSecret::from_json(body).unwrap();
        assert_eq!(create.tag.as_str(), "db-password");
        assert_eq!(create.name.as_str(), "DB");
        assert_eq!(create.secret.as_bytes(), b"hunter2");
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let body = br#"{"tag":"t","name":"caf\u00e9","secret":"line\nbreak \ud83d\ude00"}"#;
        let create = CreateSecret::from_json(body).unwrap();
        assert_eq!(create.name.as_str(), "caf\u{e9}");
        assert_eq!(create.secret.as_bytes(), "line\nbreak \u{1f600}".as_bytes());
    }

    #[test]
    fn every_missing_or_mistyped_field_is_named() {
        assert_eq!(
            create_error("{}"),
            "tag is required; name is required; secret is required"
        );
        assert_eq!(
            create_error(r#"{"tag":null,"name":7,"secret":["x"]}"#),
            "tag must be a string, not null; name must be a string, not a number; \
             secret must be a string, not an array"
        );
        assert_eq!(
            create_error(r#"{"tag":"t","name":"n","secret":{"v":"x"}}"#),
            "secret must be a string, not an object"
        );
        assert_eq!(
            create_error(r#"{"tag":"t","name":true,"secret":"x"}"#),
            "name must be a string, not a boolean"
        );
    }

    #[test]
    fn invalid_values_are_reported_without_echoing_the_secret() {
        let message = create_error(r#"{"tag":"bad tag","name":" ","secret":""}"#);
        assert!(message.contains("tag must be"), "{message}");
        assert!(message.contains("name must not be blank"), "{message}");
        assert!(
            message.contains("secret must be 1 to 65536 bytes"),
            "{message}"
        );
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_refused_without_quoting_them() {
        for body in [
            "",
            "  ",
            "not json",
            r#""hunter2-marker""#,
            "[1,2]",
            r#"["t","n","hunter2-marker"]"#,
            "42",
            "null",
            r#"{"tag":"t","name":"n","secret":"hunter2-marker""#,
            r#"{"tag":"t","name":"n","secret":"\ud800"}"#,
        ] {
            let message = create_error(body);
            assert!(!message.contains("hunter2-marker"), "{message}");
        }
    }

    #[test]
    fn invalid_utf8_and_deep_nesting_are_bad_requests() {
        let error = CreateSecret::from_json(b"{\"tag\":\"t\",\"name\":\"\xff\",\"secret\":\"s\"}")
            .unwrap_err();
        assert_eq!(error.http_status(), 400);
        let nested = |levels: usize| {
            format!(
                r#"{{"tag":"t","name":"n","secret":"[{{\"","x":{}1{}}}"#,
                "[".repeat(levels),
                "]".repeat(levels)
            )
        };
        assert!(CreateSecret::from_json(nested(MAX_JSON_DEPTH - 1).as_bytes()).is_ok());
        let error = CreateSecret::from_json(nested(MAX_JSON_DEPTH).as_bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "request body nests deeper than 32 levels"
        );
        let error = CreateSecret::from_json(nested(100_000).as_bytes()).unwrap_err();
        assert_eq!(error.http_status(), 400);
    }

    #[test]
    fn duplicate_fields_are_refused_by_name() {
        assert_eq!(
            create_error(r#"{"tag":"a","name":"n","secret":"s","tag":"b"}"#),
            "field `tag` appears more than once"
        );
    }

    #[test]
    fn update_fields_are_optional_but_typed() {
        let update = UpdateSecret::from_json(b"{}").unwrap();
        assert!(update.is_empty());
        let update = UpdateSecret::from_json(br#"{"name":"New","tag":"ignored"}"#).unwrap();
        assert_eq!(update.name.unwrap().as_str(), "New");
        assert!(update.secret.is_none());
        let error = UpdateSecret::from_json(br#"{"name":null,"secret":5}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "name must be a string, not null; secret must be a string, not a number"
        );
    }
}
