//! Where each item lives. One table for secrets; a tenant's item collection
//! holds only its small tag items and its count, and each secret has a
//! collection of its own:
//!
//! | pk                      | sk          | attributes                                   | read by          |
//! |-------------------------|-------------|----------------------------------------------|------------------|
//! | `TENANT#<t>`            | `TAG#<tag>` | id, name, version                            | get by tag, list |
//! | `TENANT#<t>`            | `COUNT#<nn>`| count, changes (one of the count shards)     | list (total), create near the limit |
//! | `TENANT#<t>`            | `DELETED#<id>` | id, tag, name, version, valueVersion, deletedAt, deletedBy, purgeAt, expiresAt (TTL) | deleted-secrets list |
//! | `SECRET#<t>#<id>`       | `META`      | tag, name, version, valueVersion, createdAt, updatedAt, lastWrite; while deleted: deletedAt, deletedBy, purgeAt, expiresAt (TTL) | get by id (not while deleted), recovery |
//! | `SECRET#<t>#<id>`       | `VALUE#<n>` | ciphertext, nonce, wrappedKey, wrappingKeyId, cipher, valueVersion, updatedAt | resolve |
//! | `SECRET#<t>#<id>`       | `VERSION#<n>` | valueVersion, createdAt, createdBy, restoredFrom | versions list, writes of a new value |
//! | `IDEMPOTENCY#<t>#<sha256 of subject and key>` | `IDEMPOTENCY` | fingerprint, id, name, tag, version, valueVersion, expiresAt (TTL) | create with Idempotency-Key |
//! | `PAGES#<t>#<generation>`| `ROW#<offset>` | startTag, expiresAt (TTL)                 | list (deep pages) |
//!
//! Values live apart from metadata so that no read of the public API pays
//! for (or touches) ciphertext, and list pages cost the same for 100 B and
//! 64 KiB values; each value version is written once, under its number, with
//! a small VERSION item beside it that the versions list reads instead of the
//! values; per-secret items spread over DynamoDB's partitions instead
//! of piling onto the tenant's. The version (the `ETag`) is kept on both the
//! TAG and the META item, so that a read by either key answers it in one
//! GetItem. No item is written by every create or delete of a tenant: its
//! count is spread over shards ([`super::counts`]). Remembered page starts
//! are in [`super::page_starts`], the audit table's keys in [`super::audit`].
//! A deleted secret kept for its recovery window keeps its META, VALUE and
//! VERSION items, each with a TTL, beside a DELETED item in its tenant's
//! collection ([`super::deleted`]); list pages read `TAG#` items only, so
//! they never read it.

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::model::{SecretId, Tag, TenantId};

use super::Item;
use super::attributes::{PK, SK};

pub(super) const TAG_PREFIX: &str = "TAG#";
pub(super) const COUNT_PREFIX: &str = "COUNT#";
pub(super) const VERSION_PREFIX: &str = "VERSION#";
pub(super) const DELETED_PREFIX: &str = "DELETED#";

/// The key of one item. The secret id, of fixed shape, ends the secret's
/// partition key, so that no two (tenant, id) pairs share one.
pub(super) struct ItemKey {
    partition: String,
    sort: String,
}

impl ItemKey {
    pub(super) fn tenant_partition(tenant: &TenantId) -> String {
        format!("TENANT#{tenant}")
    }

    pub(super) fn tag(tenant: &TenantId, tag: &Tag) -> Self {
        Self::new(Self::tenant_partition(tenant), format!("{TAG_PREFIX}{tag}"))
    }

    pub(super) fn count_shard(tenant: &TenantId, shard: u16) -> Self {
        Self::new(
            Self::tenant_partition(tenant),
            format!("{COUNT_PREFIX}{shard:03}"),
        )
    }

    /// Where the row at `offset` starts in the tenant's list at `generation`.
    pub(super) fn page_start(tenant: &TenantId, generation: u64, offset: u64) -> Self {
        Self::new(
            Self::page_starts_partition(tenant, generation),
            Self::page_start_sort(offset),
        )
    }

