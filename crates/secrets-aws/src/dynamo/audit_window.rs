//! Every tenant's committed changes made in a window of time, read from the
//! audit table: what `republish-changes --audit-table` publishes again when
//! a given-up batch is past the stream's 24-hour retention. The table is
//! laid out by tenant, not by time, so this is a Scan of all of it (every
//! item read, filtered after): an operator's rare recovery, never a path of
//! the API. Its cost grows with the table, not with the window.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::audit::AuditRecord;
use secrets_domain::change_event::Change;
use secrets_domain::operation::Operation;

use super::attributes::{OPERATION, OUTCOME, TIME_MS};
use super::audit::{allowed_record, names_a_change};

/// The allowed records of change operations whose time is in
/// `from_ms..=to_ms`, oldest first; `Err` for a failed Scan or a record
/// that cannot be read (named, never skipped).
pub async fn allowed_changes_between(
    client: &Client,
    table: &str,
    from_ms: u64,
    to_ms: u64,
) -> Result<Vec<AuditRecord>, String> {
    let changes: Vec<_> = Operation::ALL
        .into_iter()
        .filter(|operation| Change::of(*operation).is_some())
        .collect();
    let placeholders: Vec<_> = (0..changes.len()).map(|i| format!(":o{i}")).collect();
    let mut scan = client
        .scan()
        .table_name(table)
        .filter_expression(format!(
            "#time BETWEEN :from AND :to AND #outcome = :allowed AND #operation IN ({})",
            placeholders.join(", ")
        ))
        .expression_attribute_names("#time", TIME_MS)
        .expression_attribute_names("#outcome", OUTCOME)
        .expression_attribute_names("#operation", OPERATION)
        .expression_attribute_values(":from", AttributeValue::N(from_ms.to_string()))
        .expression_attribute_values(":to", AttributeValue::N(to_ms.to_string()))
        .expression_attribute_values(":allowed", AttributeValue::S("allowed".into()));
    for (placeholder, operation) in placeholders.iter().zip(&changes) {
        scan = scan.expression_attribute_values(
            placeholder,
            AttributeValue::S(operation.as_str().to_owned()),
        );
    }
    let mut records = Vec::new();
    let mut start = None;
    loop {
        let page = scan
            .clone()
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|error| DisplayErrorContext(error).to_string())?;
        for item in page.items() {
            // Replays and no-op updates pass the filter; a damaged one must
            // stop nothing, as on the stream.
            if !names_a_change(item) {
                continue;
            }
            match allowed_record(item) {
                Ok(Some(record)) => records.push(record),
                Ok(None) => {}
                Err(error) => {
                    let key = (item.get("pk"), item.get("sk"));
                    return Err(format!("an audit item cannot be read ({key:?}): {error}"));
                }
            }
        }
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => break,
        }
    }
    records.sort_by_key(|record| record.time_ms);
    Ok(records)
}
