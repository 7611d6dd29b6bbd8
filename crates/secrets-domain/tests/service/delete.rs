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

/// A rename between a delete's read and its write: with the version read
/// in `If-Match` it is the client's 412 and nothing is deleted; with `*`
/// (any current version) or none, the secret is deleted as it now is.
#[tokio::test]
async fn a_change_meanwhile_stops_only_a_delete_naming_the_version_read() {
    let service = service();
    let acme = tenant("acme");
    let deleter = acting(&acme, Operation::Delete);
    let created = create_secret(&service, &acme, "db", "v").await;
    service
        .store()
        .interference()
        .rename_before_next_write("Theirs");
    let error = service
        .delete(&deleter, &by_tag("db"), Some(&if_match(&created.etag())))
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), 412);
    let renamed = service.get(&acme, &by_tag("db")).await.unwrap();
    assert_eq!(renamed.name.as_str(), "Theirs");

    create_secret(&service, &acme, "other", "v").await;
    for (tag, precondition) in [("db", Some(if_match("*"))), ("other", None)] {
        service
            .store()
            .interference()
            .rename_before_next_write("Again");
        service
            .delete(&deleter, &by_tag(tag), precondition.as_ref())
            .await
            .unwrap();
        let error = service.get(&acme, &by_tag(tag)).await.unwrap_err();
        assert_eq!(error.http_status(), 404, "{tag}");
    }
}
