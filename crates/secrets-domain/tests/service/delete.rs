//! Delete, and tenants that never see each other.

use super::*;

#[tokio::test]
async fn delete_frees_the_tag_at_once() {
    let service = service();
    let acme = tenant("acme");
    service
        .create(&acting(&acme, Operation::Create), create_request("db", "v"))
        .await
        .unwrap();
    service
        .delete(&acting(&acme, Operation::Delete), &by_tag("db"), None)
        .await
        .unwrap();
    assert_eq!(
        service
            .delete(&acting(&acme, Operation::Delete), &by_tag("db"), None)
            .await
            .unwrap_err()
            .http_status(),
        404
    );
    service
        .create(
            &acting(&acme, Operation::Create),
            create_request("db", "again"),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn tenants_never_see_each_other() {
    let service = service();
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let created = service
        .create(&acting(&acme, Operation::Create), create_request("db", "v"))
        .await
        .unwrap();
    for key in [by_tag("db"), TagOrId::Id(created.id.clone())] {
        assert_eq!(
            service.get(&globex, &key).await.unwrap_err().http_status(),
            404
        );
        assert_eq!(
            service
                .delete(&acting(&globex, Operation::Delete), &key, None)
                .await
                .unwrap_err()
                .http_status(),
            404
        );
        let update = UpdateSecret {
            name: Some(SecretName::parse("x".into()).unwrap()),
            secret: None,
        };
        assert_eq!(
            service
                .update(&acting(&globex, Operation::Update), &key, update, None)
                .await
                .unwrap_err()
                .http_status(),
            404
        );
    }
    assert_eq!(total(&service, &globex).await, 0);
    assert_eq!(service.get(&acme, &by_tag("db")).await.unwrap(), created);
}
