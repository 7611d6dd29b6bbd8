//! The five operations, independent of HTTP and of AWS.

use zeroize::Zeroizing;

use crate::audit::Actor;
use crate::crypto::{DataKeys, EncryptionContext, open, seal};
use crate::domain::{FIRST_VERSION, SecretId, SecretKey, SecretSummary, TenantId};
use crate::error::{DEFAULT_RETRY_AFTER_SECS, Error, Result};
use crate::idempotency::{
    IDEMPOTENCY_WINDOW_SECS, IdempotencyKey, Remembered, RequestMacs, now_secs, request_digest,
};
use crate::input::{CreateSecret, UpdateSecret};
use crate::page::{Page, PageRequest};
use crate::precondition::IfMatch;
use crate::store::{DeleteGuard, NewSecret, SecretChanges, SecretStore};

/// Attempts at an update without `If-Match` whose version moves on between
/// its read and its write; then 503, as for any other contention.
const UPDATE_ATTEMPTS: u32 = 3;

/// The secrets service of one function. `K` is the data key source; the
/// read-only functions use `()` and so cannot write values at all.
pub struct Secrets<S, K = ()> {
    store: S,
    keys: K,
}

impl<S: SecretStore, K> Secrets<S, K> {
    pub fn new(store: S, keys: K) -> Self {
        Self { store, keys }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn keys(&self) -> &K {
        &self.keys
    }

    pub async fn list(&self, tenant: &TenantId, request: PageRequest) -> Result<Page> {
        self.store.list(tenant, request).await
    }

    pub async fn get(&self, tenant: &TenantId, key: &SecretKey) -> Result<SecretSummary> {
        self.store.find(tenant, key).await?.ok_or(Error::NotFound)
    }

    /// With `If-Match`, deletes only the version it names (412 otherwise).
    pub async fn delete(
        &self,
        actor: &Actor,
        key: &SecretKey,
        precondition: Option<&IfMatch>,
    ) -> Result<()> {
        let current = self.get(&actor.tenant, key).await?;
        let guard = match precondition {
            Some(precondition) => {
                precondition.check(&current)?;
                DeleteGuard::SameVersion
            }
            None => DeleteGuard::Exists,
        };
        self.store
            .delete(&actor.tenant, &current, guard, Some(actor))
            .await
    }
}

/// What a create answers: the secret, and whether it is the replayed answer
/// to an earlier request with the same `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub secret: SecretSummary,
    pub replayed: bool,
}

impl<S: SecretStore, K: DataKeys + RequestMacs> Secrets<S, K> {
    pub async fn create(&self, actor: &Actor, request: CreateSecret) -> Result<SecretSummary> {
        Ok(self.create_with_key(actor, request, None).await?.secret)
    }

