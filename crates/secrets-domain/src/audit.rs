//! The audit trail: one record for every create, update, delete and resolve,
//! allowed or refused. Records name who acted, on what, and how it ended;
//! never a value, a token or an internal error's details.
//!
//! Allowed changes are recorded in the same DynamoDB transaction as the
//! change itself, so no change is ever without its record; allowed resolves
//! are recorded before the value is returned, and a resolve that cannot be
//! recorded fails. Refusals are recorded after the fact, best effort: if that
//! write fails, the record goes to the function's log instead.

use serde::Serialize;

use crate::clock::{Rfc3339, Timestamp};
use crate::error::Error;
use crate::model::{SecretId, SecretSummary, Tag, TagOrId, TenantId};
use crate::operation::Operation;

/// Who performs an operation: the tenant and subject (`sub`) of a verified
/// token, or for resolve the tenant its path names and the IAM principal
/// API Gateway verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub tenant: TenantId,
    pub subject: String,
    pub request_id: String,
    pub operation: Operation,
}

impl Actor {
    /// The record of this actor's operation on `secret`, allowed `at`.
    pub fn allowed(&self, secret: &SecretSummary, at: Timestamp) -> AuditRecord {
        AuditRecord {
            secret_id: Some(secret.id.clone()),
            tag: Some(secret.tag.clone()),
            secret_version: Some(secret.version),
            ..self.record(at, Outcome::Allowed)
        }
    }

    /// The record of this actor's operation on `requested`, refused with
    /// `error` `at` (a batch resolve's entry that reached no value).
    pub fn refused(&self, requested: &TagOrId, error: &Error, at: Timestamp) -> AuditRecord {
        AuditRecord {
            requested: Some(requested.to_string()),
            ..self.record(at, Outcome::refused(error))
        }
    }

    fn record(&self, at: Timestamp, outcome: Outcome) -> AuditRecord {
        AuditRecord {
            time_ms: at.millis(),
            operation: self.operation,
            tenant: Some(self.tenant.clone()),
            subject: Some(self.subject.clone()),
            request_id: self.request_id.clone(),
            secret_id: None,
            tag: None,
            requested: None,
            replayed: false,
            unchanged: false,
            batch_item: None,
            secret_version: None,
            value_version: None,
            restored_from: None,
            outcome,
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

impl Outcome {
    fn refused(error: &Error) -> Self {
        Self::Refused {
            status: error.http_status(),
            error_type: error.error_type(),
            reason: error.to_string(),
        }
    }
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
    /// An allowed update that named nothing to change: recorded, but no
    /// change was written (so no change event either).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unchanged: bool,
    /// The secret's place (from 0) among those one batch resolve asked
    /// for: one request, one record per secret, told apart by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_item: Option<u16>,
    /// The secret's version (what its `ETag` names) the request read, or
    /// for a change the one it left: a create 1, every other change one
    /// more than it found, but a delete the one it read. Orders one
    /// secret's changes where clocks cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_version: Option<u64>,
    /// The value version a resolve opened (which value was handed out);
    /// for a change, the one it made current: the value a create, an
    /// update or a restore wrote, the one a recovery brought back (none
    /// for a rename or a delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_version: Option<u64>,
    /// For a restore: the version whose value it made current again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<u64>,
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

    /// Marks the record of an allowed update that changed nothing.
    pub fn unchanged(self) -> Self {
        Self {
            unchanged: true,
            ..self
        }
    }

    /// Marks the record of a change with the value version it made
    /// current.
    pub fn made_current(self, value_version: u64) -> Self {
        Self {
            value_version: Some(value_version),
            ..self
        }
    }

    /// Marks the record of a change with the secret's version it left.
    pub fn left_at(self, version: u64) -> Self {
        Self {
            secret_version: Some(version),
            ..self
        }
    }

    /// Marks the record of the `item`th secret of a batch resolve.
    pub fn in_batch(self, item: u16) -> Self {
        Self {
            batch_item: Some(item),
            ..self
        }
    }

    /// Marks the record of a restore with the version it restored and the
    /// one it wrote.
    pub fn restored(self, from: u64, written: u64) -> Self {
        Self {
            value_version: Some(written),
            restored_from: Some(from),
            ..self
        }
    }

    /// Marks the record of a resolve with the value version it opened.
    pub fn opened(self, value_version: u64) -> Self {
        Self {
            value_version: Some(value_version),
            ..self
        }
    }

    /// The record's time as RFC 3339 UTC, for people reading the trail.
    pub fn time(&self) -> Rfc3339 {
        Timestamp::from_millis(self.time_ms).rfc3339()
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

    /// Notes who asks, before the tenant they ask for is known to be valid,
    /// so that a refusal still names them.
    pub fn subject(&mut self, subject: &str) {
        self.subject = Some(subject.to_owned());
    }

    /// Notes who acts, and returns them as the actor of the operation.
    pub fn actor(&mut self, tenant: &TenantId, subject: &str) -> Actor {
        self.tenant = Some(tenant.clone());
        self.subject = Some(subject.to_owned());
        Actor {
            tenant: tenant.clone(),
            subject: subject.to_owned(),
            request_id: self.request_id.clone(),
            operation: self.operation,
        }
    }

    pub fn requested(&mut self, key: &TagOrId) {
        self.requested = Some(key.to_string());
    }

    pub fn requested_tag(&mut self, tag: &Tag) {
        self.requested = Some(tag.to_string());
    }

    /// The record of this operation's refusal with `error`, `at`.
    pub fn refused(&self, error: &Error, at: Timestamp) -> AuditRecord {
        AuditRecord {
            time_ms: at.millis(),
            operation: self.operation,
            tenant: self.tenant.clone(),
            subject: self.subject.clone(),
            request_id: self.request_id.clone(),
            secret_id: None,
            tag: None,
            requested: self.requested.clone(),
            replayed: false,
            unchanged: false,
            batch_item: None,
            secret_version: None,
            value_version: None,
            restored_from: None,
            outcome: Outcome::refused(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SecretName;

    #[test]
    fn a_refusal_records_what_was_known_and_the_public_reason_only() {
        let mut trail = Trail::new(Operation::Delete, "req-1");
        let at = Timestamp::from_millis(1_795_000_000_123);
        let unauthenticated = trail.refused(
            &Error::unauthenticated(crate::error::AuthFailure::Expired),
            at,
        );
        assert_eq!(unauthenticated.tenant, None);
        assert_eq!(unauthenticated.requested, None);

        let tenant = TenantId::parse("acme").unwrap();
        let actor = trail.actor(&tenant, "alice");
        trail.requested(&TagOrId::parse("db").unwrap());
        let refused = trail.refused(&Error::internal("deleting", "table xyz is gone"), at);
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
            version: crate::model::FIRST_VERSION,
            value_version: None,
        };
        let allowed = serde_json::to_value(actor.allowed(&summary, at)).unwrap();
        assert_eq!(allowed["outcome"], "allowed");
        assert_eq!(allowed["secretId"], summary.id.as_str());
        assert_eq!(allowed["requestId"], "req-1");
        assert_eq!(allowed["timeMs"], 1_795_000_000_123_u64);
    }
}
