//! Reading a JSON object whose members of interest are strings, with every
//! problem typed: which field is missing, mistyped or given twice is known
//! from the parse itself, never read back out of an error message. Error
//! messages never repeat what the caller sent: serde_json's can quote the
//! input, which may hold a secret.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, Result};

/// No valid body nests deeper than 2 levels; unknown fields may add some,
/// but a document deeper than this is garbage, not a request.
pub const MAX_JSON_DEPTH: usize = 32;

/// The members named `names` of a JSON object, in that order. Unknown
/// members are skipped (never applied). A known member given twice is an
/// error: two parsers reading one body must never disagree on its meaning.
pub(super) struct Members(Vec<StringField>);

impl Members {
    /// The member at `index` of the names it was read with.
    pub(super) fn take(&mut self, index: usize) -> StringField {
        std::mem::take(&mut self.0[index])
    }
}

pub(super) fn parse_object(body: &[u8], names: &'static [&'static str]) -> Result<Members> {
    // Checked up front, so that an array is refused as such.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(not_an_object());
    }
    if nesting_depth(body) > MAX_JSON_DEPTH {
        return Err(Error::bad_request(format!(
            "request body nests deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    let duplicate = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = ObjectSeed {
        names,
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|members| deserializer.end().map(|()| members));
    parsed.map_err(|error| {
        use serde_json::error::Category;
        match (duplicate.get(), error.classify()) {
            (Some(field), _) => {
                Error::bad_request(format!("field `{field}` appears more than once"))
            }
            (None, Category::Data) => not_an_object(),
            (None, Category::Syntax | Category::Eof | Category::Io) => Error::bad_request(format!(
                "request body is not valid JSON (line {}, column {}); it must be UTF-8 \
                     without lone surrogates",
                error.line(),
                error.column()
            )),
        }
    })
}

fn not_an_object() -> Error {
    Error::bad_request("request body must be a JSON object")
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

/// Reads an object into [`Members`]; a repeated known member is noted in
/// `duplicate` (by its own name, so the message needs no parsing) and ends
/// the parse.
struct ObjectSeed<'a> {
    names: &'static [&'static str],
    duplicate: &'a Cell<Option<&'static str>>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = Members;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Members, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = Members;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut members: Vec<StringField> =
            self.names.iter().map(|_| StringField::Missing).collect();
        while let Some(key) = map.next_key::<String>()? {
            let Some(index) = self.names.iter().position(|name| *name == key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if !matches!(members[index], StringField::Missing) {
                self.duplicate.set(Some(self.names[index]));
                return Err(de::Error::custom("a member appears more than once"));
            }
            members[index] = map.next_value()?;
        }
        Ok(Members(members))
    }
}

/// A JSON value expected to be a string, remembering what else it was.
#[derive(Default)]
pub(super) enum StringField {
    #[default]
    Missing,
    Null,
    Other(&'static str),
    Text(String),
}

impl StringField {
    pub(super) fn required(self, field: &str) -> Result<String> {
        self.optional(field)?
            .ok_or_else(|| Error::bad_request(format!("{field} is required")))
    }

    pub(super) fn optional(self, field: &str) -> Result<Option<String>> {
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

impl<'de> de::Deserialize<'de> for StringField {
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
pub(super) struct Problems(Vec<String>);

impl Problems {
    pub(super) fn check<T>(&mut self, result: Result<T>) -> Option<T> {
        result.map_err(|error| self.0.push(error.to_string())).ok()
    }

    pub(super) fn into_error(self) -> Error {
        Error::bad_request(self.0.join("; "))
    }
}
