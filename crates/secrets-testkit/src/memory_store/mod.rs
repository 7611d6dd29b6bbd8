//! The store port in memory, with the semantics of the DynamoDB store (the
//! conformance suite holds both to them), for tests without AWS. Deleted
//! secrets kept for their recovery window are in [`deleted`].

mod deleted;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use secrets_domain::audit::{AuditRecord, Outcome};
use secrets_domain::clock::SystemClock;
use secrets_domain::clock::Timestamp;
use secrets_domain::crypto::SealedValue;
use secrets_domain::deleted::{DeletedPage, DeletedPageRequest, DeletedSecret, Deletion};
use secrets_domain::error::{DEFAULT_RETRY_AFTER_SECS, Error, Result};
use secrets_domain::idempotency::IdempotencyRecord;
use secrets_domain::model::{FIRST_VERSION, SecretId, SecretSummary, Tag, TagOrId, TenantId};
use secrets_domain::operation::Operation;
use secrets_domain::page::{Page, PageRequest};
use secrets_domain::ports::{
    AuditLog, Clock, DEFAULT_MAX_SECRETS_PER_TENANT, DeleteGuard, NewSecret, SecretChanges,
    SecretStore,
};
use secrets_domain::versions::{DEFAULT_VALUE_VERSIONS_KEPT, ValueVersion, oldest_kept};

use crate::Interference;
use crate::conformance;

pub struct MemoryStore {
    state: Mutex<State>,
    max_secrets: u64,
    versions_kept: u64,
    interference: Interference,
}

#[derive(Default)]
struct State {
    tenants: HashMap<TenantId, TenantSecrets>,
    audit_trail: Vec<AuditRecord>,
}

#[derive(Default)]
struct TenantSecrets {
    by_tag: BTreeMap<Tag, NewSecret>,
    tag_by_id: HashMap<SecretId, Tag>,
    /// Each secret's kept values by value version, as written (a deleted
    /// secret's too, while it is kept).
    values: HashMap<SecretId, BTreeMap<u64, (SealedValue, ValueVersion)>>,
    idempotency: HashMap<String, IdempotencyRecord>,
    /// Deleted secrets kept for their window, by id.
    deleted: BTreeMap<SecretId, deleted::KeptDeleted>,
}

impl TenantSecrets {
    fn tag_of(&self, key: &TagOrId) -> Option<Tag> {
        match key {
            TagOrId::Tag(tag) => self.by_tag.contains_key(tag).then(|| tag.clone()),
            TagOrId::Id(id) => self.tag_by_id.get(id).cloned(),
        }
    }

    /// The stored secret `current` describes, if it is still there.
    fn stored_mut(&mut self, current: &SecretSummary) -> Result<&mut NewSecret> {
        self.by_tag
            .get_mut(&current.tag)
            .filter(|stored| stored.summary.id == current.id)
            .ok_or(Error::NotFound)
    }

    /// Keeps `sealed` as `version`, and drops those too old to keep.
    fn keep_value(&mut self, id: &SecretId, sealed: SealedValue, version: ValueVersion, kept: u64) {
        let number = version.number;
        let values = self.values.entry(id.clone()).or_default();
        values.insert(number, (sealed, version));
        values.retain(|kept_number, _| *kept_number >= oldest_kept(number, kept));
    }

    fn insert(&mut self, secret: NewSecret, max_secrets: u64, kept: u64) -> Result<()> {
        let tag = secret.summary.tag.clone();
        if let Some(record) = &secret.idempotency {
            let taken = self
                .idempotency
                .get(&record.key_digest)
                .is_some_and(|earlier| earlier.is_live(secret.at));
            if taken {
                return Err(Error::IdempotencyKeyReused);
            }
        }
        if self.by_tag.contains_key(&tag) {
            return Err(Error::TagTaken {
                tag: tag.to_string(),
            });
        }
        if self.by_tag.len() as u64 >= max_secrets {
            return Err(Error::QuotaExceeded { limit: max_secrets });
        }
        self.tag_by_id
            .insert(secret.summary.id.clone(), tag.clone());
        let id = secret.summary.id.clone();
        let version = secret.value_version();
        self.keep_value(&id, secret.sealed.clone(), version, kept);
        if let Some(record) = &secret.idempotency {
            self.idempotency
                .insert(record.key_digest.clone(), record.clone());
        }
        self.by_tag.insert(tag, secret);
        Ok(())
    }

