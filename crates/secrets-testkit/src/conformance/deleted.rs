//! Deletes with a recovery window: a deleted secret is out of every read of
//! live secrets at once (its tag free, `total` one less), listed among the
//! deleted while its window lasts, and recovered whole under its tag.

use secrets_domain::deleted::{DeletedPageRequest, Deletion, RecoveryWindow};
use secrets_domain::error::Error;
use secrets_domain::model::{FIRST_VERSION, SecretId, SecretName, TagOrId, TenantId};
use secrets_domain::operation::Operation;
use secrets_domain::ports::{DeleteGuard, SecretChanges, SecretStore};

use super::{AUTHOR, ReadAuditTrail, at_once, insert, new_secret, now, second_value, tag, total};

/// A delete that keeps the secret recoverable for a week.
fn kept_for_a_week() -> Deletion {
    RecoveryWindow::days(7).deletion(now(), "deleter")
}

pub async fn a_deleted_secret_is_out_of_sight_and_recovered_whole<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
    trail: &impl ReadAuditTrail,
) {
    let secret = new_secret("recoverable");
    let id = secret.summary.id.clone();
    let by_id = TagOrId::Id(id.clone());
    insert(store, tenant, &secret).await;
    let changes = SecretChanges {
        name: None,
        sealed: Some(second_value(5)),
        at: now(),
        author: AUTHOR.into(),
        restored_from: None,
    };
    let current = store
        .update(tenant, &secret.summary, changes, None)
        .await
        .expect("a second value");
    let deletion = kept_for_a_week();
    store
        .delete(tenant, &current, DeleteGuard::Exists, &deletion, None)
        .await
        .expect("delete");

    // Gone from every read of live secrets, its tag free at once.
    assert_eq!(store.find(tenant, &tag("recoverable")).await.unwrap(), None);
    assert_eq!(store.find(tenant, &by_id).await.unwrap(), None);
    assert_eq!(total(store, tenant).await, 0);
    let deleted = store
        .find_deleted(tenant, &id)
        .await
        .expect("find deleted")
        .expect("kept for its window");
    assert_eq!(deleted.summary, current);
    assert_eq!(
        (
            deleted.deleted_at,
            deleted.deleted_by.as_str(),
            Some(deleted.purge_at)
        ),
        (deletion.at, "deleter", deletion.purge_at)
    );

    // While another secret holds its tag, it cannot come back.
    let squatter = new_secret("recoverable");
    insert(store, tenant, &squatter).await;
    let error = store
        .recover(tenant, &deleted, now(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TagTaken { .. }), "{error}");
    assert_eq!(total(store, tenant).await, 1);
    store
        .delete(
            tenant,
            &squatter.summary,
            DeleteGuard::Exists,
            &at_once(),
            None,
        )
        .await
        .expect("delete the squatter");

    let record = crate::actor(tenant, Operation::RecoverDeleted).allowed(&deleted.summary, now());
    let recovered = store
        .recover(tenant, &deleted, now(), Some(&record))
        .await
        .expect("recover");
    assert_eq!(recovered.version, current.version + 1);
    assert_eq!(recovered.value_version, current.value_version);
    assert_eq!(
        store.find(tenant, &by_id).await.unwrap(),
        Some(recovered.clone())
    );
    let by_tag = store.find(tenant, &tag("recoverable")).await.unwrap();
    assert_eq!(
        by_tag.map(|found| (found.id, found.version)),
        Some((id.clone(), recovered.version))
    );
    assert_eq!(total(store, tenant).await, 1);
    // Whole: both kept values, the current one as it was.
    let versions = store.versions(tenant, &id).await.expect("versions");
    let numbers: Vec<_> = versions.iter().map(|version| version.number).collect();
    assert_eq!(numbers, [2, FIRST_VERSION]);
    let value = store.sealed_value(tenant, &id).await.expect("sealed");
    assert_eq!(value, Some(second_value(5)));
    assert_eq!(store.find_deleted(tenant, &id).await.unwrap(), None);
    assert!(
        trail
            .allowed(tenant)
            .await
            .contains(&(Operation::RecoverDeleted, id.clone())),
        "recorded with its write"
    );

    // Recovered once: the same deleted secret read earlier is no more.
    let again = store
        .recover(tenant, &deleted, now(), None)
        .await
        .unwrap_err();
    assert!(matches!(again, Error::NotFound), "{again}");
    // And a delete with no window leaves nothing to recover.
    store
        .delete(tenant, &recovered, DeleteGuard::Exists, &at_once(), None)
        .await
        .expect("delete at once");
    assert_eq!(store.find_deleted(tenant, &id).await.unwrap(), None);
    assert_eq!(store.sealed_value(tenant, &id).await.unwrap(), None);
}

