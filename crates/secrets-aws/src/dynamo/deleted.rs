//! Deleted secrets kept for a recovery window: how a delete keeps them, the
//! deleted-secrets list, and recovery.
//!
//! | write   | items (role: condition)                                            |
//! |---------|--------------------------------------------------------------------|
//! | delete, kept | Tag: exists, same id (deleted) · Meta: as a delete's (marked deleted, expiring) · KeptVersion (each kept version's two items: expiring) · Deleted: absent · Count (the tag's shard) · [AuditRecord] |
//! | recover | Tag: absent (put) · Meta: deleted, same version (unmarked, next version) · Deleted: exists (deleted) · KeptVersion (expiry cleared) · Count (the tag's shard): below its limit · [AuditRecord] |
//!
//! Every kept item gets the TTL attribute `expiresAt` (the end of the
//! window, in seconds), so DynamoDB drops the secret with no job of ours;
//! TTL deletes within days of that time, not at it, so every read treats
//! a secret past `purgeAt` as gone. A deleted META is never read as a live
//! secret ([`super::codec::is_live`]), whichever way it is found. The
//! DELETED item in the tenant's collection is what the list pages through
//! (in id order, keyed: a page reads what it returns), and list pages of
//! live secrets (`TAG#`) never read it. A kept item missing from a damaged
//! version pair is written as a stub holding only its expiry, which TTL
//! removes with the rest (or, once recovered, is left: only a writer of the
//! table can damage a pair).

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::audit::AuditRecord;
use secrets_domain::clock::Timestamp;
use secrets_domain::deleted::{DeletedPage, DeletedPageRequest, DeletedSecret, Deletion};
use secrets_domain::error::{Error, Result};
use secrets_domain::model::{SecretId, SecretSummary, TenantId};

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
            .set(EXPIRES_AT, number(purge_at.secs()));
        let key = ItemKey::meta(tenant, &current.id);
        let not_yet_deleted = meta.and_lacks(DELETED_AT);
        write.update(Role::Meta, &self.table, &key, marked, Some(not_yet_deleted))?;
        let expiring = Changes::default().set(EXPIRES_AT, number(purge_at.secs()));
        self.change_kept_versions(write, tenant, &current.id, kept, &expiring)?;
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
    /// yet to remove some that ended).
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
        loop {
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
                if deleted.recoverable_at(at) {
                    recoverable.push(deleted);
                }
            }
            start = output.last_evaluated_key;
            if recoverable.len() >= wanted || start.is_none() {
                break;
            }
        }
        Ok(request.page_of(recoverable))
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
        let recovered = SecretSummary {
            version: secret.version + 1,
            ..secret.clone()
        };
        let shard = &self.count_shard(tenant, &secret.tag);
        let (kept, next_version) = (&kept, recovered.version);
        self.within_limit(tenant, &secret.tag, |limit| async move {
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
            self.change_kept_versions(&mut write, tenant, &secret.id, kept, &kept_again)?;
            let count = Condition::below(COUNT, limit);
            write.update(Role::Count, &self.table, shard, counted(1), Some(count))?;
            self.put_audit_record(&mut write, audit)?;
            let evidence = Evidence::Written { key: meta, token };
            self.commit(write, |role| self.recovery_refused(role, deleted), evidence)
                .await
        })
        .await?;
        Ok(recovered)
    }

    /// Why a recovery was cancelled, by the item whose condition failed.
    fn recovery_refused(&self, role: Role, deleted: &DeletedSecret) -> Error {
        match role {
            Role::Tag => Error::TagTaken {
                tag: deleted.summary.tag.to_string(),
            },
            Role::Count => self.quota_exceeded(),
            // Recovered, or dropped, by someone else meanwhile.
            Role::Meta | Role::Deleted => Error::NotFound,
            _ => Error::internal(
                "recovering a secret",
                "a condition failed on an item without one",
            ),
        }
    }

    /// Adds to `write` the same `changes` to both items of each kept
    /// version.
    fn change_kept_versions(
        &self,
        write: &mut Transaction,
        tenant: &TenantId,
        id: &SecretId,
        kept: &[u64],
        changes: &Changes,
    ) -> Result<()> {
        for &number in kept {
            for key in [
                ItemKey::value(tenant, id, number),
                ItemKey::version(tenant, id, number),
            ] {
                write.update(Role::KeptVersion, &self.table, &key, changes.clone(), None)?;
            }
        }
        Ok(())
    }
}
