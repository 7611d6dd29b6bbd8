//! The audit table: records of allowed changes join their change's
//! transaction; every other record (resolves, refusals) is one PutItem.
//! A record, once written, is never overwritten.
//!
//! A tenant's records are spread over [`AUDIT_PARTITIONS`] partitions
//! (records without a tenant, a resolve invocation naming none, over as
//! many of their own), chosen by the hash
//! of the request id, so that a busy tenant's resolves and writes are not
//! capped by one partition's write throughput (about 1,000 writes a second)
//! nor piled at the end of one partition's key range:
//!
//! | pk                                          | sk                                      |
//! |---------------------------------------------|-----------------------------------------|
//! | `TENANT#<t>#<nn>` or `UNAUTHENTICATED#<nn>` | `<RFC 3339 time>#<request id>[#<item>]` |
//!
//! (`#<item>`: the entry's place, for the records of a batch resolve, which
//! share one request id and may share one millisecond.)
//!
//! Each partition is in time order; a tenant's whole trail in time order is
//! the merge of one Query per partition ([`audit_partitions`] names them),
//! a time range a key condition `sk BETWEEN :from AND :to` on each.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use secrets_domain::audit::{AuditRecord, Outcome};
use secrets_domain::change_event::Change;
use secrets_domain::error::{Error, Result};
use secrets_domain::model::{SecretId, Tag, TenantId};
use secrets_domain::operation::Operation;
use secrets_domain::ports::AuditLog;

use super::attributes::{
    BATCH_ITEM, ERROR_TYPE, EXPIRES_AT, OPERATION, OUTCOME, REASON, REPLAYED, REQUEST_ID,
    REQUESTED, RESTORED_FROM, SECRET_ID, SECRET_VERSION, STATUS, SUBJECT, TAG, TENANT, TIME,
    TIME_MS, UNCHANGED, VALUE_VERSION,
};
use super::codec::{ItemBuilder, corrupt, optional_number, text, whole_number};
use super::expressions::Condition;
use super::layout::{ItemKey, shard_of};
use super::transaction::{Role, Transaction};
use super::{DynamoStore, Item};
use crate::errors::classify;

/// The partitions one tenant's audit records are spread over: enough for
/// 16 times one partition's write throughput, few enough that reading a
/// tenant's trail is a handful of queries.
pub const AUDIT_PARTITIONS: u16 = 16;

/// The partition keys of a tenant's records (`None`: unauthenticated
/// attempts), to be queried and merged by sort key to read them in order.
pub fn audit_partitions(tenant: Option<&TenantId>) -> Vec<String> {
    (0..AUDIT_PARTITIONS)
        .map(|partition| audit_partition(tenant, partition))
        .collect()
}

fn audit_partition(tenant: Option<&TenantId>, partition: u16) -> String {
    match tenant {
        Some(tenant) => format!("{}#{partition:02}", ItemKey::tenant_partition(tenant)),
        None => format!("UNAUTHENTICATED#{partition:02}"),
    }
}

/// Where audit records go: a table of their own, so that they can be kept
/// (and access to them granted) apart from the secrets.
#[derive(Clone)]
pub(super) struct AuditTable {
    pub(super) name: String,
    /// 0: records never expire.
    pub(super) retention_days: u64,
}

impl DynamoStore {
    fn audit_table(&self) -> Result<&AuditTable> {
        self.audit.as_ref().ok_or(Error::Internal {
            context: "writing an audit record",
            source: Some("this function has no audit table configured".into()),
        })
    }

    /// The record of an allowed change, as one more item of its transaction.
    pub(super) fn put_audit_record(
        &self,
        write: &mut Transaction,
        record: Option<&AuditRecord>,
    ) -> Result<()> {
        let Some(record) = record else {
            return Ok(());
        };
        let audit = self.audit_table()?;
        write.put(
            Role::AuditRecord,
            &audit.name,
            audit_item(record, audit.retention_days),
            Condition::absent(),
        )
    }
}

