use secrets_aws::change_stream::{BatchResponse, StreamEvent};
use secrets_domain::ports::ChangeEvents;

/// Publishes the batch's change events in stream order and answers where
/// to retry from: the first event not accepted, or else the first change
/// record that cannot be read (never skipped). An unreadable record that
/// leads its batch is a function error instead: Lambda then bisects the
/// batch until the record stands alone (the errors alarm fires at once),
/// so only it waits out its retries and lands in the failure queue, and
/// the changes after it are published.
pub async fn handle(
    bus: &impl ChangeEvents,
    batch: StreamEvent,
) -> Result<BatchResponse, lambda_http::Error> {
    let (mut events, mut sequence, mut unreadable) = (Vec::new(), Vec::new(), None);
    for (index, record) in batch.records.iter().enumerate() {
        match record.change_event() {
            Ok(Some(event)) => {
                events.push(event);
                sequence.push(record.sequence_number());
            }
            Ok(None) => {}
            Err(problem) => {
                let at = record.sequence_number();
                tracing::error!(sequence = at, %problem, "unreadable change record");
                if index == 0 {
                    return Err(format!("unreadable change record {at}: {problem}").into());
                }
                unreadable = Some(at);
                break;
            }
        }
    }
    let published = bus.publish(&events).await;
    let retry_from = sequence.get(published).copied().or(unreadable);
    tracing::info!(
        records = batch.records.len(),
        events = events.len(),
        published,
        retry_from,
        "change events"
    );
    Ok(BatchResponse::retry_from(retry_from))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use secrets_domain::change_event::ChangeEvent;

    use super::*;

    /// A bus that accepts the first `accepts` events it is given, in all.
    struct Bus {
        accepts: usize,
        published: Mutex<Vec<ChangeEvent>>,
    }

    impl Bus {
        fn accepting(accepts: usize) -> Self {
            Self {
                accepts,
                published: Mutex::new(Vec::new()),
            }
        }

        fn published(&self) -> Vec<String> {
            let published = self.published.lock().unwrap();
            published.iter().map(|e| e.request_id.clone()).collect()
        }
    }

    impl ChangeEvents for Bus {
        async fn publish(&self, events: &[ChangeEvent]) -> usize {
            let mut published = self.published.lock().unwrap();
            let room = self.accepts.saturating_sub(published.len());
            let accepted = events.len().min(room);
            published.extend(events[..accepted].iter().cloned());
            accepted
        }
    }

    /// An audit item's stream record: a change (`operation`, allowed) or
    /// a resolve, with request id `request`.
    fn record(sequence: u32, operation: &str, request: &str) -> serde_json::Value {
        serde_json::json!({
            "eventName": "INSERT",
            "dynamodb": {
                "SequenceNumber": sequence.to_string(),
                "NewImage": {
                    "pk": {"S": "TENANT#acme#03"}, "sk": {"S": "t"},
                    "time": {"S": "2026-11-28T07:00:00.000Z"}, "timeMs": {"N": "1795849200000"},
                    "operation": {"S": operation}, "requestId": {"S": request},
                    "tenant": {"S": "acme"}, "subject": {"S": "alice"},
                    "secretId": {"S": "se0123456789abcdef"},
                    "tag": {"S": "db"}, "valueVersion": {"N": "2"}, "outcome": {"S": "allowed"}
                }
            }
        })
    }

    fn batch(records: Vec<serde_json::Value>) -> StreamEvent {
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    fn failures(response: BatchResponse) -> serde_json::Value {
        serde_json::to_value(response).unwrap()["batchItemFailures"].clone()
    }

    #[tokio::test]
    async fn each_change_is_published_in_order_and_nothing_else() {
        let bus = Bus::accepting(usize::MAX);
        let records = vec![
            record(1, "createSecret", "r1"),
            record(2, "resolveSecret", "r2"),
            record(3, "deleteSecret", "r3"),
        ];
        let response = handle(&bus, batch(records)).await.unwrap();
        assert_eq!(failures(response), serde_json::json!([]));
        assert_eq!(bus.published(), ["r1", "r3"]);
    }

    #[tokio::test]
    async fn the_batch_is_retried_from_the_first_event_not_accepted() {
        let bus = Bus::accepting(1);
        let records = vec![
            record(1, "createSecret", "r1"),
            record(2, "resolveSecret", "r2"),
            record(3, "updateSecret", "r3"),
            record(4, "deleteSecret", "r4"),
        ];
        let response = handle(&bus, batch(records)).await.unwrap();
        assert_eq!(
            failures(response),
            serde_json::json!([{"itemIdentifier": "3"}])
        );
        assert_eq!(bus.published(), ["r1"]);
    }

    #[tokio::test]
    async fn an_unreadable_change_record_stops_the_batch_at_itself() {
        let bus = Bus::accepting(usize::MAX);
        let mut broken = record(2, "updateSecret", "r2");
        broken["dynamodb"]["NewImage"]["secretId"] = serde_json::json!({"S": "not-an-id"});
        let records = vec![
            record(1, "createSecret", "r1"),
            broken,
            record(3, "deleteSecret", "r3"),
        ];
        let response = handle(&bus, batch(records)).await.unwrap();
        assert_eq!(
            failures(response),
            serde_json::json!([{"itemIdentifier": "2"}])
        );
        assert_eq!(bus.published(), ["r1"], "published up to it, then retried");
        // Retried from it, it leads the batch: a function error, which
        // makes Lambda bisect the batch until it stands alone.
        let mut broken = record(2, "updateSecret", "r2");
        broken["dynamodb"]["NewImage"]["secretId"] = serde_json::json!({"S": "not-an-id"});
        let again = handle(&bus, batch(vec![broken, record(3, "deleteSecret", "r3")])).await;
        assert!(again.is_err());
        assert_eq!(bus.published(), ["r1"]);
    }
}
