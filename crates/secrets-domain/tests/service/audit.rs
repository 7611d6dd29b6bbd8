//! The audit records the service writes.

use super::*;

/// Each allowed operation leaves exactly one record naming the secret;
/// refused ones leave none here (the functions record refusals), and
/// reads of metadata none at all.
#[tokio::test]
async fn every_allowed_change_and_resolve_is_recorded_once() {
    let service = service();
    let acme = tenant("acme");
    let created = create_secret(&service, &acme, "db", "v").await;
    service
        .create(&acting(&acme, Operation::Create), create_request("db", "v"))
        .await
        .unwrap_err();
    let by_id = TagOrId::Id(created.id.clone());
    service.get(&acme, &by_tag("db")).await.unwrap();
    service
        .list(&acme, PageRequest::new(0, 10).unwrap())
        .await
        .unwrap();
    for update in [
        UpdateSecret::default(),
        UpdateSecret {
            name: Some(SecretName::parse("n".into()).unwrap()),
            secret: None,
        },
    ] {
        update_secret(&service, &acme, &by_id, update)
            .await
            .unwrap();
    }
    service
        .resolve(&acting(&acme, Operation::Resolve), &by_tag("db"))
        .await
        .unwrap();
    service
        .resolve(&acting(&tenant("other"), Operation::Resolve), &by_id)
        .await
        .unwrap_err();
    let deleter = acting(&acme, Operation::Delete);
    service.delete(&deleter, &by_tag("db"), None).await.unwrap();

    let records = service.store().audit_records();
    let seen: Vec<_> = records
        .iter()
        .map(|r| (r.operation, r.outcome.clone(), r.secret_id.clone()))
        .collect();
    let id = Some(created.id.clone());
    assert_eq!(
        seen,
        [
            (Operation::Create, Outcome::Allowed, id.clone()),
            (Operation::Update, Outcome::Allowed, id.clone()),
            (Operation::Update, Outcome::Allowed, id.clone()),
            (Operation::Resolve, Outcome::Allowed, id.clone()),
            (Operation::Delete, Outcome::Allowed, id),
        ]
    );
    let last = records.last().unwrap();
    assert_eq!(
        (
            last.request_id.as_str(),
            last.tag.as_ref().unwrap().as_str()
        ),
        (deleter.request_id.as_str(), "db")
    );
    assert_eq!(last.subject.as_deref(), Some("tester"));
}

/// A change's record carries the version it left the secret at, the one
/// its next `ETag` names, so one secret's change events order by it: a
/// delete the version it read, a recovery one above.
#[tokio::test]
async fn each_change_records_the_version_it_left() {
    let service = service().with_recovery_window(secrets_domain::deleted::RecoveryWindow::days(7));
    let acme = tenant("acme");
    let mut left = vec![create_secret(&service, &acme, "db", "v1").await.version];
    for update in [new_value("v2"), rename("Primary")] {
        let updated = update_secret(&service, &acme, &by_tag("db"), update).await;
        left.push(updated.unwrap().version);
    }
    let restorer = acting(&acme, Operation::RestoreVersion);
    let restored = service.restore(&restorer, &by_tag("db"), 1, None).await;
    left.push(restored.unwrap().version);
    let deleter = acting(&acme, Operation::Delete);
    service.delete(&deleter, &by_tag("db"), None).await.unwrap();
    left.push(*left.last().unwrap());
    let id = service.store().audit_records()[0]
        .secret_id
        .clone()
        .unwrap();
    let recoverer = acting(&acme, Operation::RecoverDeleted);
    left.push(service.recover(&recoverer, &id).await.unwrap().version);
    assert_eq!(left, [1, 2, 3, 4, 4, 5]);

    let events: Vec<_> = service
        .store()
        .audit_records()
        .iter()
        .filter_map(|record| secrets_domain::change_event::ChangeEvent::of(record).unwrap())
        .map(|event| (event.operation, event.version))
        .collect();
    use secrets_domain::change_event::Change::*;
    let expected = [Created, Updated, Updated, Restored, Deleted, Recovered];
    let expected: Vec<_> = expected
        .into_iter()
        .zip(left.into_iter().map(Some))
        .collect();
    assert_eq!(events, expected);
}
