//! The store port on DynamoDB: one table for secrets (its layout in
//! [`layout`], attribute names in [`attributes`]), one for audit records
//! ([`audit`]). Each concern in a file of its own:
//!
//! - [`reads`]: a secret by tag or id, its sealed value;
//! - [`pages`]: listing, with the tenant's count;
//! - [`writes`]: create, update and delete, one transaction each
//!   ([`transaction`], with conditions from [`expressions`]);
//! - [`idempotency`]: the records of idempotent creates;
//! - [`codec`]: items to domain values and back.

mod attributes;
mod audit;
mod codec;
mod expressions;
mod idempotency;
mod layout;
mod pages;
mod reads;
mod transaction;
mod writes;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::audit::AuditRecord;
use secrets_domain::crypto::SealedValue;
use secrets_domain::error::Result;
use secrets_domain::idempotency::IdempotencyRecord;
use secrets_domain::model::{SecretId, SecretSummary, TagOrId, TenantId};
use secrets_domain::page::{Page, PageRequest};
use secrets_domain::ports::{
    DEFAULT_MAX_SECRETS_PER_TENANT, DeleteGuard, NewSecret, SecretChanges, SecretStore,
};

pub use audit::audit_item;
pub use codec::{count_item, secret_items};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    max_secrets: u64,
    audit: Option<audit::AuditTable>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            max_secrets: DEFAULT_MAX_SECRETS_PER_TENANT,
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
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        self.delete_secret(tenant, current, guard, audit).await
    }

    async fn idempotency_record(
        &self,
        tenant: &TenantId,
        key_digest: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        self.read_idempotency_record(tenant, key_digest).await
    }

    async fn sealed_value(&self, tenant: &TenantId, id: &SecretId) -> Result<Option<SealedValue>> {
        self.read_sealed_value(tenant, id).await
    }
}
