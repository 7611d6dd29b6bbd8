//! The records of creates made with an `Idempotency-Key`, kept in the
//! secrets table beside the secrets they name.

use secrets_domain::clock::Timestamp;
use secrets_domain::error::Result;
use secrets_domain::idempotency::IdempotencyRecord;
use secrets_domain::model::TenantId;

use super::DynamoStore;
use super::attributes::EXPIRES_AT;
use super::codec::{self, IDEMPOTENCY_ITEM_ATTRIBUTES};
use super::expressions::Condition;
use super::layout::ItemKey;
use super::transaction::{Role, Transaction};

impl DynamoStore {
    /// The record, as one more item of a create's transaction. It may
    /// replace a record that expired by `at` and that TTL has not removed
    /// yet, never a live one.
    pub(super) fn put_idempotency_record(
        &self,
        write: &mut Transaction,
        tenant: &TenantId,
        record: &IdempotencyRecord,
        at: Timestamp,
    ) -> Result<()> {
        write.put(
            Role::IdempotencyRecord,
            &self.table,
            codec::idempotency_item(tenant, record),
            Condition::absent_or_expired(EXPIRES_AT, at.secs()),
        )
    }

    pub(super) async fn read_idempotency_record(
        &self,
        tenant: &TenantId,
        key_digest: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        let item = self
            .get(
                &ItemKey::idempotency(tenant, key_digest),
                IDEMPOTENCY_ITEM_ATTRIBUTES,
            )
            .await?;
        item.map(|item| codec::idempotency_record(&item, key_digest))
            .transpose()
    }
}
