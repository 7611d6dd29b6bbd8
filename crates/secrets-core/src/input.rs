//! Request bodies: JSON in, validated domain values out, with errors that
//! name the field and never repeat what the caller sent.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use zeroize::Zeroizing;

use crate::domain::{MAX_TENANT_CHARS, SecretKey, SecretName, SecretValue, Tag, TenantId};
use crate::error::{Error, Result};

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

/// A valid resolve invocation, `{"tenant": ..., "tagOrId": ..., "caller": ...}`,
/// from a trusted internal system calling the resolve function directly.
#[derive(Debug)]
pub struct ResolveSecret {
    pub tenant: TenantId,
    pub key: SecretKey,
    /// Who the calling system acts for, as it declares it: recorded in the
    /// audit trail next to the invocation's request id, which CloudTrail
    /// ties to the verified IAM principal.
    pub on_behalf_of: Option<String>,
}

/// The longest `caller` a resolve invocation may declare.
pub const MAX_CALLER_CHARS: usize = 256;

impl ResolveSecret {
    pub fn from_event(event: &serde_json::Value) -> Result<Self> {
        let bytes =
            serde_json::to_vec(event).map_err(|e| Error::internal("reading the event", e))?;
        Self::from_json(&bytes)
    }

    pub fn from_json(event: &[u8]) -> Result<Self> {
        let raw: RawResolve = parse_object(event)?;
        let mut problems = Problems::default();
        let tenant = problems.check(raw.tenant.required("tenant").and_then(|t| {
            TenantId::parse(&t).ok_or_else(|| {
                Error::bad_request(format!(
                    "tenant must be 1 to {MAX_TENANT_CHARS} characters, without control characters"
                ))
            })
        }));
        let key = problems.check(raw.tag_or_id.required("tagOrId"));
        let on_behalf_of = problems.check(raw.caller.optional("caller").and_then(|caller| {
            caller
                .filter(|c| !c.is_empty())
                .map(parse_caller)
                .transpose()
        }));
        let (Some(tenant), Some(key), Some(on_behalf_of)) = (tenant, key, on_behalf_of) else {
            return Err(problems.into_error());
        };
        Ok(Self {
            tenant,
            // As on the HTTP paths, what can name no secret is not found.
            key: SecretKey::parse(&key).ok_or(Error::NotFound)?,
            on_behalf_of,
        })
    }
}

fn parse_caller(caller: String) -> Result<String> {
    let acceptable =
        caller.chars().count() <= MAX_CALLER_CHARS && !caller.chars().any(char::is_control);
    acceptable.then_some(caller).ok_or_else(|| {
        Error::bad_request(format!(
            "caller must be at most {MAX_CALLER_CHARS} characters, without control characters"
        ))
    })
}

