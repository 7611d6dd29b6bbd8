//! Versions: every change moves a secret on; a write that expects a
//! version the secret no longer has changes nothing.

use secrets_domain::error::Error;
use secrets_domain::model::{FIRST_VERSION, SecretName, TagOrId, TenantId};
use secrets_domain::ports::{DeleteGuard, SecretChanges, SecretStore};

use secrets_domain::crypto::CipherScheme;

use super::{insert, new_secret, now, sealed, sealed_at, tag, total};

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
                sealed: Some(sealed(3)),
                at: now(),
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
        sealed: Some(sealed(4)),
        at: now(),
    };
    let error = store
        .update(tenant, &renamed, stale, None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::PreconditionFailed), "{error}");
    let error = store
        .delete(tenant, &renamed, DeleteGuard::SameVersion, None)
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
        Some(sealed(3))
    );
    assert_eq!(total(store, tenant).await, 1);

    store
        .delete(tenant, &resealed, DeleteGuard::SameVersion, None)
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
