//! Writes: what an insert, an update and a delete leave behind, and what
//! they refuse.

use secrets_domain::error::Error;
use secrets_domain::model::{SecretId, SecretName, TagOrId, TenantId};
use secrets_domain::ports::{DeleteGuard, SecretChanges, SecretStore};

use super::{AUTHOR, insert, new_secret, now, second_value, tag, total};

pub async fn inserted_secrets_are_found_by_tag_and_by_id<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let secret = new_secret("found");
    insert(store, tenant, &secret).await;
    let by_tag = store.find(tenant, &tag("found")).await.expect("find");
    let by_id = store
        .find(tenant, &TagOrId::Id(secret.summary.id.clone()))
        .await
        .expect("find");
    assert_eq!(by_tag.as_ref(), Some(&secret.summary));
    assert_eq!(by_id.as_ref(), Some(&secret.summary));
    let stored = store
        .sealed_value(tenant, &secret.summary.id)
        .await
        .expect("sealed");
    assert_eq!(stored, Some(secret.sealed));
    assert_eq!(
        store.find(tenant, &tag("absent")).await.expect("find"),
        None
    );
    let unknown = TagOrId::Id(SecretId::generate().unwrap());
    assert_eq!(store.find(tenant, &unknown).await.expect("find"), None);
    assert_eq!(total(store, tenant).await, 1);
}

pub async fn a_taken_tag_is_refused_and_not_counted<S: SecretStore>(store: &S, tenant: &TenantId) {
    insert(store, tenant, &new_secret("taken")).await;
    let error = store
        .insert(tenant, new_secret("taken"), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TagTaken { .. }), "{error}");
    assert_eq!(total(store, tenant).await, 1);
}

pub async fn updates_change_only_what_they_name<S: SecretStore>(store: &S, tenant: &TenantId) {
    let secret = new_secret("updated");
    insert(store, tenant, &secret).await;
    let renamed = SecretName::parse("Renamed".into()).unwrap();
    let changes = SecretChanges {
        name: Some(renamed.clone()),
        sealed: None,
        at: now(),
        author: AUTHOR.into(),
        restored_from: None,
    };
    let after = store
        .update(tenant, &secret.summary, changes, None)
        .await
        .expect("update");
    assert_eq!(after.name, renamed);
    for key in [tag("updated"), TagOrId::Id(secret.summary.id.clone())] {
        assert_eq!(
            store.find(tenant, &key).await.expect("find").unwrap().name,
            renamed
        );
    }
    assert_eq!(
        store
            .sealed_value(tenant, &secret.summary.id)
            .await
            .unwrap(),
        Some(secret.sealed.clone())
    );

    let replacement = second_value(99);
    let changes = SecretChanges {
        name: None,
        sealed: Some(replacement.clone()),
        at: now(),
        author: AUTHOR.into(),
        restored_from: None,
    };
    let after = store
        .update(tenant, &after, changes, None)
        .await
        .expect("update");
    assert_eq!(after.name, renamed);
    assert_eq!(
        store
            .sealed_value(tenant, &secret.summary.id)
            .await
            .unwrap(),
        Some(replacement)
    );
    assert_eq!(total(store, tenant).await, 1);
}

pub async fn an_update_never_resurrects_a_deleted_secret<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let secret = new_secret("gone");
    insert(store, tenant, &secret).await;
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
    let changes = SecretChanges {
        name: Some(SecretName::parse("Back?".into()).unwrap()),
        sealed: Some(second_value(1)),
        at: now(),
        author: AUTHOR.into(),
        restored_from: None,
    };
    let error = store
        .update(tenant, &secret.summary, changes, None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotFound), "{error}");
    assert_eq!(
        store
            .find(tenant, &TagOrId::Id(secret.summary.id.clone()))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .sealed_value(tenant, &secret.summary.id)
            .await
            .unwrap(),
        None
    );

    // The tag now names a different secret: an update aimed at the old one
    // must not touch it.
    let successor = new_secret("gone");
    insert(store, tenant, &successor).await;
    let changes = SecretChanges {
        name: Some(SecretName::parse("Hijack".into()).unwrap()),
        sealed: None,
        at: now(),
        author: AUTHOR.into(),
        restored_from: None,
    };
    assert!(matches!(
        store.update(tenant, &secret.summary, changes, None).await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        store.find(tenant, &tag("gone")).await.unwrap(),
        Some(successor.summary)
    );
    assert_eq!(total(store, tenant).await, 1);
}

pub async fn deletes_uncount_and_free_the_tag<S: SecretStore>(store: &S, tenant: &TenantId) {
    let first = new_secret("freed");
    let other = new_secret("other");
    insert(store, tenant, &first).await;
    insert(store, tenant, &other).await;
    store
        .delete(
            tenant,
            &first.summary,
            DeleteGuard::Exists,
            &super::at_once(),
            None,
        )
        .await
        .expect("delete");
    assert_eq!(total(store, tenant).await, 1);
    assert!(matches!(
        store
            .delete(
                tenant,
                &first.summary,
                DeleteGuard::Exists,
                &super::at_once(),
                None
            )
            .await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        store.sealed_value(tenant, &first.summary.id).await.unwrap(),
        None
    );
    store
        .insert(tenant, new_secret("freed"), None)
        .await
        .expect("tag free again");
    store
        .delete(
            tenant,
            &other.summary,
            DeleteGuard::Exists,
            &super::at_once(),
            None,
        )
        .await
        .expect("delete");
    assert_eq!(total(store, tenant).await, 1);
}

/// For a store built with a limit of 3 secrets per tenant.
pub async fn the_tenant_limit_holds<S: SecretStore>(store: &S, tenant: &TenantId) {
    for tag in ["one", "two", "three"] {
        insert(store, tenant, &new_secret(tag)).await;
    }
    let error = store
        .insert(tenant, new_secret("four"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::QuotaExceeded { limit: 3 }),
        "{error}"
    );
    assert_eq!(store.find(tenant, &tag("four")).await.unwrap(), None);
    assert_eq!(total(store, tenant).await, 3);
    // A taken tag is still reported as such, not as the limit.
    assert!(matches!(
        store.insert(tenant, new_secret("one"), None).await,
        Err(Error::TagTaken { .. })
    ));
    let two = store.find(tenant, &tag("two")).await.unwrap().expect("two");
    store
        .delete(tenant, &two, DeleteGuard::Exists, &super::at_once(), None)
        .await
        .expect("delete");
    store
        .insert(tenant, new_secret("four"), None)
        .await
        .expect("room again");
    assert_eq!(total(store, tenant).await, 3);
}