    pub(super) fn page_starts_partition(tenant: &TenantId, generation: u64) -> String {
        format!("PAGES#{tenant}#{generation}")
    }

    /// Zero-padded, so that sort keys order as offsets do.
    pub(super) fn page_start_sort(offset: u64) -> String {
        format!("ROW#{offset:012}")
    }

    /// A deleted secret's entry in its tenant's collection, in id order.
    pub(super) fn deleted(tenant: &TenantId, id: &SecretId) -> Self {
        Self::new(
            Self::tenant_partition(tenant),
            format!("{DELETED_PREFIX}{id}"),
        )
    }

    pub(super) fn meta(tenant: &TenantId, id: &SecretId) -> Self {
        Self::new(Self::secret_partition(tenant, id), "META".to_owned())
    }

    /// Version `value_version` of the secret's value. Numbers are zero-padded
    /// to 10 digits, so that sort keys order as versions do.
    pub(super) fn value(tenant: &TenantId, id: &SecretId, value_version: u64) -> Self {
        Self::new(
            Self::secret_partition(tenant, id),
            format!("VALUE#{value_version:010}"),
        )
    }

    /// The metadata of version `value_version`, which the versions list reads.
    pub(super) fn version(tenant: &TenantId, id: &SecretId, value_version: u64) -> Self {
        Self::new(
            Self::secret_partition(tenant, id),
            format!("{VERSION_PREFIX}{value_version:010}"),
        )
    }

    pub(super) fn idempotency(tenant: &TenantId, key_digest: &str) -> Self {
        Self::new(
            format!("IDEMPOTENCY#{tenant}#{key_digest}"),
            "IDEMPOTENCY".to_owned(),
        )
    }

    pub(super) fn new(partition: String, sort: String) -> Self {
        Self { partition, sort }
    }

    pub(super) fn secret_partition(tenant: &TenantId, id: &SecretId) -> String {
        format!("SECRET#{tenant}#{id}")
    }

    #[cfg(test)]
    pub(super) fn partition(&self) -> &str {
        &self.partition
    }

    #[cfg(test)]
    pub(super) fn sort(&self) -> &str {
        &self.sort
    }

    /// (partition key, sort key), to match items a batch read answers.
    pub(super) fn pair(&self) -> (String, String) {
        (self.partition.clone(), self.sort.clone())
    }

    /// The key attributes alone, as GetItem and Update take them.
    pub(super) fn to_item(&self) -> Item {
        Item::from([
            (PK.to_owned(), AttributeValue::S(self.partition.clone())),
            (SK.to_owned(), AttributeValue::S(self.sort.clone())),
        ])
    }
}

/// Which of `shards` a key falls in: FNV-1a, a fixed function (unlike std's
/// hasher, whose output may change between Rust releases), since a shard
/// once chosen for a tag must be the same in every later build.
pub(super) fn shard_of(key: &str, shards: u16) -> u16 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let hash = key.bytes().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    (hash % u64::from(shards.max(1))) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_fnv_1a_and_stable() {
        // FNV-1a's published test vector: "a" hashes to 0xaf63dc4c8601ec8c.
        assert_eq!(
            shard_of("a", u16::MAX),
            (0xaf63_dc4c_8601_ec8c_u64 % 65_535) as u16
        );
        assert_eq!(shard_of("anything", 1), 0);
        let spread: std::collections::BTreeSet<u16> = (0..200)
            .map(|i| shard_of(&format!("tag-{i}"), 16))
            .collect();
        assert_eq!(spread.len(), 16, "200 tags reach every shard");
    }

    #[test]
    fn page_start_keys_sort_as_offsets_do() {
        let tenant = TenantId::parse("acme").unwrap();
        let (nine, ten) = (
            ItemKey::page_start(&tenant, 7, 9),
            ItemKey::page_start(&tenant, 7, 10),
        );
        assert!(nine.sort() < ten.sort());
        assert_eq!(nine.partition(), "PAGES#acme#7");
    }
}
