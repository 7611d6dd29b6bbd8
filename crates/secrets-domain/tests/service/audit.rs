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
