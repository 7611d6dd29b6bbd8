//! `If-Match` (RFC 9110 §13.1.1): change or delete a secret only if it is
//! still the version the client last saw.
//!
//! Evaluated after authentication, input validation and the lookup of the
//! secret (RFC 9110 §13.2.1: a request that would fail without its
//! preconditions fails the same way with them, so a missing secret is a 404,
//! never a 412), and again as a condition of the write itself, so that a
//! change landing between the check and the write is caught too.

use crate::error::{Error, Result};
use crate::model::SecretSummary;

/// The longest `If-Match` value worth parsing: a client naming more than a
/// few hundred versions is not doing optimistic concurrency.
const MAX_IF_MATCH_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version.
    Any,
    /// A list of entity tags; weak ones never match (strong comparison).
    Tags(Vec<EntityTag>),
    /// Neither: it names no version, so it matches none. Silently ignoring
    /// a garbled precondition would turn a guarded write into an unguarded
    /// one; refusing it at once would put a 412 before a 404.
    Malformed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    pub weak: bool,
    /// Between the quotes, exclusive.
    pub opaque: Vec<u8>,
}

impl IfMatch {
    /// Parses the field's combined value (several header lines joined by
    /// commas).
    pub fn parse(value: &[u8]) -> Self {
        if value.len() > MAX_IF_MATCH_BYTES {
            return Self::Malformed;
        }
        if value.trim_ascii() == b"*" {
            return Self::Any;
        }
        let mut tags = Vec::new();
        let mut rest = value;
        loop {
            rest = rest.trim_ascii_start();
            // Empty list elements are allowed by the list syntax (RFC 9110 §5.6.1).
            if let Some(after_comma) = rest.strip_prefix(b",") {
                rest = after_comma;
                continue;
            }
            if rest.is_empty() {
                break;
            }
            let Some((tag, after_tag)) = EntityTag::parse_prefix(rest) else {
                return Self::Malformed;
            };
            tags.push(tag);
            rest = after_tag.trim_ascii_start();
            if !matches!(rest.first(), None | Some(b',')) {
                return Self::Malformed;
            }
        }
        if tags.is_empty() {
            return Self::Malformed;
        }
        Self::Tags(tags)
    }

    /// Whether it names no version but any current one (`*`): a change
    /// landing between the read and the write leaves it matching, so the
    /// write is retried as without `If-Match` (RFC 9110, 13.1.1).
    pub fn matches_any_version(&self) -> bool {
        matches!(self, Self::Any)
    }

    /// `Error::PreconditionFailed` unless `current` is a version the client
    /// named; `Error::MalformedPrecondition` (also a 412) for a value that
    /// names none.
    pub fn check(&self, current: &SecretSummary) -> Result<()> {
        let matches = match self {
            Self::Any => true,
            Self::Malformed => return Err(Error::MalformedPrecondition),
            Self::Tags(tags) => {
                let current = current.etag();
                let opaque = current.as_bytes().get(1..current.len() - 1);
                tags.iter()
                    .any(|tag| !tag.weak && Some(tag.opaque.as_slice()) == opaque)
            }
        };
        if matches {
            Ok(())
        } else {
            Err(Error::PreconditionFailed)
        }
    }
}

impl EntityTag {
    /// `[W/]"<etagc>*"` at the start of `input`, and what follows it.
    fn parse_prefix(input: &[u8]) -> Option<(Self, &[u8])> {
        let (weak, quoted) = match input.strip_prefix(b"W/") {
            Some(rest) => (true, rest),
            None => (false, input),
        };
        let inner = quoted.strip_prefix(b"\"")?;
        let end = inner.iter().position(|&b| b == b'"')?;
        let opaque = &inner[..end];
        // etagc = %x21 / %x23-7E / obs-text: no spaces, no controls.
        if !opaque.iter().all(|&b| b == 0x21 || b >= 0x23 && b != 0x7F) {
            return None;
        }
        Some((
            Self {
                weak,
                opaque: opaque.to_vec(),
            },
            &inner[end + 1..],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SecretId, SecretName, Tag};

    fn secret(version: u64) -> SecretSummary {
        SecretSummary {
            id: SecretId::parse("se0123456789abcdef").unwrap(),
            name: SecretName::parse("n".into()).unwrap(),
            tag: Tag::parse("db").unwrap(),
            version,
            value_version: None,
        }
    }

    fn check(header: &str, version: u64) -> Result<()> {
        IfMatch::parse(header.as_bytes()).check(&secret(version))
    }

    #[test]
    fn the_current_strong_tag_or_a_star_matches() {
        for header in [
            "\"se0123456789abcdef.3\"",
            " \"se0123456789abcdef.3\" ",
            "*",
            "\"se0123456789abcdef.1\", \"se0123456789abcdef.3\"",
            ",\"other\",,\"se0123456789abcdef.3\",",
        ] {
            assert!(check(header, 3).is_ok(), "{header}");
        }
    }

    #[test]
    fn other_versions_other_secrets_and_weak_tags_fail_the_precondition() {
        for header in [
            "\"se0123456789abcdef.2\"",
            "\"se0123456789abcdef.30\"",
            "\"se00000000000000ff.3\"",
            "W/\"se0123456789abcdef.3\"",
            "\"\"",
        ] {
            assert!(
                matches!(check(header, 3), Err(Error::PreconditionFailed)),
                "{header}"
            );
        }
    }

    #[test]
    fn malformed_values_match_nothing_and_say_so() {
        for header in [
            "",
            " , ",
            "se0123456789abcdef.3",
            "\"se0123456789abcdef.3",
            "\"a\" \"b\"",
            "\"a\";x",
            "w/\"a\"",
            "\"a b\"",
            "**",
            "*, \"a\"",
        ] {
            assert_eq!(
                IfMatch::parse(header.as_bytes()),
                IfMatch::Malformed,
                "{header}"
            );
            let error = check(header, 3).unwrap_err();
            assert!(matches!(error, Error::MalformedPrecondition), "{header}");
            assert_eq!(error.http_status(), 412);
        }
        let huge = format!("\"se0123456789abcdef.3\",{}", " ".repeat(9000));
        assert_eq!(IfMatch::parse(huge.as_bytes()), IfMatch::Malformed);
    }

    #[test]
    fn the_etag_names_the_id_and_the_version() {
        assert_eq!(secret(7).etag(), "\"se0123456789abcdef.7\"");
    }
}
