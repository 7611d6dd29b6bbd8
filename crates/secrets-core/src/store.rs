//! The storage port: the few operations the service needs, each scoped to
//! one tenant, with a DynamoDB adapter (`dynamo`) and an in-memory one here.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;

use crate::audit::{Actor, AuditLog, AuditRecord};
use crate::crypto::SealedValue;
use crate::domain::{SecretId, SecretKey, SecretName, SecretSummary, Tag, TenantId};
use crate::error::{Error, Result};
use crate::idempotency::{Remembered, now_secs};
use crate::page::{Page, PageRequest};

/// A secret ready to be written: metadata, its sealed value and, for a
/// create with an `Idempotency-Key`, the record to remember it by.
#[derive(Debug, Clone)]
pub struct NewSecret {
    pub summary: SecretSummary,
    pub sealed: SealedValue,
    pub idempotency: Option<Remembered>,
}

/// What an update changes; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct SecretChanges {
    pub name: Option<SecretName>,
    pub sealed: Option<SealedValue>,
}

/// What a delete requires of the secret it removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteGuard {
    /// That it still exists, at whatever version (a delete without If-Match).
    Exists,
    /// That it is still at the version read (a delete with If-Match).
    SameVersion,
}

/// Every write takes an optional `audit` actor: when given, the record of the
/// allowed operation is written in the same all-or-nothing write, so that a
/// change and its record exist together or not at all.
pub trait SecretStore: AuditLog + Send + Sync {
    fn find(
        &self,
        tenant: &TenantId,
        key: &SecretKey,
    ) -> impl Future<Output = Result<Option<SecretSummary>>> + Send;

    /// One page in tag order, with the tenant's total.
    fn list(
        &self,
        tenant: &TenantId,
        request: PageRequest,
    ) -> impl Future<Output = Result<Page>> + Send;

    /// Writes the secret (and its idempotency record) and counts it, all or
    /// nothing. `Error::IdempotencyKeyReused` when a live record for the key
    /// exists (checked first: a concurrent create with the same key took the
    /// tag too), `Error::TagTaken` when the tenant already has a secret with
    /// this tag, `Error::QuotaExceeded` when it already has its maximum.
    fn insert(
        &self,
        tenant: &TenantId,
        secret: NewSecret,
        audit: Option<&Actor>,
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
        audit: Option<&Actor>,
    ) -> impl Future<Output = Result<SecretSummary>> + Send;

    /// Removes the secret `current` describes and uncounts it, all or
    /// nothing. `Error::NotFound` if it is gone (also when a concurrent
    /// delete won); with `DeleteGuard::SameVersion`,
    /// `Error::PreconditionFailed` if it changed since `current` was read.
    fn delete(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        guard: DeleteGuard,
        audit: Option<&Actor>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The live record of a create made with the key of `key_digest`.
    fn remembered(
        &self,
        tenant: &TenantId,
        key_digest: &str,
    ) -> impl Future<Output = Result<Option<Remembered>>> + Send;

    /// The stored envelope of a secret, for trusted readers and tests.
    fn sealed_value(
        &self,
        tenant: &TenantId,
        id: &SecretId,
    ) -> impl Future<Output = Result<Option<SealedValue>>> + Send;
}

/// The most secrets one tenant may hold. It bounds what any request can
/// read: skipping to the deepest page reads at most this many (small) items.
pub const DEFAULT_MAX_SECRETS_PER_TENANT: u64 = 100_000;

/// An in-process store with the same semantics as the DynamoDB one, for
/// unit tests and local experiments without AWS.
pub struct MemoryStore {
    tenants: Mutex<HashMap<TenantId, TenantSecrets>>,
    audit_trail: Mutex<Vec<AuditRecord>>,
    max_secrets: u64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_max_secrets(DEFAULT_MAX_SECRETS_PER_TENANT)
    }
}

#[derive(Default)]
struct TenantSecrets {
    by_tag: BTreeMap<Tag, NewSecret>,
    tag_by_id: HashMap<SecretId, Tag>,
    remembered: HashMap<String, Remembered>,
}

impl TenantSecrets {
    fn tag_of(&self, key: &SecretKey) -> Option<Tag> {
        match key {
            SecretKey::Tag(tag) => self.by_tag.contains_key(tag).then(|| tag.clone()),
            SecretKey::Id(id) => self.tag_by_id.get(id).cloned(),
        }
    }
}

impl MemoryStore {
    pub fn with_max_secrets(max_secrets: u64) -> Self {
        Self {
            tenants: Mutex::default(),
            audit_trail: Mutex::default(),
            max_secrets,
        }
    }

    /// Every audit record written so far, oldest first.
    pub fn audit_records(&self) -> Vec<AuditRecord> {
        self.audit_trail
            .lock()
            .map(|trail| trail.clone())
            .unwrap_or_default()
    }

    fn append(&self, record: AuditRecord) -> Result<()> {
        self.audit_trail
            .lock()
            .map_err(|_| Error::internal("locking the audit trail", "a writer panicked"))?
            .push(record);
        Ok(())
    }

