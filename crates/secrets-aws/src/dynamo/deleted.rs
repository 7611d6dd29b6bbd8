//! Deleted secrets kept for a recovery window: how a delete keeps them, the
//! deleted-secrets list, and recovery.
//!
//! | write   | items (role: condition)                                            |
//! |---------|--------------------------------------------------------------------|
//! | delete, kept | Tag: exists, same id (deleted) · Meta: as a delete's (marked deleted, expiring) · KeptVersion (each kept version's two items: expiring) · Deleted: absent · Count (the tag's shard) · [AuditRecord] |
//! | recover | Tag: absent (put) · Meta: deleted, same version (unmarked, next version) · Deleted: exists (deleted) · KeptVersion (expiry cleared) · Count (the tag's shard): below its limit · [AuditRecord] |
//!
//! Every kept item gets the TTL attribute `expiresAt`, so DynamoDB drops
//! the secret with no job of ours. TTL deletes within days of that time,
//! not at it, so every read treats a secret past `purgeAt` (the window's
//! end) as gone; and `expiresAt` is a day later than `purgeAt`, so TTL
//! never starts on a secret a recovery may still see as recoverable (a
//! recovery's clock is read before its reads and retries). A recovery is
//! conditioned on every kept item still there and expiring as the delete
//! set it, so even a recovery that somehow ran into TTL could only be
//! refused (404), never bring back a secret missing a value. A deleted META is never read as a live
//! secret ([`super::codec::is_live`]), whichever way it is found. The
//! DELETED item in the tenant's collection is what the list pages through
//! (in id order, keyed), and list pages of live secrets (`TAG#`) never read
//! it. A page reads what it returns plus the ended entries TTL has yet to
//! remove among them, at most [`QUERIES_PER_DELETED_PAGE`] Queries: past
//! that it is cut short, and its `next` starts after the last entry read. A kept item missing from a damaged
//! version pair is written as a stub holding only its expiry, which TTL
//! removes with the rest (or, once recovered, is left: only a writer of the
//! table can damage a pair).

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::audit::AuditRecord;
use secrets_domain::clock::Timestamp;
use secrets_domain::deleted::{DeletedPage, DeletedPageRequest, DeletedSecret, Deletion};
use secrets_domain::error::{Error, Result};
use secrets_domain::model::{SecretId, SecretSummary, TagOrId, TenantId};

use super::DynamoStore;
use super::attributes::{
    COUNT, DELETED_AT, DELETED_BY, EXPIRES_AT, ID, LAST_WRITE, NAME, PURGE_AT, TAG, VERSION,
};
use super::codec::{self, DELETED_ITEM_ATTRIBUTES, ItemBuilder, number};
use super::counts::counted;
use super::expressions::{Changes, Condition};
use super::layout::{DELETED_PREFIX, ItemKey};
use super::outcome::{Evidence, write_token};
use super::transaction::{Role, Transaction};
use super::writes::duplicate_audit_record;

/// The most Queries one page of the deleted list makes; each reads at most
/// the page size and one more, so a page reads at most 1,004 entries
/// however many ended ones TTL has yet to remove.
pub(super) const QUERIES_PER_DELETED_PAGE: usize = 4;

/// The TTL attribute of a deleted secret's items.
fn expiry(purge_at: Timestamp) -> AttributeValue {
    number(codec::expiry_secs(purge_at))
}

/// The versions whose items a kept delete or a recovery changes: those
/// kept, and the current one even if its VERSION item is missing (a pair
/// damaged by a writer of the table), so the value a recovery brings back
/// is never left to expire.
fn kept_and_current(mut kept: Vec<u64>, current: Option<u64>) -> Vec<u64> {
    if let Some(current) = current.filter(|current| !kept.contains(current)) {
        kept.push(current);
    }
    kept
}

