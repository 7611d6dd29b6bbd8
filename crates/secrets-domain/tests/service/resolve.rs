//! Resolve.

use secrets_domain::crypto::seal;

use super::*;

#[tokio::test]
async fn resolve_opens_the_current_value_for_its_own_tenant_only() {
    let service = service();
    let (acme, other) = (tenant("acme"), tenant("other"));
    let created = create_secret(&service, &acme, "db", "first").await;
    let by_id = TagOrId::Id(created.id.clone());
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
    let update = new_value("second");
    update_secret(&service, &acme, &by_id, update)
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

#[tokio::test]
async fn a_resolve_that_cannot_be_recorded_returns_no_value() {
    let service = service();
    let acme = tenant("acme");
    create_secret(&service, &acme, "db", "v").await;
    service.store().interference().refuse_audit_records();
    let error = service
        .resolve(&acting(&acme, Operation::Resolve), &by_tag("db"))
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 503);
}

/// The status `acme`'s resolve of `db` is refused with.
async fn refused_status(service: &Secrets<MemoryStore, LocalDataKeys>, acme: &TenantId) -> u16 {
    service
        .resolve(&acting(acme, Operation::Resolve), &by_tag("db"))
        .await
        .unwrap_err()
        .http_status()
}

async fn stored_value(
    service: &Secrets<MemoryStore, LocalDataKeys>,
    acme: &TenantId,
    id: &SecretId,
) -> SealedValue {
    service
        .store()
        .sealed_value(acme, id)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn an_older_value_put_back_is_never_resolved() {
    let service = service();
    let acme = tenant("acme");
    let created = create_secret(&service, &acme, "db", "old password").await;
    let first = stored_value(&service, &acme, &created.id).await;
    update_secret(&service, &acme, &by_tag("db"), new_value("new password"))
        .await
        .unwrap();
    // A partial restore, or anyone able to write the table, puts the first
    // ciphertext back: it would still decrypt under the secret's context
    // had the version not been bound into it.
    let db = Tag::parse("db").unwrap();
    service.store().put_back_value(&acme, &db, first.clone());
    assert_eq!(refused_status(&service, &acme).await, 500);
    // Relabelled as the current version, it fails authentication instead.
    let relabelled = SealedValue {
        scheme: CipherScheme::V2 { value_version: 2 },
        ..first
    };
    service.store().put_back_value(&acme, &db, relabelled);
    assert_eq!(refused_status(&service, &acme).await, 500);
}

/// With one version kept, an update landing between a resolve's reads of
/// the record and of the value deletes the value the record named: the
/// resolve reads the record again and answers the new value, not a 404.
#[tokio::test]
async fn a_value_retired_between_the_reads_is_read_again() {
    let service = Secrets::new(
        MemoryStore::default().with_versions_kept(1),
        LocalDataKeys::default(),
    );
    let acme = tenant("acme");
    let created = create_secret(&service, &acme, "db", "first").await;
    let context = EncryptionContext::new(&acme, &created.id);
    let second = SecretValue::parse(Zeroizing::new("second".into())).unwrap();
    let sealed = seal(service.keys(), context, 2, &second).await.unwrap();
    service
        .store()
        .interference()
        .new_value_before_next_value_read(sealed);
    let resolved = service
        .resolve(&acting(&acme, Operation::Resolve), &by_tag("db"))
        .await
        .unwrap();
    assert_eq!(resolved.value.as_slice(), b"second");
    assert_eq!(resolved.summary.value_version, Some(2));
}

/// An earlier value opens by its version, and only as that version: a
/// newer ciphertext moved into its place, or relabelled as it, does not.
#[tokio::test]
async fn an_earlier_version_opens_only_as_itself() {
    let service = service();
    let acme = tenant("acme");
    let created = create_secret(&service, &acme, "db", "old password").await;
    update_secret(&service, &acme, &by_tag("db"), new_value("new password"))
        .await
        .unwrap();
    let actor = acting(&acme, Operation::Resolve);
    let version = async |number| service.resolve_version(&actor, &by_tag("db"), number).await;
    assert_eq!(version(1).await.unwrap().value.as_slice(), b"old password");
    assert_eq!(version(2).await.unwrap().value.as_slice(), b"new password");
    assert_eq!(version(3).await.unwrap_err().http_status(), 404);

    let second = stored_value(&service, &acme, &created.id).await;
    let store = service.store();
    store.put_back_version(&acme, &created.id, 1, second.clone());
    assert_eq!(version(1).await.unwrap_err().http_status(), 500);
    let relabelled = SealedValue {
        scheme: CipherScheme::V2 { value_version: 1 },
        ..second
    };
    store.put_back_version(&acme, &created.id, 1, relabelled);
    assert_eq!(version(1).await.unwrap_err().http_status(), 500);
    assert_eq!(version(2).await.unwrap().value.as_slice(), b"new password");
}

#[tokio::test]
async fn a_value_newer_than_its_record_is_read_again_not_opened() {
    let service = service();
    let acme = tenant("acme");
    let created = create_secret(&service, &acme, "db", "v").await;
    let mut sealed = stored_value(&service, &acme, &created.id).await;
    // What a resolve sees when an update lands between its two reads; here
    // it never settles, so the resolve gives up as for any contention.
    sealed.scheme = CipherScheme::V2 { value_version: 2 };
    service
        .store()
        .put_back_value(&acme, &Tag::parse("db").unwrap(), sealed);
    assert_eq!(refused_status(&service, &acme).await, 503);
}

#[tokio::test]
async fn each_new_value_gets_the_next_value_version_and_a_rename_none() {
    let service = service();
    let acme = tenant("acme");
    let created = create_secret(&service, &acme, "db", "v1").await;
    assert_eq!(created.value_version, Some(1));
    let renamed = update_secret(&service, &acme, &by_tag("db"), rename("Renamed"))
        .await
        .unwrap();
    assert_eq!((renamed.version, renamed.value_version), (2, Some(1)));
    let changed = update_secret(&service, &acme, &by_tag("db"), new_value("v2"))
        .await
        .unwrap();
    assert_eq!((changed.version, changed.value_version), (3, Some(2)));
    let resolved = service
        .resolve(&acting(&acme, Operation::Resolve), &by_tag("db"))
        .await
        .unwrap();
    assert_eq!(&resolved.value[..], b"v2");
}
