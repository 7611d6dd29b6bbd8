//! A run over the failure queue: each message's batch read again from the
//! stream, its changes published again, and the message deleted only when
//! every one of them was accepted. A consumer may get some events twice
//! (those published before the batch was given up): delivery is at least
//! once, and consumers deduplicate on `requestId` and `id`.

use std::collections::HashSet;

use secrets_domain::change_event::ChangeEvent;
use secrets_domain::ports::ChangeEvents;
use serde::Serialize;

use crate::failed_batch::FailedBatch;
use crate::failure_queue::{FailureQueue, Received};
use crate::stream_range::{AuditStream, RangeRecord};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Read and report what would be published; publish and delete nothing.
    pub dry_run: bool,
    /// The most messages one run takes.
    pub max_messages: usize,
}

/// What became of one message, as the run reports it (a JSON line).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_numbers: Option<[String; 2]>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Outcome {
    /// Every change of the batch was accepted; the message is deleted.
    #[serde(rename_all = "camelCase")]
    Republished { records: usize, events: usize },
    /// A dry run: the events a run would publish.
    #[serde(rename_all = "camelCase")]
    WouldPublish {
        records: usize,
        events: Vec<ChangeEvent>,
    },
    /// The message stays in the queue, for `reason`; `published` of the
    /// batch's `events` were accepted (they will be published again).
    #[serde(rename_all = "camelCase")]
    Kept {
        published: usize,
        events: usize,
        reason: String,
    },
}

impl Outcome {
    fn kept(reason: impl Into<String>) -> Self {
        Self::Kept {
            published: 0,
            events: 0,
            reason: reason.into(),
        }
    }

    pub fn is_kept(&self) -> bool {
        matches!(self, Self::Kept { .. })
    }
}

/// Takes up to `options.max_messages` messages, republishes each one's
/// batch and answers what became of each. `Err` only when the queue
/// cannot be read at all.
pub async fn republish(
    queue: &FailureQueue,
    stream: &AuditStream,
    bus: &impl ChangeEvents,
    options: Options,
) -> Result<Vec<Report>, String> {
    let (mut reports, mut seen, mut kept) = (Vec::new(), HashSet::new(), Vec::new());
    'run: while reports.len() < options.max_messages {
        let messages = queue.receive(options.max_messages - reports.len()).await?;
        if messages.is_empty() {
            break;
        }
        for message in messages {
            // A message is hidden for longer than a run takes; one met
            // again means the run has gone round the queue.
            if !seen.insert(message.id.clone()) {
                break 'run;
            }
            let mut report = republish_one(stream, bus, &message, options.dry_run).await;
            if let Outcome::Republished { .. } = report.outcome {
                match queue.delete(&message).await {
                    Ok(()) => {
                        reports.push(report);
                        continue;
                    }
                    // A later run publishes the batch again.
                    Err(problem) => {
                        report.outcome =
                            Outcome::kept(format!("republished, but not deleted: {problem}"));
                    }
                }
            }
            reports.push(report);
            kept.push(message);
        }
    }
    for message in &kept {
        queue.show_again(message).await?;
    }
    Ok(reports)
}

async fn republish_one(
    stream: &AuditStream,
    bus: &impl ChangeEvents,
    message: &Received,
    dry_run: bool,
) -> Report {
    let mut report = Report {
        message_id: message.id.clone(),
        shard_id: None,
        sequence_numbers: None,
        outcome: Outcome::kept(""),
    };
    let batch = match FailedBatch::parse(&message.body) {
        Ok(batch) => batch.info,
        Err(problem) => {
            report.outcome = Outcome::kept(problem);
            return report;
        }
    };
    report.shard_id = Some(batch.shard_id.clone());
    report.sequence_numbers = Some([
        batch.start_sequence_number.as_str().to_owned(),
        batch.end_sequence_number.as_str().to_owned(),
    ]);
    report.outcome = match stream.read(&batch).await {
        Err(problem) => Outcome::kept(problem.to_string()),
        Ok(records) => {
            let (events, unreadable) = changes_of(&records);
            if dry_run {
                Outcome::WouldPublish {
                    records: records.len(),
                    events,
                }
            } else {
                let published = bus.publish(&events).await;
                settled(records.len(), events.len(), published, unreadable)
            }
        }
    };
    report
}

/// The range's change events in stream order, and the first of its
/// change records that cannot be read, as "sequence: problem".
fn changes_of(records: &[RangeRecord]) -> (Vec<ChangeEvent>, Option<String>) {
    let (mut events, mut unreadable) = (Vec::new(), None);
    for record in records {
        match &record.event {
            Ok(Some(event)) => events.push(event.clone()),
            Ok(None) => {}
            Err(problem) => {
                unreadable.get_or_insert_with(|| format!("{}: {problem}", record.sequence));
            }
        }
    }
    (events, unreadable)
}

/// A batch is done when every event was accepted and every change record
/// could be read; otherwise its message is kept (its readable changes are
/// published all the same: a consumer should not wait on one bad record).
fn settled(records: usize, events: usize, published: usize, unreadable: Option<String>) -> Outcome {
    let reason = if published < events {
        format!("EventBridge accepted {published} of {events} events")
    } else if let Some(record) = unreadable {
        format!("a change record cannot be read, {record}")
    } else {
        return Outcome::Republished { records, events };
    };
    Outcome::Kept {
        published,
        events,
        reason,
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

    fn record(sequence: u32, event: Result<Option<ChangeEvent>, String>) -> RangeRecord {
        RangeRecord {
            sequence: sequence.to_string(),
            event,
        }
    }

    #[test]
    fn every_readable_change_is_kept_in_order_and_the_first_unreadable_named() {
        let records = [
            record(1, Ok(Some(change("r1")))),
            record(2, Ok(None)),
            record(3, Err("a change's audit record without tag".into())),
            record(4, Ok(Some(change("r4")))),
            record(5, Err("another".into())),
        ];
        let (events, unreadable) = changes_of(&records);
        let requests: Vec<_> = events.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(requests, ["r1", "r4"]);
        assert_eq!(
            unreadable.as_deref(),
            Some("3: a change's audit record without tag")
        );
    }

    #[test]
    fn a_batch_is_done_only_when_all_was_accepted_and_read() {
        assert_eq!(
            settled(5, 3, 3, None),
            Outcome::Republished {
                records: 5,
                events: 3
            }
        );
        let refused = settled(5, 3, 2, None);
        assert!(refused.is_kept());
        assert!(format!("{refused:?}").contains("accepted 2 of 3"));
        let unreadable = settled(5, 3, 3, Some("4: bad".into()));
        assert!(unreadable.is_kept());
        assert!(format!("{unreadable:?}").contains("4: bad"));
    }

    #[test]
    fn a_report_is_one_json_object_with_its_outcome() {
        let report = Report {
            message_id: "m1".into(),
            shard_id: Some("shardId-1".into()),
            sequence_numbers: Some(["10".into(), "20".into()]),
            outcome: Outcome::Republished {
                records: 4,
                events: 2,
            },
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({
                "messageId": "m1", "shardId": "shardId-1", "sequenceNumbers": ["10", "20"],
                "outcome": "republished", "records": 4, "events": 2
            })
        );
    }
}
