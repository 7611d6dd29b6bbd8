//! The audit table's DynamoDB stream as Lambda hands it to the publish
//! function (`NEW_IMAGE`), read into change events; and the answer that
//! tells Lambda where to retry from.
//!
//! Only what the event needs is read: the record's sequence number, its
//! kind and its new image. The image is DynamoDB JSON; the attribute
//! types an audit item holds (S, N, BOOL) are read and any other is left
//! out, so a future attribute of another type never stops the stream.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::change_event::ChangeEvent;
use serde::{Deserialize, Serialize};

use crate::dynamo::{Item, allowed_record, names_a_change};

/// A batch of stream records, oldest first.
#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventName", default)]
    event_name: String,
    dynamodb: StreamChange,
}

#[derive(Debug, Deserialize)]
struct StreamChange {
    #[serde(rename = "SequenceNumber")]
    sequence_number: String,
    #[serde(rename = "NewImage", default)]
    new_image: HashMap<String, serde_json::Value>,
}

impl StreamRecord {
    pub fn sequence_number(&self) -> &str {
        &self.dynamodb.sequence_number
    }

    /// The change event the record carries. Only an insert can: an audit
    /// record is written once, and removed only by its retention's TTL.
    /// `Err` for a change's record that cannot be read, which must not be
    /// skipped in silence.
    pub fn change_event(&self) -> Result<Option<ChangeEvent>, String> {
        change_event_of(&self.event_name, || item_of(&self.dynamodb.new_image))
    }
}

/// The change event of a stream record of the audit table, given its
/// `eventName` and its new image (read only for an insert); the same
/// rule for a batch Lambda delivers and for a range read again from the
/// stream (`republish-changes`).
pub fn change_event_of(
    event_name: &str,
    new_image: impl FnOnce() -> Item,
) -> Result<Option<ChangeEvent>, String> {
    if event_name != "INSERT" {
        return Ok(None);
    }
    let image = new_image();
    if !names_a_change(&image) {
        return Ok(None);
    }
    let record = allowed_record(&image).map_err(|error| error.to_string())?;
    match record {
        Some(record) => ChangeEvent::of(&record)
            .map_err(|missing| format!("a change's audit record without {missing}")),
        None => Ok(None),
    }
}

/// A stream image's attributes of the types an audit item holds.
fn item_of(image: &HashMap<String, serde_json::Value>) -> Item {
    image
        .iter()
        .filter_map(|(name, value)| {
            let value = match value.as_object()?.iter().next()? {
                (kind, serde_json::Value::String(s)) if kind == "S" => AttributeValue::S(s.clone()),
                (kind, serde_json::Value::String(n)) if kind == "N" => AttributeValue::N(n.clone()),
                (kind, serde_json::Value::Bool(b)) if kind == "BOOL" => AttributeValue::Bool(*b),
                _ => return None,
            };
            Some((name.clone(), value))
        })
        .collect()
}

/// The answer to a batch: the first record whose event was not published
/// (Lambda retries the batch from it), or none.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

