//! The audit of refusals. Refusals change nothing, so one that cannot be
//! stored is not worth failing the request for: it goes to the function's
//! log instead, in full, under a message an alarm can match.

use secrets_domain::audit::AuditRecord;
use secrets_domain::error::ErrorChain;
use secrets_domain::ports::AuditLog;

/// The log message of a refusal whose record could not be stored.
pub const NOT_STORED: &str = "audit record not stored";

pub async fn record(record: AuditRecord, audit: &impl AuditLog) {
    if let Err(error) = audit.record(&record).await {
        let record = serde_json::to_string(&record).unwrap_or_default();
        tracing::error!(audit_record = %record, error = %ErrorChain(&error), "{NOT_STORED}");
    }
}
