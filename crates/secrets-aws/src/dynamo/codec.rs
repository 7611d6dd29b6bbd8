//! Items to domain values and back. A stored item that does not decode is
//! an internal error (500), never a guess.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::clock::Timestamp;
use secrets_domain::crypto::{CipherScheme, SealedValue};
use secrets_domain::deleted::DeletedSecret;
use secrets_domain::error::{Error, Result};
use secrets_domain::idempotency::IdempotencyRecord;
use secrets_domain::model::{FIRST_VERSION, SecretId, SecretName, SecretSummary, Tag, TenantId};
use secrets_domain::ports::NewSecret;
use secrets_domain::versions::{ValueVersion, kept_as};

use super::Item;
use super::attributes::{
    CIPHER, CIPHERTEXT, CREATED_AT, CREATED_BY, DELETED_AT, DELETED_BY, EXPIRES_AT, FINGERPRINT,
    ID, NAME, NONCE, PURGE_AT, RESTORED_FROM, SK, TAG, UPDATED_AT, VALUE_VERSION, VERSION,
    WRAPPED_KEY, WRAPPING_KEY_ID,
};
use super::layout::{ItemKey, TAG_PREFIX};

/// An item under construction: its key, then attributes.
pub(super) struct ItemBuilder(Item);

impl ItemBuilder {
    pub(super) fn at(key: &ItemKey) -> Self {
        Self(key.to_item())
    }

    pub(super) fn text(mut self, name: &str, value: &str) -> Self {
        self.0
            .insert(name.to_owned(), AttributeValue::S(value.to_owned()));
        self
    }

    pub(super) fn number(mut self, name: &str, value: u64) -> Self {
        self.0.insert(name.to_owned(), number(value));
        self
    }

    pub(super) fn optional_number(self, name: &str, value: Option<u64>) -> Self {
        match value {
            Some(value) => self.number(name, value),
            None => self,
        }
    }

    pub(super) fn bytes(mut self, name: &str, value: &[u8]) -> Self {
        self.0.insert(
            name.to_owned(),
            AttributeValue::B(Blob::new(value.to_vec())),
        );
        self
    }

    pub(super) fn flag(mut self, name: &str) -> Self {
        self.0.insert(name.to_owned(), AttributeValue::Bool(true));
        self
    }

    pub(super) fn build(self) -> Item {
        self.0
    }
}

