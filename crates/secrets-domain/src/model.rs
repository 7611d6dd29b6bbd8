//! The values a secret is made of, which can only hold valid values:
//! parsing is validation.

use std::fmt;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::text;

pub const MAX_TAG_LEN: usize = 100;
pub const MAX_NAME_CHARS: usize = 255;
pub const MAX_SECRET_BYTES: usize = 64 * 1024;
pub const MAX_TENANT_CHARS: usize = 128;

const ID_PREFIX: &str = "se";
const ID_HEX_DIGITS: usize = 16;

/// The tenant a caller acts for, taken from a verified token claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TenantId(String);

impl TenantId {
    /// Accepts what an identity provider plausibly issues; rejects what could
    /// corrupt a log line or a storage key (control characters, huge values)
    /// or pass for another tenant on screen (see [`crate::text`]). Never
    /// normalised: two tenants the issuer tells apart stay apart.
    pub fn parse(raw: &str) -> Option<Self> {
        let chars = raw.chars().count();
        let acceptable = (1..=MAX_TENANT_CHARS).contains(&chars) && text::hidden(raw).is_none();
        acceptable.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `N` bytes from the system CSPRNG as `2N` lowercase hex digits.
pub fn random_hex<const N: usize>() -> Result<String> {
    let mut random = [0u8; N];
    aws_lc_rs::rand::fill(&mut random)
        .map_err(|_| Error::internal("drawing random bytes", "the system CSPRNG failed"))?;
    Ok(random.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// `se` followed by 16 lowercase hex digits from a CSPRNG: 64 random bits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SecretId(String);

impl SecretId {
    pub fn generate() -> Result<Self> {
        Ok(Self(format!(
            "{ID_PREFIX}{}",
            random_hex::<{ ID_HEX_DIGITS / 2 }>()?
        )))
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::has_id_shape(raw).then(|| Self(raw.to_owned()))
    }

    /// Whether a string looks like an id. Tags may never look like one, which
    /// is what lets one path segment address a secret by either.
    pub fn has_id_shape(raw: &str) -> bool {
        raw.len() == ID_PREFIX.len() + ID_HEX_DIGITS
            && raw.starts_with(ID_PREFIX)
            && raw[ID_PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 1 to 100 characters of `[A-Za-z0-9_-]`, never shaped like an id.
/// Case-sensitive: `My-Tag` and `my-tag` are different tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Tag(String);

impl Tag {
    pub fn parse(raw: &str) -> Result<Self> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if raw.is_empty() || raw.len() > MAX_TAG_LEN || !raw.bytes().all(allowed) {
            return Err(Error::bad_request(format!(
                "tag must be 1 to {MAX_TAG_LEN} characters, each a letter, a digit, '_' or '-'"
            )));
        }
        if SecretId::has_id_shape(raw) {
            return Err(Error::bad_request(
                "tag must not have the shape of a secret id ('se' followed by 16 lowercase hex digits)",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A human-readable name: 1 to 255 characters, nothing hidden (no outer
/// white space, control or invisible formatting characters: names end up in
/// consoles and logs of API clients, see [`crate::text`]), kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SecretName(String);

impl SecretName {
    pub fn parse(raw: String) -> Result<Self> {
        let chars = raw.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            return Err(Error::bad_request(format!(
                "name must be 1 to {MAX_NAME_CHARS} characters long"
            )));
        }
        if raw.trim().is_empty() {
            return Err(Error::bad_request("name must not be blank"));
        }
        if let Some(hidden) = text::hidden(&raw) {
            return Err(Error::bad_request(format!("name {}", hidden.describe())));
        }
        Ok(Self(raw))
    }

    /// A name read back from storage, accepted under the rules it was
    /// written under: names stored before a rule was tightened (outer white
    /// space, invisible characters) stay readable, never a 500.
    pub fn stored(raw: String) -> Result<Self> {
        if raw.is_empty() || raw.chars().any(char::is_control) {
            return Err(Error::bad_request("name was never valid"));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A secret's plaintext. Wiped from memory when dropped, never printed.
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Takes ownership so that the only copy is the one that gets wiped.
    pub fn parse(raw: Zeroizing<String>) -> Result<Self> {
        if raw.is_empty() || raw.len() > MAX_SECRET_BYTES {
            return Err(Error::bad_request(format!(
                "secret must be 1 to {MAX_SECRET_BYTES} bytes long (UTF-8)"
            )));
        }
        Ok(Self(raw))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// How a path addresses a secret: by its id or by its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOrId {
    Id(SecretId),
    Tag(Tag),
}

impl TagOrId {
    /// `None` when the segment is neither a valid id nor a valid tag: no
    /// secret can have such a key, so callers answer 404, as for any unknown
    /// key.
    pub fn parse(raw: &str) -> Option<Self> {
        match SecretId::parse(raw) {
            Some(id) => Some(Self::Id(id)),
            None => Tag::parse(raw).ok().map(Self::Tag),
        }
    }
}

impl fmt::Display for TagOrId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => id.fmt(f),
            Self::Tag(tag) => tag.fmt(f),
        }
    }
}

/// What the public API shows of a secret: never its value. The version is
/// shown only as part of the `ETag` header, never in a body, so that bodies
/// stay exactly the contract's.
#[derive(Debug, Clone, Eq, Serialize)]
pub struct SecretSummary {
    pub id: SecretId,
    pub name: SecretName,
    pub tag: Tag,
    #[serde(skip)]
    pub version: u64,
    /// The version of the current value (1, 2, ... one per value written),
    /// bound into its ciphertext; `None` for a secret whose value was last
    /// written before versions were bound (scheme v1). Never shown.
    #[serde(skip)]
    pub value_version: Option<u64>,
}

/// The version of a secret as created; every change that succeeds adds one.
pub const FIRST_VERSION: u64 = 1;

/// The same secret at the same version: the value version follows from
/// those (each version has one value), and a read by tag does not name it.
impl PartialEq for SecretSummary {
    fn eq(&self, other: &Self) -> bool {
        (&self.id, &self.name, &self.tag, self.version)
            == (&other.id, &other.name, &other.tag, other.version)
    }
}

impl SecretSummary {
    /// The version its next change leaves it at.
    pub fn next_version(&self) -> u64 {
        self.version + 1
    }

    /// The strong entity tag of this version: `"<id>.<version>"`. The id
    /// makes a secret deleted and re-created under the same tag a different
    /// resource, whose tags never match the old one's.
    pub fn etag(&self) -> String {
        format!("\"{}.{}\"", self.id, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_the_contract_shape_and_differ() {
        let first = SecretId::generate().unwrap();
        let second = SecretId::generate().unwrap();
        for id in [&first, &second] {
            assert_eq!(id.as_str().len(), 18);
            assert!(SecretId::has_id_shape(id.as_str()), "{id}");
        }
        assert_ne!(first, second);
    }

    #[test]
    fn id_shape_is_exact() {
        assert!(SecretId::has_id_shape("se2da8159dbeefb974"));
        for not_an_id in [
            "se2da8159dbeefb97",   // 15 digits
            "se2da8159dbeefb9745", // 17 digits
            "se2DA8159DBEEFB974",  // uppercase hex
            "SE2da8159dbeefb974",  // uppercase prefix
            "sx2da8159dbeefb974",
            "se2da8159dbeefb97g",
        ] {
            assert!(!SecretId::has_id_shape(not_an_id), "{not_an_id}");
        }
    }

    #[test]
    fn tags_accept_the_documented_alphabet_up_to_100_characters() {
        for tag in [
            "a",
            "my-secret",
            "MY_SECRET_2",
            &"x".repeat(100),
            "SE2da8159dbeefb974",
        ] {
            assert_eq!(Tag::parse(tag).unwrap().as_str(), tag);
        }
    }

    #[test]
    fn tags_reject_everything_else_with_a_message_naming_the_field() {
        for tag in [
            "",
            &"x".repeat(101),
            "has space",
            "dot.ted",
            "..",
            "a/b",
            "%2F",
            "caf\u{e9}",
            "\u{430}dmin", // Cyrillic a
            "zero\u{200b}width",
            "e\u{301}",
            "se2da8159dbeefb974",
        ] {
            let error = Tag::parse(tag).unwrap_err();
            assert_eq!(error.http_status(), 400);
            assert!(error.to_string().starts_with("tag "), "{error}");
        }
    }

    #[test]
    fn names_are_1_to_255_characters_not_blank_and_hiding_nothing() {
        assert!(SecretName::parse("My Secret".into()).is_ok());
        assert!(SecretName::parse("\u{e9}".repeat(255)).is_ok());
        for bad in [
            String::new(),
            "   ".into(),
            "\u{e9}".repeat(256),
            "line\nbreak".into(),
            " padded".into(),
            "padded ".into(),
            "evil\u{202e}gpj.exe".into(),
            "zero\u{200b}width".into(),
        ] {
            let error = SecretName::parse(bad).unwrap_err();
            assert!(error.to_string().starts_with("name "), "{error}");
        }
    }

    #[test]
    fn secret_values_are_1_to_64_kib_and_never_printed() {
        let max = SecretValue::parse(Zeroizing::new("s".repeat(MAX_SECRET_BYTES))).unwrap();
        assert_eq!(max.as_bytes().len(), MAX_SECRET_BYTES);
        assert_eq!(format!("{max:?}"), "SecretValue(<redacted>)");
        for bad in [String::new(), "s".repeat(MAX_SECRET_BYTES + 1)] {
            let error = SecretValue::parse(Zeroizing::new(bad)).unwrap_err();
            assert!(error.to_string().starts_with("secret "), "{error}");
        }
    }

    #[test]
    fn a_path_key_is_an_id_when_it_has_the_shape_and_a_tag_otherwise() {
        assert!(matches!(
            TagOrId::parse("se2da8159dbeefb974"),
            Some(TagOrId::Id(_))
        ));
        assert!(matches!(TagOrId::parse("my-secret"), Some(TagOrId::Tag(_))));
        assert_eq!(TagOrId::parse("not a tag"), None);
        assert_eq!(TagOrId::parse(""), None);
    }

    #[test]
    fn tenants_must_be_printable_and_bounded() {
        assert!(TenantId::parse("acme-corp").is_some());
        assert!(TenantId::parse("").is_none());
        assert!(TenantId::parse(" ").is_none());
        assert!(TenantId::parse("a\u{0}b").is_none());
        assert!(TenantId::parse(" acme").is_none());
        assert!(TenantId::parse("acme ").is_none());
        assert!(TenantId::parse("ac\u{200b}me").is_none());
        assert!(TenantId::parse("acme\u{202e}").is_none());
        assert!(TenantId::parse("caf\u{e9}").is_some());
        assert!(TenantId::parse(&"t".repeat(129)).is_none());
    }
}
