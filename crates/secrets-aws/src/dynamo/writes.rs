//! Create, update and delete, each one transaction over a secret's items,
//! with conditions that make it all-or-nothing under races:
//!
//! | write  | items (role: condition)                                                         |
//! |--------|---------------------------------------------------------------------------------|
//! | create | [IdempotencyRecord: absent or expired] · Tag, Meta, Value: absent · Count: below the limit · [AuditRecord] |
//! | update | Tag: exists, same id · Meta: exists, same tag, same version · [Value: exists] · [AuditRecord] |
//! | delete | Tag: exists, same id · Meta: exists [, same version] · Value: exists · Count · [AuditRecord] |

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::audit::AuditRecord;
use secrets_domain::error::{Error, Result};
use secrets_domain::model::{SecretSummary, TagOrId, TenantId};
use secrets_domain::ports::{DeleteGuard, NewSecret, SecretChanges};

use super::DynamoStore;
use super::attributes::{COUNT, ID, NAME, TAG, UPDATED_AT, VERSION};
use super::codec::{self, number};
use super::expressions::{Changes, Condition};
use super::layout::ItemKey;
use super::transaction::{Role, Transaction};

impl DynamoStore {
    pub(super) async fn insert_secret(
        &self,
        tenant: &TenantId,
        secret: NewSecret,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let [tag_item, meta_item, value_item] = codec::secret_items(tenant, &secret);
        let mut write = Transaction::default();
        // First, so that its failure is the one reported when a concurrent
        // create with the same key also took the tag.
        if let Some(record) = &secret.idempotency {
            self.put_idempotency_record(&mut write, tenant, record, secret.at)?;
        }
        write.put(Role::Tag, &self.table, tag_item, Condition::absent())?;
        write.put(Role::Meta, &self.table, meta_item, Condition::absent())?;
        write.put(Role::Value, &self.table, value_item, Condition::absent())?;
        write.update(
            Role::Count,
            &self.table,
            &ItemKey::count(tenant),
            Changes::default().add(COUNT, 1),
            Some(Condition::below(COUNT, self.max_secrets)),
        )?;
        self.put_audit_record(&mut write, audit)?;
        let tag = &secret.summary.tag;
        write
            .commit(&self.client, |role| match role {
                Role::IdempotencyRecord => Error::IdempotencyKeyReused,
                Role::Tag => Error::TagTaken {
                    tag: tag.to_string(),
                },
                Role::Count => Error::QuotaExceeded {
                    limit: self.max_secrets,
                },
                Role::Meta | Role::Value => Error::Internal {
                    context: "creating a secret",
                    source: Some("a freshly generated secret id is already in use".into()),
                },
                Role::AuditRecord => duplicate_audit_record(),
            })
            .await
    }

    /// The TAG and META items both move to the next version; the META
    /// item's condition is the one that matters: it keeps a concurrent
    /// delete from being undone and a concurrent update from being
    /// overwritten unseen.
    pub(super) async fn update_secret(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        changes: SecretChanges,
        audit: Option<&AuditRecord>,
    ) -> Result<SecretSummary> {
        let next = number(current.version + 1);
        let mut tag_changes = Changes::default().set(VERSION, next.clone());
        let mut meta_changes = Changes::default()
            .set(UPDATED_AT, number(changes.at.millis()))
            .set(VERSION, next);
        if let Some(name) = &changes.name {
            let name = AttributeValue::S(name.as_str().to_owned());
            tag_changes = tag_changes.set(NAME, name.clone());
            meta_changes = meta_changes.set(NAME, name);
        }
        let mut write = Transaction::default();
        write.update(
            Role::Tag,
            &self.table,
            &ItemKey::tag(tenant, &current.tag),
            tag_changes,
            Some(same_secret(current)),
        )?;
        write.update(
            Role::Meta,
            &self.table,
            &ItemKey::meta(tenant, &current.id),
            meta_changes,
            Some(
                Condition::exists()
                    .and_equals(TAG, AttributeValue::S(current.tag.to_string()))
                    .and_at_version(current.version),
            ),
        )?;
        if let Some(sealed) = &changes.sealed {
            let item = codec::value_item(tenant, &current.id, sealed, changes.at);
            write.put(Role::Value, &self.table, item, Condition::exists())?;
        }
        self.put_audit_record(&mut write, audit)?;
        let updated = SecretSummary {
            name: changes.name.unwrap_or_else(|| current.name.clone()),
            version: current.version + 1,
            ..current.clone()
        };
        match write.commit(&self.client, refused_as_changed).await {
            Err(Error::PreconditionFailed) => Err(self.why_refused(tenant, current).await),
            Err(error) => Err(error),
            Ok(()) => Ok(updated),
        }
    }

    pub(super) async fn delete_secret(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        guard: DeleteGuard,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let meta = match guard {
            DeleteGuard::Exists => Condition::exists(),
            DeleteGuard::SameVersion => Condition::exists().and_at_version(current.version),
        };
        let mut write = Transaction::default();
        write.delete(
            Role::Tag,
            &self.table,
            &ItemKey::tag(tenant, &current.tag),
            same_secret(current),
        )?;
        write.delete(
            Role::Meta,
            &self.table,
            &ItemKey::meta(tenant, &current.id),
            meta,
        )?;
        write.delete(
            Role::Value,
            &self.table,
            &ItemKey::value(tenant, &current.id),
            Condition::exists(),
        )?;
        write.update(
            Role::Count,
            &self.table,
            &ItemKey::count(tenant),
            Changes::default().add(COUNT, -1),
            None,
        )?;
        self.put_audit_record(&mut write, audit)?;
        match write.commit(&self.client, refused_as_changed).await {
            Err(Error::PreconditionFailed) if guard == DeleteGuard::SameVersion => {
                Err(self.why_refused(tenant, current).await)
            }
            Err(Error::PreconditionFailed) => Err(Error::NotFound),
            result => result,
        }
    }

    /// Why a write conditioned on `current` was cancelled: the secret is
    /// gone (404), or another change moved it to another version (412).
    async fn why_refused(&self, tenant: &TenantId, current: &SecretSummary) -> Error {
        match self
            .find_secret(tenant, &TagOrId::Id(current.id.clone()))
            .await
        {
            Ok(Some(now)) if now.version != current.version => Error::PreconditionFailed,
            Ok(_) => Error::NotFound,
            Err(error) => error,
        }
    }
}

/// The TAG item still names this secret: the tag was not freed and reused.
fn same_secret(current: &SecretSummary) -> Condition {
    Condition::exists().and_equals(ID, AttributeValue::S(current.id.to_string()))
}

/// A failed condition of an update or delete: the secret is not as it was
/// read (`why_refused` tells gone from changed); an audit record's failure
/// is ours.
fn refused_as_changed(role: Role) -> Error {
    match role {
        Role::AuditRecord => duplicate_audit_record(),
        _ => Error::PreconditionFailed,
    }
}

fn duplicate_audit_record() -> Error {
    Error::internal(
        "writing an audit record",
        "a record with the same time and request id exists",
    )
}
