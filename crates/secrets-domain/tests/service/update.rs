//! Update, with and without `If-Match`.

use super::*;

#[tokio::test]
async fn updating_the_name_needs_no_data_key_and_a_new_value_gets_a_new_one() {
    let service = service();
    let acme = tenant("acme");
    let created = create_secret(&service, &acme, "db", "old").await;
    let before = stored(&service, &acme, &created.id).await;

    let renamed = update_secret(
        &service,
        &acme,
        &by_tag("db"),
        UpdateSecret {
            name: Some(SecretName::parse("Renamed".into()).unwrap()),
            secret: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(renamed.name.as_str(), "Renamed");
    assert_eq!(
        (renamed.id.clone(), renamed.tag.clone()),
        (created.id.clone(), created.tag.clone())
    );
    assert_eq!(service.keys().generated(), 1);

    update_secret(
        &service,
        &acme,
        &TagOrId::Id(created.id.clone()),
        new_value("new"),
    )
    .await
    .unwrap();
    let after = stored(&service, &acme, &created.id).await;
    assert_eq!(service.keys().generated(), 2);
    assert_ne!(before.wrapped_key, after.wrapped_key);
    assert_eq!(stored_plaintext(&service, &acme, &created.id).await, b"new");
}

#[tokio::test]
async fn an_empty_update_changes_nothing() {
    let service = service();
    let acme = tenant("acme");
    let created = create_secret(&service, &acme, "db", "v").await;
    let same = update_secret(&service, &acme, &by_tag("db"), UpdateSecret::default())
        .await
        .unwrap();
    assert_eq!(same, created);
}

#[tokio::test]
async fn if_match_guards_updates_and_deletes_by_version() {
    let service = service();
    let acme = tenant("acme");
    let updater = acting(&acme, Operation::Update);
    let created = create_secret(&service, &acme, "db", "v").await;
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
async fn a_value_written_meanwhile_moves_ours_to_the_next_value_version() {
    let service = service();
    let acme = tenant("acme");
    let created = create_secret(&service, &acme, "db", "first").await;
    // Another writer's value (version 2) lands between our read and our
    // write: ours must be sealed again, for version 3.
    let theirs = secrets_domain::crypto::seal(
        service.keys(),
        EncryptionContext::new(&acme, &created.id),
        2,
        &SecretValue::parse(Zeroizing::new("theirs".to_owned())).unwrap(),
    )
    .await
    .unwrap();
    service
        .store()
        .interference()
        .new_value_before_next_write(theirs);
    let ours = update_secret(&service, &acme, &by_tag("db"), new_value("ours"))
        .await
        .unwrap();
    assert_eq!(ours.value_version, Some(3));
    let stored = service
        .store()
        .sealed_value(&acme, &created.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.scheme, CipherScheme::V2 { value_version: 3 });
    let resolved = service
        .resolve(&acting(&acme, Operation::Resolve), &by_tag("db"))
        .await
        .unwrap();
    assert_eq!(&resolved.value[..], b"ours");
}

#[tokio::test]
async fn without_if_match_an_update_builds_on_a_concurrent_change() {
    let service = service();
    let acme = tenant("acme");
    let created = create_secret(&service, &acme, "db", "v").await;
    service
        .store()
        .interference()
        .rename_before_next_write("Theirs");
    let value_only = new_value("mine");
    let updated = update_secret(&service, &acme, &by_tag("db"), value_only)
        .await
        .unwrap();
    // Both changes landed, and the answer describes the result.
    assert_eq!(updated.name.as_str(), "Theirs");
    assert_eq!(updated.version, created.version + 2);
    assert_eq!(service.get(&acme, &by_tag("db")).await.unwrap(), updated);

    // With If-Match, the same interleaving is the client's 412.
    service
        .store()
        .interference()
        .rename_before_next_write("Again");
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
    let again = service.get(&acme, &by_tag("db")).await.unwrap();
    assert_eq!(again.name.as_str(), "Again");

    // `If-Match: *` names any current version: the interleaving is not
    // the client's concern, as without If-Match.
    service
        .store()
        .interference()
        .rename_before_next_write("Third");
    let mine = service
        .update(
            &acting(&acme, Operation::Update),
            &by_tag("db"),
            rename("Mine"),
            Some(&if_match("*")),
        )
        .await
        .unwrap();
    assert_eq!(
        (mine.name.as_str(), mine.version),
        ("Mine", again.version + 2)
    );
}
