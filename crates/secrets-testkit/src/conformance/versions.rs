//! Versions: every change moves a secret on; a write that expects a
//! version the secret no longer has changes nothing.

use secrets_domain::error::Error;
use secrets_domain::model::{FIRST_VERSION, SecretName, TagOrId, TenantId};
use secrets_domain::ports::{DeleteGuard, SecretChanges, SecretStore};

use secrets_domain::crypto::CipherScheme;
use secrets_domain::versions::ValueVersion;

use super::{AUTHOR, insert, new_secret, now, sealed_at, second_value, tag, total};

/// Every change moves the version on, by tag and by id alike; a write that
/// expects a version the secret no longer has changes nothing.
pub async fn versions_advance_and_stale_writes_are_refused<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let secret = new_secret("versioned");
    insert(store, tenant, &secret).await;
    let by_id = TagOrId::Id(secret.summary.id.clone());
    let version_now = |key: TagOrId| async move {
        store
            .find(tenant, &key)
            .await
            .expect("find")
            .expect("exists")
            .version
    };
    assert_eq!(version_now(tag("versioned")).await, FIRST_VERSION);
    let renamed = store
        .update(
            tenant,
            &secret.summary,
            SecretChanges {
                name: Some(SecretName::parse("Second".into()).unwrap()),
                sealed: None,
                at: now(),
                author: AUTHOR.into(),
                restored_from: None,
            },
            None,
        )
        .await
        .expect("update");
    assert_eq!(renamed.version, FIRST_VERSION + 1);
    // A new value alone moves the version seen through the tag too.
    let resealed = store
        .update(
            tenant,
            &renamed,
            SecretChanges {
                name: None,
                sealed: Some(second_value(3)),
                at: now(),
                author: AUTHOR.into(),
                restored_from: None,
            },
            None,
        )
        .await
        .expect("update");
    assert_eq!(resealed.version, FIRST_VERSION + 2);
    assert_eq!(version_now(tag("versioned")).await, resealed.version);
    assert_eq!(version_now(by_id.clone()).await, resealed.version);

    let stale = SecretChanges {
        name: Some(SecretName::parse("Lost update".into()).unwrap()),
        sealed: Some(second_value(4)),
        at: now(),
        author: AUTHOR.into(),
        restored_from: None,
    };
    let error = store
        .update(tenant, &renamed, stale, None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::PreconditionFailed), "{error}");
    let error = store
        .delete(
            tenant,
            &renamed,
            DeleteGuard::SameVersion,
            &super::at_once(),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::PreconditionFailed), "{error}");
    assert_eq!(
        store.find(tenant, &by_id).await.unwrap(),
        Some(resealed.clone())
    );
    assert_eq!(
        store
            .sealed_value(tenant, &secret.summary.id)
            .await
            .unwrap(),
        Some(second_value(3))
    );
    assert_eq!(total(store, tenant).await, 1);

    store
        .delete(
            tenant,
            &resealed,
            DeleteGuard::SameVersion,
            &super::at_once(),
            None,
        )
        .await
        .expect("delete at the current version");
    assert_eq!(store.find(tenant, &by_id).await.unwrap(), None);
    assert_eq!(total(store, tenant).await, 0);
}

/// The value version a secret's record by id names moves with its value,
/// in the same write, and only with its value; the stored value keeps its
/// scheme. A read by tag does not name it (tag items stay small). A secret
/// written before versions were bound reads back without one.
pub async fn value_versions_are_recorded_with_their_value<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let found = |key: TagOrId| async move {
        let summary = store
            .find(tenant, &key)
            .await
            .expect("find")
            .expect("exists");
        let sealed = store
            .sealed_value(tenant, &summary.id)
            .await
            .expect("read value")
            .expect("value");
        (summary.value_version, sealed.scheme)
    };
    let secret = new_secret("value-versioned");
    insert(store, tenant, &secret).await;
    let by_id = TagOrId::Id(secret.summary.id.clone());
    let first = (
        Some(FIRST_VERSION),
        CipherScheme::V2 {
            value_version: FIRST_VERSION,
        },
    );
    assert_eq!(found(by_id.clone()).await, first);
    let (by_tag, _) = found(tag("value-versioned")).await;
    assert_eq!(by_tag, None, "a read by tag names no value version");
    let change = |name: Option<&str>, value_version: Option<u64>| SecretChanges {
        name: name.map(|name| SecretName::parse(name.into()).unwrap()),
        sealed: value_version.map(|value_version| sealed_at(5, CipherScheme::V2 { value_version })),
        at: now(),
        author: AUTHOR.into(),
        restored_from: None,
    };
    let renamed = store
        .update(tenant, &secret.summary, change(Some("Renamed"), None), None)
        .await
        .expect("rename");
    assert_eq!(renamed.value_version, Some(FIRST_VERSION));
    assert_eq!(
        found(by_id.clone()).await,
        first,
        "a rename keeps the value version"
    );
    let second = store
        .update(tenant, &renamed, change(None, Some(2)), None)
        .await
        .expect("new value");
    assert_eq!(second.value_version, Some(2));
    assert_eq!(
        found(by_id).await,
        (Some(2), CipherScheme::V2 { value_version: 2 })
    );

    let mut legacy = new_secret("before-versions");
    legacy.summary.value_version = None;
    legacy.sealed = sealed_at(1, CipherScheme::V1);
    insert(store, tenant, &legacy).await;
    assert_eq!(
        found(tag("before-versions")).await,
        (None, CipherScheme::V1)
    );
}