    fn update(
        &mut self,
        current: &SecretSummary,
        changes: SecretChanges,
        kept: u64,
    ) -> Result<SecretSummary> {
        let stored = self.stored_mut(current)?;
        if stored.summary.version != current.version {
            return Err(Error::PreconditionFailed);
        }
        let written = |sealed: &SealedValue| {
            let number = sealed.scheme.value_version().unwrap_or(FIRST_VERSION);
            self.values
                .get(&current.id)
                .is_some_and(|kept| kept.contains_key(&number))
        };
        if changes.sealed.as_ref().is_some_and(written) {
            return Err(Error::internal(
                "writing a value version",
                "the value version is already written",
            ));
        }
        let version = changes.value_version();
        let stored = self.stored_mut(current)?;
        stored.summary.version = stored.summary.next_version();
        if let Some(name) = changes.name {
            stored.summary.name = name;
        }
        if let (Some(version), Some(sealed)) = (version, changes.sealed) {
            if let Some(value_version) = sealed.scheme.value_version() {
                stored.summary.value_version = Some(value_version);
            }
            let updated = stored.summary.clone();
            self.keep_value(&current.id, sealed, version, kept);
            return Ok(updated);
        }
        Ok(stored.summary.clone())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_max_secrets(DEFAULT_MAX_SECRETS_PER_TENANT)
    }
}

impl MemoryStore {
    pub fn with_max_secrets(max_secrets: u64) -> Self {
        Self {
            state: Mutex::default(),
            max_secrets,
            versions_kept: DEFAULT_VALUE_VERSIONS_KEPT,
            interference: Interference::default(),
        }
    }

    /// Keeps the newest `kept` value versions of each secret.
    pub fn with_versions_kept(self, kept: u64) -> Self {
        Self {
            versions_kept: kept,
            ..self
        }
    }

    /// What the store lets happen at the worst moment; see [`Interference`].
    pub fn interference(&self) -> &Interference {
        &self.interference
    }

    /// Replaces the stored value of `tag`'s secret behind the store's back,
    /// as someone who can write the table (or a partial restore) could:
    /// its records keep naming the value version they named.
    pub fn put_back_value(&self, tenant: &TenantId, tag: &Tag, sealed: SealedValue) {
        let current = self.with_tenant(tenant, |secrets| {
            let stored = secrets.by_tag.get(tag)?;
            let number = stored.summary.value_version.unwrap_or(FIRST_VERSION);
            Some((stored.summary.id.clone(), number))
        });
        if let Some((id, number)) = current {
            self.put_back_version(tenant, &id, number, sealed);
        }
    }

    /// Replaces the kept value version `number` of secret `id` behind the
    /// store's back, if it is kept.
    pub fn put_back_version(
        &self,
        tenant: &TenantId,
        id: &SecretId,
        number: u64,
        sealed: SealedValue,
    ) {
        self.with_tenant(tenant, |secrets| {
            if let Some(kept) = secrets
                .values
                .get_mut(id)
                .and_then(|values| values.get_mut(&number))
            {
                kept.0 = sealed;
            }
        });
    }

