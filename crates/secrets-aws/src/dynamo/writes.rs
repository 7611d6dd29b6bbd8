//! Create, update and delete, each one transaction over a secret's items,
//! with conditions that make it all-or-nothing under races:
//!
//! | write  | items (role: condition)                                                         |
//! |--------|---------------------------------------------------------------------------------|
//! | create | [IdempotencyRecord: absent or expired] · Tag, Meta, Value#1, Version#1: absent · Count (the tag's shard): below its limit · [AuditRecord] |
//! | update | Tag: exists, same id · Meta: exists, same tag, same version · [Value#n, Version#n: absent · OldVersion (each too old to keep): exists] · [AuditRecord] |
//! | delete | Tag: exists, same id · Meta: exists, same version · OldVersion (each kept version's two items): exists · Count (the tag's shard) · [AuditRecord] |
//!
//! A new value and a delete first read which versions are kept (one Query
//! of the small VERSION items, [`super::versions`]); META's version
//! condition makes that read still true when the transaction commits. A
//! delete without `If-Match` that meets a change in between reads again.
//!
//! The tenant limit without a shared item. Each of the `n` count shards
//! ([`super::counts`]) has a share of the limit, `limit / 2n`, that it takes
//! creates up to without a read. A create whose shard holds its share reads
//! all the shards, counts each as the larger of its count and its share (what
//! it has claimed), and conditions its own shard on holding fewer than the
//! limit minus what the others claimed. The sum of those claims never passes
//! the limit, and the total never passes the claims: so the limit holds
//! exactly when creates do not race, and is passed at most by the creates
//! that commit in other shards between such a create's read and its commit
//! (which conflict retries may put off for up to their 3 s budget).
//! It refuses before the total reaches the limit only while some shard still
//! holds less than its share, which with hashed tags means a tenant near its
//! limit whose tags fall in a few shards (possible only for tags chosen for
//! it). Shares below [`MIN_SHARE`] are not worth that: small limits are
//! always checked with the read, and exactly.
//!
//! Conflicts with other transactions are retried ([`super::backoff`]); a
//! create or update whose outcome is unknown is checked, by the token it
//! wrote, before it is reported failed ([`super::outcome`]).

use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::audit::AuditRecord;
use secrets_domain::deleted::Deletion;
use secrets_domain::error::{DEFAULT_RETRY_AFTER_SECS, Error, Result};
use secrets_domain::model::{FIRST_VERSION, SecretSummary, Tag, TagOrId, TenantId};
use secrets_domain::ports::{DeleteGuard, NewSecret, SecretChanges};

use super::DynamoStore;
use super::attributes::{COUNT, ID, LAST_WRITE, NAME, TAG, UPDATED_AT, VALUE_VERSION, VERSION};
use super::codec::{self, number};
use super::counts::counted;
use super::expressions::{Changes, Condition};
use super::layout::ItemKey;
use super::outcome::{Evidence, write_token};
use super::transaction::{Role, Transaction};

/// The smallest share of the limit worth a read-free check (module docs).
const MIN_SHARE: u64 = 16;
/// Deletes without `If-Match` tried before a secret that keeps changing
/// makes the delete give up (503).
const DELETE_ATTEMPTS: u32 = 3;

impl DynamoStore {
    pub(super) async fn insert_secret(
        &self,
        tenant: &TenantId,
        secret: NewSecret,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let shard = self.count_shard(tenant, &secret.summary.tag);
        self.within_limit(tenant, &secret.summary.tag, |limit| {
            self.commit_create(tenant, &secret, audit, &shard, limit)
        })
        .await
    }

    /// Runs `attempt`, a write that counts one more secret tagged `tag`,
    /// with the count its shard must stay below (module docs): first the
    /// shard's share, without a read; if the shard holds it, what the other
    /// shards leave of the limit.
    pub(super) async fn within_limit<T, Attempt>(
        &self,
        tenant: &TenantId,
        tag: &Tag,
        attempt: impl Fn(u64) -> Attempt,
    ) -> Result<T>
    where
        Attempt: Future<Output = Result<T>>,
    {
        let share = self.max_secrets / (2 * u64::from(self.count_shards));
        let share = if share >= MIN_SHARE { share } else { 0 };
        if share > 0 {
            match attempt(share).await {
                Err(Error::QuotaExceeded { .. }) => {}
                done => return done,
            }
        }
        // The tag's shard holds its share: what is left of the limit decides.
        let claimed = self.counts(tenant).await?.claimed_outside(
            self.shard_number(tag),
            self.count_shards,
            share,
        );
        let limit = self.max_secrets.saturating_sub(claimed);
        if limit == 0 {
            return Err(self.quota_exceeded());
        }
        attempt(limit).await
    }