pub async fn deleted_secrets_are_listed_by_id_while_recoverable<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let mut ids = Vec::new();
    for name in ["gone-a", "gone-b", "gone-c"] {
        let secret = new_secret(name);
        insert(store, tenant, &secret).await;
        store
            .delete(
                tenant,
                &secret.summary,
                DeleteGuard::Exists,
                &kept_for_a_week(),
                None,
            )
            .await
            .expect("delete");
        ids.push(secret.summary.id);
    }
    // One whose window has ended: kept, perhaps, but never listed.
    let expired = new_secret("gone-long-ago");
    insert(store, tenant, &expired).await;
    let ended = Deletion {
        purge_at: Some(now()),
        ..kept_for_a_week()
    };
    store
        .delete(tenant, &expired.summary, DeleteGuard::Exists, &ended, None)
        .await
        .expect("delete");
    // And a live one, never listed.
    insert(store, tenant, &new_secret("alive")).await;
    ids.sort();

    let later = now().plus_secs(1);
    let first = store
        .deleted(tenant, &DeletedPageRequest::new(None, 2).unwrap(), later)
        .await
        .expect("first page");
    let listed: Vec<SecretId> = first.secrets.iter().map(|s| s.summary.id.clone()).collect();
    assert_eq!(listed, ids[..2]);
    assert_eq!(first.next.as_ref(), Some(&ids[1]));
    let second = store
        .deleted(
            tenant,
            &DeletedPageRequest::new(first.next, 2).unwrap(),
            later,
        )
        .await
        .expect("second page");
    let listed: Vec<SecretId> = second
        .secrets
        .iter()
        .map(|s| s.summary.id.clone())
        .collect();
    assert_eq!((listed.as_slice(), second.next), (&ids[2..], None));
    assert_eq!(second.secrets[0].deleted_by, "deleter");
    // A week on, nothing is recoverable.
    let week_on = now().plus_secs(8 * 86_400);
    let none = store
        .deleted(tenant, &DeletedPageRequest::new(None, 10).unwrap(), week_on)
        .await
        .expect("a week on");
    assert!(none.secrets.is_empty() && none.next.is_none());
}

/// Entries whose window ended but which the store still keeps (DynamoDB's
/// TTL lags by days) never stop a walk: pages of one, each bounded, in id
/// order, reach every recoverable secret past a dozen ended ones, though a
/// store may cut a page short (even to none) with a `next` to go on from.
pub async fn a_walk_of_the_deleted_passes_any_number_of_ended_ones<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let ended = Deletion {
        purge_at: Some(now()),
        ..kept_for_a_week()
    };
    let mut recoverable = Vec::new();
    for i in 0..14 {
        let secret = new_secret(&format!("walked-{i:02}"));
        insert(store, tenant, &secret).await;
        let deletion = if i % 7 == 0 {
            recoverable.push(secret.summary.id.clone());
            kept_for_a_week()
        } else {
            ended.clone()
        };
        store
            .delete(
                tenant,
                &secret.summary,
                DeleteGuard::Exists,
                &deletion,
                None,
            )
            .await
            .expect("delete");
    }
    recoverable.sort();

    let later = now().plus_secs(1);
    let (mut walked, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        pages += 1;
        assert!(pages <= 14, "a walk of 14 entries ends within 14 pages");
        let request = DeletedPageRequest::new(after.clone(), 1).unwrap();
        let page = store.deleted(tenant, &request, later).await.expect("page");
        assert!(page.secrets.len() <= 1, "a page holds at most its size");
        walked.extend(page.secrets.into_iter().map(|s| s.summary.id));
        match page.next {
            Some(next) => {
                assert!(after.as_ref() < Some(&next), "each page moves the walk on");
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(walked, recoverable);
}

/// A recovered secret counts again, so it cannot take the tenant past its
/// limit. `store` keeps at most 3 secrets a tenant.
pub async fn a_recovery_counts_against_the_limit<S: SecretStore>(store: &S, tenant: &TenantId) {
    let first = new_secret("limit-a");
    for secret in [&first, &new_secret("limit-b"), &new_secret("limit-c")] {
        insert(store, tenant, secret).await;
    }
    store
        .delete(
            tenant,
            &first.summary,
            DeleteGuard::Exists,
            &kept_for_a_week(),
            None,
        )
        .await
        .expect("delete");
    insert(store, tenant, &new_secret("limit-d")).await;
    let deleted = store
        .find_deleted(tenant, &first.summary.id)
        .await
        .unwrap()
        .expect("kept");
    let error = store
        .recover(tenant, &deleted, now(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::QuotaExceeded { .. }), "{error}");
    assert_eq!(total(store, tenant).await, 3);
    assert!(
        store
            .find_deleted(tenant, &first.summary.id)
            .await
            .unwrap()
            .is_some()
    );
}

/// A delete without `If-Match` from a read a rename has overtaken is not
/// stopped by it (the rename changes nothing it removes), and the secret
/// it removed is the renamed one: found so among the deleted, and
/// recovered so.
pub async fn a_delete_after_an_unread_rename_recovers_the_renamed_secret<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let secret = new_secret("renamed-under-delete");
    let id = secret.summary.id.clone();
    insert(store, tenant, &secret).await;
    let rename = SecretChanges {
        name: Some(SecretName::parse("Renamed".into()).unwrap()),
        sealed: None,
        at: now(),
        author: AUTHOR.into(),
        restored_from: None,
    };
    let renamed = store
        .update(tenant, &secret.summary, rename, None)
        .await
        .expect("a rename");
    let stale = &secret.summary;
    store
        .delete(tenant, stale, DeleteGuard::Exists, &kept_for_a_week(), None)
        .await
        .expect("a delete from the read before the rename");
    let deleted = store
        .find_deleted(tenant, &id)
        .await
        .expect("find deleted")
        .expect("kept for its window");
    assert_eq!(deleted.summary, renamed, "the secret as it was deleted");
    let recovered = store
        .recover(tenant, &deleted, now(), None)
        .await
        .expect("recoverable");
    assert_eq!(
        (recovered.name.as_str(), recovered.version),
        ("Renamed", renamed.version + 1)
    );
    assert_eq!(
        store.find(tenant, &TagOrId::Id(id)).await.unwrap(),
        Some(recovered)
    );
}
