//! The attribute names of the secrets table's items and of audit records:
//! each spelled once, here. What each item holds is in [`super::layout`].

/// Partition and sort key of both tables.
pub const PK: &str = "pk";
pub const SK: &str = "sk";

// A secret's metadata (TAG and META items; an idempotency record keeps a
// copy of the answer it replays).
pub const ID: &str = "id";
pub const NAME: &str = "name";
pub const TAG: &str = "tag";
/// The version the `ETag` names; absent on items written before versions.
pub const VERSION: &str = "version";
/// The version of the current value (TAG and META items) or of this value
/// (VALUE item), bound into its ciphertext; absent when the value was
/// written before versions were bound (cipher scheme v1).
pub const VALUE_VERSION: &str = "valueVersion";
/// Milliseconds since the epoch.
pub const CREATED_AT: &str = "createdAt";
pub const UPDATED_AT: &str = "updatedAt";
/// Who wrote a value version (VERSION item): the subject of the request.
pub const CREATED_BY: &str = "createdBy";
/// The version a restored value version carries again (VERSION item).
pub const RESTORED_FROM: &str = "restoredFrom";
/// A deleted secret's, while it can be recovered (META and DELETED items):
/// when (ms), by whom (the subject), and when it is gone for good (ms;
/// `expiresAt` holds the same moment in seconds, for TTL).
pub const DELETED_AT: &str = "deletedAt";
pub const DELETED_BY: &str = "deletedBy";
pub const PURGE_AT: &str = "purgeAt";
/// The token of the last create or update of a secret (META item): how a
/// write whose answer was lost is found to have committed.
pub const LAST_WRITE: &str = "lastWrite";

/// A count shard's number of secrets, and its number of creates and
/// deletes so far (the tenant's generation is the sum: see [`super::counts`]).
pub const COUNT: &str = "count";
pub const CHANGES: &str = "changes";
/// Where a remembered page starts: the tag of the row before it.
pub const START_TAG: &str = "startTag";

// A secret's sealed value (VALUE#<n> item).
pub const CIPHERTEXT: &str = "ciphertext";
pub const NONCE: &str = "nonce";
pub const WRAPPED_KEY: &str = "wrappedKey";
pub const WRAPPING_KEY_ID: &str = "wrappingKeyId";
/// The cipher scheme's name (`secrets_domain::crypto::CipherScheme`).
pub const CIPHER: &str = "cipher";

// An idempotency record.
pub const FINGERPRINT: &str = "fingerprint";
/// Seconds since the epoch: the TTL attribute of both tables.
pub const EXPIRES_AT: &str = "expiresAt";

// An audit record.
pub const TIME: &str = "time";
pub const TIME_MS: &str = "timeMs";
pub const OPERATION: &str = "operation";
pub const REQUEST_ID: &str = "requestId";
pub const TENANT: &str = "tenant";
pub const SUBJECT: &str = "subject";
pub const SECRET_ID: &str = "secretId";
pub const REQUESTED: &str = "requested";
pub const REPLAYED: &str = "replayed";
pub const UNCHANGED: &str = "unchanged";
pub const BATCH_ITEM: &str = "batchItem";
pub const SECRET_VERSION: &str = "secretVersion";
pub const OUTCOME: &str = "outcome";
pub const STATUS: &str = "status";
pub const ERROR_TYPE: &str = "errorType";
pub const REASON: &str = "reason";
