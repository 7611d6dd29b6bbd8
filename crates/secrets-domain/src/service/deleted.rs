//! Deleted secrets within their recovery window: the list of them and
//! their recovery under their tag.

use crate::audit::Actor;
use crate::deleted::{DeletedPage, DeletedPageRequest};
use crate::error::{Error, Result};
use crate::model::{SecretId, SecretSummary, TenantId};
use crate::ports::SecretStore;

use super::Secrets;

impl<S: SecretStore, K> Secrets<S, K> {
    /// A page of the tenant's secrets that can still be recovered, in id
    /// order: metadata only.
    pub async fn deleted(
        &self,
        tenant: &TenantId,
        request: &DeletedPageRequest,
    ) -> Result<DeletedPage> {
        self.store.deleted(tenant, request, self.clock.now()).await
    }

    /// Brings a deleted secret back under its tag, at its next version:
    /// 404 unless it is deleted and its window has not ended (its items
    /// may outlive the window until the store drops them), 409 if its tag
    /// has been taken since or the tenant is at its limit.
    pub async fn recover(&self, actor: &Actor, id: &SecretId) -> Result<SecretSummary> {
        let now = self.clock.now();
        let deleted = self
            .store
            .find_deleted(&actor.tenant, id)
            .await?
            .filter(|deleted| deleted.recoverable_at(now))
            .ok_or(Error::NotFound)?;
        let record = actor
            .allowed(&deleted.summary, now)
            .left_at(deleted.summary.next_version());
        // The value it brings back is current again: its change event says so.
        let record = match deleted.summary.value_version {
            Some(value_version) => record.made_current(value_version),
            None => record,
        };
        self.store
            .recover(&actor.tenant, &deleted, now, Some(&record))
            .await
    }
}