impl DynamoStore {
    /// A delete's items that keep the secret for its window, in place of
    /// removing META and the kept versions; `meta` is the delete's
    /// condition on META.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn keep_deleted(
        &self,
        write: &mut Transaction,
        tenant: &TenantId,
        current: &SecretSummary,
        meta: Condition,
        kept: &[u64],
        deletion: &Deletion,
        purge_at: Timestamp,
    ) -> Result<()> {
        let marked = Changes::default()
            .set(DELETED_AT, number(deletion.at.millis()))
            .set(DELETED_BY, AttributeValue::S(deletion.by.clone()))
            .set(PURGE_AT, number(purge_at.millis()))
            .set(EXPIRES_AT, expiry(purge_at));
        let key = ItemKey::meta(tenant, &current.id);
        let not_yet_deleted = meta.and_lacks(DELETED_AT);
        write.update(Role::Meta, &self.table, &key, marked, Some(not_yet_deleted))?;
        let expiring = Changes::default().set(EXPIRES_AT, expiry(purge_at));
        let kept = kept_and_current(kept.to_vec(), current.value_version);
        self.change_kept_versions(write, tenant, &current.id, &kept, &expiring, None)?;
        let deleted = DeletedSecret {
            summary: current.clone(),
            deleted_at: deletion.at,
            deleted_by: deletion.by.clone(),
            purge_at,
        };
        let entry = codec::deleted_item(tenant, &deleted);
        write.put(Role::Deleted, &self.table, entry, Condition::absent())
    }

    /// The deleted secret `id`, from its META item: one GetItem.
    pub(super) async fn find_deleted_secret(
        &self,
        tenant: &TenantId,
        id: &SecretId,
    ) -> Result<Option<DeletedSecret>> {
        let meta = self
            .get(&ItemKey::meta(tenant, id), DELETED_ITEM_ATTRIBUTES)
            .await?;
        meta.filter(|item| !codec::is_live(item))
            .map(|item| codec::deleted_secret(&item, Some(id)))
            .transpose()
    }

    /// A page of the tenant's DELETED items after `request.after()`, those
    /// past their window left out: Queries of `size + 1` items until the
    /// page is full or none are left (more than one only while TTL has
    /// yet to remove some that ended), at most
    /// [`QUERIES_PER_DELETED_PAGE`].
    pub(super) async fn deleted_page(
        &self,
        tenant: &TenantId,
        request: &DeletedPageRequest,
        at: Timestamp,
    ) -> Result<DeletedPage> {
        let wanted = request.size() as usize + 1;
        let partition = ItemKey::tenant_partition(tenant);
        let mut start = request.after().map(|after| {
            ItemKey::new(partition.clone(), format!("{DELETED_PREFIX}{after}")).to_item()
        });
        let mut recoverable = Vec::new();
        let mut last_read = None;
        for _ in 0..QUERIES_PER_DELETED_PAGE {
            let query = self
                .projected_query(partition.clone(), DELETED_PREFIX, DELETED_ITEM_ATTRIBUTES)
                .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            let output = query
                .send()
                .await
                .map_err(|e| crate::errors::classify("reading deleted secrets", e))?;
            for item in output.items() {
                let deleted = codec::deleted_secret(item, None)?;
                last_read = Some(deleted.summary.id.clone());
                if deleted.recoverable_at(at) {
                    recoverable.push(deleted);
                }
            }
            start = output.last_evaluated_key;
            if recoverable.len() >= wanted || start.is_none() {
                return Ok(request.page_of(recoverable));
            }
        }
        // Cut short with more left: the next page starts after the last
        // entry read, recoverable or not.
        Ok(match last_read {
            Some(last_read) => request.page_read_up_to(recoverable, last_read),
            None => request.page_of(recoverable),
        })
    }

    /// Recovery: the tag taken again (if free), META unmarked at its next
    /// version, the DELETED item removed, the kept versions' expiry
    /// cleared, the secret counted again under the tenant's limit, all in
    /// one transaction conditioned on the secret still deleted as read, and
    /// its window not ended `at`.
    pub(super) async fn recover_secret(
        &self,
        tenant: &TenantId,
        deleted: &DeletedSecret,
        at: Timestamp,
        audit: Option<&AuditRecord>,
    ) -> Result<SecretSummary> {
        let secret = &deleted.summary;
        let kept = self.kept_versions(tenant, &secret.id).await?;
        let kept = kept_and_current(kept, secret.value_version);
        let recovered = SecretSummary {
            version: secret.next_version(),
            ..secret.clone()
        };
        let shard = &self.count_shard(tenant, &secret.tag);
        let (kept, next_version) = (&kept, recovered.version);
        let committed = self
            .within_limit(tenant, &secret.tag, |limit| async move {
                let token = write_token()?;
                let mut write = Transaction::default();
                let unmarked = Changes::default()
                    .set(VERSION, number(next_version))
                    .set(LAST_WRITE, AttributeValue::S(token.clone()))
                    .remove(DELETED_AT)
                    .remove(DELETED_BY)
                    .remove(PURGE_AT)
                    .remove(EXPIRES_AT);
                let still_deleted = Condition::exists()
                    .and_has(DELETED_AT)
                    .and_equals(TAG, AttributeValue::S(secret.tag.to_string()))
                    .and_at_version(secret.version)
                    .and_above(PURGE_AT, at.millis());
                let meta = ItemKey::meta(tenant, &secret.id);
                write.update(
                    Role::Meta,
                    &self.table,
                    &meta,
                    unmarked,
                    Some(still_deleted),
                )?;
                let entry = ItemKey::deleted(tenant, &secret.id);
                write.delete(
                    Role::Deleted,
                    &self.table,
                    &entry,
                    Some(Condition::exists()),
                )?;
                // After META: when the secret is no longer deleted as read,
                // that is the failure reported, whatever holds the tag now.
                let tag_item = ItemBuilder::at(&ItemKey::tag(tenant, &secret.tag))
                    .text(ID, secret.id.as_str())
                    .text(NAME, secret.name.as_str())
                    .number(VERSION, next_version)
                    .build();
                write.put(Role::Tag, &self.table, tag_item, Condition::absent())?;
                let kept_again = Changes::default().remove(EXPIRES_AT);
                let still_expiring =
                    Condition::exists().and_equals(EXPIRES_AT, expiry(deleted.purge_at));
                self.change_kept_versions(
                    &mut write,
                    tenant,
                    &secret.id,
                    kept,
                    &kept_again,
                    Some(still_expiring),
                )?;
                let count = Condition::below(COUNT, limit);
                write.update(Role::Count, &self.table, shard, counted(1), Some(count))?;
                self.put_audit_record(&mut write, audit)?;
                let evidence = Evidence::Written { key: meta, token };
                self.commit(write, |role| self.recovery_refused(role, deleted), evidence)
                    .await
            })
            .await;
        match committed {
            Err(Error::TagTaken { .. }) if self.holds_its_tag(tenant, secret).await? => {
                Err(Error::NotFound)
            }
            committed => committed.map(|()| recovered),
        }
    }

    /// Whether the secret's tag is its own again: recovered by someone
    /// else, whose recovery took the tag with META, though DynamoDB may
    /// name only the tag as the condition that failed.
    async fn holds_its_tag(&self, tenant: &TenantId, secret: &SecretSummary) -> Result<bool> {
        let holder = self
            .find_secret(tenant, &TagOrId::Tag(secret.tag.clone()))
            .await?;
        Ok(holder.is_some_and(|holder| holder.id == secret.id))
    }

    /// Why a recovery was cancelled, by the item whose condition failed.
    fn recovery_refused(&self, role: Role, deleted: &DeletedSecret) -> Error {
        match role {
            Role::Tag => Error::TagTaken {
                tag: deleted.summary.tag.to_string(),
            },
            Role::Count => self.quota_exceeded(),
            // Recovered by someone else meanwhile, or its window ended.
            Role::Meta | Role::Deleted | Role::KeptVersion => Error::NotFound,
            Role::AuditRecord => duplicate_audit_record(),
            _ => Error::internal(
                "recovering a secret",
                "a condition failed on an item without one",
            ),
        }
    }

    /// Adds to `write` the same `changes` to both items of each kept
    /// version, each under `condition`.
    fn change_kept_versions(
        &self,
        write: &mut Transaction,
        tenant: &TenantId,
        id: &SecretId,
        kept: &[u64],
        changes: &Changes,
        condition: Option<Condition>,
    ) -> Result<()> {
        for &number in kept {
            for key in [
                ItemKey::value(tenant, id, number),
                ItemKey::version(tenant, id, number),
            ] {
                let (changes, condition) = (changes.clone(), condition.clone());
                write.update(Role::KeptVersion, &self.table, &key, changes, condition)?;
            }
        }
        Ok(())
    }
}
