//! Reads: pages in tag order, and tenants that never see each other.

use secrets_domain::error::Error;
use secrets_domain::model::{SecretName, TagOrId, TenantId};
use secrets_domain::page::PageRequest;
use secrets_domain::ports::{DeleteGuard, SecretChanges, SecretStore};

use super::{insert, new_secret, now, tag, total};

pub async fn pages_walk_every_secret_once_in_tag_order<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
) {
    let mut tags: Vec<String> = (0..23)
        .map(|i| format!("tag-{:02}", (i * 7) % 23))
        .collect();
    for tag in &tags {
        insert(store, tenant, &new_secret(tag)).await;
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

pub async fn tenants_are_isolated<S: SecretStore>(
    store: &S,
    owner: &TenantId,
    stranger: &TenantId,
) {
    let secret = new_secret("private");
    insert(store, owner, &secret).await;
    for key in [tag("private"), TagOrId::Id(secret.summary.id.clone())] {
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
        at: now(),
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
    insert(store, stranger, &new_secret("private")).await;
    assert_eq!(
        store.find(owner, &tag("private")).await.unwrap(),
        Some(secret.summary)
    );
    assert_eq!(total(store, owner).await, 1);
}
