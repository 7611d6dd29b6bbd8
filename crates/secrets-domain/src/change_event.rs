//! Change events: one for every committed create, update, delete, version
//! restore and recovery, for consumers that keep caches or react to
//! rotations. Each is made from the change's audit record, which is
//! written in the change's own transaction, so an event exists exactly
//! when its change committed (the AWS adapter reads the records from the
//! audit table's stream). Metadata only: never a value, a name or who
//! made the change.

use serde::Serialize;

use crate::audit::{AuditRecord, Outcome};
use crate::clock::Timestamp;
use crate::model::{SecretId, Tag, TenantId};
use crate::operation::Operation;

/// The events' `source` on EventBridge.
pub const EVENT_SOURCE: &str = "cortex.secrets";
/// The events' `detail-type`.
pub const EVENT_DETAIL_TYPE: &str = "Secret Changed";

/// What happened to the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    /// A new name, a new value, or both.
    Updated,
    Deleted,
    /// An earlier value version made current again.
    Restored,
    /// A deleted secret brought back within its window.
    Recovered,
}

impl Change {
    /// The change an operation makes, if it makes one.
    pub fn of(operation: Operation) -> Option<Self> {
        match operation {
            Operation::Create => Some(Self::Created),
            Operation::Update => Some(Self::Updated),
            Operation::Delete => Some(Self::Deleted),
            Operation::RestoreVersion => Some(Self::Restored),
            Operation::RecoverDeleted => Some(Self::Recovered),
            Operation::List
            | Operation::Get
            | Operation::Resolve
            | Operation::ListVersions
            | Operation::Reseal
            | Operation::ListDeleted
            | Operation::PublishChanges => None,
        }
    }
}

/// One committed change, as its event's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEvent {
    pub tenant: TenantId,
    pub id: SecretId,
    pub tag: Tag,
    pub operation: Change,
    /// The secret's version the change left (what its `ETag` names): one
    /// secret's changes, in order, whatever the clocks said. A delete
    /// carries the version it read (a rename may pass it before it
    /// commits); nothing but a recovery follows it, one above every
    /// earlier version. `null` only in events of records written before it
    /// was recorded.
    pub version: Option<u64>,
    /// The value version the change made current; `null` for a rename and
    /// for a delete, which make none.
    pub value_version: Option<u64>,
    /// When the change was made: RFC 3339 UTC with milliseconds.
    pub time: String,
    /// The request that made it: with `id`, what a consumer deduplicates
    /// on (delivery is at least once).
    pub request_id: String,
    #[serde(skip)]
    at: Timestamp,
}

impl ChangeEvent {
    /// The event of a change's audit record; `None` for every record that
    /// is not one of a committed change: refusals, resolves, a create
    /// replayed from its `Idempotency-Key` (the change was an earlier
    /// request's), an update that named nothing to change. `Err` names
    /// what a change's record lacks (only a writer of the table could make
    /// one so).
    pub fn of(record: &AuditRecord) -> Result<Option<Self>, &'static str> {
        let Some(operation) = Change::of(record.operation) else {
            return Ok(None);
        };
        if record.outcome != Outcome::Allowed || record.replayed || record.unchanged {
            return Ok(None);
        }
        let at = Timestamp::from_millis(record.time_ms);
        Ok(Some(Self {
            tenant: record.tenant.clone().ok_or("tenant")?,
            id: record.secret_id.clone().ok_or("secretId")?,
            tag: record.tag.clone().ok_or("tag")?,
            operation,
            version: record.secret_version,
            value_version: record.value_version,
            time: at.rfc3339().to_string(),
            request_id: record.request_id.clone(),
            at,
        }))
    }

    /// When the change was made.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The `detail` of its event, as JSON.
    pub fn detail(&self) -> String {
        serde_json::to_string(self).expect("an event of strings and numbers serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Actor;
    use crate::error::Error;
    use crate::model::{FIRST_VERSION, SecretName, SecretSummary, TagOrId};

    fn actor(operation: Operation) -> Actor {
        Actor {
            tenant: TenantId::parse("acme").unwrap(),
            subject: "alice".into(),
            request_id: "req-1".into(),
            operation,
        }
    }

    fn secret() -> SecretSummary {
        SecretSummary {
            id: SecretId::generate().unwrap(),
            name: SecretName::parse("Database password".into()).unwrap(),
            tag: Tag::parse("db").unwrap(),
            version: FIRST_VERSION,
            value_version: Some(FIRST_VERSION),
        }
    }

    const AT: Timestamp = Timestamp::from_millis(1_795_000_000_123);

    #[test]
    fn a_committed_change_is_an_event_of_metadata_only() {
        let secret = secret();
        let record = actor(Operation::Update)
            .allowed(&secret, AT)
            .left_at(2)
            .made_current(2);
        let event = ChangeEvent::of(&record).unwrap().expect("a change");
        let detail: serde_json::Value = serde_json::from_str(&event.detail()).unwrap();
        assert_eq!(
            detail,
            serde_json::json!({
                "tenant": "acme",
                "id": secret.id.as_str(),
                "tag": "db",
                "operation": "updated",
                "version": 2,
                "valueVersion": 2,
                "time": "2026-11-18T11:06:40.123Z",
                "requestId": "req-1",
            })
        );
        assert!(!event.detail().contains("Database password"), "no name");
        assert!(!event.detail().contains("alice"), "no subject");
        assert_eq!(event.at(), AT);
        let rename = actor(Operation::Update).allowed(&secret, AT);
        let detail = ChangeEvent::of(&rename).unwrap().unwrap().detail();
        assert!(detail.contains(r#""valueVersion":null"#), "{detail}");
    }

    #[test]
    fn each_change_operation_is_named_and_nothing_else_is_a_change() {
        let named: Vec<_> = Operation::ALL
            .into_iter()
            .filter_map(|op| Change::of(op).map(|change| (op, change)))
            .collect();
        assert_eq!(
            named,
            [
                (Operation::Create, Change::Created),
                (Operation::Update, Change::Updated),
                (Operation::Delete, Change::Deleted),
                (Operation::RestoreVersion, Change::Restored),
                (Operation::RecoverDeleted, Change::Recovered),
            ]
        );
    }

    #[test]
    fn records_of_no_committed_change_are_no_event() {
        let secret = secret();
        let key = TagOrId::parse("db").unwrap();
        for record in [
            actor(Operation::Resolve).allowed(&secret, AT),
            actor(Operation::Update).refused(&key, &Error::PreconditionFailed, AT),
            actor(Operation::Create).allowed(&secret, AT).replayed(),
            actor(Operation::Update).allowed(&secret, AT).unchanged(),
        ] {
            assert_eq!(ChangeEvent::of(&record), Ok(None), "{record:?}");
        }
    }

    #[test]
    fn a_change_record_without_its_secret_is_an_error_not_a_silent_skip() {
        let mut record = actor(Operation::Delete).allowed(&secret(), AT);
        record.tag = None;
        assert_eq!(ChangeEvent::of(&record), Err("tag"));
    }
}
