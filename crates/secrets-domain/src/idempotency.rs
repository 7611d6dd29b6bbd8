//! `Idempotency-Key` on create: a retried create answers what the first one
//! answered, instead of a 409 for its own tag.
//!
//! A successful create made with a key leaves a record, written in the same
//! transaction as the secret: the key (hashed), a fingerprint of the request
//! and the answer. A later create with the same key, within
//! [`IDEMPOTENCY_WINDOW_SECS`], replays that answer if its fingerprint is the
//! same and is refused (422) if not. The fingerprint is a keyed MAC (KMS
//! `GenerateMac`, an HMAC key no one can export) of a digest of the tenant,
//! the subject, the key, the tag, the name and the value: a stored
//! fingerprint cannot be used to test guesses at the value without calling
//! KMS, as a plain hash could be.
//!
//! Keys belong to one caller: a record is found by the tenant and the digest
//! of the subject with the key. Another user of the tenant who learns a
//! colleague's key finds no record under it, so cannot use the 200-or-422
//! answer to test guesses at the colleague's value.

use aws_lc_rs::digest::{Context, SHA256};

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::input::CreateSecret;
use crate::model::{SecretSummary, TenantId};

/// How long a create is remembered: 24 hours, as the issue asks; DynamoDB's
/// TTL removes the record some time later, and a record past its time is
/// treated as absent, whether or not it is gone yet.
pub const IDEMPOTENCY_WINDOW_SECS: u64 = 24 * 60 * 60;

pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Names the fingerprint's layout, so that a future one cannot collide.
/// v2 added the subject; a v1 record (keyed without one) is never found
/// by a v2 digest, so a retry across the upgrade is a new create.
const FINGERPRINT_SCHEME: &str = "cortex-secrets/idempotent-create/v2";
/// Names the stored key's layout, for the same reason.
const KEY_SCHEME: &str = "cortex-secrets/idempotency-key/v2";

/// A client's key for one intended create: 1 to 255 printable ASCII
/// characters (a UUID, say), compared exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self> {
        let printable = raw.iter().all(|&b| (0x20..=0x7e).contains(&b));
        if raw.is_empty() || raw.len() > MAX_IDEMPOTENCY_KEY_LEN || !printable {
            return Err(Error::bad_request(format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters"
            )));
        }
        // Checked above: ASCII is UTF-8.
        Ok(Self(String::from_utf8_lossy(raw).into_owned()))
    }

    /// The key as stored, for `subject`: SHA-256 of both, hex. Fixed
    /// length, whatever the client sent, and another subject's key apart.
    pub fn digest(&self, subject: &str) -> String {
        hex(sha256(&[KEY_SCHEME.as_bytes(), subject.as_bytes(), self.0.as_bytes()]).as_ref())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What is kept of a successful create made with an `Idempotency-Key`.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// [`IdempotencyKey::digest`].
    pub key_digest: String,
    pub fingerprint: Vec<u8>,
    /// The first answer.
    pub secret: SecretSummary,
    /// In whole seconds, as DynamoDB's TTL reads it.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for IdempotencyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyRecord")
            .field("key_digest", &self.key_digest)
            .field("secret", &self.secret)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl IdempotencyRecord {
    /// The record of a create answered with `secret` `at`, kept for
    /// [`IDEMPOTENCY_WINDOW_SECS`].
    pub fn new(
        key_digest: String,
        fingerprint: Vec<u8>,
        secret: SecretSummary,
        at: Timestamp,
    ) -> Self {
        Self {
            key_digest,
            fingerprint,
            secret,
            expires_at: Timestamp::from_secs(at.secs() + IDEMPOTENCY_WINDOW_SECS),
        }
    }

    /// Whether the record still counts `at`: DynamoDB's TTL deletes expired
    /// items late, not at their time, so expiry is checked, never assumed.
    pub fn is_live(&self, at: Timestamp) -> bool {
        at < self.expires_at
    }

    /// Whether `fingerprint` is this record's, in constant time.
    pub fn matches(&self, fingerprint: &[u8]) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.fingerprint, fingerprint).is_ok()
    }
}