    /// Every audit record written so far, oldest first.
    pub fn audit_records(&self) -> Vec<AuditRecord> {
        self.lock().audit_trail.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn with_tenant<T>(&self, tenant: &TenantId, read: impl FnOnce(&mut TenantSecrets) -> T) -> T {
        read(self.lock().tenants.entry(tenant.clone()).or_default())
    }

    /// Another writer's change the interference holds, if any, lands on
    /// `current` first (as between a read and a write).
    fn their_change_lands(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        at: Timestamp,
    ) -> Result<()> {
        let Some(change) = self.interference.take_change() else {
            return Ok(());
        };
        let theirs = SecretChanges {
            name: change.name,
            sealed: change.sealed,
            at,
            author: "someone-else".into(),
            restored_from: None,
        };
        self.with_tenant(tenant, |secrets| {
            secrets.update(current, theirs, self.versions_kept)
        })
        .map(drop)
    }

    /// Applies `change` and appends `audit`, under one lock and all or
    /// nothing: with audit records refused, nothing is applied.
    fn audited<T>(
        &self,
        tenant: &TenantId,
        audit: Option<&AuditRecord>,
        change: impl FnOnce(&mut TenantSecrets) -> Result<T>,
    ) -> Result<T> {
        if audit.is_some() && self.interference.refuses_audit() {
            return Err(refused());
        }
        let mut state = self.lock();
        let result = change(state.tenants.entry(tenant.clone()).or_default())?;
        state.audit_trail.extend(audit.cloned());
        Ok(result)
    }
}

fn refused() -> Error {
    Error::Unavailable {
        retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
        source: Some("the memory store was told to refuse audit records".into()),
    }
}

impl SecretStore for MemoryStore {
    async fn find(&self, tenant: &TenantId, key: &TagOrId) -> Result<Option<SecretSummary>> {
        Ok(self.with_tenant(tenant, |secrets| {
            let tag = secrets.tag_of(key)?;
            let found = secrets
                .by_tag
                .get(&tag)
                .map(|stored| stored.summary.clone());
            // As the DynamoDB store: only the record by id names the value
            // version.
            found.map(|summary| match key {
                TagOrId::Id(_) => summary,
                TagOrId::Tag(_) => SecretSummary {
                    value_version: None,
                    ..summary
                },
            })
        }))
    }

    async fn list(&self, tenant: &TenantId, request: PageRequest) -> Result<Page> {
        Ok(self.with_tenant(tenant, |secrets| {
            let total = secrets.by_tag.len() as u64;
            let rows = secrets
                .by_tag
                .values()
                .skip(usize::try_from(request.skip()).unwrap_or(usize::MAX))
                .take(request.size() as usize)
                .map(|stored| SecretSummary {
                    value_version: None,
                    ..stored.summary.clone()
                })
                .collect();
            Page::new(request, rows, total)
        }))
    }

    async fn insert(
        &self,
        tenant: &TenantId,
        secret: NewSecret,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        if self.interference.take_twin() {
            let mut twin = secret.clone();
            twin.summary.id = SecretId::generate()?;
            if let Some(record) = &mut twin.idempotency {
                record.secret.id = twin.summary.id.clone();
            }
            self.with_tenant(tenant, |secrets| {
                secrets.insert(twin, self.max_secrets, self.versions_kept)
            })?;
        }
        self.audited(tenant, audit, |secrets| {
            secrets.insert(secret, self.max_secrets, self.versions_kept)
        })
    }

    async fn update(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        changes: SecretChanges,
        audit: Option<&AuditRecord>,
    ) -> Result<SecretSummary> {
        self.their_change_lands(tenant, current, changes.at)?;
        self.audited(tenant, audit, |secrets| {
            secrets.update(current, changes, self.versions_kept)
        })
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        guard: DeleteGuard,
        deletion: &Deletion,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        self.their_change_lands(tenant, current, deletion.at)?;
        self.audited(tenant, audit, |secrets| {
            let stored = secrets.stored_mut(current)?;
            if guard == DeleteGuard::SameVersion && stored.summary.version != current.version {
                return Err(Error::PreconditionFailed);
            }
            let removed = secrets.by_tag.remove(&current.tag).ok_or(Error::NotFound)?;
            secrets.tag_by_id.remove(&removed.summary.id);
            secrets.keep_deleted(removed, deletion);
            Ok(())
        })
    }

    async fn find_deleted(
        &self,
        tenant: &TenantId,
        id: &SecretId,
    ) -> Result<Option<DeletedSecret>> {
        Ok(self.with_tenant(tenant, |secrets| secrets.find_deleted(id)))
    }

