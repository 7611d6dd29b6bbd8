//! The audit trail: one record for every create, update, delete and resolve,
//! allowed or refused. Records name who acted, on what, and how it ended;
//! never a value, a token or an internal error's details.
//!
//! Allowed changes are recorded in the same DynamoDB transaction as the
//! change itself, so no change is ever without its record; allowed resolves
//! are recorded before the value is returned, and a resolve that cannot be
//! recorded fails. Refusals are recorded after the fact, best effort: if that
//! write fails, the record goes to the function's log instead.

use std::fmt;
use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::domain::{SecretId, SecretKey, SecretSummary, Tag, TenantId};
use crate::error::{Error, Result};

/// The audited operations, named as the contract's operation ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Operation {
    #[serde(rename = "createSecret")]
    Create,
    #[serde(rename = "updateSecret")]
    Update,
    #[serde(rename = "deleteSecret")]
    Delete,
    #[serde(rename = "resolveSecret")]
    Resolve,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "createSecret",
            Self::Update => "updateSecret",
            Self::Delete => "deleteSecret",
            Self::Resolve => "resolveSecret",
        }
    }
}

/// Who performs an operation: the tenant and subject of a verified token,
/// or for resolve the tenant asked for and the caller the invoking system
/// declares (its IAM identity is in CloudTrail, under the same request id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub tenant: TenantId,
    pub subject: Option<String>,
    pub request_id: String,
    pub operation: Operation,
}

impl Actor {
    /// An actor for tests: subject `tester`, a fresh request id.
    #[cfg(any(test, feature = "test-support"))]
    pub fn test(tenant: &TenantId, operation: Operation) -> Self {
        Self {
            tenant: tenant.clone(),
            subject: Some("tester".into()),
            request_id: format!(
                "req-{}",
                crate::domain::random_hex::<6>().unwrap_or_default()
            ),
            operation,
        }
    }

    pub fn allowed(&self, secret: &SecretSummary) -> AuditRecord {
        AuditRecord {
            time_ms: now_ms(),
            operation: self.operation,
            tenant: Some(self.tenant.clone()),
            subject: self.subject.clone(),
            request_id: self.request_id.clone(),
            secret_id: Some(secret.id.clone()),
            tag: Some(secret.tag.clone()),
            requested: None,
            replayed: false,
            outcome: Outcome::Allowed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Outcome {
    Allowed,
    #[serde(rename_all = "camelCase")]
    Refused {
        status: u16,
        error_type: &'static str,
        /// The public message, never an internal cause.
        reason: String,
    },
}

/// One audit record, as stored and as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub operation: Operation,
    /// `None` when the caller was never authenticated.
    pub tenant: Option<TenantId>,
    pub subject: Option<String>,
    pub request_id: String,
    pub secret_id: Option<SecretId>,
    pub tag: Option<Tag>,
    /// The tag or id the caller asked for, when the secret was not reached.
    pub requested: Option<String>,
    /// An allowed create answered from its `Idempotency-Key`'s record: the
    /// secret named was created by an earlier request, not by this one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl AuditRecord {
    /// Marks the record of a create answered by replaying an earlier one.
    pub fn replayed(self) -> Self {
        Self {
            replayed: true,
            ..self
        }
    }

    /// The record's time as RFC 3339 UTC, for people reading the trail.
    pub fn time(&self) -> Rfc3339 {
        Rfc3339(self.time_ms)
    }
}

/// What is known of an operation as it proceeds, for the record of its
/// refusal: by the time it fails, it may or may not know who asked and for
/// what.
#[derive(Debug, Clone)]
pub struct Trail {
    operation: Operation,
    request_id: String,
    tenant: Option<TenantId>,
    subject: Option<String>,
    requested: Option<String>,
}

impl Trail {
    pub fn new(operation: Operation, request_id: impl Into<String>) -> Self {
        Self {
            operation,
            request_id: request_id.into(),
            tenant: None,
            subject: None,
            requested: None,
        }
    }

    /// Notes who acts, and returns them as the actor of the operation.
    pub fn actor(&mut self, tenant: &TenantId, subject: Option<&str>) -> Actor {
        self.tenant = Some(tenant.clone());
        self.subject = subject.map(str::to_owned);
        Actor {
            tenant: tenant.clone(),
            subject: self.subject.clone(),
            request_id: self.request_id.clone(),
            operation: self.operation,
        }
    }

    pub fn requested(&mut self, key: &SecretKey) {
        self.requested = Some(key.to_string());
    }

    pub fn requested_tag(&mut self, tag: &Tag) {
        self.requested = Some(tag.to_string());
    }

    pub fn refused(&self, error: &Error) -> AuditRecord {
        AuditRecord {
            time_ms: now_ms(),
            operation: self.operation,
            tenant: self.tenant.clone(),
            subject: self.subject.clone(),
            request_id: self.request_id.clone(),
            secret_id: None,
            tag: None,
            requested: self.requested.clone(),
            replayed: false,
            outcome: Outcome::Refused {
                status: error.http_status(),
                error_type: error.error_type(),
                reason: error.to_string(),
            },
        }
    }
}

/// Where records go outside a transaction: resolves and refusals.
pub trait AuditLog: Send + Sync {
    fn record(&self, record: &AuditRecord) -> impl Future<Output = Result<()>> + Send;
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Milliseconds since the epoch, shown as `2026-11-26T18:15:25.123Z`.
pub struct Rfc3339(pub u64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, millis) = (self.0 / 1000, self.0 % 1000);
        let (days, day_secs) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            day_secs / 3600,
            day_secs / 60 % 60,
            day_secs % 60
        )
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SecretName;

    #[test]
    fn times_read_as_rfc3339() {
        for (ms, expected) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_795_000_000_123, "2026-11-18T11:06:40.123Z"),
            (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),
        ] {
            assert_eq!(Rfc3339(ms).to_string(), expected);
        }
    }

    #[test]
    fn a_refusal_records_what_was_known_and_the_public_reason_only() {
        let mut trail = Trail::new(Operation::Delete, "req-1");
        let unauthenticated =
            trail.refused(&Error::unauthenticated(crate::error::AuthFailure::Expired));
        assert_eq!(unauthenticated.tenant, None);
        assert_eq!(unauthenticated.requested, None);

        let tenant = TenantId::parse("acme").unwrap();
        let actor = trail.actor(&tenant, Some("alice"));
        trail.requested(&SecretKey::parse("db").unwrap());
        let refused = trail.refused(&Error::internal("deleting", "table xyz is gone"));
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["tenant"], "acme");
        assert_eq!(json["subject"], "alice");
        assert_eq!(json["requested"], "db");
        assert_eq!(json["operation"], "deleteSecret");
        assert_eq!(json["outcome"], "refused");
        assert_eq!(json["status"], 500);
        assert_eq!(json["reason"], "internal error");
        assert!(!json.to_string().contains("xyz"));

        let summary = SecretSummary {
            id: SecretId::generate().unwrap(),
            name: SecretName::parse("n".into()).unwrap(),
            tag: Tag::parse("db").unwrap(),
            version: crate::domain::FIRST_VERSION,
        };
        let allowed = serde_json::to_value(actor.allowed(&summary)).unwrap();
        assert_eq!(allowed["outcome"], "allowed");
        assert_eq!(allowed["secretId"], summary.id.as_str());
        assert_eq!(allowed["requestId"], "req-1");
    }
}
