//! Delete, and tenants that never see each other.

use super::*;

#[tokio::test]
async fn delete_frees_the_tag_at_once() {
    let service = service();
    let acme = tenant("acme");
    create_secret(&service, &acme, "db", "v").await;
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
    create_secret(&service, &acme, "db", "again").await;
}

#[tokio::test]
async fn tenants_never_see_each_other() {
    let service = service();
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let created = create_secret(&service, &acme, "db", "v").await;
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
            update_secret(&service, &globex, &key, update)
                .await
                .unwrap_err()
                .http_status(),
            404
        );
    }
    assert_eq!(total(&service, &globex).await, 0);
    assert_eq!(service.get(&acme, &by_tag("db")).await.unwrap(), created);
}
