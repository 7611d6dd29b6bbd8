//! What the service needs from the outside world, as traits: a store for
//! secrets, an audit log, a source of data keys, keyed MACs, a clock, the
//! issuer's JWKS, and where change events go. Each is implemented for AWS in `secrets-aws`
//! (DynamoDB, KMS, an HTTP fetch) and by a double in `secrets-testkit`;
//! the service depends on these traits only.

use std::future::Future;
use std::pin::Pin;

use jsonwebtoken::jwk::JwkSet;
use zeroize::Zeroizing;

use crate::audit::AuditRecord;
use crate::change_event::ChangeEvent;
use crate::clock::Timestamp;
use crate::crypto::{DATA_KEY_LEN, EncryptionContext, ResealRequest, SealedValue};
use crate::deleted::{DeletedPage, DeletedPageRequest, DeletedSecret, Deletion};
use crate::error::Result;
use crate::idempotency::IdempotencyRecord;
use crate::model::{FIRST_VERSION, SecretId, SecretName, SecretSummary, TagOrId, TenantId};
use crate::page::{Page, PageRequest};
use crate::versions::ValueVersion;

/// A secret ready to be written: metadata, its sealed value and, for a
/// create with an `Idempotency-Key`, the record to remember it by.
#[derive(Debug, Clone)]
pub struct NewSecret {
    pub summary: SecretSummary,
    pub sealed: SealedValue,
    pub idempotency: Option<IdempotencyRecord>,
    /// When it is created: its items' timestamps, and the moment against
    /// which an earlier record of the same `Idempotency-Key` has expired.
    pub at: Timestamp,
    /// Who creates it: the author of its first value version.
    pub author: String,
}

/// What an update changes; `None` leaves a part as it is.
#[derive(Debug, Clone)]
pub struct SecretChanges {
    pub name: Option<SecretName>,
    pub sealed: Option<SealedValue>,
    /// When the change is made.
    pub at: Timestamp,
    /// Who makes it: the author of the value version a new value makes.
    pub author: String,
    /// For a restore: the earlier version whose value the new one carries.
    pub restored_from: Option<u64>,
}

impl NewSecret {
    /// The value version its value is kept as.
    pub fn value_version(&self) -> ValueVersion {
        ValueVersion::written(&self.sealed, self.at, &self.author, None)
    }
}

impl SecretChanges {
    /// The value version a new value is kept as, if it has one.
    pub fn value_version(&self) -> Option<ValueVersion> {
        let sealed = self.sealed.as_ref()?;
        Some(ValueVersion::written(
            sealed,
            self.at,
            &self.author,
            self.restored_from,
        ))
    }
}

/// What a delete requires of the secret it removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteGuard {
    /// That it still exists, at whatever version (a delete without If-Match).
    Exists,
    /// That it is still at the version read (a delete with If-Match).
    SameVersion,
}

/// The most secrets one tenant may hold. It bounds what any request can
/// read: skipping to the deepest page reads at most this many (small) items.
pub const DEFAULT_MAX_SECRETS_PER_TENANT: u64 = 100_000;

/// Where secrets live, each operation scoped to one tenant.
///
/// Every write takes an optional `audit` record: when given, the record of
/// the allowed operation is written in the same all-or-nothing write, so
/// that a change and its record exist together or not at all.
pub trait SecretStore: AuditLog + Send + Sync {
    /// The secret `key` names. Found by id, it names its current value's
    /// version; found by tag (as in list pages), it need not (`None`): the
    /// items every list reads stay small.
    fn find(
        &self,
        tenant: &TenantId,
        key: &TagOrId,
    ) -> impl Future<Output = Result<Option<SecretSummary>>> + Send;

    /// One page in tag order, with the tenant's total.
    fn list(
        &self,
        tenant: &TenantId,
        request: PageRequest,
    ) -> impl Future<Output = Result<Page>> + Send;

