use serde_json::json;

use crate::api::Api;

#[tokio::test]
async fn tenants_never_see_each_other() {
    let api = Api::from_env();
    let (owner, stranger) = (api.tenant(), api.tenant());
    let secret = api.create(&owner, "private").await;
    let id = secret["id"].as_str().unwrap();

    for path in ["/private".to_owned(), format!("/{id}")] {
        api.get(&stranger, &path).await.error(404, "NOT_FOUND");
        api.put(
            &stranger,
            &path,
            json!({"name": "mine", "secret": "overwritten"}),
        )
        .await
        .error(404, "NOT_FOUND");
        api.delete(&stranger, &path).await.error(404, "NOT_FOUND");
    }
    let listed = api.get(&stranger, "").await;
    assert_eq!(
        listed.json(),
        json!({"page": 0, "secrets": [], "total": 0, "totalPages": 0})
    );

    // The stranger can use the same tag for its own secret.
    let own = api.create(&stranger, "private").await;
    assert_ne!(own["id"], secret["id"]);
    assert_eq!(api.get(&owner, "/private").await.json(), secret);
    assert_eq!(api.total(&owner).await, 1);
    assert_eq!(api.total(&stranger).await, 1);
}