    /// One attempt at a create, its count shard below `shard_limit`.
    async fn commit_create(
        &self,
        tenant: &TenantId,
        secret: &NewSecret,
        audit: Option<&AuditRecord>,
        shard: &ItemKey,
        shard_limit: u64,
    ) -> Result<()> {
        let token = write_token()?;
        let write = self.create_transaction(tenant, secret, audit, shard, shard_limit, &token)?;
        let tag = &secret.summary.tag;
        let evidence = Evidence::Written {
            key: ItemKey::meta(tenant, &secret.summary.id),
            token,
        };
        self.commit(
            write,
            |role| match role {
                Role::IdempotencyRecord => Error::IdempotencyKeyReused,
                Role::Tag => Error::TagTaken {
                    tag: tag.to_string(),
                },
                Role::Count => self.quota_exceeded(),
                Role::Meta
                | Role::Value
                | Role::Version
                | Role::OldVersion
                | Role::Deleted
                | Role::KeptVersion => Error::Internal {
                    context: "creating a secret",
                    source: Some("a freshly generated secret id is already in use".into()),
                },
                Role::AuditRecord => duplicate_audit_record(),
            },
            evidence,
        )
        .await
    }

    fn create_transaction(
        &self,
        tenant: &TenantId,
        secret: &NewSecret,
        audit: Option<&AuditRecord>,
        shard: &ItemKey,
        shard_limit: u64,
        token: &str,
    ) -> Result<Transaction> {
        let [tag_item, mut meta_item, value_item, version_item] =
            codec::secret_items(tenant, secret);
        meta_item.insert(LAST_WRITE.to_owned(), AttributeValue::S(token.to_owned()));
        let mut write = Transaction::default();
        // First, so that its failure is the one reported when a concurrent
        // create with the same key also took the tag.
        if let Some(record) = &secret.idempotency {
            self.put_idempotency_record(&mut write, tenant, record, secret.at)?;
        }
        write.put(Role::Tag, &self.table, tag_item, Condition::absent())?;
        write.put(Role::Meta, &self.table, meta_item, Condition::absent())?;
        write.put(Role::Value, &self.table, value_item, Condition::absent())?;
        write.put(
            Role::Version,
            &self.table,
            version_item,
            Condition::absent(),
        )?;
        write.update(
            Role::Count,
            &self.table,
            shard,
            counted(1),
            Some(Condition::below(COUNT, shard_limit)),
        )?;
        self.put_audit_record(&mut write, audit)?;
        Ok(write)
    }

