//! A given-up batch's records, read again from the audit table's stream:
//! the stream keeps every record 24 hours, and the mapping gives a batch
//! up within 6 (`MaximumRecordAgeInSeconds`), so a failure is republished
//! from here for at least 18 hours after it reached the queue.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodbstreams::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, Record, ShardIteratorType};
use secrets_aws::change_stream::change_event_of;
use secrets_domain::change_event::ChangeEvent;

use crate::failed_batch::{BatchInfo, SequenceNumber};

/// The most records one `GetRecords` call returns (DynamoDB's own bound).
const RECORDS_PER_READ: i32 = 1000;
/// An open shard may answer a read with no records before the ones after
/// it: this many empty answers in a row, a pause apart, and the range's
/// end is taken as missing.
const EMPTY_READS: u32 = 40;
const EMPTY_READ_PAUSE: Duration = Duration::from_millis(250);

/// One record of the range, and the change event it carries: `None` for
/// a record that is not a committed change (a resolve, a refusal, a
/// replay), `Err` for a change's record that cannot be read.
#[derive(Debug)]
pub struct RangeRecord {
    pub sequence: String,
    pub event: Result<Option<ChangeEvent>, String>,
}

/// Why a range could not be read whole.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeError {
    /// Its first records are past the stream's 24-hour retention.
    Trimmed,
    /// The stream or the shard is gone (the stream was turned off, or the
    /// table deleted).
    Gone(String),
    Failed(String),
}

impl std::fmt::Display for RangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Trimmed => f.write_str(
                "the records are past the stream's 24-hour retention: run again with \
                 --audit-table to find their changes there by the batch's times",
            ),
            // DynamoDB removes a closed shard (one is closed every few
            // hours) with its records 24 hours on: what an old batch meets.
            Self::Gone(why) => write!(
                f,
                "the stream or its shard is gone ({why}): a shard goes with its records 24 hours \
                 after it closes, so for an older batch run again with --audit-table"
            ),
            Self::Failed(why) => f.write_str(why),
        }
    }
}

pub struct AuditStream {
    client: aws_sdk_dynamodbstreams::Client,
}

impl AuditStream {
    pub fn new(client: aws_sdk_dynamodbstreams::Client) -> Self {
        Self { client }
    }

    /// Every record from the batch's first to its last, in stream order.
    pub async fn read(&self, batch: &BatchInfo) -> Result<Vec<RangeRecord>, RangeError> {
        let mut iterator = self
            .client
            .get_shard_iterator()
            .stream_arn(&batch.stream_arn)
            .shard_id(&batch.shard_id)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(batch.start_sequence_number.as_str())
            .send()
            .await
            .map_err(range_error)?
            .shard_iterator;
        let (mut records, mut empty_reads) = (Vec::new(), 0);
        while let Some(at) = iterator {
            let read = self
                .client
                .get_records()
                .shard_iterator(at)
                .limit(RECORDS_PER_READ)
                .send()
                .await
                .map_err(range_error)?;
            if read.records().is_empty() {
                empty_reads += 1;
                if empty_reads == EMPTY_READS {
                    break;
                }
                tokio::time::sleep(EMPTY_READ_PAUSE).await;
            } else {
                empty_reads = 0;
            }
            for record in read.records() {
                let sequence = sequence_of(record)?;
                if sequence > batch.end_sequence_number {
                    return Ok(records);
                }
                let reached_the_end = sequence == batch.end_sequence_number;
                records.push(RangeRecord {
                    sequence: sequence.as_str().to_owned(),
                    event: change_event_of(record_kind(record), || new_image(record)),
                });
                if reached_the_end {
                    return Ok(records);
                }
            }
            iterator = read.next_shard_iterator;
        }
        Err(RangeError::Failed(format!(
            "the shard holds no record {} (read {} of the range)",
            batch.end_sequence_number.as_str(),
            records.len()
        )))
    }
}

fn range_error<E, R>(error: aws_sdk_dynamodbstreams::error::SdkError<E, R>) -> RangeError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.code() {
        Some("TrimmedDataAccessException") => RangeError::Trimmed,
        Some("ResourceNotFoundException") => {
            RangeError::Gone(error.message().unwrap_or("not found").to_owned())
        }
        _ => RangeError::Failed(DisplayErrorContext(error).to_string()),
    }
}

fn sequence_of(record: &Record) -> Result<SequenceNumber, RangeError> {
    let digits = record
        .dynamodb()
        .and_then(|change| change.sequence_number())
        .unwrap_or_default();
    SequenceNumber::try_from(digits.to_owned()).map_err(RangeError::Failed)
}

fn record_kind(record: &Record) -> &str {
    record.event_name().map_or("", |kind| kind.as_str())
}

/// The record's new image, with the attribute types an audit item holds
/// (as the publish function reads a delivered batch).
fn new_image(record: &Record) -> HashMap<String, AttributeValue> {
    let image = record.dynamodb().and_then(|change| change.new_image());
    image
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| {
            let value = match value {
                StreamValue::S(s) => AttributeValue::S(s.clone()),
                StreamValue::N(n) => AttributeValue::N(n.clone()),
                StreamValue::Bool(b) => AttributeValue::Bool(*b),
                _ => return None,
            };
            Some((name.clone(), value))
        })
        .collect()
}