    /// With an `Idempotency-Key`, a retry of a create that succeeded answers
    /// as it did (a new audit record says so) and the key with another
    /// request is a 422; see [`crate::idempotency`].
    pub async fn create_with_key(
        &self,
        actor: &Actor,
        request: CreateSecret,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created> {
        let tenant = &actor.tenant;
        let claim = match key {
            Some(key) => {
                let fingerprint = self
                    .keys
                    .mac(&request_digest(tenant, key, &request))
                    .await?;
                let key_digest = key.digest();
                if let Some(earlier) = self.store.remembered(tenant, &key_digest).await? {
                    return self.replay(actor, &earlier, &fingerprint).await;
                }
                Some((key_digest, fingerprint))
            }
            None => None,
        };
        let id = SecretId::generate()?;
        let sealed = seal(
            &self.keys,
            EncryptionContext::new(tenant, &id),
            &request.secret,
        )
        .await?;
        let summary = SecretSummary {
            id,
            name: request.name,
            tag: request.tag,
            version: FIRST_VERSION,
        };
        let idempotency = claim.map(|(key_digest, fingerprint)| Remembered {
            key_digest,
            fingerprint,
            secret: summary.clone(),
            expires_at: now_secs() + IDEMPOTENCY_WINDOW_SECS,
        });
        let inserted = self
            .store
            .insert(
                tenant,
                NewSecret {
                    summary: summary.clone(),
                    sealed,
                    idempotency: idempotency.clone(),
                },
                Some(actor),
            )
            .await;
        match (inserted, idempotency) {
            (Ok(()), _) => Ok(Created {
                secret: summary,
                replayed: false,
            }),
            // A concurrent request with the same key won the race.
            (Err(Error::IdempotencyKeyReused), Some(ours)) => {
                match self.store.remembered(tenant, &ours.key_digest).await? {
                    Some(earlier) => self.replay(actor, &earlier, &ours.fingerprint).await,
                    None => Err(Error::IdempotencyKeyReused),
                }
            }
            (Err(error), _) => Err(error),
        }
    }

    async fn replay(
        &self,
        actor: &Actor,
        earlier: &Remembered,
        fingerprint: &[u8],
    ) -> Result<Created> {
        if !earlier.matches(fingerprint) {
            return Err(Error::IdempotencyKeyReused);
        }
        self.store
            .record(&actor.allowed(&earlier.secret).replayed())
            .await?;
        Ok(Created {
            secret: earlier.secret.clone(),
            replayed: true,
        })
    }
}

impl<S: SecretStore, K: DataKeys> Secrets<S, K> {
    /// An update with no fields changes nothing (but is audited, and its
    /// `If-Match` checked) and returns the secret as it is. A new value is
    /// sealed under a new data key. With `If-Match`, only the version it
    /// names is changed (412 otherwise); without, a change that lands first
    /// is built upon, as the contract's last-writer-wins update always did.
    pub async fn update(
        &self,
        actor: &Actor,
        key: &SecretKey,
        request: UpdateSecret,
        precondition: Option<&IfMatch>,
    ) -> Result<SecretSummary> {
        let tenant = &actor.tenant;
        let mut current = self.get(tenant, key).await?;
        if let Some(precondition) = precondition {
            precondition.check(&current)?;
        }
        if request.is_empty() {
            self.store.record(&actor.allowed(&current)).await?;
            return Ok(current);
        }
        let sealed = match &request.secret {
            Some(value) => Some(
                seal(
                    &self.keys,
                    EncryptionContext::new(tenant, &current.id),
                    value,
                )
                .await?,
            ),
            None => None,
        };
        let changes = SecretChanges {
            name: request.name,
            sealed,
        };
        for attempt in 1..=UPDATE_ATTEMPTS {
            match self
                .store
                .update(tenant, &current, changes.clone(), Some(actor))
                .await
            {
                Err(Error::PreconditionFailed) if precondition.is_none() => {
                    if attempt == UPDATE_ATTEMPTS {
                        break;
                    }
                    let latest = self.get(tenant, key).await?;
                    // The value was sealed for this id: a secret re-created
                    // under the tag meanwhile is another secret.
                    if latest.id != current.id {
                        return Err(Error::NotFound);
                    }
                    current = latest;
                }
                result => return result,
            }
        }
        Err(Error::Unavailable {
            retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
            source: Some("the secret kept changing under the update".into()),
        })
    }

    /// The plaintext value, for trusted internal callers only, never for an
    /// HTTP response. Opened in the context of the tenant asking, so an
    /// envelope moved to another tenant or secret does not open. Audited
    /// before it is returned: a value that cannot be accounted for is not
    /// handed out.
    pub async fn resolve(&self, actor: &Actor, key: &SecretKey) -> Result<Resolved> {
        let tenant = &actor.tenant;
        let summary = self.get(tenant, key).await?;
        // A delete may land between the two reads: then it is gone.
        let sealed = self
            .store
            .sealed_value(tenant, &summary.id)
            .await?
            .ok_or(Error::NotFound)?;
        let value = open(
            &self.keys,
            EncryptionContext::new(tenant, &summary.id),
            &sealed,
        )
        .await?;
        self.store.record(&actor.allowed(&summary)).await?;
        Ok(Resolved { summary, value })
    }
}

/// A secret with its plaintext value, as the resolve function answers it:
/// `{"id", "name", "tag", "value"}`. The value is written straight from the
/// self-wiping buffer into the serializer's output.
pub struct Resolved {
    pub summary: SecretSummary,
    pub value: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("summary", &self.summary)
            .field("value", &"<redacted>")
            .finish()
    }
}