/// Each new value is kept as its own version, with who wrote it and when,
/// listed newest first; the store keeps the newest `kept` (its setting)
/// and removes older ones with the write that makes them too old; a
/// rename makes no version; a delete removes them all.
pub async fn value_versions_are_kept_up_to_the_retention<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
    kept: u64,
) {
    let secret = new_secret("kept-versions");
    insert(store, tenant, &secret).await;
    let id = &secret.summary.id;
    let numbers = |versions: Vec<ValueVersion>| -> Vec<u64> {
        versions.into_iter().map(|v| v.number).collect()
    };
    let first = store.versions(tenant, id).await.expect("versions");
    assert_eq!(first.len(), 1);
    assert_eq!(
        (
            first[0].number,
            &first[0].created_by,
            first[0].restored_from
        ),
        (FIRST_VERSION, &AUTHOR.to_owned(), None)
    );
    assert_eq!(first[0].created_at.millis(), secret.at.millis());

    let mut current = secret.summary.clone();
    let newest = kept + 2;
    for value_version in 2..=newest {
        let name = (value_version == 3).then(|| SecretName::parse("Renamed".into()).unwrap());
        let changes = SecretChanges {
            name,
            sealed: Some(sealed_at(
                value_version as usize,
                CipherScheme::V2 { value_version },
            )),
            at: now(),
            author: format!("writer-{value_version}"),
            restored_from: None,
        };
        current = store
            .update(tenant, &current, changes, None)
            .await
            .expect("new value");
        // A rename alone makes no version.
        let rename = SecretChanges {
            name: Some(SecretName::parse(format!("Name {value_version}")).unwrap()),
            sealed: None,
            at: now(),
            author: AUTHOR.into(),
            restored_from: None,
        };
        current = store
            .update(tenant, &current, rename, None)
            .await
            .expect("rename");
    }
    let versions = store.versions(tenant, id).await.expect("versions");
    let expected: Vec<u64> = (newest + 1 - kept..=newest).rev().collect();
    assert_eq!(
        numbers(versions.clone()),
        expected,
        "the newest {kept}, newest first"
    );
    assert_eq!(versions[0].created_by, format!("writer-{newest}"));
    for number in 1..=newest {
        let value = store
            .sealed_version(tenant, id, number)
            .await
            .expect("read a version");
        match value {
            Some(value) => {
                assert!(expected.contains(&number), "version {number} is gone");
                assert_eq!(
                    value,
                    sealed_at(
                        number as usize,
                        CipherScheme::V2 {
                            value_version: number
                        }
                    )
                );
            }
            None => assert!(!expected.contains(&number), "version {number} is kept"),
        }
    }
    assert_eq!(
        store
            .sealed_version(tenant, id, newest + 1)
            .await
            .expect("read"),
        None,
        "no version beyond the newest"
    );

    store
        .delete(
            tenant,
            &current,
            DeleteGuard::Exists,
            &super::at_once(),
            None,
        )
        .await
        .expect("delete");
    assert!(
        store
            .versions(tenant, id)
            .await
            .expect("versions")
            .is_empty()
    );
    for number in expected {
        let value = store
            .sealed_version(tenant, id, number)
            .await
            .expect("read");
        assert_eq!(value, None, "version {number} deleted with its secret");
    }
}

/// A delete without `If-Match` is not refused by a change that lands after
/// the secret was read: it removes the secret as it then is, new value
/// version included.
pub async fn a_delete_removes_versions_written_after_its_read<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let secret = new_secret("deleted-while-changing");
    insert(store, tenant, &secret).await;
    let changes = SecretChanges {
        name: None,
        sealed: Some(sealed_at(9, CipherScheme::V2 { value_version: 2 })),
        at: now(),
        author: AUTHOR.into(),
        restored_from: None,
    };
    store
        .update(tenant, &secret.summary, changes, None)
        .await
        .expect("new value");
    // Deleted as read before the new value.
    store
        .delete(
            tenant,
            &secret.summary,
            DeleteGuard::Exists,
            &super::at_once(),
            None,
        )
        .await
        .expect("delete");
    let id = &secret.summary.id;
    assert_eq!(
        store.find(tenant, &TagOrId::Id(id.clone())).await.unwrap(),
        None
    );
    assert!(
        store
            .versions(tenant, id)
            .await
            .expect("versions")
            .is_empty()
    );
    assert_eq!(
        store.sealed_version(tenant, id, 2).await.expect("read"),
        None
    );
    assert_eq!(total(store, tenant).await, 0);
}
