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
    /// When the batch's first and last records reached the stream (RFC
    /// 3339), which is just after their changes committed; read only to
    /// find the batch in the audit table.
    #[serde(default)]
    pub approximate_arrival_of_first_record: Option<String>,
    #[serde(default)]
    pub approximate_arrival_of_last_record: Option<String>,
}

impl BatchInfo {
    /// When the batch's changes were made, as milliseconds since the epoch:
    /// its records' arrivals, `margin_ms` wider on each side (an audit
    /// record is timed by the writing function's clock, before its change
    /// committed, and an arrival may be given to the second).
    pub fn made_between(&self, margin_ms: u64) -> Result<(u64, u64), String> {
        let millis = |text: &Option<String>| {
            let text = text.as_deref().ok_or("the record gives no arrival times")?;
            epoch_millis(text).ok_or_else(|| format!("not an RFC 3339 UTC time: {text:?}"))
        };
        let first = millis(&self.approximate_arrival_of_first_record)?;
        let last = millis(&self.approximate_arrival_of_last_record)?;
        Ok((first.saturating_sub(margin_ms), last.max(first) + margin_ms))
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)` as milliseconds since the
/// epoch; `None` for anything else.
fn epoch_millis(text: &str) -> Option<u64> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once('T')?;
    let number = |digits: &str| -> Option<u64> {
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())?
    };
    let mut date = date.splitn(3, '-').map(number);
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (time, fraction) = match time.split_once('.') {
        Some((_, "")) => return None,
        Some(parts) => parts,
        None => (time, "0"),
    };
    let mut time = time.splitn(3, ':').map(number);
    let (hour, minute, second) = (time.next()??, time.next()??, time.next()??);
    let valid = year >= 1970
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61;
    if !valid || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis = number(&format!("{fraction:0<3}")[..3])?;
    let days = days_since_epoch(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar, from
/// the year 1970 on (the civil-from-days algorithm, counting years from
/// March so that a leap day ends its year).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let (era, year_of_era) = (year / 400, year % 400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).saturating_sub(719_468)
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
    fn a_batch_without_arrival_times_is_read_from_the_stream_only() {
        let without = DOCUMENTED
            .replacen(
                "\"approximateArrivalOfFirstRecord\": \"2019-11-14T00:38:04Z\",",
                "",
                1,
            )
            .replacen(
                "\"approximateArrivalOfLastRecord\": \"2019-11-14T00:38:04Z\",",
                "",
                1,
            );
        let batch = FailedBatch::parse(&without).unwrap().info;
        assert_eq!(batch.approximate_arrival_of_first_record, None);
        assert!(
            batch
                .made_between(0)
                .unwrap_err()
                .contains("no arrival times")
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
    fn a_batch_was_made_between_its_arrivals_widened_by_the_margin() {
        let batch = FailedBatch::parse(DOCUMENTED).unwrap().info;
        // 2019-11-14T00:38:04Z (date -d ... +%s: 1573691884).
        assert_eq!(
            batch.made_between(0),
            Ok((1_573_691_884_000, 1_573_691_884_000))
        );
        assert_eq!(
            batch.made_between(60_000),
            Ok((1_573_691_824_000, 1_573_691_944_000))
        );
    }

    #[test]
    fn rfc_3339_times_are_read_to_the_millisecond() {
        assert_eq!(epoch_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            epoch_millis("2000-02-29T12:00:00.5Z"),
            Some(951_825_600_500)
        );
        assert_eq!(
            epoch_millis("2026-11-28T10:00:00.123456+00:00"),
            Some(1_795_860_000_123)
        );
        assert_eq!(
            epoch_millis("2024-12-31T23:59:59.999Z"),
            Some(1_735_689_599_999)
        );
        for wrong in [
            "2026-11-28 10:00:00Z",
            "2026-11-28T10:00:00",
            "2026-11-28T10:00:00+01:00",
            "2026-13-28T10:00:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T10:00Z",
            "2026-11-28T10:00:00.Z",
            "-2026-11-28T10:00:00Z",
            "2026-02-29T10:00:00Z",
            "2100-02-29T10:00:00Z",
            "1969-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
        ] {
            assert_eq!(epoch_millis(wrong), None, "{wrong}");
        }
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
