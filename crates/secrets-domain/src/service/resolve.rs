//! Resolve: the plaintext, for trusted internal callers only.

use zeroize::Zeroizing;

use crate::audit::Actor;
use crate::crypto::{Currency, EncryptionContext, SealedValue, currency, open};
use crate::error::{DEFAULT_RETRY_AFTER_SECS, Error, Result};
use crate::model::{FIRST_VERSION, SecretSummary, TagOrId, TenantId};
use crate::ports::{DataKeys, SecretStore};

use super::Secrets;

impl<S: SecretStore, K: DataKeys> Secrets<S, K> {
    /// The plaintext value, for trusted internal callers only, never for an
    /// HTTP response. Opened in the context of the tenant asking, so an
    /// envelope moved to another tenant or secret does not open. Audited
    /// before it is returned: a value that cannot be accounted for is not
    /// handed out.
    pub async fn resolve(&self, actor: &Actor, key: &TagOrId) -> Result<Resolved> {
        let (summary, sealed) = self.current_value(&actor.tenant, key).await?;
        self.open_audited(actor, summary, &sealed).await
    }

    /// An earlier value (or the current one) by its value version, while
    /// it is kept: 404 for a version the secret never had or no longer
    /// keeps. The value's sealed version must be the one asked for: a value
    /// relabelled as another version does not open.
    pub async fn resolve_version(
        &self,
        actor: &Actor,
        key: &TagOrId,
        value_version: u64,
    ) -> Result<Resolved> {
        let tenant = &actor.tenant;
        let summary = self.record(tenant, key).await?;
        if value_version > summary.value_version.unwrap_or(FIRST_VERSION) {
            return Err(Error::NotFound);
        }
        let sealed = self
            .store
            .sealed_version(tenant, &summary.id, value_version)
            .await?
            .ok_or(Error::NotFound)?;
        if currency(Some(value_version), &sealed) != Currency::Current
            && !(value_version == FIRST_VERSION && sealed.scheme.value_version().is_none())
        {
            return Err(Error::internal(
                "resolving a value version",
                "the stored value is not sealed as the version it is kept as",
            ));
        }
        self.open_audited(actor, summary, &sealed).await
    }

    /// Opens `sealed` in the context of the tenant asking, and records the
    /// resolve before the value is handed out.
    async fn open_audited(
        &self,
        actor: &Actor,
        summary: SecretSummary,
        sealed: &SealedValue,
    ) -> Result<Resolved> {
        let context = EncryptionContext::new(&actor.tenant, &summary.id);
        let value = open(&self.keys, context, sealed).await?;
        let record = actor.allowed(&summary, self.clock.now());
        let opened = sealed.scheme.value_version().unwrap_or(FIRST_VERSION);
        self.store.record(&record.opened(opened)).await?;
        Ok(Resolved { summary, value })
    }

    /// The secret and its value, the value being the version the secret's
    /// record names. An update landing between the two reads shows as a
    /// newer value: read both again. An older value is one put back behind
    /// the record's back (a partial restore, a table writer): never opened.
    pub(super) async fn current_value(
        &self,
        tenant: &TenantId,
        key: &TagOrId,
    ) -> Result<(SecretSummary, SealedValue)> {
        for _ in 0..READ_ATTEMPTS {
            let summary = self.record(tenant, key).await?;
            // Missing: a delete with no recovery window landed between the
            // two reads (the record is gone when read again: 404), or new
            // values made this one too old to keep (the record names a
            // newer one: read it). A delete that keeps the secret keeps
            // this value: it was current as the record was read.
            let value_version = summary.value_version.unwrap_or(FIRST_VERSION);
            let stored = self
                .store
                .sealed_version(tenant, &summary.id, value_version);
            let Some(sealed) = stored.await? else {
                continue;
            };
            match currency(summary.value_version, &sealed) {
                Currency::Current => return Ok((summary, sealed)),
                Currency::Newer => continue,
                Currency::RolledBack => {
                    return Err(Error::internal(
                        "resolving a value",
                        "the stored value is older than its secret's record: rolled back",
                    ));
                }
            }
        }
        Err(Error::Unavailable {
            retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
            source: Some("the value kept changing under the resolve".into()),
        })
    }
}

/// Reads of a secret and its value before a resolve gives up on one that
/// keeps changing; each retry follows an update that landed in between.
const READ_ATTEMPTS: u32 = 3;

/// A secret with its plaintext value, as the resolve function answers it:
/// `{"id", "name", "tag", "value"}`. The value is written straight from the
/// self-wiping buffer into the serializer's output.
pub struct Resolved {
    pub summary: SecretSummary,
    pub value: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("summary", &self.summary)
            .field("value", &"<redacted>")
            .finish()
    }
}

impl serde::Serialize for Resolved {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeStruct};
        // Values are stored from JSON strings, so they are UTF-8.
        let value = std::str::from_utf8(&self.value)
            .map_err(|_| S::Error::custom("a stored value is not UTF-8"))?;
        let mut secret = serializer.serialize_struct("Resolved", 4)?;
        secret.serialize_field("id", &self.summary.id)?;
        secret.serialize_field("name", &self.summary.name)?;
        secret.serialize_field("tag", &self.summary.tag)?;
        secret.serialize_field("value", value)?;
        secret.end()
    }
}
