//! The behaviour every `SecretStore` must have, as one suite run against the
//! in-memory store (unit tests) and the DynamoDB store (adapter tests).

use crate::crypto::SealedValue;
use crate::domain::{
    FIRST_VERSION, SecretId, SecretKey, SecretName, SecretSummary, Tag, TenantId, random_hex,
};
use crate::error::Error;
use crate::page::PageRequest;
use crate::store::{DeleteGuard, NewSecret, SecretChanges, SecretStore};

/// Runs every check, each in fresh tenants from `tenant`.
pub async fn run_all<S: SecretStore>(store: &S, tenant: impl Fn() -> TenantId) {
    inserted_secrets_are_found_by_tag_and_by_id(store, &tenant()).await;
    a_taken_tag_is_refused_and_not_counted(store, &tenant()).await;
    pages_walk_every_secret_once_in_tag_order(store, &tenant()).await;
    updates_change_only_what_they_name(store, &tenant()).await;
    an_update_never_resurrects_a_deleted_secret(store, &tenant()).await;
    deletes_uncount_and_free_the_tag(store, &tenant()).await;
    versions_advance_and_stale_writes_are_refused(store, &tenant()).await;
    tenants_are_isolated(store, &tenant(), &tenant()).await;
}

pub fn random_tenant() -> TenantId {
    TenantId::parse(&format!("tenant-{}", random_hex::<6>().expect("random"))).expect("tenant")
}

pub fn new_secret(tag: &str) -> NewSecret {
    NewSecret {
        summary: SecretSummary {
            id: SecretId::generate().expect("id"),
            name: SecretName::parse(format!("Name of {tag}")).expect("name"),
            tag: Tag::parse(tag).expect("tag"),
            version: FIRST_VERSION,
        },
        sealed: sealed(tag.len()),
        idempotency: None,
    }
}

fn sealed(seed: usize) -> SealedValue {
    SealedValue {
        ciphertext: vec![seed as u8; 48],
        nonce: [7; 12],
        wrapped_key: vec![9; 64],
        wrapping_key_id: "arn:aws:kms:us-east-1:000000000000:key/test".into(),
    }
}

fn tag(raw: &str) -> SecretKey {
    SecretKey::Tag(Tag::parse(raw).expect("tag"))
}

async fn total<S: SecretStore>(store: &S, tenant: &TenantId) -> u32 {
    store
        .list(tenant, PageRequest::new(0, 1).unwrap())
        .await
        .expect("list")
        .total
}

pub async fn inserted_secrets_are_found_by_tag_and_by_id<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let secret = new_secret("found");
    store
        .insert(tenant, secret.clone(), None)
        .await
        .expect("insert");
    let by_tag = store.find(tenant, &tag("found")).await.expect("find");
    let by_id = store
        .find(tenant, &SecretKey::Id(secret.summary.id.clone()))
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
    let unknown = SecretKey::Id(SecretId::generate().unwrap());
    assert_eq!(store.find(tenant, &unknown).await.expect("find"), None);
    assert_eq!(total(store, tenant).await, 1);
}

pub async fn a_taken_tag_is_refused_and_not_counted<S: SecretStore>(store: &S, tenant: &TenantId) {
    store
        .insert(tenant, new_secret("taken"), None)
        .await
        .expect("insert");
    let error = store
        .insert(tenant, new_secret("taken"), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TagTaken { .. }), "{error}");
    assert_eq!(total(store, tenant).await, 1);
}

pub async fn pages_walk_every_secret_once_in_tag_order<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let mut tags: Vec<String> = (0..23)
        .map(|i| format!("tag-{:02}", (i * 7) % 23))
        .collect();
    for tag in &tags {
        store
            .insert(tenant, new_secret(tag), None)
            .await
            .expect("insert");
    }
    tags.sort();
    for size in [1, 5, 7, 23, 30] {
        let mut seen = Vec::new();
        let pages = 23u32.div_ceil(size);
        for page in 0..pages {
            let result = store
                .list(tenant, PageRequest::new(page, size).unwrap())
                .await
                .expect("list");
            assert_eq!(
                (result.page, result.total, result.total_pages),
                (page, 23, pages)
            );
            seen.extend(result.secrets.into_iter().map(|s| s.tag.to_string()));
        }
        assert_eq!(seen, tags, "page size {size}");
        let past = store
            .list(tenant, PageRequest::new(pages, size).unwrap())
            .await
            .expect("list");
        assert!(past.secrets.is_empty());
        assert_eq!(past.total, 23);
    }
}