pub(super) fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The four items of a secret, as a create writes them (its TAG, META,
/// VALUE#1 and VERSION#1 items); public for bulk loading, which must write
/// the same layout.
pub fn secret_items(tenant: &TenantId, secret: &NewSecret) -> [Item; 4] {
    let SecretSummary {
        id,
        name,
        tag,
        version,
        value_version,
    } = &secret.summary;
    let at = secret.at.millis();
    let tag_item = ItemBuilder::at(&ItemKey::tag(tenant, tag))
        .text(ID, id.as_str())
        .text(NAME, name.as_str())
        .number(VERSION, *version)
        .build();
    // The value version only on META: tag items are what every list page
    // reads, and are kept as small as they were.
    let meta_item = ItemBuilder::at(&ItemKey::meta(tenant, id))
        .text(TAG, tag.as_str())
        .text(NAME, name.as_str())
        .number(VERSION, *version)
        .optional_number(VALUE_VERSION, *value_version)
        .number(CREATED_AT, at)
        .number(UPDATED_AT, at)
        .build();
    [
        tag_item,
        meta_item,
        value_item(tenant, id, &secret.sealed, secret.at),
        version_item(tenant, id, &secret.value_version()),
    ]
}

pub(super) fn value_item(
    tenant: &TenantId,
    id: &SecretId,
    sealed: &SealedValue,
    at: Timestamp,
) -> Item {
    ItemBuilder::at(&ItemKey::value(tenant, id, kept_as(sealed)))
        .bytes(CIPHERTEXT, &sealed.ciphertext)
        .bytes(NONCE, &sealed.nonce)
        .bytes(WRAPPED_KEY, &sealed.wrapped_key)
        .text(WRAPPING_KEY_ID, &sealed.wrapping_key_id)
        .text(CIPHER, sealed.scheme.name())
        .optional_number(VALUE_VERSION, sealed.scheme.value_version())
        .number(UPDATED_AT, at.millis())
        .build()
}

/// The small item beside a value version that the versions list reads.
pub(super) fn version_item(tenant: &TenantId, id: &SecretId, version: &ValueVersion) -> Item {
    ItemBuilder::at(&ItemKey::version(tenant, id, version.number))
        .number(VALUE_VERSION, version.number)
        .number(CREATED_AT, version.created_at.millis())
        .text(CREATED_BY, &version.created_by)
        .optional_number(RESTORED_FROM, version.restored_from)
        .build()
}

pub(super) fn idempotency_item(tenant: &TenantId, record: &IdempotencyRecord) -> Item {
    let secret = &record.secret;
    ItemBuilder::at(&ItemKey::idempotency(tenant, &record.key_digest))
        .bytes(FINGERPRINT, &record.fingerprint)
        .text(ID, secret.id.as_str())
        .text(NAME, secret.name.as_str())
        .text(TAG, secret.tag.as_str())
        .number(VERSION, secret.version)
        .optional_number(VALUE_VERSION, secret.value_version)
        .number(EXPIRES_AT, record.expires_at.secs())
        .build()
}

/// The attributes a read of each kind of item needs.
pub(super) const TAG_ITEM_ATTRIBUTES: &[&str] = &[SK, ID, NAME, VERSION];
pub(super) const META_ITEM_ATTRIBUTES: &[&str] = &[TAG, NAME, VERSION, VALUE_VERSION, DELETED_AT];
/// A deleted secret's, from its META item (by id) or its DELETED item.
pub(super) const DELETED_ITEM_ATTRIBUTES: &[&str] = &[
    ID,
    TAG,
    NAME,
    VERSION,
    VALUE_VERSION,
    DELETED_AT,
    DELETED_BY,
    PURGE_AT,
];
pub(super) const VALUE_ITEM_ATTRIBUTES: &[&str] = &[
    CIPHERTEXT,
    NONCE,
    WRAPPED_KEY,
    WRAPPING_KEY_ID,
    CIPHER,
    VALUE_VERSION,
];
pub(super) const VERSION_ITEM_ATTRIBUTES: &[&str] =
    &[VALUE_VERSION, CREATED_AT, CREATED_BY, RESTORED_FROM];
pub(super) const IDEMPOTENCY_ITEM_ATTRIBUTES: &[&str] = &[
    FINGERPRINT,
    ID,
    NAME,
    TAG,
    VERSION,
    VALUE_VERSION,
    EXPIRES_AT,
];

/// A secret's summary from any item that holds one: the `id` from the item
/// unless its key already names it (META), the `tag` from the item, or from
/// the sort key of a TAG item.
pub(super) fn summary(item: &Item, id: Option<&SecretId>) -> Result<SecretSummary> {
    let id = match id {
        Some(id) => id.clone(),
        None => SecretId::parse(text(item, ID)?).ok_or_else(|| corrupt(ID))?,
    };
    let tag = match (item.get(TAG), item.get(SK)) {
        (None, Some(_)) => text(item, SK)?
            .strip_prefix(TAG_PREFIX)
            .ok_or_else(|| corrupt("tag item without the tag prefix"))?,
        _ => text(item, TAG)?,
    };
    Ok(SecretSummary {
        id,
        name: SecretName::stored(text(item, NAME)?.to_owned()).map_err(|_| corrupt(NAME))?,
        tag: Tag::parse(tag).map_err(|_| corrupt(TAG))?,
        version: version(item)?,
        value_version: optional_number(item, VALUE_VERSION)?,
    })
}

/// Whether a META item is a live secret's: a deleted one kept for its
/// window is read only as deleted ([`deleted_secret`]).
pub(super) fn is_live(item: &Item) -> bool {
    !item.contains_key(DELETED_AT)
}

/// A deleted secret's entry in its tenant's collection: what the
/// deleted-secrets list shows, gone by TTL with the secret's own items.
pub(super) fn deleted_item(tenant: &TenantId, deleted: &DeletedSecret) -> Item {
    let secret = &deleted.summary;
    ItemBuilder::at(&ItemKey::deleted(tenant, &secret.id))
        .text(ID, secret.id.as_str())
        .text(TAG, secret.tag.as_str())
        .text(NAME, secret.name.as_str())
        .number(VERSION, secret.version)
        .optional_number(VALUE_VERSION, secret.value_version)
        .number(DELETED_AT, deleted.deleted_at.millis())
        .text(DELETED_BY, &deleted.deleted_by)
        .number(PURGE_AT, deleted.purge_at.millis())
        .number(EXPIRES_AT, expiry_secs(deleted.purge_at))
        .build()
}

/// How much later than the window's end TTL may remove a deleted secret's
/// items: a recovery's clock is read before its reads and retries, so it
/// may commit a moment past `purgeAt`, and must still find every item.
const TTL_GRACE_SECS: u64 = 86_400;

/// The TTL attribute (`expiresAt`, seconds) of every item a delete keeps
/// for a window ending at `purge_at`.
pub(super) fn expiry_secs(purge_at: Timestamp) -> u64 {
    purge_at.secs() + TTL_GRACE_SECS
}

/// A deleted secret from its META item (`id` from the key) or its DELETED
/// item (`id` from the item).
pub(super) fn deleted_secret(item: &Item, id: Option<&SecretId>) -> Result<DeletedSecret> {
    Ok(DeletedSecret {
        summary: summary(item, id)?,
        deleted_at: Timestamp::from_millis(whole_number(item, DELETED_AT)?),
        deleted_by: text(item, DELETED_BY)?.to_owned(),
        purge_at: Timestamp::from_millis(whole_number(item, PURGE_AT)?),
    })
}

pub(super) fn sealed_value(item: &Item) -> Result<SealedValue> {
    let value_version = optional_number(item, VALUE_VERSION)?;
    // Every VALUE item names its scheme; none ever lacked it.
    let scheme = CipherScheme::from_stored(text(item, CIPHER)?, value_version)
        .ok_or_else(|| corrupt(CIPHER))?;
    Ok(SealedValue {
        scheme,
        ciphertext: bytes(item, CIPHERTEXT)?.to_vec(),
        nonce: bytes(item, NONCE)?
            .try_into()
            .map_err(|_| corrupt("nonce has the wrong length"))?,
        wrapped_key: bytes(item, WRAPPED_KEY)?.to_vec(),
        wrapping_key_id: text(item, WRAPPING_KEY_ID)?.to_owned(),
    })
}

pub(super) fn value_version(item: &Item) -> Result<ValueVersion> {
    Ok(ValueVersion {
        number: value_version_number(item)?,
        created_at: Timestamp::from_millis(whole_number(item, CREATED_AT)?),
        created_by: text(item, CREATED_BY)?.to_owned(),
        restored_from: optional_number(item, RESTORED_FROM)?,
    })
}

pub(super) fn value_version_number(item: &Item) -> Result<u64> {
    whole_number(item, VALUE_VERSION)
}

pub(super) fn idempotency_record(item: &Item, key_digest: &str) -> Result<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        key_digest: key_digest.to_owned(),
        fingerprint: bytes(item, FINGERPRINT)?.to_vec(),
        secret: summary(item, None)?,
        expires_at: Timestamp::from_secs(whole_number(item, EXPIRES_AT)?),
    })
}

/// Items written before versions existed are at the first version.
fn version(item: &Item) -> Result<u64> {
    match item.get(VERSION) {
        None => Ok(FIRST_VERSION),
        Some(_) => whole_number(item, VERSION),
    }
}

pub(super) fn text<'a>(item: &'a Item, name: &'static str) -> Result<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(corrupt(name)),
    }
}

pub(super) fn optional_number(item: &Item, name: &'static str) -> Result<Option<u64>> {
    item.get(name).map(|_| whole_number(item, name)).transpose()
}

pub(super) fn whole_number(item: &Item, name: &'static str) -> Result<u64> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| corrupt(name)),
        _ => Err(corrupt(name)),
    }
}

fn bytes<'a>(item: &'a Item, name: &'static str) -> Result<&'a [u8]> {
    match item.get(name) {
        Some(AttributeValue::B(value)) => Ok(value.as_ref()),
        _ => Err(corrupt(name)),
    }
}

pub(super) fn corrupt(what: &'static str) -> Error {
    Error::Internal {
        context: "reading a stored item",
        source: Some(format!("missing or malformed attribute: {what}").into()),
    }
}
