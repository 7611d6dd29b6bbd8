//! Where each item lives. One table for secrets; a tenant's item collection
//! holds only its small tag items and its count, and each secret has a
//! collection of its own:
//!
//! | pk                      | sk          | attributes                                   | read by          |
//! |-------------------------|-------------|----------------------------------------------|------------------|
//! | `TENANT#<t>`            | `TAG#<tag>` | id, name, version                            | get by tag, list |
//! | `TENANT#<t>`            | `COUNT`     | count                                        | list (total)     |
//! | `SECRET#<t>#<id>`       | `META`      | tag, name, version, createdAt, updatedAt     | get by id        |
//! | `SECRET#<t>#<id>`       | `VALUE`     | ciphertext, nonce, wrappedKey, wrappingKeyId, cipher, updatedAt | trusted readers |
//! | `IDEMPOTENCY#<t>#<sha256 of key>` | `IDEMPOTENCY` | fingerprint, id, name, tag, version, expiresAt (TTL) | create with Idempotency-Key |
//!
//! Values live apart from metadata so that no read of the public API pays
//! for (or touches) ciphertext, and list pages cost the same for 100 B and
//! 64 KiB values; per-secret items spread over DynamoDB's partitions instead
//! of piling onto the tenant's. The version (the `ETag`) is kept on both the
//! TAG and the META item, so that a read by either key answers it in one
//! GetItem. The audit table's keys are in [`super::audit`].

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::model::{SecretId, Tag, TenantId};

use super::Item;
use super::attributes::{PK, SK};

pub(super) const TAG_PREFIX: &str = "TAG#";

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

    pub(super) fn count(tenant: &TenantId) -> Self {
        Self::new(Self::tenant_partition(tenant), "COUNT".to_owned())
    }

    pub(super) fn meta(tenant: &TenantId, id: &SecretId) -> Self {
        Self::new(Self::secret_partition(tenant, id), "META".to_owned())
    }

    pub(super) fn value(tenant: &TenantId, id: &SecretId) -> Self {
        Self::new(Self::secret_partition(tenant, id), "VALUE".to_owned())
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

    fn secret_partition(tenant: &TenantId, id: &SecretId) -> String {
        format!("SECRET#{tenant}#{id}")
    }

    /// The key attributes alone, as GetItem and Update take them.
    pub(super) fn to_item(&self) -> Item {
        Item::from([
            (PK.to_owned(), AttributeValue::S(self.partition.clone())),
            (SK.to_owned(), AttributeValue::S(self.sort.clone())),
        ])
    }
}
