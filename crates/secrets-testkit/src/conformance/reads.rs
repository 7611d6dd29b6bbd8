//! Reads: pages in tag order, and tenants that never see each other.

use secrets_domain::error::Error;
use secrets_domain::model::{FIRST_VERSION, SecretId, SecretName, TagOrId, TenantId};
use secrets_domain::page::PageRequest;
use secrets_domain::ports::{DeleteGuard, SecretChanges, SecretStore};

use super::{AUTHOR, insert, new_secret, now, tag, total};

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
            store
                .delete(stranger, &secret.summary, guard, &super::at_once(), None)
                .await,
            Err(Error::NotFound)
        ));
    }
    let changes = SecretChanges {
        name: Some(SecretName::parse("Mine now".into()).unwrap()),
        sealed: None,
        at: now(),
        author: AUTHOR.into(),
        restored_from: None,
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

/// Batch reads answer exactly what single reads would, key by key in the
/// order asked: hits by tag and by id, misses, a key asked twice, another
/// tenant's secret (a miss), and more keys than one DynamoDB call takes.
pub async fn batch_reads_answer_as_single_reads<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
    stranger: &TenantId,
) {
    let mut keys = Vec::new();
    let mut ids = Vec::new();
    for i in 0..60 {
        let secret = new_secret(&format!("batch-{i:02}"));
        insert(store, tenant, &secret).await;
        keys.push(tag(&format!("batch-{i:02}")));
        keys.push(TagOrId::Id(secret.summary.id.clone()));
        ids.push(secret.summary.id);
    }
    let theirs = new_secret("theirs");
    insert(store, stranger, &theirs).await;
    keys.extend([
        tag("batch-00"),
        tag("missing"),
        TagOrId::Id(SecretId::generate().expect("id")),
        tag("theirs"),
        TagOrId::Id(theirs.summary.id.clone()),
    ]);
    ids.extend([ids[0].clone(), theirs.summary.id.clone()]);

    let found = store.find_many(tenant, &keys).await.expect("find_many");
    assert_eq!(found.len(), keys.len());
    for (key, batch) in keys.iter().zip(&found) {
        assert_eq!(
            batch,
            &store.find(tenant, key).await.expect("find"),
            "{key}"
        );
    }
    assert_eq!(found.iter().filter(|f| f.is_some()).count(), 121);

    // Each id at its first value version, and one at a version it never had.
    let mut values: Vec<(SecretId, u64)> =
        ids.iter().map(|id| (id.clone(), FIRST_VERSION)).collect();
    values.push((ids[0].clone(), FIRST_VERSION + 1));
    let sealed = store
        .sealed_versions(tenant, &values)
        .await
        .expect("sealed_versions");
    assert_eq!(sealed.len(), values.len());
    for ((id, value_version), batch) in values.iter().zip(&sealed) {
        let single = store.sealed_version(tenant, id, *value_version).await;
        assert_eq!(batch, &single.expect("sealed_version"), "{id}");
    }
    assert_eq!(sealed.iter().filter(|s| s.is_some()).count(), 61);
    assert!(store.find_many(tenant, &[]).await.expect("none").is_empty());
}