pub async fn updates_change_only_what_they_name<S: SecretStore>(store: &S, tenant: &TenantId) {
    let secret = new_secret("updated");
    store
        .insert(tenant, secret.clone(), None)
        .await
        .expect("insert");
    let renamed = SecretName::parse("Renamed".into()).unwrap();
    let changes = SecretChanges {
        name: Some(renamed.clone()),
        sealed: None,
    };
    let after = store
        .update(tenant, &secret.summary, changes, None)
        .await
        .expect("update");
    assert_eq!(after.name, renamed);
    for key in [tag("updated"), SecretKey::Id(secret.summary.id.clone())] {
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

    let replacement = sealed(99);
    let changes = SecretChanges {
        name: None,
        sealed: Some(replacement.clone()),
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
    store
        .insert(tenant, secret.clone(), None)
        .await
        .expect("insert");
    store
        .delete(tenant, &secret.summary, DeleteGuard::Exists, None)
        .await
        .expect("delete");
    let changes = SecretChanges {
        name: Some(SecretName::parse("Back?".into()).unwrap()),
        sealed: Some(sealed(1)),
    };
    let error = store
        .update(tenant, &secret.summary, changes, None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotFound), "{error}");
    assert_eq!(
        store
            .find(tenant, &SecretKey::Id(secret.summary.id.clone()))
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
    store
        .insert(tenant, successor.clone(), None)
        .await
        .expect("insert");
    let changes = SecretChanges {
        name: Some(SecretName::parse("Hijack".into()).unwrap()),
        sealed: None,
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
    store
        .insert(tenant, first.clone(), None)
        .await
        .expect("insert");
    store
        .insert(tenant, other.clone(), None)
        .await
        .expect("insert");
    store
        .delete(tenant, &first.summary, DeleteGuard::Exists, None)
        .await
        .expect("delete");
    assert_eq!(total(store, tenant).await, 1);
    assert!(matches!(
        store
            .delete(tenant, &first.summary, DeleteGuard::Exists, None)
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
        .delete(tenant, &other.summary, DeleteGuard::Exists, None)
        .await
        .expect("delete");
    assert_eq!(total(store, tenant).await, 1);
}

/// Every change moves the version on, by tag and by id alike; a write that
/// expects a version the secret no longer has changes nothing.
pub async fn versions_advance_and_stale_writes_are_refused<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let secret = new_secret("versioned");
    store
        .insert(tenant, secret.clone(), None)
        .await
        .expect("insert");
    let by_id = SecretKey::Id(secret.summary.id.clone());
    let version_now = |key: SecretKey| async move {
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

/// For a store built with a limit of 3 secrets per tenant.
pub async fn the_tenant_limit_holds<S: SecretStore>(store: &S, tenant: &TenantId) {
    for tag in ["one", "two", "three"] {
        store
            .insert(tenant, new_secret(tag), None)
            .await
            .expect("insert");
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
        .delete(tenant, &two, DeleteGuard::Exists, None)
        .await
        .expect("delete");
    store
        .insert(tenant, new_secret("four"), None)
        .await
        .expect("room again");
    assert_eq!(total(store, tenant).await, 3);
}

pub async fn tenants_are_isolated<S: SecretStore>(
    store: &S,
    owner: &TenantId,
    stranger: &TenantId,
) {
    let secret = new_secret("private");
    store
        .insert(owner, secret.clone(), None)
        .await
        .expect("insert");
    for key in [tag("private"), SecretKey::Id(secret.summary.id.clone())] {
        assert_eq!(store.find(stranger, &key).await.unwrap(), None);
    }
    for guard in [DeleteGuard::Exists, DeleteGuard::SameVersion] {
        assert!(matches!(
            store.delete(stranger, &secret.summary, guard, None).await,
            Err(Error::NotFound)
        ));
    }
    let changes = SecretChanges {
        name: Some(SecretName::parse("Mine now".into()).unwrap()),
        sealed: None,
    };
    assert!(matches!(
        store.update(stranger, &secret.summary, changes, None).await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        store
            .sealed_value(stranger, &secret.summary.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(total(store, stranger).await, 0);
    // The stranger may use the same tag for a secret of its own.
    store
        .insert(stranger, new_secret("private"), None)
        .await
        .expect("insert");
    assert_eq!(
        store.find(owner, &tag("private")).await.unwrap(),
        Some(secret.summary)
    );
    assert_eq!(total(store, owner).await, 1);
}
