//! Restore: an earlier value version made current again, as a new version
//! (never by pointing back at the old one: resolve still opens only the
//! version the secret's record names, sealed as that version).

use crate::audit::Actor;
use crate::crypto::ResealRequest;
use crate::error::{DEFAULT_RETRY_AFTER_SECS, Error, Result};
use crate::model::{FIRST_VERSION, SecretSummary, TagOrId};
use crate::ports::{Reseal, SecretChanges, SecretStore};
use crate::precondition::IfMatch;

use super::Secrets;

/// Attempts at a restore without `If-Match` whose secret changes between
/// its read and its write; then 503.
const RESTORE_ATTEMPTS: u32 = 3;

impl<S: SecretStore, K: Reseal> Secrets<S, K> {
    /// Makes kept version `from` the value again, as the next version
    /// (which records `restoredFrom`). 404 for a version the secret never
    /// had or no longer keeps, 409 for its current one; with `If-Match`,
    /// 412 unless the secret is still at a version it names. The value is
    /// resealed where the plaintext never reaches this service.
    pub async fn restore(
        &self,
        actor: &Actor,
        key: &TagOrId,
        from: u64,
        precondition: Option<&IfMatch>,
    ) -> Result<SecretSummary> {
        let tenant = &actor.tenant;
        for _ in 0..RESTORE_ATTEMPTS {
            let current = self.record(tenant, key).await?;
            if let Some(precondition) = precondition {
                precondition.check(&current)?;
            }
            let now = current.value_version.unwrap_or(FIRST_VERSION);
            if from == now {
                return Err(Error::VersionIsCurrent { value_version: now });
            }
            let sealed = match from < now {
                true => self.store.sealed_version(tenant, &current.id, from).await?,
                false => None,
            };
            let sealed = sealed.ok_or(Error::NotFound)?;
            let request = ResealRequest {
                tenant: tenant.clone(),
                secret_id: current.id.clone(),
                sealed,
                from,
                to: now + 1,
            };
            let at = self.clock.now();
            let changes = SecretChanges {
                name: None,
                sealed: Some(resealed_as(self.keys.reseal(&request).await?, request.to)?),
                at,
                author: actor.subject.clone(),
                restored_from: Some(from),
            };
            // The record names the version whose value became current
            // again, and the version that made it so.
            let record = actor
                .allowed(&current, at)
                .left_at(current.next_version())
                .restored(from, request.to);
            match self
                .store
                .update(tenant, &current, changes, Some(&record))
                .await
            {
                Err(Error::PreconditionFailed)
                    if precondition.is_none_or(IfMatch::matches_any_version) => {}
                result => return result,
            }
        }
        Err(Error::Unavailable {
            retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
            source: Some("the secret kept changing under the restore".into()),
        })
    }
}

/// The reseal's answer, if it is sealed as the version asked for: a
/// misnumbered envelope would leave META naming a version its value is not.
fn resealed_as(sealed: crate::crypto::SealedValue, to: u64) -> Result<crate::crypto::SealedValue> {
    match sealed.scheme.value_version() {
        Some(version) if version == to => Ok(sealed),
        _ => Err(Error::internal(
            "restoring a value version",
            "the resealed value is not sealed as the new version",
        )),
    }
}
