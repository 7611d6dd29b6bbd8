use super::*;

/// `acme`'s secret "db" with two values: `first` (version 1), then
/// `second` (version 2); its summaries after each.
async fn two_values(
    service: &Secrets<MemoryStore, LocalDataKeys>,
    acme: &TenantId,
    first: &str,
    second: &str,
) -> (SecretSummary, SecretSummary) {
    let created = create_secret(service, acme, "db", first).await;
    let updated = update_secret(service, acme, &by_tag("db"), new_value(second))
        .await
        .unwrap();
    (created, updated)
}

/// A restore makes an earlier value current again as the next version,
/// which names what it restored; resolve then opens it as that version.
#[tokio::test]
async fn a_restore_makes_an_earlier_value_current_as_a_new_version() {
    let service = service();
    let acme = tenant("acme");
    let (created, _) = two_values(&service, &acme, "good password", "bad rotation").await;
    let restorer = acting(&acme, Operation::RestoreVersion);
    let restored = service
        .restore(&restorer, &by_tag("db"), 1, None)
        .await
        .unwrap();
    assert_eq!(restored.value_version, Some(3));
    assert_eq!(restored.version, created.version + 2);
    let resolver = acting(&acme, Operation::Resolve);
    let now = service.resolve(&resolver, &by_tag("db")).await.unwrap();
    assert_eq!(now.value.as_slice(), b"good password");
    let sealed = stored(&service, &acme, &created.id).await;
    assert_eq!(sealed.scheme, CipherScheme::V2 { value_version: 3 });
    let versions = service.versions(&acme, &by_tag("db")).await.unwrap();
    let shown: Vec<_> = versions
        .versions
        .iter()
        .map(|v| (v.number, v.restored_from))
        .collect();
    assert_eq!(shown, [(3, Some(1)), (2, None), (1, None)]);
    // Each value opens as its own version, the restored one included.
    for (number, value) in [
        (1, "good password"),
        (2, "bad rotation"),
        (3, "good password"),
    ] {
        let opened = service
            .resolve_version(&resolver, &by_tag("db"), number)
            .await
            .unwrap();
        assert_eq!(opened.value.as_slice(), value.as_bytes(), "{number}");
    }
    let audited = service.store().audit_records();
    assert_eq!(
        audited.last().map(|r| r.operation),
        Some(Operation::Resolve)
    );
    let restore = audited
        .iter()
        .find(|r| r.operation == Operation::RestoreVersion)
        .expect("the restore's record");
    assert_eq!(restore.outcome, Outcome::Allowed);
    assert_eq!(
        (restore.restored_from, restore.value_version),
        (Some(1), Some(3))
    );
}

#[tokio::test]
async fn only_a_kept_earlier_version_is_restored() {
    let service = service();
    let acme = tenant("acme");
    two_values(&service, &acme, "one", "two").await;
    let restorer = acting(&acme, Operation::RestoreVersion);
    for (from, status) in [(2, 409), (3, 404), (7, 404)] {
        let error = service
            .restore(&restorer, &by_tag("db"), from, None)
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), status, "{from}");
    }
    let error = service
        .restore(
            &acting(&tenant("globex"), Operation::RestoreVersion),
            &by_tag("db"),
            1,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 404, "another tenant's");
}

#[tokio::test]
async fn a_restore_with_a_stale_if_match_changes_nothing() {
    let service = service();
    let acme = tenant("acme");
    let (created, updated) = two_values(&service, &acme, "one", "two").await;
    let restorer = acting(&acme, Operation::RestoreVersion);
    let stale = IfMatch::parse(created.etag().as_bytes());
    let error = service
        .restore(&restorer, &by_tag("db"), 1, Some(&stale))
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 412);
    let fresh = IfMatch::parse(updated.etag().as_bytes());
    service
        .restore(&restorer, &by_tag("db"), 1, Some(&fresh))
        .await
        .unwrap();
}

/// The resealing refuses a value that is not sealed as the version it is
/// asked to reseal (a newer ciphertext moved into an older one's place).
#[tokio::test]
async fn a_value_relabelled_as_another_version_is_not_resealed() {
    let service = service();
    let acme = tenant("acme");
    let (created, _) = two_values(&service, &acme, "one", "two").await;
    let second = stored(&service, &acme, &created.id).await;
    service
        .store()
        .put_back_version(&acme, &created.id, 1, second);
    let error = service
        .restore(
            &acting(&acme, Operation::RestoreVersion),
            &by_tag("db"),
            1,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 500);
    let now = service
        .resolve(&acting(&acme, Operation::Resolve), &by_tag("db"))
        .await
        .unwrap();
    assert_eq!(now.value.as_slice(), b"two", "nothing changed");
}

/// Another writer's value landing between a restore's read and its write:
/// without `If-Match` the restore reads again and reseals for the version
/// after theirs; with one, it is a 412 and theirs stays current.
#[tokio::test]
async fn a_value_written_meanwhile_moves_the_restore_to_the_next_version() {
    let service = service();
    let acme = tenant("acme");
    let (created, updated) = two_values(&service, &acme, "good", "bad").await;
    let value = SecretValue::parse(Zeroizing::new("theirs".to_owned())).unwrap();
    let theirs = |version| {
        let context = EncryptionContext::new(&acme, &created.id);
        secrets_domain::crypto::seal(service.keys(), context, version, &value)
    };
    let restorer = acting(&acme, Operation::RestoreVersion);
    let read = IfMatch::parse(updated.etag().as_bytes());
    let interference = service.store().interference();
    interference.new_value_before_next_write(theirs(3).await.unwrap());
    let error = service
        .restore(&restorer, &by_tag("db"), 1, Some(&read))
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 412);

    interference.new_value_before_next_write(theirs(4).await.unwrap());
    let restored = service
        .restore(&restorer, &by_tag("db"), 1, None)
        .await
        .unwrap();
    assert_eq!(restored.value_version, Some(5));
    let resolver = acting(&acme, Operation::Resolve);
    let now = service.resolve(&resolver, &by_tag("db")).await.unwrap();
    assert_eq!(now.value.as_slice(), b"good");
    let versions = service.versions(&acme, &by_tag("db")).await.unwrap();
    let shown: Vec<_> = versions
        .versions
        .iter()
        .map(|v| (v.number, v.restored_from))
        .collect();
    assert_eq!(
        shown,
        [(5, Some(1)), (4, None), (3, None), (2, None), (1, None)]
    );
}
