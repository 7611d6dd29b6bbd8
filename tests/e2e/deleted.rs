//! Deleted secrets over HTTP: a delete answers as the contract says and
//! the secret is gone from every contract route at once, yet it is listed
//! under `/api/v1/deleted-secrets` for its recovery window and comes back
//! whole with `POST /api/v1/deleted-secrets/{id}/restore`.

use serde_json::json;

use crate::api::Api;
use crate::resolve::{Invocation, Resolver};

#[tokio::test]
async fn a_deleted_secret_is_listed_and_recovered_whole() {
    let (api, resolver) = (Api::from_env(), Resolver::from_env());
    let tenant = api.tenant();
    let id = api.create(&tenant, "oops").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = api.put(&tenant, "/oops", json!({"secret": "second"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let deleted = api.delete(&tenant, "/oops").await;
    assert_eq!((deleted.status, deleted.body.as_str()), (200, ""));
    // As the contract says: gone at once, total down, the tag free.
    api.get(&tenant, "/oops").await.error(404, "NOT_FOUND");
    api.get(&tenant, &format!("/{id}"))
        .await
        .error(404, "NOT_FOUND");
    assert_eq!(api.total(&tenant).await, 0);

    let page = api.deleted(&tenant, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let page = page.json();
    assert_eq!(page["secrets"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["secrets"][0]["id"], id.as_str());
    assert_eq!(page["secrets"][0]["tag"], "oops");
    assert!(page["secrets"][0]["purgeAt"].is_string());
    assert_eq!(page["next"], serde_json::Value::Null);
    for value in ["s3cr3t", "second"] {
        assert!(!page.to_string().contains(value), "never a value");
    }

    let recovered = api.recover(&tenant, &id).await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    assert_eq!(recovered.json()["id"], id.as_str());
    assert!(recovered.header("etag").is_some());
    assert_eq!(api.get(&tenant, "/oops").await.status, 200);
    assert_eq!(api.total(&tenant).await, 1);
    let versions = api.get(&tenant, "/oops/versions").await.json();
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(2));
    match resolver.value(&tenant.name, "oops").await {
        Invocation::Answer(answer) => assert_eq!(answer["value"], "second"),
        failed => panic!("{failed:?}"),
    }
    let page = api.deleted(&tenant, "").await.json();
    assert_eq!(page["secrets"], json!([]));
    api.recover(&tenant, &id).await.error(404, "NOT_FOUND");
}

#[tokio::test]
async fn a_recovery_is_refused_when_its_tag_was_taken_or_it_is_not_ours() {
    let api = Api::from_env();
    let (tenant, stranger) = (api.tenant(), api.tenant());
    let id = api.create(&tenant, "taken").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.delete(&tenant, "/taken").await.status, 200);
    api.recover(&stranger, &id).await.error(404, "NOT_FOUND");
    assert_eq!(
        api.deleted(&stranger, "").await.json()["secrets"],
        json!([])
    );
    api.create(&tenant, "taken").await;
    api.recover(&tenant, &id).await.error(409, "CONFLICT");
    for bad in ["?pageSize=0", "?after=nope", "?pageSize=251"] {
        api.deleted(&tenant, bad).await.error(400, "BAD_REQUEST");
    }
    api.recover(&tenant, "not-an-id")
        .await
        .error(404, "NOT_FOUND");
}
