//! Deleted secrets kept in memory for their recovery window, as the
//! DynamoDB store keeps them: out of every read of live secrets by tag or
//! id (their kept values stay readable by version, as DynamoDB's items
//! do), listed by id, and brought back whole by a recovery.

use std::ops::Bound;

use secrets_domain::clock::Timestamp;
use secrets_domain::deleted::{DeletedPage, DeletedPageRequest, DeletedSecret, Deletion};
use secrets_domain::error::{Error, Result};
use secrets_domain::model::{SecretId, SecretSummary};
use secrets_domain::ports::NewSecret;

use super::TenantSecrets;

/// A deleted secret as kept: its record and its deletion. Past its window
/// it stays (as items outlive their TTL in DynamoDB) but is never listed
/// or recovered.
pub(super) struct KeptDeleted {
    secret: NewSecret,
    deleted: DeletedSecret,
}

impl TenantSecrets {
    /// Keeps `removed` (and its values) until `deletion.purge_at`; without
    /// one, its values go with it.
    pub(super) fn keep_deleted(&mut self, removed: NewSecret, deletion: &Deletion) {
        let Some(purge_at) = deletion.purge_at else {
            self.values.remove(&removed.summary.id);
            return;
        };
        let deleted = DeletedSecret {
            summary: removed.summary.clone(),
            deleted_at: deletion.at,
            deleted_by: deletion.by.clone(),
            purge_at,
        };
        self.deleted.insert(
            removed.summary.id.clone(),
            KeptDeleted {
                secret: removed,
                deleted,
            },
        );
    }

    pub(super) fn find_deleted(&self, id: &SecretId) -> Option<DeletedSecret> {
        self.deleted.get(id).map(|kept| kept.deleted.clone())
    }

    pub(super) fn deleted_page(&self, request: &DeletedPageRequest, at: Timestamp) -> DeletedPage {
        let start = request.after().map_or(Bound::Unbounded, Bound::Excluded);
        let recoverable = self
            .deleted
            .range::<SecretId, _>((start, Bound::Unbounded))
            .map(|(_, kept)| &kept.deleted)
            .filter(|deleted| deleted.recoverable_at(at))
            .cloned();
        request.page_of(recoverable)
    }

    /// Brings `deleted` back if it is still kept as read and its window has
    /// not ended `at`, under its tag if that is free and the tenant below
    /// `max_secrets`.
    pub(super) fn recover(
        &mut self,
        deleted: &DeletedSecret,
        at: Timestamp,
        max_secrets: u64,
    ) -> Result<SecretSummary> {
        let id = &deleted.summary.id;
        let kept = self.deleted.get(id);
        if kept.is_none_or(|kept| kept.deleted != *deleted || !deleted.recoverable_at(at)) {
            return Err(Error::NotFound);
        }
        let tag = &deleted.summary.tag;
        if self.by_tag.contains_key(tag) {
            return Err(Error::TagTaken {
                tag: tag.to_string(),
            });
        }
        if self.by_tag.len() as u64 >= max_secrets {
            return Err(Error::QuotaExceeded { limit: max_secrets });
        }
        let Some(KeptDeleted { mut secret, .. }) = self.deleted.remove(id) else {
            return Err(Error::NotFound);
        };
        secret.summary.version = secret.summary.next_version();
        let recovered = secret.summary.clone();
        self.tag_by_id.insert(id.clone(), tag.clone());
        self.by_tag.insert(tag.clone(), secret);
        Ok(recovered)
    }
}
