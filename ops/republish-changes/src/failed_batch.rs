//! What Lambda sends the mapping's on-failure destination when it gives
//! up on a batch of the audit table's stream: where the records are (a
//! shard and a range of sequence numbers), never the records.

use std::cmp::Ordering;

use serde::Deserialize;

/// One given-up batch, as the failure queue's message names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FailedBatch {
    #[serde(rename = "DDBStreamBatchInfo")]
    pub info: BatchInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub stream_arn: String,
    pub shard_id: String,
    pub start_sequence_number: SequenceNumber,
    pub end_sequence_number: SequenceNumber,
    pub batch_size: u32,
}

impl FailedBatch {
    /// The batch a failure queue's message body names; `Err` says why a
    /// body is not one (another sender's message, a newer format).
    pub fn parse(body: &str) -> Result<Self, String> {
        let batch: Self = serde_json::from_str(body)
            .map_err(|error| format!("not a stream batch's failure record: {error}"))?;
        let info = &batch.info;
        if info.start_sequence_number > info.end_sequence_number {
            return Err(format!(
                "its range starts at {} after it ends at {}",
                info.start_sequence_number.0, info.end_sequence_number.0
            ));
        }
        Ok(batch)
    }
}

/// A stream record's sequence number: decimal digits, wider than any
/// integer type, that grow within a shard. Compared as numbers; kept as
/// given, to hand back to the stream.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct SequenceNumber(String);

impl SequenceNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn significant(&self) -> &str {
        match self.0.trim_start_matches('0') {
            "" => "0",
            digits => digits,
        }
    }
}

impl TryFrom<String> for SequenceNumber {
    type Error = String;

    fn try_from(digits: String) -> Result<Self, String> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "a sequence number is decimal digits, not {digits:?}"
            ));
        }
        Ok(Self(digits))
    }
}

impl Ord for SequenceNumber {
    /// Without leading zeros, a longer number is a larger one.
    fn cmp(&self, other: &Self) -> Ordering {
        let (mine, theirs) = (self.significant(), other.significant());
        (mine.len(), mine).cmp(&(theirs.len(), theirs))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SequenceNumber {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SequenceNumber {}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(digits: &str) -> SequenceNumber {
        SequenceNumber::try_from(digits.to_owned()).unwrap()
    }

    /// The record AWS documents for a DynamoDB stream's on-failure
    /// destination (Lambda developer guide, "Retaining discarded records").
    const DOCUMENTED: &str = r#"{
        "requestContext": {
            "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
            "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 1
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled"
        },
        "version": "1.0",
        "timestamp": "2019-11-14T00:38:06.021Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-00000001573689847184-864758bb",
            "startSequenceNumber": "800000000003126276362",
            "endSequenceNumber": "800000000003126276362",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:38:04Z",
            "batchSize": 1,
            "streamArn": "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"
        }
    }"#;

    #[test]
    fn the_documented_record_names_its_shard_and_range() {
        let batch = FailedBatch::parse(DOCUMENTED).unwrap();
        assert_eq!(batch.info.shard_id, "shardId-00000001573689847184-864758bb");
        assert_eq!(
            batch.info.start_sequence_number,
            sequence("800000000003126276362")
        );
        assert_eq!(
            batch.info.end_sequence_number,
            batch.info.start_sequence_number
        );
        assert_eq!(batch.info.batch_size, 1);
        assert!(
            batch
                .info
                .stream_arn
                .ends_with("/stream/2019-11-14T00:04:06.388")
        );
    }

    #[test]
    fn another_message_or_a_reversed_range_is_not_a_batch() {
        assert!(FailedBatch::parse(r#"{"hello": "world"}"#).is_err());
        assert!(FailedBatch::parse("not json").is_err());
        let reversed = DOCUMENTED.replacen(
            "\"endSequenceNumber\": \"800000000003126276362\"",
            "\"endSequenceNumber\": \"99\"",
            1,
        );
        let problem = FailedBatch::parse(&reversed).unwrap_err();
        assert!(problem.contains("after it ends at 99"), "{problem}");
        let not_digits = DOCUMENTED.replacen("800000000003126276362", "8e20", 1);
        assert!(FailedBatch::parse(&not_digits).is_err());
    }

    #[test]
    fn sequence_numbers_compare_as_numbers_not_as_text() {
        assert!(sequence("99") < sequence("100"));
        assert!(sequence("0100") == sequence("100"));
        assert!(sequence("800000000003126276362") > sequence("700000000003126276363"));
        assert!(sequence("800000000003126276362") < sequence("1000000000000000000000"));
        assert_eq!(sequence("000"), sequence("0"));
    }
}
