//! Committing a transaction, and settling one whose outcome is unknown.
//!
//! When DynamoDB's answer is lost (a timeout, a dropped connection, a
//! server error, a transaction still in progress) even after the SDK's
//! retries, the write may have committed. Answering 503 then would tell a
//! client that a create failed when the secret exists (and its retry would
//! get 409). So a create or update writes a token of its own onto the
//! secret's META item (`lastWrite`, fresh for each write, the same for its
//! attempts), and when the outcome is unknown the store reads META, strongly
//! consistently, a few times over half a second (a transaction in progress
//! ends within tens of milliseconds): the token there means the write
//! committed, and the request succeeds. Only then is the failure reported.
//! A delete leaves nothing of its own behind (another client's delete would
//! look the same), so its unknown outcome is reported, and a retry answers
//! 404 if it did commit.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::error::{Error, ErrorChain, Result};
use secrets_domain::model::random_hex;

use super::DynamoStore;
use super::attributes::LAST_WRITE;
use super::layout::ItemKey;
use super::transaction::{Role, Transaction, Uncommitted};

/// When to look for a write's token after its answer was lost.
const CHECKS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(100),
    Duration::from_millis(400),
];

/// What a committed write leaves behind.
pub(super) enum Evidence {
    /// The META item at `key` carries `token` as its `lastWrite`.
    Written { key: ItemKey, token: String },
    /// Nothing of this write alone.
    None,
}

/// A fresh token for one write (all its attempts).
pub(super) fn write_token() -> Result<String> {
    random_hex::<16>()
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
                Ok(false) => Err(error),
                // Reported as the write's own failure, but said: a check
                // that cannot read (an AccessDenied, say) would otherwise
                // turn every lost answer into a failure without a trace.
                Err(check) => {
                    tracing::warn!(error = %ErrorChain(&check), "a write whose answer was lost could not be checked");
                    Err(error)
                }
            },
        }
    }

    async fn shows(&self, evidence: &Evidence) -> Result<bool> {
        let Evidence::Written { key, token } = evidence else {
            return Ok(false);
        };
        let token = AttributeValue::S(token.clone());
        for wait in CHECKS {
            tokio::time::sleep(wait).await;
            let item = self.get(key, &[LAST_WRITE]).await?;
            if item.is_some_and(|item| item.get(LAST_WRITE) == Some(&token)) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