    async fn deleted(
        &self,
        tenant: &TenantId,
        request: &DeletedPageRequest,
        at: Timestamp,
    ) -> Result<DeletedPage> {
        Ok(self.with_tenant(tenant, |secrets| secrets.deleted_page(request, at)))
    }

    async fn recover(
        &self,
        tenant: &TenantId,
        deleted: &DeletedSecret,
        at: Timestamp,
        audit: Option<&AuditRecord>,
    ) -> Result<SecretSummary> {
        self.audited(tenant, audit, |secrets| {
            secrets.recover(deleted, at, self.max_secrets)
        })
    }

    async fn idempotency_record(
        &self,
        tenant: &TenantId,
        key_digest: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        Ok(self.with_tenant(tenant, |secrets| {
            secrets.idempotency.get(key_digest).cloned()
        }))
    }

    async fn sealed_version(
        &self,
        tenant: &TenantId,
        id: &SecretId,
        value_version: u64,
    ) -> Result<Option<SealedValue>> {
        if let Some(sealed) = self.interference.take_value_before_read() {
            let theirs = SecretChanges {
                name: None,
                sealed: Some(sealed),
                at: SystemClock.now(),
                author: "someone-else".into(),
                restored_from: None,
            };
            self.with_tenant(tenant, |secrets| {
                let tag = secrets.tag_of(&TagOrId::Id(id.clone()))?;
                let current = secrets.by_tag.get(&tag)?.summary.clone();
                secrets.update(&current, theirs, self.versions_kept).ok()
            });
        }
        Ok(self.with_tenant(tenant, |secrets| {
            let kept = secrets.values.get(id)?.get(&value_version)?;
            Some(kept.0.clone())
        }))
    }

    async fn versions(&self, tenant: &TenantId, id: &SecretId) -> Result<Vec<ValueVersion>> {
        Ok(self.with_tenant(tenant, |secrets| {
            let kept = secrets.values.get(id).into_iter().flatten();
            kept.rev()
                .map(|(_, (_, version))| version.clone())
                .collect()
        }))
    }
}

impl AuditLog for MemoryStore {
    async fn record(&self, record: &AuditRecord) -> Result<()> {
        if self.interference.refuses_audit() {
            return Err(refused());
        }
        self.lock().audit_trail.push(record.clone());
        Ok(())
    }
}

/// The allowed records, for the conformance suite's audit checks.
impl conformance::ReadAuditTrail for MemoryStore {
    async fn allowed(&self, tenant: &TenantId) -> Vec<(Operation, SecretId)> {
        self.audit_records()
            .into_iter()
            .filter(|record| record.tenant.as_ref() == Some(tenant))
            .filter(|record| record.outcome == Outcome::Allowed)
            .filter_map(|record| Some((record.operation, record.secret_id?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_conforms() {
        let store = MemoryStore::default();
        conformance::run_all(&store, conformance::random_tenant, &store).await;
        let limited = MemoryStore::with_max_secrets(3);
        conformance::the_tenant_limit_holds(&limited, &conformance::random_tenant()).await;
        conformance::a_recovery_counts_against_the_limit(&limited, &conformance::random_tenant())
            .await;
    }

    /// As DynamoDB cancels a transaction whose audit item cannot be
    /// written: a change whose record is refused does not happen.
    #[tokio::test]
    async fn a_change_whose_record_is_refused_does_not_happen() {
        let store = MemoryStore::default();
        let tenant = conformance::random_tenant();
        let secret = conformance::new_secret("kept-out");
        let record = crate::actor(&tenant, Operation::Create).allowed(&secret.summary, secret.at);
        store.interference().refuse_audit_records();
        let error = store
            .insert(&tenant, secret.clone(), Some(&record))
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), 503);
        let by_id = TagOrId::Id(secret.summary.id.clone());
        assert_eq!(store.find(&tenant, &by_id).await.unwrap(), None);
        assert!(store.audit_records().is_empty());
        // Without a record to write, the change is not the audit log's to refuse.
        store.insert(&tenant, secret, None).await.unwrap();
    }
}