impl AuditLog for DynamoStore {
    /// One PutItem that never overwrites: a record, once written, stays.
    async fn record(&self, record: &AuditRecord) -> Result<()> {
        let audit = self.audit_table()?;
        let condition = Condition::absent();
        self.client
            .put_item()
            .table_name(&audit.name)
            .set_item(Some(audit_item(record, audit.retention_days)))
            .condition_expression(condition.text)
            .set_expression_attribute_names(Some(condition.placeholders.names))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("writing an audit record", e))?;
        Ok(())
    }
}

/// An audit record as an item of the audit table.
pub fn audit_item(record: &AuditRecord, retention_days: u64) -> Item {
    let partition = audit_partition(
        record.tenant.as_ref(),
        shard_of(&record.request_id, AUDIT_PARTITIONS),
    );
    let time = record.time().to_string();
    // The entries of one batch resolve share its request id and time.
    let sort = match record.batch_item {
        None => format!("{time}#{}", record.request_id),
        Some(item) => format!("{time}#{}#{item:02}", record.request_id),
    };
    let key = ItemKey::new(partition, sort);
    let mut item = ItemBuilder::at(&key)
        .text(TIME, &time)
        .number(TIME_MS, record.time_ms)
        .text(OPERATION, record.operation.as_str())
        .text(REQUEST_ID, &record.request_id);
    let optional = [
        (TENANT, record.tenant.as_ref().map(|t| t.as_str())),
        (SUBJECT, record.subject.as_deref()),
        (SECRET_ID, record.secret_id.as_ref().map(|id| id.as_str())),
        (TAG, record.tag.as_ref().map(|tag| tag.as_str())),
        (REQUESTED, record.requested.as_deref()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item = item.text(name, value);
        }
    }
    if record.replayed {
        item = item.flag(REPLAYED);
    }
    if record.unchanged {
        item = item.flag(UNCHANGED);
    }
    if let Some(batch_item) = record.batch_item {
        item = item.number(BATCH_ITEM, u64::from(batch_item));
    }
    item = item.optional_number(SECRET_VERSION, record.secret_version);
    item = item.optional_number(VALUE_VERSION, record.value_version);
    item = item.optional_number(RESTORED_FROM, record.restored_from);
    item = match &record.outcome {
        Outcome::Allowed => item.text(OUTCOME, "allowed"),
        Outcome::Refused {
            status,
            error_type,
            reason,
        } => item
            .text(OUTCOME, "refused")
            .number(STATUS, u64::from(*status))
            .text(ERROR_TYPE, error_type)
            .text(REASON, reason),
    };
    if retention_days > 0 {
        item = item.number(EXPIRES_AT, record.time_ms / 1000 + retention_days * 86_400);
    }
    item.build()
}

/// Whether an audit item is the record of a committed change, by the
/// attributes the publish mapping's filter reads (allowed, a change
/// operation, neither flag): the rest of it is read only then, so that
/// a damaged record of anything else (a resolve, a refusal) never stops a
/// reader of the stream that meets it.
pub fn names_a_change(item: &Item) -> bool {
    let text = |name| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    let flagged = |name| matches!(item.get(name), Some(AttributeValue::Bool(true)));
    text(OUTCOME) == Some("allowed")
        && text(OPERATION)
            .and_then(Operation::parse)
            .is_some_and(|operation| Change::of(operation).is_some())
        && !flagged(REPLAYED)
        && !flagged(UNCHANGED)
}

