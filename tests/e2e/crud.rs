use serde_json::{Value, json};

use crate::api::Api;

fn is_id(value: &Value) -> bool {
    value.as_str().is_some_and(|id| {
        id.len() == 18
            && id.starts_with("se")
            && id[2..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[tokio::test]
async fn a_secret_lives_through_every_operation() {
    let api = Api::from_env();
    let tenant = api.tenant();

    let created = api
        .post(
            &tenant,
            json!({"name": "My Secret", "secret": "my-secret-password", "tag": "my-secret"}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.header("content-type"), Some("application/json"));
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let secret = created.json();
    assert!(is_id(&secret["id"]), "{secret}");
    assert_eq!(
        secret,
        json!({"id": secret["id"], "name": "My Secret", "tag": "my-secret"})
    );
    assert!(!created.body.contains("my-secret-password"));
    let id = secret["id"].as_str().unwrap().to_owned();

    for path in ["/my-secret".to_owned(), format!("/{id}")] {
        let fetched = api.get(&tenant, &path).await;
        assert_eq!(fetched.status, 200, "{path}");
        assert_eq!(fetched.json(), secret);
    }

    let listed = api.get(&tenant, "").await;
    assert_eq!(
        listed.json(),
        json!({"page": 0, "secrets": [secret], "total": 1, "totalPages": 1})
    );

    let renamed = api
        .put(&tenant, "/my-secret", json!({"name": "Renamed"}))
        .await;
    assert_eq!(
        renamed.json(),
        json!({"id": id, "name": "Renamed", "tag": "my-secret"})
    );
    let revalued = api
        .put(
            &tenant,
            &format!("/{id}"),
            json!({"secret": "new-password"}),
        )
        .await;
    assert_eq!(
        revalued.json(),
        json!({"id": id, "name": "Renamed", "tag": "my-secret"})
    );
    assert!(!revalued.body.contains("new-password"));
    let both = api
        .put(
            &tenant,
            "/my-secret",
            json!({"name": "Both", "secret": "third", "tag": "ignored"}),
        )
        .await;
    assert_eq!(
        both.json(),
        json!({"id": id, "name": "Both", "tag": "my-secret"})
    );

    let deleted = api.delete(&tenant, "/my-secret").await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body, "");
    api.get(&tenant, "/my-secret").await.error(404, "NOT_FOUND");
    api.get(&tenant, &format!("/{id}"))
        .await
        .error(404, "NOT_FOUND");
    api.delete(&tenant, &format!("/{id}"))
        .await
        .error(404, "NOT_FOUND");
    api.put(&tenant, "/my-secret", json!({"name": "x"}))
        .await
        .error(404, "NOT_FOUND");
    assert_eq!(api.total(&tenant).await, 0);

    let again = api.create(&tenant, "my-secret").await;
    assert_ne!(again["id"], json!(id), "a new secret, not the old one");
    assert_eq!(api.total(&tenant).await, 1);
}

#[tokio::test]
async fn ids_and_tags_never_collide() {
    let api = Api::from_env();
    let tenant = api.tenant();
    let secret = api.create(&tenant, "collision-test").await;
    let id = secret["id"].as_str().unwrap();
    let taken = api
        .post(&tenant, json!({"tag": id, "name": "n", "secret": "s"}))
        .await;
    let body = taken.error(400, "BAD_REQUEST");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("shape of a secret id"),
        "{body}"
    );
}

#[tokio::test]
async fn a_taken_tag_is_409_and_counted_once() {
    let api = Api::from_env();
    let tenant = api.tenant();
    api.create(&tenant, "dup").await;
    let reply = api
        .post(
            &tenant,
            json!({"tag": "dup", "name": "Other", "secret": "other-value"}),
        )
        .await;
    let body = reply.error(409, "CONFLICT");
    assert!(!reply.body.contains("other-value"), "{body}");
    assert_eq!(api.total(&tenant).await, 1);
    assert_eq!(api.get(&tenant, "/dup").await.json()["name"], "Secret dup");
}

#[tokio::test]
async fn percent_encoded_keys_resolve() {
    let api = Api::from_env();
    let tenant = api.tenant();
    let secret = api.create(&tenant, "enc-oded").await;
    let reply = api.get(&tenant, "/enc%2Doded").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json(), secret);
}