impl BatchResponse {
    pub fn retry_from(sequence_number: Option<&str>) -> Self {
        Self {
            batch_item_failures: sequence_number
                .map(|sequence| ItemFailure {
                    item_identifier: sequence.to_owned(),
                })
                .into_iter()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrets_domain::audit::Actor;
    use secrets_domain::change_event::Change;
    use secrets_domain::clock::Timestamp;
    use secrets_domain::model::{SecretId, SecretName, SecretSummary, Tag, TenantId};
    use secrets_domain::operation::Operation;

    use super::*;
    use crate::dynamo::audit_item;

    /// A record as Lambda delivers it, its image in DynamoDB JSON.
    fn delivered(event_name: &str, item: &Item) -> StreamRecord {
        let image: serde_json::Map<String, serde_json::Value> = item
            .iter()
            .map(|(name, value)| {
                let json = match value {
                    AttributeValue::S(s) => serde_json::json!({ "S": s }),
                    AttributeValue::N(n) => serde_json::json!({ "N": n }),
                    AttributeValue::Bool(b) => serde_json::json!({ "BOOL": b }),
                    other => panic!("{other:?}"),
                };
                (name.clone(), json)
            })
            .collect();
        let record = serde_json::json!({
            "eventID": "1", "eventName": event_name, "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/a/stream/x",
            "dynamodb": {
                "Keys": {}, "NewImage": image, "SequenceNumber": "100",
                "SizeBytes": 10, "StreamViewType": "NEW_IMAGE",
                "ApproximateCreationDateTime": 1_795_000_000.0
            }
        });
        let event: StreamEvent =
            serde_json::from_value(serde_json::json!({ "Records": [record] })).unwrap();
        event.records.into_iter().next().unwrap()
    }

    fn record(operation: Operation) -> secrets_domain::audit::AuditRecord {
        let actor = Actor {
            tenant: TenantId::parse("acme").unwrap(),
            subject: "alice".into(),
            request_id: "req-9".into(),
            operation,
        };
        let secret = SecretSummary {
            id: SecretId::generate().unwrap(),
            name: SecretName::parse("n".into()).unwrap(),
            tag: Tag::parse("db").unwrap(),
            version: 1,
            value_version: Some(1),
        };
        actor.allowed(&secret, Timestamp::from_millis(1_795_000_000_000))
    }

    #[test]
    fn an_inserted_change_record_is_its_event() {
        let created = record(Operation::Create).made_current(1);
        let delivered = delivered("INSERT", &audit_item(&created, 30));
        assert_eq!(delivered.sequence_number(), "100");
        let event = delivered.change_event().unwrap().expect("an event");
        assert_eq!(event.operation, Change::Created);
        assert_eq!(event.id, created.secret_id.unwrap());
        assert_eq!(
            (event.value_version, event.request_id.as_str()),
            (Some(1), "req-9")
        );
    }

    #[test]
    fn removals_resolves_and_unchanged_updates_are_no_event() {
        let created = audit_item(&record(Operation::Create), 30);
        assert_eq!(delivered("REMOVE", &created).change_event(), Ok(None));
        let resolve = audit_item(&record(Operation::Resolve).opened(1), 30);
        assert_eq!(delivered("INSERT", &resolve).change_event(), Ok(None));
        let unchanged = audit_item(&record(Operation::Update).unchanged(), 30);
        assert_eq!(delivered("INSERT", &unchanged).change_event(), Ok(None));
    }

    #[test]
    fn a_change_record_that_cannot_be_read_is_an_error() {
        let mut item = audit_item(&record(Operation::Delete), 30);
        item.remove("secretId");
        assert!(delivered("INSERT", &item).change_event().is_err());
        let mut item = audit_item(&record(Operation::Delete), 30);
        item.insert("timeMs".into(), AttributeValue::S("soon".into()));
        assert!(delivered("INSERT", &item).change_event().is_err());
    }

    #[test]
    fn a_damaged_record_of_no_change_is_passed_over_unread() {
        for damaged in [
            audit_item(&record(Operation::Resolve), 30),
            audit_item(&record(Operation::Create).replayed(), 30),
        ] {
            let mut item = damaged;
            item.remove("timeMs");
            assert_eq!(delivered("INSERT", &item).change_event(), Ok(None));
        }
        let mut unknown = audit_item(&record(Operation::Delete), 30);
        unknown.insert("operation".into(), AttributeValue::S("purgeSecret".into()));
        unknown.remove("timeMs");
        assert_eq!(delivered("INSERT", &unknown).change_event(), Ok(None));
    }

    #[test]
    fn the_answer_names_the_record_to_retry_from_or_none() {
        let json = |response: BatchResponse| serde_json::to_value(response).unwrap();
        assert_eq!(
            json(BatchResponse::retry_from(Some("7"))),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "7"}]})
        );
        assert_eq!(
            json(BatchResponse::retry_from(None)),
            serde_json::json!({"batchItemFailures": []})
        );
    }
}
