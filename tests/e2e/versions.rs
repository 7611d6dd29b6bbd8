//! Value versions over HTTP: each new value is kept as a version, listed
//! (metadata only) under `/api/v1/secrets/{tagOrId}/versions`, and an
//! earlier one resolves by its number while it is kept.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::Api;
use crate::resolve::{Invocation, Resolver};

fn listed(versions: &Value) -> Vec<(u64, bool)> {
    versions["versions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| {
            (
                v["valueVersion"].as_u64().unwrap(),
                v["current"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_value_is_kept_listed_newest_first_and_resolved_by_its_version() {
    let (api, resolver) = (Api::from_env(), Resolver::from_env());
    let tenant = api.tenant();
    let id = api.create(&tenant, "rotated").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = api
        .put(&tenant, "/rotated", json!({"secret": "second-value"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // A rename makes no version.
    let reply = api
        .put(&tenant, "/rotated", json!({"name": "Renamed"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let etag = reply.header("etag").unwrap().to_owned();

    for key in ["rotated", id.as_str()] {
        let reply = api.get(&tenant, &format!("/{key}/versions")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.header("etag"), Some(etag.as_str()));
        let versions = reply.json();
        assert_eq!(listed(&versions), [(2, true), (1, false)]);
        let authors: Vec<&str> = versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["createdBy"].as_str().unwrap())
            .collect();
        assert!(
            !authors[0].is_empty() && authors[0] == authors[1],
            "{authors:?}"
        );
        assert!(!reply.body.contains("s3cr3t") && !reply.body.contains("second-value"));

        for (number, value) in [(1, "s3cr3t"), (2, "second-value")] {
            let url = format!("{}?valueVersion={number}", resolver.url(&tenant.name, key));
            match resolver.get(&url).await {
                Invocation::Answer(answer) => assert_eq!(answer["value"], value),
                failed => panic!("version {number} of {key}: {failed:?}"),
            }
        }
    }
    let never = format!("{}?valueVersion=3", resolver.url(&tenant.name, "rotated"));
    assert!(matches!(
        resolver.get(&never).await,
        Invocation::Failed { status: 404, .. }
    ));

    // Deleted with its secret.
    assert_eq!(api.delete(&tenant, "/rotated").await.status, 200);
    let reply = api.get(&tenant, &format!("/{id}/versions")).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    let earlier = format!("{}?valueVersion=1", resolver.url(&tenant.name, &id));
    assert!(matches!(
        resolver.get(&earlier).await,
        Invocation::Failed { status: 404, .. }
    ));
}

#[tokio::test]
async fn versions_of_another_tenants_secret_are_not_found() {
    let api = Api::from_env();
    let (owner, stranger) = (api.tenant(), api.tenant());
    let id = api.create(&owner, "theirs").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for key in ["theirs", id.as_str()] {
        let reply = api.get(&stranger, &format!("/{key}/versions")).await;
        assert_eq!(reply.status, 404, "{}", reply.body);
        assert_eq!(reply.json()["type"], "NOT_FOUND");
    }
}

#[tokio::test]
async fn a_restore_makes_an_earlier_value_current_again_as_a_new_version() {
    let (api, resolver) = (Api::from_env(), Resolver::from_env());
    let tenant = api.tenant();
    let id = api.create(&tenant, "rolled-back").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = api
        .put(&tenant, "/rolled-back", json!({"secret": "bad-rotation"}))
        .await;
    let stale = reply.header("etag").unwrap().to_owned();
    let restore = |version: &str| format!("/rolled-back/versions/{version}/restore");

    let reply = api
        .send_as(Method::POST, &restore("1"), &tenant, &[], None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["id"], id.as_str());
    assert!(!reply.body.contains("s3cr3t"), "never a value");
    let versions = api.get(&tenant, "/rolled-back/versions").await.json();
    assert_eq!(listed(&versions), [(3, true), (2, false), (1, false)]);
    assert_eq!(versions["versions"][0]["restoredFrom"], 1);
    match resolver.value(&tenant.name, "rolled-back").await {
        Invocation::Answer(answer) => assert_eq!(answer["value"], "s3cr3t"),
        failed => panic!("{failed:?}"),
    }

    for (version, status) in [("3", 409), ("9", 404), ("x", 404)] {
        let reply = api
            .send_as(Method::POST, &restore(version), &tenant, &[], None)
            .await;
        assert_eq!(reply.status, status, "{version}: {}", reply.body);
    }
    let reply = api
        .send_as(
            Method::POST,
            &restore("2"),
            &tenant,
            &[("If-Match", &stale)],
            None,
        )
        .await;
    assert_eq!(reply.status, 412, "{}", reply.body);
}