    /// Writes the secret (and its idempotency record) and counts it, all or
    /// nothing. `Error::IdempotencyKeyReused` when a record for the key
    /// exists that has not expired at `secret.at` (checked first: a
    /// concurrent create with the same key took the tag too),
    /// `Error::TagTaken` when the tenant already has a secret with this tag,
    /// `Error::QuotaExceeded` when it already has its maximum.
    fn insert(
        &self,
        tenant: &TenantId,
        secret: NewSecret,
        audit: Option<&AuditRecord>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Applies `changes` to the secret `current` describes, if it is still
    /// at `current.version`, all or nothing; returns it at the next version.
    /// `Error::NotFound` if it was deleted meanwhile (an update never brings
    /// a secret back), `Error::PreconditionFailed` if another change landed.
    fn update(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        changes: SecretChanges,
        audit: Option<&AuditRecord>,
    ) -> impl Future<Output = Result<SecretSummary>> + Send;

    /// Removes the secret `current` describes from every read (its tag is
    /// free at once) and uncounts it, all or nothing. With
    /// `deletion.purge_at`, its record and kept values stay until then,
    /// for a recovery; without, they go at once. `Error::NotFound` if it
    /// is gone (also when a concurrent delete won); with
    /// `DeleteGuard::SameVersion`, `Error::PreconditionFailed` if it
    /// changed since `current` was read; without, a rename since is no
    /// reason to fail (it changes nothing removed), so `audit`'s version
    /// (the one read) may be older than the one removed.
    fn delete(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        guard: DeleteGuard,
        deletion: &Deletion,
        audit: Option<&AuditRecord>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The deleted secret `id` as kept, whether or not its window has
    /// ended (the caller knows the time); `None` if it is not deleted, or
    /// gone for good.
    fn find_deleted(
        &self,
        tenant: &TenantId,
        id: &SecretId,
    ) -> impl Future<Output = Result<Option<DeletedSecret>>> + Send;

    /// A page of the tenant's deleted secrets still recoverable `at`, in
    /// id order. It reads about what it returns, however deep.
    fn deleted(
        &self,
        tenant: &TenantId,
        request: &DeletedPageRequest,
        at: Timestamp,
    ) -> impl Future<Output = Result<DeletedPage>> + Send;

    /// Brings `deleted` back under its tag and counts it again, all or
    /// nothing, if it is still deleted as read; returns it at its next
    /// version. `Error::TagTaken` if its tag has been taken since,
    /// `Error::QuotaExceeded` at the tenant's limit, `Error::NotFound` if
    /// it was recovered or dropped meanwhile.
    fn recover(
        &self,
        tenant: &TenantId,
        deleted: &DeletedSecret,
        at: Timestamp,
        audit: Option<&AuditRecord>,
    ) -> impl Future<Output = Result<SecretSummary>> + Send;

    /// The record of a create made with the key of `key_digest`, as stored:
    /// expired or not (the caller knows the time).
    fn idempotency_record(
        &self,
        tenant: &TenantId,
        key_digest: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>>> + Send;

    /// The stored envelope of version `value_version` of a secret's value,
    /// if it is kept. Values are written once per version and never
    /// changed, so a version read is the version it was (the store checks
    /// nothing: the value's sealed version is the reader's to check).
    fn sealed_version(
        &self,
        tenant: &TenantId,
        id: &SecretId,
        value_version: u64,
    ) -> impl Future<Output = Result<Option<SealedValue>>> + Send;

    /// The secret's kept value versions, newest first (empty when it does
    /// not exist). Small items apart from the values: metadata only.
    fn versions(
        &self,
        tenant: &TenantId,
        id: &SecretId,
    ) -> impl Future<Output = Result<Vec<ValueVersion>>> + Send;

    /// The envelope of the value the secret's record names now, for trusted
    /// readers and tests (resolve reads the record itself, then
    /// `sealed_version`).
    fn sealed_value(
        &self,
        tenant: &TenantId,
        id: &SecretId,
    ) -> impl Future<Output = Result<Option<SealedValue>>> + Send {
        async move {
            match self.find(tenant, &TagOrId::Id(id.clone())).await? {
                None => Ok(None),
                Some(record) => {
                    let value_version = record.value_version.unwrap_or(FIRST_VERSION);
                    self.sealed_version(tenant, id, value_version).await
                }
            }
        }
    }

    /// `find` of each key, answered in the keys' order (a key given twice
    /// is answered twice). A store that can read many items in one call
    /// does (DynamoDB: BatchGetItem), so that a batch resolve costs a few
    /// calls, not one per secret.
    fn find_many(
        &self,
        tenant: &TenantId,
        keys: &[TagOrId],
    ) -> impl Future<Output = Result<Vec<Option<SecretSummary>>>> + Send {
        async move {
            let mut found = Vec::with_capacity(keys.len());
            for key in keys {
                found.push(self.find(tenant, key).await?);
            }
            Ok(found)
        }
    }

    /// `sealed_version` of each (id, value version), answered in their
    /// order, in as few calls as the store can.
    fn sealed_versions(
        &self,
        tenant: &TenantId,
        values: &[(SecretId, u64)],
    ) -> impl Future<Output = Result<Vec<Option<SealedValue>>>> + Send {
        async move {
            let mut found = Vec::with_capacity(values.len());
            for (id, value_version) in values {
                found.push(self.sealed_version(tenant, id, *value_version).await?);
            }
            Ok(found)
        }
    }
}

/// Where audit records go outside a store's own writes: resolves, empty
/// updates, replayed creates and refusals.
pub trait AuditLog: Send + Sync {
    fn record(&self, record: &AuditRecord) -> impl Future<Output = Result<()>> + Send;
}

/// A plaintext data key with its wrapped form. The plaintext half is wiped
/// when dropped.
pub struct DataKey {
    pub plaintext: Zeroizing<[u8; DATA_KEY_LEN]>,
    pub wrapped: Vec<u8>,
    /// The key (ARN) that wrapped it, pinned on decrypt.
    pub wrapping_key_id: String,
}

/// The source of data keys: KMS in production, a local stand-in in tests.
/// Both bind the encryption context to the wrapped key.
pub trait DataKeys: Send + Sync {
    fn generate(
        &self,
        context: EncryptionContext<'_>,
    ) -> impl Future<Output = Result<DataKey>> + Send;

    fn unwrap_key(
        &self,
        sealed: &SealedValue,
        context: EncryptionContext<'_>,
    ) -> impl Future<Output = Result<Zeroizing<[u8; DATA_KEY_LEN]>>> + Send;
}

/// Keyed MACs under a key no one can export: KMS `GenerateMac` in
/// production, a local HMAC key in tests.
pub trait RequestMacs: Send + Sync {
    fn mac(&self, digest: &[u8; 32]) -> impl Future<Output = Result<Vec<u8>>> + Send;
}

/// Seals an earlier value version again as a new one without handing its
/// plaintext to the caller, for a restore. In production, the reseal
/// function (no route; the only holder of `kms:Decrypt` besides resolve)
/// invoked through Lambda; in tests, [`crate::crypto::reseal`] over local
/// keys.
pub trait Reseal: Send + Sync {
    fn reseal(&self, request: &ResealRequest) -> impl Future<Output = Result<SealedValue>> + Send;
}

/// Where change events go: EventBridge in production.
pub trait ChangeEvents: Send + Sync {
    /// Publishes `events` in order and answers how many, from the first,
    /// were surely accepted: all of them, or fewer after a failure (those
    /// after it are published again by the retry, perhaps twice).
    fn publish(&self, events: &[ChangeEvent]) -> impl Future<Output = usize> + Send;
}

/// The time now. [`crate::clock::SystemClock`] in production.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub type FetchFuture<'a> =
    Pin<Box<dyn Future<Output = std::result::Result<JwkSet, String>> + Send + 'a>>;

/// Gets the issuer's current JWKS document.
pub trait FetchJwks: Send + Sync {
    fn fetch(&self) -> FetchFuture<'_>;
}