impl serde::Serialize for Resolved {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeStruct};
        // Values are stored from JSON strings, so they are UTF-8.
        let value = std::str::from_utf8(&self.value)
            .map_err(|_| S::Error::custom("a stored value is not UTF-8"))?;
        let mut secret = serializer.serialize_struct("Resolved", 4)?;
        secret.serialize_field("id", &self.summary.id)?;
        secret.serialize_field("name", &self.summary.name)?;
        secret.serialize_field("tag", &self.summary.tag)?;
        secret.serialize_field("value", value)?;
        secret.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditLog, Operation, Outcome};
    use crate::crypto::LocalDataKeys;
    use crate::domain::{SecretName, SecretValue, Tag};
    use crate::store::MemoryStore;

    fn service() -> Secrets<MemoryStore, LocalDataKeys> {
        Secrets::new(MemoryStore::default(), LocalDataKeys::default())
    }

    fn acting(tenant: &TenantId, operation: Operation) -> Actor {
        Actor::test(tenant, operation)
    }

    async fn total<S: SecretStore, K>(service: &Secrets<S, K>, tenant: &TenantId) -> u32 {
        service
            .list(tenant, PageRequest::new(0, 10).unwrap())
            .await
            .unwrap()
            .total
    }

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).unwrap()
    }

    fn create_request(tag: &str, value: &str) -> CreateSecret {
        CreateSecret {
            tag: Tag::parse(tag).unwrap(),
            name: SecretName::parse(format!("Name of {tag}")).unwrap(),
            secret: SecretValue::parse(Zeroizing::new(value.into())).unwrap(),
        }
    }

    fn by_tag(tag: &str) -> SecretKey {
        SecretKey::Tag(Tag::parse(tag).unwrap())
    }

    async fn stored_plaintext(
        service: &Secrets<MemoryStore, LocalDataKeys>,
        tenant: &TenantId,
        id: &SecretId,
    ) -> Vec<u8> {
        let sealed = service
            .store()
            .sealed_value(tenant, id)
            .await
            .unwrap()
            .unwrap();
        open(service.keys(), EncryptionContext::new(tenant, id), &sealed)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn create_seals_the_value_and_returns_the_summary() {
        let service = service();
        let acme = tenant("acme");
        let created = service
            .create(
                &acting(&acme, Operation::Create),
                create_request("db", "hunter2"),
            )
            .await
            .unwrap();
        assert_eq!(created.tag.as_str(), "db");
        assert_eq!(service.get(&acme, &by_tag("db")).await.unwrap(), created);
        assert_eq!(
            service
                .get(&acme, &SecretKey::Id(created.id.clone()))
                .await
                .unwrap(),
            created
        );
        assert_eq!(
            stored_plaintext(&service, &acme, &created.id).await,
            b"hunter2"
        );
        assert_eq!(service.keys().generated(), 1);
    }

    #[tokio::test]
    async fn a_taken_tag_is_a_conflict() {
        let service = service();
        let acme = tenant("acme");
        service
            .create(&acting(&acme, Operation::Create), create_request("db", "1"))
            .await
            .unwrap();
        let error = service
            .create(&acting(&acme, Operation::Create), create_request("db", "2"))
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), 409);
        assert_eq!(total(&service, &acme).await, 1);
    }

    #[tokio::test]
    async fn updating_the_name_needs_no_data_key_and_a_new_value_gets_a_new_one() {
        let service = service();
        let acme = tenant("acme");
        let created = service
            .create(
                &acting(&acme, Operation::Create),
                create_request("db", "old"),
            )
            .await
            .unwrap();
        let before = service
            .store()
            .sealed_value(&acme, &created.id)
            .await
            .unwrap()
            .unwrap();

        let renamed = service
            .update(
                &acting(&acme, Operation::Update),
                &by_tag("db"),
                UpdateSecret {
                    name: Some(SecretName::parse("Renamed".into()).unwrap()),
                    secret: None,
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(renamed.name.as_str(), "Renamed");
        assert_eq!(
            (renamed.id.clone(), renamed.tag.clone()),
            (created.id.clone(), created.tag.clone())
        );
        assert_eq!(service.keys().generated(), 1);

        service
            .update(
                &acting(&acme, Operation::Update),
                &SecretKey::Id(created.id.clone()),
                UpdateSecret {
                    name: None,
                    secret: Some(SecretValue::parse(Zeroizing::new("new".into())).unwrap()),
                },
                None,
            )
            .await
            .unwrap();
        let after = service
            .store()
            .sealed_value(&acme, &created.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(service.keys().generated(), 2);
        assert_ne!(before.wrapped_key, after.wrapped_key);
        assert_eq!(stored_plaintext(&service, &acme, &created.id).await, b"new");
    }

    #[tokio::test]
    async fn an_empty_update_changes_nothing() {
        let service = service();
        let acme = tenant("acme");
        let created = service
            .create(&acting(&acme, Operation::Create), create_request("db", "v"))
            .await
            .unwrap();
        let same = service
            .update(
                &acting(&acme, Operation::Update),
                &by_tag("db"),
                UpdateSecret::default(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(same, created);
    }

    #[tokio::test]
    async fn when_kms_fails_nothing_is_written() {
        let service = service();
        let acme = tenant("acme");
        service.keys().fail();
        let error = service
            .create(&acting(&acme, Operation::Create), create_request("db", "v"))
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), 503);
        let page = service
            .list(&acme, PageRequest::new(0, 10).unwrap())
            .await
            .unwrap();
        assert_eq!((page.total, page.secrets.len()), (0, 0));
    }

    #[tokio::test]
    async fn tenants_never_see_each_other() {
        let service = service();
        let (acme, globex) = (tenant("acme"), tenant("globex"));
        let created = service
            .create(&acting(&acme, Operation::Create), create_request("db", "v"))
            .await
            .unwrap();
        for key in [by_tag("db"), SecretKey::Id(created.id.clone())] {
            assert_eq!(
                service.get(&globex, &key).await.unwrap_err().http_status(),
                404
            );
            assert_eq!(
                service
                    .delete(&acting(&globex, Operation::Delete), &key, None)
                    .await
                    .unwrap_err()
                    .http_status(),
                404
            );
            let update = UpdateSecret {
                name: Some(SecretName::parse("x".into()).unwrap()),
                secret: None,
            };
            assert_eq!(
                service
                    .update(&acting(&globex, Operation::Update), &key, update, None)
                    .await
                    .unwrap_err()
                    .http_status(),
                404
            );
        }
        assert_eq!(total(&service, &globex).await, 0);
        assert_eq!(service.get(&acme, &by_tag("db")).await.unwrap(), created);
    }

    #[tokio::test]
    async fn delete_frees_the_tag_at_once() {
        let service = service();
        let acme = tenant("acme");
        service
            .create(&acting(&acme, Operation::Create), create_request("db", "v"))
            .await
            .unwrap();
        service
            .delete(&acting(&acme, Operation::Delete), &by_tag("db"), None)
            .await
            .unwrap();
        assert_eq!(
            service
                .delete(&acting(&acme, Operation::Delete), &by_tag("db"), None)
                .await
                .unwrap_err()
                .http_status(),
            404
        );
        service
            .create(
                &acting(&acme, Operation::Create),
                create_request("db", "again"),
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn resolve_opens_the_current_value_for_its_own_tenant_only() {
        let service = service();
        let (acme, other) = (tenant("acme"), tenant("other"));
        let created = service
            .create(
                &acting(&acme, Operation::Create),
                create_request("db", "first"),
            )
            .await
            .unwrap();
        let by_id = SecretKey::Id(created.id.clone());
        for key in [&by_tag("db"), &by_id] {
            let resolved = service
                .resolve(&acting(&acme, Operation::Resolve), key)
                .await
                .unwrap();
            assert_eq!(
                serde_json::to_value(&resolved).unwrap(),
                serde_json::json!({"id": created.id.as_str(), "name": "Name of db", "tag": "db", "value": "first"})
            );
        }
        let update = UpdateSecret {
            name: None,
            secret: Some(SecretValue::parse(Zeroizing::new("second".into())).unwrap()),
        };
        service
            .update(&acting(&acme, Operation::Update), &by_id, update, None)
            .await
            .unwrap();
        assert_eq!(
            &service
                .resolve(&acting(&acme, Operation::Resolve), &by_id)
                .await
                .unwrap()
                .value[..],
            b"second"
        );
        for (tenant, key) in [(&other, &by_id), (&other, &by_tag("db"))] {
            let refused = service
                .resolve(&acting(tenant, Operation::Resolve), key)
                .await
                .unwrap_err();
            assert_eq!(refused.http_status(), 404);
        }
        service
            .delete(&acting(&acme, Operation::Delete), &by_id, None)
            .await
            .unwrap();
        let gone = service
            .resolve(&acting(&acme, Operation::Resolve), &by_id)
            .await
            .unwrap_err();
        assert_eq!(gone.http_status(), 404);
    }

    /// Each allowed operation leaves exactly one record naming the secret;
    /// refused ones leave none here (the functions record refusals), and
    /// reads of metadata none at all.
    #[tokio::test]
    async fn every_allowed_change_and_resolve_is_recorded_once() {
        let service = service();
        let acme = tenant("acme");
        let created = service
            .create(&acting(&acme, Operation::Create), create_request("db", "v"))
            .await
            .unwrap();
        service
            .create(&acting(&acme, Operation::Create), create_request("db", "v"))
            .await
            .unwrap_err();
        let by_id = SecretKey::Id(created.id.clone());
        service.get(&acme, &by_tag("db")).await.unwrap();
        service
            .list(&acme, PageRequest::new(0, 10).unwrap())
            .await
            .unwrap();
        for update in [
            UpdateSecret::default(),
            UpdateSecret {
                name: Some(SecretName::parse("n".into()).unwrap()),
                secret: None,
            },
        ] {
            service
                .update(&acting(&acme, Operation::Update), &by_id, update, None)
                .await
                .unwrap();
        }
        service
            .resolve(&acting(&acme, Operation::Resolve), &by_tag("db"))
            .await
            .unwrap();
        service
            .resolve(&acting(&tenant("other"), Operation::Resolve), &by_id)
            .await
            .unwrap_err();
        let deleter = acting(&acme, Operation::Delete);
        service.delete(&deleter, &by_tag("db"), None).await.unwrap();

        let records = service.store().audit_records();
        let seen: Vec<_> = records
            .iter()
            .map(|r| (r.operation, r.outcome.clone(), r.secret_id.clone()))
            .collect();
        let id = Some(created.id.clone());
        assert_eq!(
            seen,
            [
                (Operation::Create, Outcome::Allowed, id.clone()),
                (Operation::Update, Outcome::Allowed, id.clone()),
                (Operation::Update, Outcome::Allowed, id.clone()),
                (Operation::Resolve, Outcome::Allowed, id.clone()),
                (Operation::Delete, Outcome::Allowed, id),
            ]
        );
        let last = records.last().unwrap();
        assert_eq!(
            (
                last.request_id.as_str(),
                last.tag.as_ref().unwrap().as_str()
            ),
            (deleter.request_id.as_str(), "db")
        );
        assert_eq!(last.subject.as_deref(), Some("tester"));
    }

    /// A memory store that can refuse audit records, and can let another
    /// writer's change land just before the next update.
    #[derive(Default)]
    struct Scripted {
        inner: MemoryStore,
        refuse_audit: bool,
        concurrent_rename: std::sync::Mutex<Option<&'static str>>,
        /// The next insert loses to an identical one, with another id.
        concurrent_twin: std::sync::atomic::AtomicBool,
    }

    impl AuditLog for Scripted {
        async fn record(&self, record: &crate::audit::AuditRecord) -> Result<()> {
            if self.refuse_audit {
                return Err(Error::Unavailable {
                    retry_after_secs: 1,
                    source: None,
                });
            }
            self.inner.record(record).await
        }
    }

    impl SecretStore for Scripted {
        async fn find(&self, t: &TenantId, k: &SecretKey) -> Result<Option<SecretSummary>> {
            self.inner.find(t, k).await
        }
        async fn list(&self, t: &TenantId, r: PageRequest) -> Result<Page> {
            self.inner.list(t, r).await
        }
        async fn insert(&self, t: &TenantId, s: NewSecret, a: Option<&Actor>) -> Result<()> {
            if self
                .concurrent_twin
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                let mut twin = s.clone();
                twin.summary.id = SecretId::generate()?;
                if let Some(record) = &mut twin.idempotency {
                    record.secret.id = twin.summary.id.clone();
                }
                self.inner.insert(t, twin, None).await?;
            }
            self.inner.insert(t, s, a).await
        }
        async fn remembered(&self, t: &TenantId, k: &str) -> Result<Option<Remembered>> {
            self.inner.remembered(t, k).await
        }
        async fn update(
            &self,
            t: &TenantId,
            c: &SecretSummary,
            ch: SecretChanges,
            a: Option<&Actor>,
        ) -> Result<SecretSummary> {
            let rename = self.concurrent_rename.lock().unwrap().take();
            if let Some(name) = rename {
                let other = SecretChanges {
                    name: Some(SecretName::parse(name.into()).unwrap()),
                    sealed: None,
                };
                self.inner.update(t, c, other, None).await?;
            }
            self.inner.update(t, c, ch, a).await
        }
        async fn delete(
            &self,
            t: &TenantId,
            c: &SecretSummary,
            g: DeleteGuard,
            a: Option<&Actor>,
        ) -> Result<()> {
            self.inner.delete(t, c, g, a).await
        }
        async fn sealed_value(
            &self,
            t: &TenantId,
            id: &SecretId,
        ) -> Result<Option<crate::crypto::SealedValue>> {
            self.inner.sealed_value(t, id).await
        }
    }

    fn if_match(header: &str) -> IfMatch {
        IfMatch::parse(header.as_bytes())
    }

    fn rename(name: &str) -> UpdateSecret {
        UpdateSecret {
            name: Some(SecretName::parse(name.into()).unwrap()),
            secret: None,
        }
    }

    #[tokio::test]
    async fn if_match_guards_updates_and_deletes_by_version() {
        let service = service();
        let acme = tenant("acme");
        let updater = acting(&acme, Operation::Update);
        let created = service
            .create(&acting(&acme, Operation::Create), create_request("db", "v"))
            .await
            .unwrap();
        let first = if_match(&created.etag());
        let second = service
            .update(&updater, &by_tag("db"), rename("Two"), Some(&first))
            .await
            .unwrap();
        assert_eq!(second.version, created.version + 1);
        assert_ne!(second.etag(), created.etag());

        for stale in [rename("Lost"), UpdateSecret::default()] {
            let error = service
                .update(&updater, &by_tag("db"), stale, Some(&first))
                .await
                .unwrap_err();
            assert!(matches!(error, Error::PreconditionFailed), "{error}");
        }
        let deleter = acting(&acme, Operation::Delete);
        let error = service
            .delete(&deleter, &by_tag("db"), Some(&first))
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), 412);
        assert_eq!(service.get(&acme, &by_tag("db")).await.unwrap(), second);

        service
            .delete(&deleter, &by_tag("db"), Some(&if_match(&second.etag())))
            .await
            .unwrap();
        // Gone: 404 beats 412, with any precondition.
        for precondition in [if_match("*"), if_match(&second.etag()), if_match("garbled")] {
            let error = service
                .update(&updater, &by_tag("db"), rename("x"), Some(&precondition))
                .await
                .unwrap_err();
            assert_eq!(error.http_status(), 404);
        }
    }

    #[tokio::test]
    async fn without_if_match_an_update_builds_on_a_concurrent_change() {
        let service = Secrets::new(Scripted::default(), LocalDataKeys::default());
        let acme = tenant("acme");
        let created = service
            .create(&acting(&acme, Operation::Create), create_request("db", "v"))
            .await
            .unwrap();
        *service.store().concurrent_rename.lock().unwrap() = Some("Theirs");
        let value_only = UpdateSecret {
            name: None,
            secret: Some(SecretValue::parse(Zeroizing::new("mine".into())).unwrap()),
        };
        let updated = service
            .update(
                &acting(&acme, Operation::Update),
                &by_tag("db"),
                value_only,
                None,
            )
            .await
            .unwrap();
        // Both changes landed, and the answer describes the result.
        assert_eq!(updated.name.as_str(), "Theirs");
        assert_eq!(updated.version, created.version + 2);
        assert_eq!(service.get(&acme, &by_tag("db")).await.unwrap(), updated);

        // With If-Match, the same interleaving is the client's 412.
        *service.store().concurrent_rename.lock().unwrap() = Some("Again");
        let error = service
            .update(
                &acting(&acme, Operation::Update),
                &by_tag("db"),
                rename("Mine"),
                Some(&if_match(&updated.etag())),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, Error::PreconditionFailed), "{error}");
        assert_eq!(
            service
                .get(&acme, &by_tag("db"))
                .await
                .unwrap()
                .name
                .as_str(),
            "Again"
        );
    }

    fn key(raw: &str) -> IdempotencyKey {
        IdempotencyKey::parse(raw.as_bytes()).unwrap()
    }

    #[tokio::test]
    async fn a_retried_create_with_its_key_answers_as_the_first_did() {
        let service = service();
        let acme = tenant("acme");
        let creator = acting(&acme, Operation::Create);
        let first = service
            .create_with_key(&creator, create_request("db", "v"), Some(&key("k-1")))
            .await
            .unwrap();
        assert!(!first.replayed);
        let again = service
            .create_with_key(&creator, create_request("db", "v"), Some(&key("k-1")))
            .await
            .unwrap();
        assert_eq!(
            (again.secret.clone(), again.replayed),
            (first.secret.clone(), true)
        );
        assert_eq!(service.keys().generated(), 1, "no second data key");

        // Changed after the fact: the replay is still the first answer.
        service
            .update(
                &acting(&acme, Operation::Update),
                &by_tag("db"),
                rename("Later"),
                None,
            )
            .await
            .unwrap();
        let later = service
            .create_with_key(&creator, create_request("db", "v"), Some(&key("k-1")))
            .await
            .unwrap();
        assert_eq!(later.secret, first.secret);

        for (tag, value) in [("db", "other value"), ("other", "v")] {
            let error = service
                .create_with_key(&creator, create_request(tag, value), Some(&key("k-1")))
                .await
                .unwrap_err();
            assert!(matches!(error, Error::IdempotencyKeyReused), "{error}");
        }
        // Without the key, or with another, the contract's 409.
        for other in [None, Some(key("k-2"))] {
            let error = service
                .create_with_key(&creator, create_request("db", "v"), other.as_ref())
                .await
                .unwrap_err();
            assert_eq!(error.http_status(), 409);
        }
        // Keys are per tenant.
        let globex = tenant("globex");
        let theirs = service
            .create_with_key(
                &acting(&globex, Operation::Create),
                create_request("db", "v"),
                Some(&key("k-1")),
            )
            .await
            .unwrap();
        assert!(!theirs.replayed);
        let replays = service
            .store()
            .audit_records()
            .iter()
            .filter(|record| record.replayed)
            .count();
        assert_eq!(replays, 2);
        assert_eq!(total(&service, &acme).await, 1);
    }

    #[tokio::test]
    async fn a_create_that_loses_a_race_to_its_own_key_replays_the_winner() {
        let service = Secrets::new(Scripted::default(), LocalDataKeys::default());
        let acme = tenant("acme");
        service
            .store()
            .concurrent_twin
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let created = service
            .create_with_key(
                &acting(&acme, Operation::Create),
                create_request("db", "v"),
                Some(&key("raced")),
            )
            .await
            .unwrap();
        assert!(
            created.replayed,
            "answered from the winner's record, not 409"
        );
        assert_eq!(
            service.get(&acme, &by_tag("db")).await.unwrap(),
            created.secret
        );
    }

    #[tokio::test]
    async fn a_resolve_that_cannot_be_recorded_returns_no_value() {
        let service = Secrets::new(
            Scripted {
                refuse_audit: true,
                ..Scripted::default()
            },
            LocalDataKeys::default(),
        );
        let acme = tenant("acme");
        service
            .create(&acting(&acme, Operation::Create), create_request("db", "v"))
            .await
            .unwrap();
        let error = service
            .resolve(&acting(&acme, Operation::Resolve), &by_tag("db"))
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), 503);
    }
}