    /// Records an allowed operation if `audit` asks for it, once `change`
    /// has succeeded, all under the store's lock.
    fn audited<T>(
        &self,
        tenant: &TenantId,
        audit: Option<&Actor>,
        change: impl FnOnce(&mut TenantSecrets) -> Result<(T, SecretSummary)>,
    ) -> Result<T> {
        let mut tenants = self
            .tenants
            .lock()
            .map_err(|_| Error::internal("locking the memory store", "a writer panicked"))?;
        let (result, summary) = change(tenants.entry(tenant.clone()).or_default())?;
        if let Some(actor) = audit {
            self.append(actor.allowed(&summary))?;
        }
        Ok(result)
    }

    fn with_tenant<T>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&mut TenantSecrets) -> T,
    ) -> Result<T> {
        let mut tenants = self
            .tenants
            .lock()
            .map_err(|_| Error::internal("locking the memory store", "a writer panicked"))?;
        Ok(f(tenants.entry(tenant.clone()).or_default()))
    }
}

impl SecretStore for MemoryStore {
    async fn find(&self, tenant: &TenantId, key: &SecretKey) -> Result<Option<SecretSummary>> {
        self.with_tenant(tenant, |secrets| {
            let tag = secrets.tag_of(key)?;
            secrets
                .by_tag
                .get(&tag)
                .map(|stored| stored.summary.clone())
        })
    }

    async fn list(&self, tenant: &TenantId, request: PageRequest) -> Result<Page> {
        self.with_tenant(tenant, |secrets| {
            let total = secrets.by_tag.len() as u64;
            let rows = secrets
                .by_tag
                .values()
                .skip(usize::try_from(request.skip()).unwrap_or(usize::MAX))
                .take(request.size() as usize)
                .map(|stored| stored.summary.clone())
                .collect();
            Page::new(request, rows, total)
        })
    }

    async fn insert(
        &self,
        tenant: &TenantId,
        secret: NewSecret,
        audit: Option<&Actor>,
    ) -> Result<()> {
        self.audited(tenant, audit, |secrets| {
            let tag = secret.summary.tag.clone();
            if let Some(record) = &secret.idempotency {
                let taken = secrets
                    .remembered
                    .get(&record.key_digest)
                    .is_some_and(|earlier| earlier.is_live(now_secs()));
                if taken {
                    return Err(Error::IdempotencyKeyReused);
                }
            }
            if secrets.by_tag.contains_key(&tag) {
                return Err(Error::TagTaken {
                    tag: tag.to_string(),
                });
            }
            if secrets.by_tag.len() as u64 >= self.max_secrets {
                return Err(Error::QuotaExceeded {
                    limit: self.max_secrets,
                });
            }
            secrets
                .tag_by_id
                .insert(secret.summary.id.clone(), tag.clone());
            let summary = secret.summary.clone();
            if let Some(record) = &secret.idempotency {
                secrets
                    .remembered
                    .insert(record.key_digest.clone(), record.clone());
            }
            secrets.by_tag.insert(tag, secret);
            Ok(((), summary))
        })
    }

    async fn update(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        changes: SecretChanges,
        audit: Option<&Actor>,
    ) -> Result<SecretSummary> {
        self.audited(tenant, audit, |secrets| {
            let stored = secrets
                .by_tag
                .get_mut(&current.tag)
                .filter(|stored| stored.summary.id == current.id)
                .ok_or(Error::NotFound)?;
            if stored.summary.version != current.version {
                return Err(Error::PreconditionFailed);
            }
            stored.summary.version += 1;
            if let Some(name) = changes.name {
                stored.summary.name = name;
            }
            if let Some(sealed) = changes.sealed {
                stored.sealed = sealed;
            }
            Ok((stored.summary.clone(), stored.summary.clone()))
        })
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        guard: DeleteGuard,
        audit: Option<&Actor>,
    ) -> Result<()> {
        self.audited(tenant, audit, |secrets| {
            let stored = secrets
                .by_tag
                .get(&current.tag)
                .filter(|stored| stored.summary.id == current.id)
                .ok_or(Error::NotFound)?;
            if guard == DeleteGuard::SameVersion && stored.summary.version != current.version {
                return Err(Error::PreconditionFailed);
            }
            let removed = secrets.by_tag.remove(&current.tag).ok_or(Error::NotFound)?;
            secrets.tag_by_id.remove(&removed.summary.id);
            Ok(((), removed.summary))
        })
    }

    async fn remembered(&self, tenant: &TenantId, key_digest: &str) -> Result<Option<Remembered>> {
        self.with_tenant(tenant, |secrets| {
            secrets
                .remembered
                .get(key_digest)
                .filter(|record| record.is_live(now_secs()))
                .cloned()
        })
    }

    async fn sealed_value(&self, tenant: &TenantId, id: &SecretId) -> Result<Option<SealedValue>> {
        self.with_tenant(tenant, |secrets| {
            let tag = secrets.tag_of(&SecretKey::Id(id.clone()))?;
            secrets.by_tag.get(&tag).map(|stored| stored.sealed.clone())
        })
    }
}

impl AuditLog for MemoryStore {
    async fn record(&self, record: &AuditRecord) -> Result<()> {
        self.append(record.clone())
    }
}

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_conforms() {
        conformance::run_all(&MemoryStore::default(), conformance::random_tenant).await;
        conformance::the_tenant_limit_holds(
            &MemoryStore::with_max_secrets(3),
            &conformance::random_tenant(),
        )
        .await;
    }
}
