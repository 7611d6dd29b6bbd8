//! The audit promise: a change given a record stores it in the same write,
//! so that a change and its record exist together or not at all.

use secrets_domain::audit::AuditRecord;
use secrets_domain::model::{SecretId, SecretName, SecretSummary, TenantId};
use secrets_domain::operation::Operation;
use secrets_domain::ports::{DeleteGuard, SecretChanges, SecretStore};

use super::{AUTHOR, ReadAuditTrail, new_secret, now};

fn record(tenant: &TenantId, operation: Operation, secret: &SecretSummary) -> AuditRecord {
    crate::actor(tenant, operation).allowed(secret, now())
}

fn rename(name: &str) -> SecretChanges {
    SecretChanges {
        name: Some(SecretName::parse(name.into()).unwrap()),
        sealed: None,
        at: now(),
        author: AUTHOR.into(),
        restored_from: None,
    }
}

pub async fn changes_are_recorded_with_their_write<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
    trail: &impl ReadAuditTrail,
) {
    let secret = new_secret("audited");
    let id = secret.summary.id.clone();
    let create = record(tenant, Operation::Create, &secret.summary);
    store
        .insert(tenant, secret.clone(), Some(&create))
        .await
        .expect("insert");
    let taken = new_secret("audited");
    let refused = record(tenant, Operation::Create, &taken.summary);
    store
        .insert(tenant, taken, Some(&refused))
        .await
        .expect_err("the tag is taken");

    let update = record(tenant, Operation::Update, &secret.summary);
    let renamed = store
        .update(tenant, &secret.summary, rename("Renamed"), Some(&update))
        .await
        .expect("update");
    let stale = record(tenant, Operation::Update, &secret.summary);
    store
        .update(tenant, &secret.summary, rename("Stale"), Some(&stale))
        .await
        .expect_err("a stale version");

    // A record alone (a resolve, say) is stored as it is.
    let resolve = record(tenant, Operation::Resolve, &renamed);
    store.record(&resolve).await.expect("record");

    let delete = record(tenant, Operation::Delete, &renamed);
    store
        .delete(
            tenant,
            &renamed,
            DeleteGuard::Exists,
            &super::at_once(),
            Some(&delete),
        )
        .await
        .expect("delete");
    let again = record(tenant, Operation::Delete, &renamed);
    store
        .delete(
            tenant,
            &renamed,
            DeleteGuard::Exists,
            &super::at_once(),
            Some(&again),
        )
        .await
        .expect_err("already gone");

    let mut allowed = trail.allowed(tenant).await;
    allowed.sort_by_key(|(operation, _)| operation.as_str());
    let expected: Vec<(Operation, SecretId)> = [
        Operation::Create,
        Operation::Delete,
        Operation::Resolve,
        Operation::Update,
    ]
    .into_iter()
    .map(|operation| (operation, id.clone()))
    .collect();
    assert_eq!(
        allowed, expected,
        "one record per change that happened, none for those refused"
    );
    // Not a record of another tenant's.
    let stranger = super::random_tenant();
    assert!(trail.allowed(&stranger).await.is_empty());
}
