//! A secret's value versions: each new value is written once, as
//! `VALUE#<n>`, with a small `VERSION#<n>` item beside it. The versions list
//! reads the small items alone (ten are one read unit, whatever the values'
//! size); a write of a new value reads which are kept, keys and numbers
//! only, to delete those it makes too old in its own transaction; a delete
//! reads them to remove every kept version with the secret.

use secrets_domain::error::Result;
use secrets_domain::model::{SecretId, TenantId};
use secrets_domain::versions::{ValueVersion, oldest_kept};

use super::DynamoStore;
use super::attributes::VALUE_VERSION;
use super::codec::{self, VERSION_ITEM_ATTRIBUTES};
use super::layout::{ItemKey, VERSION_PREFIX};
use super::transaction::{Role, Transaction};

impl DynamoStore {
    /// The secret's kept versions, newest first: one strongly consistent
    /// Query of its VERSION items.
    pub(super) async fn read_versions(
        &self,
        tenant: &TenantId,
        id: &SecretId,
    ) -> Result<Vec<ValueVersion>> {
        let query = self
            .projected_query(
                ItemKey::secret_partition(tenant, id),
                VERSION_PREFIX,
                VERSION_ITEM_ATTRIBUTES,
            )
            .scan_index_forward(false);
        let items = self.all_items(query, "reading a secret's versions").await?;
        items.iter().map(codec::value_version).collect()
    }

    /// The numbers of the secret's kept versions, oldest first.
    pub(super) async fn kept_versions(&self, tenant: &TenantId, id: &SecretId) -> Result<Vec<u64>> {
        let query = self.projected_query(
            ItemKey::secret_partition(tenant, id),
            VERSION_PREFIX,
            &[VALUE_VERSION],
        );
        let items = self.all_items(query, "reading a secret's versions").await?;
        items.iter().map(codec::value_version_number).collect()
    }

    /// Adds to `write` the deletes of both items of each version in `numbers`.
    pub(super) fn drop_versions(
        &self,
        write: &mut Transaction,
        tenant: &TenantId,
        id: &SecretId,
        numbers: impl IntoIterator<Item = u64>,
    ) -> Result<()> {
        for number in numbers {
            for key in [
                ItemKey::value(tenant, id, number),
                ItemKey::version(tenant, id, number),
            ] {
                write.delete(Role::OldVersion, &self.table, &key, None)?;
            }
        }
        Ok(())
    }

    /// Of the kept versions `kept`, those that writing version `newest`
    /// makes too old to keep.
    pub(super) fn too_old(&self, kept: &[u64], newest: u64) -> Vec<u64> {
        let oldest = oldest_kept(newest, self.versions_kept);
        kept.iter().copied().filter(|n| *n < oldest).collect()
    }
}
