//! Create.

use super::*;

#[tokio::test]
async fn create_seals_the_value_and_returns_the_summary() {
    let service = service();
    let acme = tenant("acme");
    let created = create_secret(&service, &acme, "db", "hunter2").await;
    assert_eq!(created.tag.as_str(), "db");
    assert_eq!(service.get(&acme, &by_tag("db")).await.unwrap(), created);
    assert_eq!(
        service
            .get(&acme, &TagOrId::Id(created.id.clone()))
            .await
            .unwrap(),
        created
    );
    assert_eq!(
        stored_plaintext(&service, &acme, &created.id).await,
        b"hunter2"
    );
    assert_eq!(service.keys().generated(), 1);
}

#[tokio::test]
async fn a_taken_tag_is_a_conflict() {
    let service = service();
    let acme = tenant("acme");
    create_secret(&service, &acme, "db", "1").await;
    let error = service
        .create(&acting(&acme, Operation::Create), create_request("db", "2"))
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 409);
    assert_eq!(total(&service, &acme).await, 1);
}

#[tokio::test]
async fn when_kms_fails_nothing_is_written() {
    let service = service();
    let acme = tenant("acme");
    service.keys().fail();
    let error = service
        .create(&acting(&acme, Operation::Create), create_request("db", "v"))
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 503);
    let page = service
        .list(&acme, PageRequest::new(0, 10).unwrap())
        .await
        .unwrap();
    assert_eq!((page.total, page.secrets.len()), (0, 0));
}
