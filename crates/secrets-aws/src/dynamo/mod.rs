//! The store port on DynamoDB: one table for secrets (its layout in
//! [`layout`], attribute names in [`attributes`]), one for audit records
//! ([`audit`]). Each concern in a file of its own:
//!
//! - [`reads`]: a secret by tag or id, its sealed value; [`batch_reads`]:
//!   many of them in one call;
//! - [`pages`]: listing, with the tenant's count ([`counts`]) and
//!   remembered page starts ([`page_starts`]);
//! - [`writes`]: create, update and delete, one transaction each
//!   ([`transaction`], with conditions from [`expressions`], conflicts
//!   retried by [`backoff`], lost answers settled by [`outcome`]);
//! - [`deleted`]: deleted secrets kept for a recovery window, their list
//!   and their recovery;
//! - [`idempotency`]: the records of idempotent creates;
//! - [`audit_window`]: changes by time, for an operator's republishing;
//! - [`codec`]: items to domain values and back;
//! - [`leading_keys`]: the partitions each call names, as IAM's
//!   `dynamodb:LeadingKeys` sees them.

mod attributes;
mod audit;
mod audit_window;
mod backoff;
mod batch_reads;
mod codec;
mod counts;
mod deleted;
mod expressions;
mod idempotency;
mod layout;
pub(crate) mod leading_keys;
mod outcome;
mod page_starts;
mod pages;
mod reads;
mod transaction;
mod versions;
mod writes;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::audit::AuditRecord;
use secrets_domain::clock::Timestamp;
use secrets_domain::crypto::SealedValue;
use secrets_domain::deleted::{DeletedPage, DeletedPageRequest, DeletedSecret, Deletion};
use secrets_domain::error::Result;
use secrets_domain::idempotency::IdempotencyRecord;
use secrets_domain::model::{SecretId, SecretSummary, TagOrId, TenantId};
use secrets_domain::page::{Page, PageRequest};
use secrets_domain::ports::{
    DEFAULT_MAX_SECRETS_PER_TENANT, DeleteGuard, NewSecret, SecretChanges, SecretStore,
};
use secrets_domain::versions::{
    DEFAULT_VALUE_VERSIONS_KEPT, MAX_VALUE_VERSIONS_KEPT, ValueVersion,
};

pub use audit::{AUDIT_PARTITIONS, allowed_record, audit_item, audit_partitions, names_a_change};
pub use audit_window::allowed_changes_between;
pub use backoff::ConflictBackoff;
pub use codec::secret_items;
pub use counts::{DEFAULT_COUNT_SHARDS, MAX_COUNT_SHARDS, count_items};
pub use leading_keys::LeadingKeys;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    max_secrets: u64,
    count_shards: u16,
    versions_kept: u64,
    backoff: ConflictBackoff,
    page_starts: page_starts::PageStarts,
    audit: Option<audit::AuditTable>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            max_secrets: DEFAULT_MAX_SECRETS_PER_TENANT,
            count_shards: DEFAULT_COUNT_SHARDS,
            versions_kept: DEFAULT_VALUE_VERSIONS_KEPT,
            backoff: ConflictBackoff::default(),
            page_starts: page_starts::PageStarts::default(),
            audit: None,
        }
    }

    /// Audit records go to `table`, expiring after `retention_days` (0: never).
    pub fn with_audit_table(self, table: impl Into<String>, retention_days: u64) -> Self {
        Self {
            audit: Some(audit::AuditTable {
                name: table.into(),
                retention_days,
            }),
            ..self
        }
    }

    pub fn with_max_secrets(self, max_secrets: u64) -> Self {
        Self {
            max_secrets,
            ..self
        }
    }

    /// The number of count shards per tenant: fixed for a table's life
    /// (see [`counts`]); clamped to 1..=[`MAX_COUNT_SHARDS`].
    pub fn with_count_shards(self, count_shards: u16) -> Self {
        Self {
            count_shards: count_shards.clamp(1, MAX_COUNT_SHARDS),
            ..self
        }
    }

    /// Keeps the newest `kept` value versions of each secret, clamped to
    /// 1..=[`MAX_VALUE_VERSIONS_KEPT`] (a delete removes all of them in one
    /// transaction). Lowering it drops the extra versions of a secret with
    /// its next value.
    pub fn with_versions_kept(self, kept: u64) -> Self {
        Self {
            versions_kept: kept.clamp(1, MAX_VALUE_VERSIONS_KEPT),
            ..self
        }
    }

    pub fn with_conflict_backoff(self, backoff: ConflictBackoff) -> Self {
        Self { backoff, ..self }
    }
}

impl SecretStore for DynamoStore {
    async fn find(&self, tenant: &TenantId, key: &TagOrId) -> Result<Option<SecretSummary>> {
        self.find_secret(tenant, key).await
    }

    async fn list(&self, tenant: &TenantId, request: PageRequest) -> Result<Page> {
        self.list_page(tenant, request).await
    }

    async fn insert(
        &self,
        tenant: &TenantId,
        secret: NewSecret,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        self.insert_secret(tenant, secret, audit).await
    }

    async fn update(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        changes: SecretChanges,
        audit: Option<&AuditRecord>,
    ) -> Result<SecretSummary> {
        self.update_secret(tenant, current, changes, audit).await
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        guard: DeleteGuard,
        deletion: &Deletion,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        self.delete_secret(tenant, current, guard, deletion, audit)
            .await
    }

    async fn find_deleted(
        &self,
        tenant: &TenantId,
        id: &SecretId,
    ) -> Result<Option<DeletedSecret>> {
        self.find_deleted_secret(tenant, id).await
    }

    async fn deleted(
        &self,
        tenant: &TenantId,
        request: &DeletedPageRequest,
        at: Timestamp,
    ) -> Result<DeletedPage> {
        self.deleted_page(tenant, request, at).await
    }

    async fn recover(
        &self,
        tenant: &TenantId,
        deleted: &DeletedSecret,
        at: Timestamp,
        audit: Option<&AuditRecord>,
    ) -> Result<SecretSummary> {
        self.recover_secret(tenant, deleted, at, audit).await
    }

    async fn idempotency_record(
        &self,
        tenant: &TenantId,
        key_digest: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        self.read_idempotency_record(tenant, key_digest).await
    }

    async fn sealed_version(
        &self,
        tenant: &TenantId,
        id: &SecretId,
        value_version: u64,
    ) -> Result<Option<SealedValue>> {
        self.read_sealed_version(tenant, id, value_version).await
    }

    async fn versions(&self, tenant: &TenantId, id: &SecretId) -> Result<Vec<ValueVersion>> {
        self.read_versions(tenant, id).await
    }

    async fn find_many(
        &self,
        tenant: &TenantId,
        keys: &[TagOrId],
    ) -> Result<Vec<Option<SecretSummary>>> {
        self.find_secrets(tenant, keys).await
    }

    async fn sealed_versions(
        &self,
        tenant: &TenantId,
        values: &[(SecretId, u64)],
    ) -> Result<Vec<Option<SealedValue>>> {
        self.read_sealed_versions(tenant, values).await
    }
}
