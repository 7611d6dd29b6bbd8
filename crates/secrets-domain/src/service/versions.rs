//! The versions list: a secret's kept value versions, metadata only.

use crate::error::{Error, Result};
use crate::model::{FIRST_VERSION, SecretSummary, TagOrId, TenantId};
use crate::ports::SecretStore;
use crate::versions::ValueVersion;

use super::Secrets;

/// A secret with its kept value versions, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionList {
    pub secret: SecretSummary,
    pub versions: Vec<ValueVersion>,
}

impl VersionList {
    /// Whether `version` is the value the secret's record names now.
    pub fn is_current(&self, version: &ValueVersion) -> bool {
        self.secret.value_version.unwrap_or(FIRST_VERSION) == version.number
    }
}

impl<S: SecretStore, K> Secrets<S, K> {
    /// Reads the secret's record (META: it names the current value), then
    /// its version items: never a value, and nothing that list or retrieve
    /// reads grows.
    pub async fn versions(&self, tenant: &TenantId, key: &TagOrId) -> Result<VersionList> {
        let secret = self.record(tenant, key).await?;
        let mut versions = self.store.versions(tenant, &secret.id).await?;
        // As of the record read: a value written since is not yet listed,
        // so that `current` marks the one the record names.
        let current = secret.value_version.unwrap_or(FIRST_VERSION);
        versions.retain(|version| version.number <= current);
        // Deleted at once between the two reads (a delete that keeps the
        // secret keeps its versions: listed as of the record read).
        if versions.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(VersionList { secret, versions })
    }
}
