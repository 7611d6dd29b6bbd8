//! Update: a new name, a new value, or both; guarded by `If-Match` or
//! built upon a concurrent change.

use crate::audit::Actor;
use crate::crypto::{EncryptionContext, SealedValue, seal};
use crate::error::{DEFAULT_RETRY_AFTER_SECS, Error, Result};
use crate::input::UpdateSecret;
use crate::model::{FIRST_VERSION, SecretSummary, TagOrId};
use crate::ports::{DataKeys, SecretChanges, SecretStore};
use crate::precondition::IfMatch;

use super::Secrets;

/// Attempts at an update without `If-Match` whose version moves on between
/// its read and its write; then 503, as for any other contention.
const UPDATE_ATTEMPTS: u32 = 3;

impl<S: SecretStore, K: DataKeys> Secrets<S, K> {
    /// An update with no fields changes nothing (but is audited, and its
    /// `If-Match` checked) and returns the secret as it is. A new value is
    /// sealed under a new data key. With `If-Match`, only the version it
    /// names is changed (412 otherwise); without, a change that lands first
    /// is built upon, as the contract's last-writer-wins update always did.
    pub async fn update(
        &self,
        actor: &Actor,
        key: &TagOrId,
        request: UpdateSecret,
        precondition: Option<&IfMatch>,
    ) -> Result<SecretSummary> {
        let tenant = &actor.tenant;
        // A new value needs the value version of the current one, which only
        // the record by id names (one more small read, for new values only).
        let read = async |key| match request.secret {
            Some(_) => self.record(tenant, key).await,
            None => self.get(tenant, key).await,
        };
        let mut current = read(key).await?;
        if let Some(precondition) = precondition {
            precondition.check(&current)?;
        }
        if request.is_empty() {
            self.store
                .record(&actor.allowed(&current, self.clock.now()).unchanged())
                .await?;
            return Ok(current);
        }
        // Sealed for the value version it will be; sealed again only if a
        // concurrent update wrote a value first, moving that version on.
        let mut sealed: Option<SealedValue> = None;
        for attempt in 1..=UPDATE_ATTEMPTS {
            if let Some(value) = &request.secret {
                let value_version = next_value_version(&current);
                if sealed.as_ref().and_then(|s| s.scheme.value_version()) != Some(value_version) {
                    let context = EncryptionContext::new(tenant, &current.id);
                    sealed = Some(seal(&self.keys, context, value_version, value).await?);
                }
            }
            let at = self.clock.now();
            let changes = SecretChanges {
                name: request.name.clone(),
                sealed: sealed.clone(),
                at,
                author: actor.subject.clone(),
                restored_from: None,
            };
            let record = actor.allowed(&current, at).left_at(current.next_version());
            let record = match sealed.is_some() {
                true => record.made_current(next_value_version(&current)),
                false => record,
            };
            match self
                .store
                .update(tenant, &current, changes, Some(&record))
                .await
            {
                Err(Error::PreconditionFailed)
                    if precondition.is_none_or(IfMatch::matches_any_version) =>
                {
                    if attempt == UPDATE_ATTEMPTS {
                        break;
                    }
                    let latest = read(key).await?;
                    // The value was sealed for this id: a secret re-created
                    // under the tag meanwhile is another secret.
                    if latest.id != current.id {
                        return Err(Error::NotFound);
                    }
                    current = latest;
                }
                result => return result,
            }
        }
        Err(Error::Unavailable {
            retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
            source: Some("the secret kept changing under the update".into()),
        })
    }
}

/// The version a new value of `current` gets: one more than its value's, a
/// value from before versions were bound counting as the first.
fn next_value_version(current: &SecretSummary) -> u64 {
    current.value_version.unwrap_or(FIRST_VERSION) + 1
}
