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
use crate::source::{BatchChanges, ChangeSource};

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
/// cannot be read.
pub async fn republish(
    queue: &FailureQueue,
    source: &ChangeSource,
    bus: &impl ChangeEvents,
    options: Options,
) -> Result<Vec<Report>, String> {
    let (mut reports, mut seen, mut kept) = (Vec::new(), HashSet::new(), Vec::new());
    while reports.len() < options.max_messages {
        let received = queue.receive(options.max_messages - reports.len()).await?;
        // A message is hidden for longer than a run takes; one met again
        // (a run past 15 minutes) was already reported.
        let fresh: Vec<_> = received
            .into_iter()
            .filter(|message| seen.insert(message.id.clone()))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for message in fresh {
            let mut report = republish_one(source, bus, &message, options.dry_run).await;
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
            kept.push((reports.len(), message));
            reports.push(report);
        }
    }
    for (at, message) in kept {
        if let Err(problem) = queue.show_again(&message).await
            && let Outcome::Kept { reason, .. } = &mut reports[at].outcome
        {
            reason.push_str(&format!(
                "; not shown again ({problem}): visible again 15 minutes after it was taken"
            ));
        }
    }
    Ok(reports)
}

async fn republish_one(
    source: &ChangeSource,
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
    report.outcome = match source.changes_of(&batch).await {
        Err(problem) => Outcome::kept(problem),
        Ok(BatchChanges {
            records, events, ..
        }) if dry_run => Outcome::WouldPublish { records, events },
        Ok(BatchChanges {
            records,
            events,
            unreadable,
        }) => {
            let published = bus.publish(&events).await;
            settled(records, events.len(), published, unreadable)
        }
    };
    report
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
    use super::*;

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
