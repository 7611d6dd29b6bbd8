//! ETag and If-Match over HTTP: optimistic concurrency for update and delete.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, Reply, Tenant};
use crate::resolve::observe;

/// Creates the secret `tag` named "One"; its answer and its id.
async fn create_one(api: &Api, tenant: &Tenant, tag: &str) -> (Reply, String) {
    let created = api
        .post(tenant, json!({"tag": tag, "name": "One", "secret": "v"}))
        .await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    (created, id)
}

/// `method` on /guarded with `If-Match: if_match`.
async fn guarded(
    api: &Api,
    tenant: &Tenant,
    method: Method,
    if_match: &str,
    body: Option<Value>,
) -> Reply {
    api.send_as(method, "/guarded", tenant, &[("If-Match", if_match)], body)
        .await
}

#[tokio::test]
async fn if_match_guards_updates_and_deletes_and_etags_follow_versions() {
    let api = Api::from_env();
    let tenant = api.tenant();
    let (created, id) = create_one(&api, &tenant, "guarded").await;
    let first = created.header("etag").expect("ETag on create").to_owned();
    assert_eq!(first, format!("\"{id}.1\""));
    let read = api.get(&tenant, "/guarded").await;
    assert_eq!(read.header("etag"), Some(first.as_str()));
    assert_eq!(
        api.get(&tenant, &format!("/{id}")).await.header("etag"),
        Some(first.as_str()),
        "by id as by tag"
    );

    let renamed = guarded(
        &api,
        &tenant,
        Method::PUT,
        &first,
        Some(json!({"name": "Two"})),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let second = renamed.header("etag").unwrap().to_owned();
    assert_eq!(second, format!("\"{id}.2\""));

    // A writer still holding the first version loses, and changes nothing.
    let before = observe(&api, &tenant, "guarded").await;
    assert_eq!(before.etag.as_deref(), Some(second.as_str()));
    let stale = guarded(
        &api,
        &tenant,
        Method::PUT,
        &first,
        Some(json!({"name": "Lost", "secret": "lost"})),
    )
    .await;
    stale.error(412, "CONFLICT");
    let after = observe(&api, &tenant, "guarded").await;
    assert_eq!(after.body["name"], "Two");
    assert_eq!(after, before);
    let garbled = guarded(
        &api,
        &tenant,
        Method::PUT,
        "not-an-etag",
        Some(json!({"name": "x"})),
    )
    .await;
    let message = garbled.error(412, "CONFLICT")["message"].to_string();
    assert!(message.contains("entity tags"), "{message}");
    assert_eq!(observe(&api, &tenant, "guarded").await, before);
    let listed = format!("\"{id}.9\", {second}");
    assert_eq!(
        guarded(
            &api,
            &tenant,
            Method::PUT,
            &listed,
            Some(json!({"name": "Three"}))
        )
        .await
        .status,
        200
    );

    let before = observe(&api, &tenant, "guarded").await;
    guarded(&api, &tenant, Method::DELETE, &second, None)
        .await
        .error(412, "CONFLICT");
    assert_eq!(observe(&api, &tenant, "guarded").await, before);
    assert_eq!(
        guarded(&api, &tenant, Method::DELETE, "*", None)
            .await
            .status,
        200
    );
    // Gone: 404 comes before any precondition.
    guarded(&api, &tenant, Method::DELETE, "*", None)
        .await
        .error(404, "NOT_FOUND");
    guarded(&api, &tenant, Method::PUT, "*", Some(json!({"name": "x"})))
        .await
        .error(404, "NOT_FOUND");
}

#[tokio::test]
async fn without_if_match_every_answer_is_the_contracts() {
    let api = Api::from_env();
    let tenant = api.tenant();
    let (created, id) = create_one(&api, &tenant, "plain").await;
    assert_eq!(
        created.body,
        format!(r#"{{"id":"{id}","name":"One","tag":"plain"}}"#)
    );
    let updated = api.put(&tenant, "/plain", json!({"secret": "w"})).await;
    assert_eq!(
        updated.body,
        format!(r#"{{"id":"{id}","name":"One","tag":"plain"}}"#)
    );
    assert_eq!(updated.header("etag"), Some(format!("\"{id}.2\"").as_str()));
    assert!(updated.header("idempotent-replayed").is_none());
    let deleted = api.delete(&tenant, "/plain").await;
    assert_eq!((deleted.status, deleted.body.as_str()), (200, ""));
}
