//! A round trip with one given token, safe against a live deployment: it
//! touches only secrets it creates (unique tags) and deletes them again.
//! `make smoke API_URL=... TOKEN=...` runs these; `make test` too, locally.

use reqwest::Method;
use secrets_tests::unique;
use serde_json::json;

use crate::api::Api;

#[tokio::test]
async fn smoke_a_secret_round_trip() {
    let api = Api::from_env();
    let caller = api.given_token();
    let tag = unique("smoke");
    let created = api
        .post(
            &caller,
            json!({"tag": tag, "name": "Smoke test", "secret": "smoke-value"}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let secret = created.json();
    let id = secret["id"].as_str().unwrap().to_owned();

    for path in [format!("/{tag}"), format!("/{id}")] {
        assert_eq!(api.get(&caller, &path).await.json(), secret);
    }

    let first = api.get(&caller, "?page=0&pageSize=1000").await.json();
    let total = first["total"].as_u64().unwrap();
    let pages = first["totalPages"].as_u64().unwrap();
    assert!(total >= 1 && pages == total.div_ceil(1000), "{first}");
    let mut found = false;
    for page in 0..pages {
        let listed = api
            .get(&caller, &format!("?page={page}&pageSize=1000"))
            .await
            .json();
        found |= listed["secrets"].as_array().unwrap().contains(&secret);
    }
    assert!(found, "the new secret is on one of the pages");

    let renamed = api
        .put(
            &caller,
            &format!("/{tag}"),
            json!({"name": "Smoke renamed", "secret": "v2"}),
        )
        .await;
    assert_eq!(renamed.json()["name"], "Smoke renamed");
    api.post(&caller, json!({"tag": tag, "name": "again", "secret": "x"}))
        .await
        .error(409, "CONFLICT");

    let deleted = api.delete(&caller, &format!("/{id}")).await;
    assert_eq!((deleted.status, deleted.body.as_str()), (200, ""));
    api.get(&caller, &format!("/{tag}"))
        .await
        .error(404, "NOT_FOUND");
}

#[tokio::test]
async fn smoke_errors_keep_the_contract_shape() {
    let api = Api::from_env();
    let caller = api.given_token();
    let anonymous = api.send(Method::GET, "", None, None).await;
    anonymous.error(401, "UNCATEGORIZED");
    assert!(
        anonymous
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer"))
    );
    let tampered = format!("{}x", caller.token);
    api.send(Method::GET, "", Some(&tampered), None)
        .await
        .error(401, "UNCATEGORIZED");
    api.post(
        &caller,
        json!({"tag": "bad tag", "name": "n", "secret": "s"}),
    )
    .await
    .error(400, "BAD_REQUEST");
    api.get(&caller, "?pageSize=0")
        .await
        .error(400, "BAD_REQUEST");
    api.get(&caller, &format!("/{}", unique("missing")))
        .await
        .error(404, "NOT_FOUND");
}
