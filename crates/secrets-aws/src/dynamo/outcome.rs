//! Committing a transaction, and settling one whose outcome is unknown.
//!
//! When DynamoDB's answer is lost (a timeout, a dropped connection, a
//! server error) even after the SDK's retries, the write may have committed.
//! Answering 503 then would tell a client that a create failed when the
//! secret exists (and its retry would get 409). So the store first reads
//! what the write would have left behind, strongly consistently: the
//! secret's META item at the new version and with the write's own
//! `updatedAt` (a create or update), or no META item at all (a delete).
//! Only if that is not there is the failure reported.

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::error::{Error, Result};

use super::DynamoStore;
use super::attributes::{UPDATED_AT, VERSION};
use super::layout::ItemKey;
use super::transaction::{Role, Transaction, Uncommitted};

/// What a committed write leaves behind.
pub(super) enum Evidence {
    /// The META item at `key` is at `version`, written at `updated_at_ms`.
    Written {
        key: ItemKey,
        version: u64,
        updated_at_ms: u64,
    },
    /// The META item at this key is gone.
    Deleted(ItemKey),
}

impl DynamoStore {
    pub(super) async fn commit(
        &self,
        write: Transaction,
        refused: impl Fn(Role) -> Error,
        evidence: Evidence,
    ) -> Result<()> {
        match write.commit(&self.client, &self.backoff, refused).await {
            Ok(()) => Ok(()),
            Err(Uncommitted::Refused(error)) => Err(error),
            Err(Uncommitted::Unknown(error)) => match self.shows(&evidence).await {
                Ok(true) => Ok(()),
                _ => Err(error),
            },
        }
    }

    async fn shows(&self, evidence: &Evidence) -> Result<bool> {
        Ok(match evidence {
            Evidence::Written {
                key,
                version,
                updated_at_ms,
            } => self
                .get(key, &[VERSION, UPDATED_AT])
                .await?
                .is_some_and(|item| {
                    item.get(VERSION) == Some(&AttributeValue::N(version.to_string()))
                        && item.get(UPDATED_AT)
                            == Some(&AttributeValue::N(updated_at_ms.to_string()))
                }),
            Evidence::Deleted(key) => self.get(key, &[VERSION]).await?.is_none(),
        })
    }
}