impl CreateSecret {
    pub fn from_json(body: &[u8]) -> Result<Self> {
        let raw: RawCreate = parse_object(body)?;
        let mut problems = Problems::default();
        let tag = problems.check(raw.tag.required("tag").and_then(|t| Tag::parse(&t)));
        let name = problems.check(raw.name.required("name").and_then(SecretName::parse));
        let secret = problems.check(
            raw.secret
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
        let raw: RawUpdate = parse_object(body)?;
        let mut problems = Problems::default();
        let name = problems.check(
            raw.name
                .optional("name")
                .and_then(|n| n.map(SecretName::parse).transpose()),
        );
        let secret = problems.check(
            raw.secret
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

// Unknown fields are skipped (never applied). Duplicate known fields are an
// error: two parsers reading one body must never disagree on its meaning.
#[derive(Deserialize)]
struct RawCreate {
    #[serde(default)]
    tag: StringField,
    #[serde(default)]
    name: StringField,
    #[serde(default)]
    secret: StringField,
}

#[derive(Deserialize)]
struct RawResolve {
    #[serde(default)]
    tenant: StringField,
    #[serde(default, rename = "tagOrId")]
    tag_or_id: StringField,
    #[serde(default)]
    caller: StringField,
}

#[derive(Deserialize)]
struct RawUpdate {
    #[serde(default)]
    name: StringField,
    #[serde(default)]
    secret: StringField,
}

/// No valid body nests deeper than 2 levels; unknown fields may add some,
/// but a document deeper than this is garbage, not a request.
pub const MAX_JSON_DEPTH: usize = 32;

fn parse_object<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T> {
    // Checked up front: serde would also read a JSON array as a struct.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::bad_request("request body must be a JSON object"));
    }
    if nesting_depth(body) > MAX_JSON_DEPTH {
        return Err(Error::bad_request(format!(
            "request body nests deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    serde_json::from_slice(body).map_err(|error| {
        use serde_json::error::Category;
        // serde_json's messages can quote the input, which may hold a secret:
        // only the category, position and our own field names go back.
        match error.classify() {
            Category::Data => match duplicate_field(&error.to_string()) {
                Some(field) => {
                    Error::bad_request(format!("field `{field}` appears more than once"))
                }
                None => Error::bad_request("request body must be a JSON object"),
            },
            Category::Syntax | Category::Eof | Category::Io => Error::bad_request(format!(
                "request body is not valid JSON (line {}, column {}); it must be UTF-8 \
                 without lone surrogates",
                error.line(),
                error.column()
            )),
        }
    })
}

/// The deepest nesting of arrays and objects, skipping over strings. Runs
/// before parsing, in one pass and constant memory.
fn nesting_depth(body: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in body {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The field name out of serde's "duplicate field `x`" message; only our own
/// field names can appear there, since unknown fields are skipped.
fn duplicate_field(message: &str) -> Option<&'static str> {
    let rest = message.strip_prefix("duplicate field `")?;
    let name = &rest[..rest.find('`')?];
    ["tag", "name", "secret", "tenant", "tagOrId", "caller"]
        .into_iter()
        .find(|known| *known == name)
}

/// A JSON value expected to be a string, remembering what else it was.
#[derive(Default)]
enum StringField {
    #[default]
    Missing,
    Null,
    Other(&'static str),
    Text(String),
}

impl StringField {
    fn required(self, field: &str) -> Result<String> {
        self.optional(field)?
            .ok_or_else(|| Error::bad_request(format!("{field} is required")))
    }

    fn optional(self, field: &str) -> Result<Option<String>> {
        match self {
            Self::Missing => Ok(None),
            Self::Text(text) => Ok(Some(text)),
            Self::Null => Err(Error::bad_request(format!(
                "{field} must be a string, not null"
            ))),
            Self::Other(kind) => Err(Error::bad_request(format!(
                "{field} must be a string, not {kind}"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for StringField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StringFieldVisitor)
    }
}

struct StringFieldVisitor;

impl<'de> Visitor<'de> for StringFieldVisitor {
    type Value = StringField;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<StringField, E> {
        Ok(StringField::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<StringField, E> {
        Ok(StringField::Text(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<StringField, E> {
        Ok(StringField::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<StringField, E> {
        Ok(StringField::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<StringField, E> {
        Ok(StringField::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<StringField, E> {
        Ok(StringField::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<StringField, E> {
        Ok(StringField::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<StringField, E> {
        Ok(StringField::Other("a number"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringField, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(StringField::Other("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringField, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(StringField::Other("an object"))
    }
}

/// Collects every field's problem so that one response lists them all.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check<T>(&mut self, result: Result<T>) -> Option<T> {
        result.map_err(|error| self.0.push(error.to_string())).ok()
    }

    fn into_error(self) -> Error {
        Error::bad_request(self.0.join("; "))
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

    #[test]
    fn a_resolve_event_names_a_tenant_and_a_secret() {
        let resolve = ResolveSecret::from_json(
            br#"{"tenant":"acme","tagOrId":"db","caller":"runner-7","extra":1}"#,
        )
        .unwrap();
        assert_eq!(resolve.tenant.as_str(), "acme");
        assert!(matches!(resolve.key, SecretKey::Tag(ref tag) if tag.as_str() == "db"));
        assert_eq!(resolve.on_behalf_of.as_deref(), Some("runner-7"));
        let by_id =
            ResolveSecret::from_json(br#"{"tenant":"acme","tagOrId":"se0123456789abcdef"}"#)
                .unwrap();
        assert!(matches!(by_id.key, SecretKey::Id(_)));
        assert_eq!(by_id.on_behalf_of, None);
    }

    #[test]
    fn a_bad_resolve_event_is_refused_by_field() {
        for (event, status, message) in [
            (r#"{}"#, 400, "tenant is required; tagOrId is required"),
            (
                r#"{"tenant":"","tagOrId":"db"}"#,
                400,
                "tenant must be 1 to 128",
            ),
            (
                r#"{"tenant":"a","tagOrId":7}"#,
                400,
                "tagOrId must be a string, not a number",
            ),
            (
                r#"{"tenant":"a","tagOrId":"db","caller":"a\nb"}"#,
                400,
                "caller must be",
            ),
            (
                r#"{"tenant":"a","tagOrId":"no/such tag"}"#,
                404,
                "secret not found",
            ),
            ("[]", 400, "must be a JSON object"),
        ] {
            let error = ResolveSecret::from_json(event.as_bytes()).unwrap_err();
            assert_eq!(error.http_status(), status, "{event}");
            assert!(error.to_string().contains(message), "{event}: {error}");
        }
    }
}