/// The allowed record an audit item holds, read back: what the change
/// events are made from (the audit table's stream). `None` for a refusal,
/// whose record only people read, and for an operation this build does
/// not know (a newer one's records, met during a rollout).
pub fn allowed_record(item: &Item) -> Result<Option<AuditRecord>> {
    if text(item, OUTCOME)? != "allowed" {
        return Ok(None);
    }
    let Some(operation) = Operation::parse(text(item, OPERATION)?) else {
        return Ok(None);
    };
    let optional_text = |name| item.get(name).map(|_| text(item, name)).transpose();
    let flag = |name| matches!(item.get(name), Some(AttributeValue::Bool(true)));
    let tenant = optional_text(TENANT)?
        .map(|tenant| TenantId::parse(tenant).ok_or_else(|| corrupt(TENANT)))
        .transpose()?;
    let secret_id = optional_text(SECRET_ID)?
        .map(|id| SecretId::parse(id).ok_or_else(|| corrupt(SECRET_ID)))
        .transpose()?;
    let tag = optional_text(TAG)?
        .map(|tag| Tag::parse(tag).map_err(|_| corrupt(TAG)))
        .transpose()?;
    let batch_item = optional_number(item, BATCH_ITEM)?
        .map(|n| u16::try_from(n).map_err(|_| corrupt(BATCH_ITEM)))
        .transpose()?;
    Ok(Some(AuditRecord {
        time_ms: whole_number(item, TIME_MS)?,
        operation,
        tenant,
        subject: optional_text(SUBJECT)?.map(str::to_owned),
        request_id: text(item, REQUEST_ID)?.to_owned(),
        secret_id,
        tag,
        requested: optional_text(REQUESTED)?.map(str::to_owned),
        replayed: flag(REPLAYED),
        unchanged: flag(UNCHANGED),
        batch_item,
        secret_version: optional_number(item, SECRET_VERSION)?,
        value_version: optional_number(item, VALUE_VERSION)?,
        restored_from: optional_number(item, RESTORED_FROM)?,
        outcome: Outcome::Allowed,
    }))
}

#[cfg(test)]
mod tests {
    use secrets_domain::audit::Actor;
    use secrets_domain::clock::Timestamp;
    use secrets_domain::error::Error;
    use secrets_domain::model::{Tag, TagOrId, TenantId};
    use secrets_domain::operation::Operation;

    use super::*;
    use crate::dynamo::attributes::SK;

    #[test]
    fn a_batchs_records_of_one_millisecond_have_keys_of_their_own() {
        let actor = Actor {
            tenant: TenantId::parse("acme").unwrap(),
            subject: "arn:aws:sts::1:assumed-role/r/s".into(),
            request_id: "req-1".into(),
            operation: Operation::Resolve,
        };
        let at = Timestamp::from_millis(1_795_000_000_000);
        let key = TagOrId::Tag(Tag::parse("db").unwrap());
        let sort_keys: Vec<String> = (0..3)
            .map(|item| {
                let record = actor.refused(&key, &Error::NotFound, at).in_batch(item);
                match &audit_item(&record, 0)[SK] {
                    aws_sdk_dynamodb::types::AttributeValue::S(sort) => sort.clone(),
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(
            sort_keys,
            [
                "2026-11-18T11:06:40.000Z#req-1#00",
                "2026-11-18T11:06:40.000Z#req-1#01",
                "2026-11-18T11:06:40.000Z#req-1#02"
            ]
        );
        let single = actor.refused(&key, &Error::NotFound, at);
        assert!(
            matches!(&audit_item(&single, 0)[SK], aws_sdk_dynamodb::types::AttributeValue::S(s) if s.ends_with("#req-1"))
        );
    }

    #[test]
    fn an_allowed_record_reads_back_as_written_and_a_refusal_not_at_all() {
        let actor = Actor {
            tenant: TenantId::parse("acme").unwrap(),
            subject: "alice".into(),
            request_id: "req-2".into(),
            operation: Operation::Update,
        };
        let at = Timestamp::from_millis(1_795_000_000_000);
        let secret = secrets_domain::model::SecretSummary {
            id: SecretId::generate().unwrap(),
            name: secrets_domain::model::SecretName::parse("n".into()).unwrap(),
            tag: Tag::parse("db").unwrap(),
            version: 3,
            value_version: Some(2),
        };
        for record in [
            actor.allowed(&secret, at).left_at(4).made_current(3),
            actor.allowed(&secret, at).unchanged(),
            actor.allowed(&secret, at).restored(1, 4),
            actor.allowed(&secret, at).replayed().in_batch(7),
        ] {
            let item = audit_item(&record, 30);
            assert_eq!(allowed_record(&item).unwrap(), Some(record));
        }
        let key = TagOrId::Tag(Tag::parse("db").unwrap());
        let refused = actor.refused(&key, &Error::NotFound, at);
        assert_eq!(allowed_record(&audit_item(&refused, 0)).unwrap(), None);
    }
}