/// The digest a create request's fingerprint is the MAC of: every part that
/// makes two creates the same request, length-prefixed so that no two
/// different requests encode alike. The value enters only as its own digest.
pub fn request_digest(
    tenant: &TenantId,
    subject: &str,
    key: &IdempotencyKey,
    request: &CreateSecret,
) -> [u8; 32] {
    let value = sha256(&[request.secret.as_bytes()]);
    let digest = sha256(&[
        FINGERPRINT_SCHEME.as_bytes(),
        tenant.as_str().as_bytes(),
        subject.as_bytes(),
        key.as_str().as_bytes(),
        request.tag.as_str().as_bytes(),
        request.name.as_str().as_bytes(),
        value.as_ref(),
    ]);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// SHA-256 of the length-prefixed parts.
fn sha256(parts: &[&[u8]]) -> aws_lc_rs::digest::Digest {
    let mut context = Context::new(&SHA256);
    for part in parts {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    context.finish()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(tag: &str, name: &str, value: &str) -> CreateSecret {
        CreateSecret::from_json(
            serde_json::json!({"tag": tag, "name": name, "secret": value})
                .to_string()
                .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn keys_are_1_to_255_printable_ascii_characters() {
        for good in [
            "a",
            "8e03978e-40d5-43e8-bc93-6894a57f9324",
            "with space",
            "\"quoted\"",
        ] {
            assert_eq!(
                IdempotencyKey::parse(good.as_bytes()).unwrap().as_str(),
                good
            );
        }
        assert!(IdempotencyKey::parse("k".repeat(255).as_bytes()).is_ok());
        for bad in [
            &b""[..],
            &[b'k'; 256],
            b"tab\there",
            b"caf\xc3\xa9",
            b"nul\0",
        ] {
            let error = IdempotencyKey::parse(bad).unwrap_err();
            assert_eq!(error.http_status(), 400);
            assert!(error.to_string().starts_with("Idempotency-Key must be"));
        }
    }

    #[test]
    fn the_stored_key_is_a_fixed_length_digest_of_key_and_subject() {
        let key = IdempotencyKey::parse(b"my-key").unwrap();
        assert_eq!(key.digest("alice").len(), 64);
        assert!(!key.digest("alice").contains("my-key"));
        assert_ne!(
            key.digest("alice"),
            IdempotencyKey::parse(b"my-kez").unwrap().digest("alice")
        );
        assert_ne!(key.digest("alice"), key.digest("bob"));
        // Length-prefixed: the boundary between subject and key counts.
        assert_ne!(
            IdempotencyKey::parse(b"b").unwrap().digest("a"),
            IdempotencyKey::parse(b"ab").unwrap().digest("")
        );
    }

    #[test]
    fn every_part_of_a_request_changes_its_digest() {
        let digest = |tenant: &str, subject: &str, key: &[u8], request: CreateSecret| {
            let tenant = TenantId::parse(tenant).unwrap();
            request_digest(
                &tenant,
                subject,
                &IdempotencyKey::parse(key).unwrap(),
                &request,
            )
        };
        let base = digest("acme", "alice", b"k", create("t", "n", "v"));
        assert_eq!(base, digest("acme", "alice", b"k", create("t", "n", "v")));
        let others = [
            digest("acmf", "alice", b"k", create("t", "n", "v")),
            digest("acme", "bob", b"k", create("t", "n", "v")),
            digest("acme", "alice", b"l", create("t", "n", "v")),
            digest("acme", "alice", b"k", create("u", "n", "v")),
            digest("acme", "alice", b"k", create("t", "o", "v")),
            digest("acme", "alice", b"k", create("t", "n", "w")),
        ];
        for other in others {
            assert_ne!(base, other);
        }
        // Length prefixes: moving a character between fields is a change.
        assert_ne!(
            digest("acme", "alice", b"k", create("t", "nx", "v")),
            digest("acme", "alice", b"k", create("tn", "x", "v"))
        );
    }
}
