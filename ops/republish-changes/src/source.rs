//! Where a given-up batch's changes are read again from: the audit table's
//! stream by the batch's range (exactly its records), or, once they are
//! past the stream's 24-hour retention, the audit table by the batch's
//! times (every tenant's changes of that window: more than the batch, so
//! some events reach consumers twice, which they deduplicate anyway).

use secrets_aws::dynamo::allowed_changes_between;
use secrets_domain::change_event::ChangeEvent;

use crate::failed_batch::BatchInfo;
use crate::stream_range::AuditStream;

/// How much earlier than its record's arrival a change may be timed, and
/// later: the writing function stamps the record before its transaction
/// (a function runs at most 10 s), clocks differ a little, and an arrival
/// may be given to the second. A wider window only republishes more.
pub const MADE_WITHIN_MS: u64 = 60_000;

pub enum ChangeSource {
    Stream(AuditStream),
    AuditTable {
        client: aws_sdk_dynamodb::Client,
        table: String,
    },
}

/// A batch read again: how many records were read, the change events they
/// carry in order, and the first change record that cannot be read.
#[derive(Debug)]
pub struct BatchChanges {
    pub records: usize,
    pub events: Vec<ChangeEvent>,
    pub unreadable: Option<String>,
}

impl ChangeSource {
    pub async fn changes_of(&self, batch: &BatchInfo) -> Result<BatchChanges, String> {
        match self {
            Self::Stream(stream) => {
                let records = stream
                    .read(batch)
                    .await
                    .map_err(|error| error.to_string())?;
                Ok(BatchChanges::gather(
                    records
                        .into_iter()
                        .map(|record| (record.sequence, record.event)),
                ))
            }
            Self::AuditTable { client, table } => {
                let (from, to) = batch.made_between(MADE_WITHIN_MS)?;
                let records = allowed_changes_between(client, table, from, to).await?;
                let changes = BatchChanges::gather(records.iter().map(|record| {
                    let event = ChangeEvent::of(record)
                        .map_err(|missing| format!("a change's audit record without {missing}"));
                    (record.request_id.clone(), event)
                }));
                // Every record of a given-up batch is a change (the filter
                // runs before batching): fewer in the window means some are
                // gone (the audit table's retention), never that all is done.
                let batch_size = usize::try_from(batch.batch_size).unwrap_or(usize::MAX);
                if changes.events.len() < batch_size {
                    return Err(format!(
                        "the audit table holds {} changes of that time, the batch had {}: \
                         records past the table's retention (AuditRetentionDays) are gone",
                        changes.events.len(),
                        batch.batch_size
                    ));
                }
                Ok(changes)
            }
        }
    }
}

impl BatchChanges {
    /// The events of `read` (each record's name, and what it carries), in
    /// order, and the first record that cannot be read, as "name: problem".
    fn gather(
        read: impl IntoIterator<Item = (String, Result<Option<ChangeEvent>, String>)>,
    ) -> Self {
        let mut changes = Self {
            records: 0,
            events: Vec::new(),
            unreadable: None,
        };
        for (name, event) in read {
            changes.records += 1;
            match event {
                Ok(Some(event)) => changes.events.push(event),
                Ok(None) => {}
                Err(problem) => {
                    changes
                        .unreadable
                        .get_or_insert_with(|| format!("{name}: {problem}"));
                }
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use secrets_domain::audit::Actor;
    use secrets_domain::clock::Timestamp;
    use secrets_domain::model::{
        FIRST_VERSION, SecretId, SecretName, SecretSummary, Tag, TenantId,
    };
    use secrets_domain::operation::Operation;

    use super::*;

    fn change(request: &str) -> ChangeEvent {
        let actor = Actor {
            tenant: TenantId::parse("acme").unwrap(),
            subject: "alice".into(),
            request_id: request.into(),
            operation: Operation::Create,
        };
        let secret = SecretSummary {
            id: SecretId::generate().unwrap(),
            name: SecretName::parse("db".into()).unwrap(),
            tag: Tag::parse("db").unwrap(),
            version: FIRST_VERSION,
            value_version: Some(FIRST_VERSION),
        };
        let record = actor
            .allowed(&secret, Timestamp::from_millis(1_795_000_000_000))
            .made_current(FIRST_VERSION);
        ChangeEvent::of(&record).unwrap().unwrap()
    }

    #[test]
    fn every_readable_change_is_kept_in_order_and_the_first_unreadable_named() {
        let read = [
            ("1", Ok(Some(change("r1")))),
            ("2", Ok(None)),
            ("3", Err("a change's audit record without tag".to_owned())),
            ("4", Ok(Some(change("r4")))),
            ("5", Err("another".to_owned())),
        ];
        let changes = BatchChanges::gather(read.map(|(name, event)| (name.to_owned(), event)));
        let requests: Vec<_> = changes
            .events
            .iter()
            .map(|e| e.request_id.as_str())
            .collect();
        assert_eq!(requests, ["r1", "r4"]);
        assert_eq!(changes.records, 5);
        assert_eq!(
            changes.unreadable.as_deref(),
            Some("3: a change's audit record without tag")
        );
    }
}