    pub(super) fn quota_exceeded(&self) -> Error {
        Error::QuotaExceeded {
            limit: self.max_secrets,
        }
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
        let next = number(current.next_version());
        let mut tag_changes = Changes::default().set(VERSION, next.clone());
        let token = write_token()?;
        let mut meta_changes = Changes::default()
            .set(UPDATED_AT, number(changes.at.millis()))
            .set(VERSION, next)
            .set(LAST_WRITE, AttributeValue::S(token.clone()));
        if let Some(name) = &changes.name {
            let name = AttributeValue::S(name.as_str().to_owned());
            tag_changes = tag_changes.set(NAME, name.clone());
            meta_changes = meta_changes.set(NAME, name);
        }
        // META names the value version the new ciphertext is bound to, in
        // the same transaction that writes it.
        let value_version = changes
            .sealed
            .as_ref()
            .and_then(|sealed| sealed.scheme.value_version());
        if let Some(value_version) = value_version {
            meta_changes = meta_changes.set(VALUE_VERSION, number(value_version));
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
        if let (Some(sealed), Some(version)) = (&changes.sealed, changes.value_version()) {
            let id = &current.id;
            let value = codec::value_item(tenant, id, sealed, changes.at);
            let version_item = codec::version_item(tenant, id, &version);
            write.put(Role::Value, &self.table, value, Condition::absent())?;
            write.put(
                Role::Version,
                &self.table,
                version_item,
                Condition::absent(),
            )?;
            let kept = self.kept_versions(tenant, id).await?;
            let too_old = self.too_old(&kept, version.number);
            self.drop_versions(&mut write, tenant, id, too_old)?;
        }
        self.put_audit_record(&mut write, audit)?;
        let updated = SecretSummary {
            name: changes.name.unwrap_or_else(|| current.name.clone()),
            version: current.next_version(),
            value_version: value_version.or(current.value_version),
            ..current.clone()
        };
        let evidence = Evidence::Written {
            key: ItemKey::meta(tenant, &current.id),
            token,
        };
        match self.commit(write, refused_as_changed, evidence).await {
            Err(Error::PreconditionFailed) => Err(self.why_refused(tenant, current).await),
            Err(error) => Err(error),
            Ok(()) => Ok(updated),
        }
    }

    /// A delete conditioned on the version read removes exactly the versions
    /// kept at that version. Without `If-Match`, a change landing between
    /// the reads and the write is not the caller's concern: read again.
    pub(super) async fn delete_secret(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        guard: DeleteGuard,
        deletion: &Deletion,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut current = current.clone();
        for _ in 0..DELETE_ATTEMPTS {
            let kept = self.kept_versions(tenant, &current.id).await?;
            // The record names the version this attempt read: a rename
            // landing after it does not stop the delete (see below), so the
            // version may be older than the one removed, never newer.
            let audit = audit.map(|record| record.clone().left_at(current.version));
            let write =
                self.delete_transaction(tenant, &current, guard, &kept, deletion, audit.as_ref())?;
            match self.commit(write, refused_as_changed, Evidence::None).await {
                Err(Error::PreconditionFailed) => {}
                result => return result,
            }
            // Gone (404), changed (412 with If-Match), or changed or read
            // while a version's items were being replaced: read again.
            let by_id = TagOrId::Id(current.id.clone());
            current = match self.find_secret(tenant, &by_id).await? {
                None => return Err(Error::NotFound),
                Some(now)
                    if now.version != current.version && guard == DeleteGuard::SameVersion =>
                {
                    return Err(Error::PreconditionFailed);
                }
                Some(now) => now,
            };
        }
        Err(Error::Unavailable {
            retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
            source: Some("the secret kept changing under the delete".into()),
        })
    }

    /// With `If-Match`, META must be at the version read. Without, at the
    /// value version whose kept set was read: a rename in between changes
    /// nothing the delete removes, so it is no reason to read again (a
    /// secret whose value was written before value versions were bound has
    /// none on META, which counts as the first). With a recovery window,
    /// META and the kept versions stay, expiring ([`super::deleted`]).
    fn delete_transaction(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        guard: DeleteGuard,
        kept: &[u64],
        deletion: &Deletion,
        audit: Option<&AuditRecord>,
    ) -> Result<Transaction> {
        let newest = kept.iter().copied().max().unwrap_or(FIRST_VERSION);
        let meta = match guard {
            DeleteGuard::Exists => Condition::exists().and_at_value_version(newest),
            DeleteGuard::SameVersion => Condition::exists().and_at_version(current.version),
        };
        let mut write = Transaction::default();
        write.delete(
            Role::Tag,
            &self.table,
            &ItemKey::tag(tenant, &current.tag),
            Some(same_secret(current)),
        )?;
        match deletion.purge_at {
            Some(purge_at) => {
                self.keep_deleted(&mut write, tenant, current, meta, kept, deletion, purge_at)?;
            }
            None => {
                let key = ItemKey::meta(tenant, &current.id);
                write.delete(Role::Meta, &self.table, &key, Some(meta))?;
                self.drop_versions(&mut write, tenant, &current.id, kept.iter().copied())?;
            }
        }
        write.update(
            Role::Count,
            &self.table,
            &self.count_shard(tenant, &current.tag),
            counted(-1),
            None,
        )?;
        self.put_audit_record(&mut write, audit)?;
        Ok(write)
    }

    /// Why an update conditioned on `current` was cancelled: the secret is
    /// gone (404), or another change moved it to another version (412). If
    /// it is still as read, something else refused the write (a value
    /// version already written: only a caller's bug can do that): 500.
    async fn why_refused(&self, tenant: &TenantId, current: &SecretSummary) -> Error {
        match self
            .find_secret(tenant, &TagOrId::Id(current.id.clone()))
            .await
        {
            Ok(Some(now)) if now.version != current.version => Error::PreconditionFailed,
            Ok(Some(_)) => Error::internal(
                "updating a secret",
                "refused although the secret is as read: its value version is already written",
            ),
            Ok(None) => Error::NotFound,
            Err(error) => error,
        }
    }
}

/// The TAG item still names this secret: the tag was not freed and reused.
fn same_secret(current: &SecretSummary) -> Condition {
    Condition::exists().and_equals(ID, AttributeValue::S(current.id.to_string()))
}

/// A failed condition of an update or delete: the secret is not as it was
/// read, which a read tells apart (gone, changed, or, for a new value's
/// items, already written while META is as read); an audit record's
/// failure is ours. DynamoDB may report only some of the failed items, so
/// no role alone is taken to say which it was.
fn refused_as_changed(role: Role) -> Error {
    match role {
        Role::AuditRecord => duplicate_audit_record(),
        _ => Error::PreconditionFailed,
    }
}

pub(super) fn duplicate_audit_record() -> Error {
    Error::internal(
        "writing an audit record",
        "a record with the same time and request id exists",
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
    use secrets_domain::audit::Actor;
    use secrets_domain::model::random_hex;
    use secrets_domain::operation::Operation;
    use secrets_testkit::conformance::{new_secret, random_tenant};

    use super::super::counts::DEFAULT_COUNT_SHARDS;
    use super::super::layout::shard_of;
    use super::*;

    type WriteSet = BTreeSet<(String, String, String)>;

    fn store() -> DynamoStore {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        DynamoStore::new(Client::from_conf(config), "secrets").with_audit_table("audit", 0)
    }

    fn record(tenant: &TenantId, operation: Operation, secret: &NewSecret) -> AuditRecord {
        let actor = Actor {
            tenant: tenant.clone(),
            subject: "someone".into(),
            request_id: random_hex::<8>().unwrap(),
            operation,
        };
        actor.allowed(&secret.summary, secret.at)
    }

    fn create(store: &DynamoStore, tenant: &TenantId, tag: &str) -> WriteSet {
        let secret = new_secret(tag);
        let audit = record(tenant, Operation::Create, &secret);
        let shard = store.count_shard(tenant, &secret.summary.tag);
        let write = store
            .create_transaction(tenant, &secret, Some(&audit), &shard, 10, "token")
            .unwrap();
        write.keys().into_iter().collect()
    }

    fn delete(store: &DynamoStore, tenant: &TenantId, tag: &str) -> WriteSet {
        let secret = new_secret(tag);
        let audit = record(tenant, Operation::Delete, &secret);
        let write = store
            .delete_transaction(
                tenant,
                &secret.summary,
                DeleteGuard::Exists,
                &[FIRST_VERSION],
                // Kept for a window, as deployments keep them: its DELETED
                // item is the secret's own, in the tenant's collection.
                &secrets_domain::deleted::RecoveryWindow::days(7).deletion(secret.at, "tester"),
                Some(&audit),
            )
            .unwrap();
        write.keys().into_iter().collect()
    }

    #[test]
    fn writes_of_different_tags_in_one_tenant_meet_only_in_a_shared_count_shard() {
        let (store, tenant) = (store(), random_tenant());
        let tags: Vec<String> = (0..40).map(|i| format!("tag-{i}")).collect();
        let mut seen = BTreeSet::new();
        for (i, a) in tags.iter().enumerate() {
            for b in &tags[i + 1..] {
                let same_shard =
                    shard_of(a, DEFAULT_COUNT_SHARDS) == shard_of(b, DEFAULT_COUNT_SHARDS);
                seen.insert(same_shard);
                let creates = create(&store, &tenant, a)
                    .intersection(&create(&store, &tenant, b))
                    .count();
                let create_and_delete = create(&store, &tenant, a)
                    .intersection(&delete(&store, &tenant, b))
                    .count();
                let shared = usize::from(same_shard);
                assert_eq!(creates, shared, "creates of {a} and {b}");
                assert_eq!(create_and_delete, shared, "create of {a}, delete of {b}");
            }
        }
        assert_eq!(seen.len(), 2, "both kinds of pair were tried");
    }

    #[test]
    fn one_count_shard_makes_every_create_meet_every_other() {
        let (store, tenant) = (store().with_count_shards(1), random_tenant());
        let shared = create(&store, &tenant, "one")
            .intersection(&create(&store, &tenant, "two"))
            .count();
        assert_eq!(shared, 1, "the one count item");
    }
}
