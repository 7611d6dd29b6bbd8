//! Change events over the whole stack: every committed change publishes
//! exactly one event (from the audit table's stream, through the publish
//! function, onto EventBridge), received here as a consumer receives them:
//! the README's rule for one tenant, into a queue. Requests that change
//! nothing (a replayed create, an empty update, a refused update, a
//! resolve) publish none, and no event carries a value or a name.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use secrets_tests::EventFollower;
use serde_json::{Value, json};

use crate::api::Api;
use crate::resolve::{Invocation, Resolver};

#[tokio::test]
async fn each_committed_change_publishes_exactly_one_event() {
    let (api, resolver) = (Api::from_env(), Resolver::from_env());
    let tenant = api.tenant();
    let follower = EventFollower::follow(&tenant.name).await;
    let create = json!({"tag": "watched", "name": "Watched name", "secret": "first-value"});
    let key = [("Idempotency-Key", "events-e2e-create")];
    let created = api
        .send_as(Method::POST, "", &tenant, &key, Some(create.clone()))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let stale = created.header("etag").unwrap().to_owned();
    // A replay of the create, answered from its key: no change.
    let replayed = api
        .send_as(Method::POST, "", &tenant, &key, Some(create))
        .await;
    assert_eq!(replayed.json()["id"], id.as_str());
    let changes: [(&str, Value); 3] = [
        ("/watched", json!({"secret": "second-value"})),
        ("/watched", json!({"name": "Renamed"})),
        // Names nothing to change: recorded, not an event.
        ("/watched", json!({})),
    ];
    for (path, body) in changes {
        let reply = api.put(&tenant, path, body).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let refused = api
        .send_as(
            Method::PUT,
            "/watched",
            &tenant,
            &[("If-Match", &stale)],
            Some(json!({"secret": "never-written"})),
        )
        .await;
    refused.error(412, "CONFLICT");
    let restored = api
        .send_as(
            Method::POST,
            "/watched/versions/1/restore",
            &tenant,
            &[],
            None,
        )
        .await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    match resolver.value(&tenant.name, "watched").await {
        Invocation::Answer(answer) => assert_eq!(answer["value"], "first-value"),
        failed => panic!("{failed:?}"),
    }
    assert_eq!(api.delete(&tenant, "/watched").await.status, 200);
    let recovered = api.recover(&tenant, &id).await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);

    let received = follower
        .received(6, Duration::from_secs(3), Duration::from_secs(90))
        .await;
    follower.stop().await;
    // At least once: a redelivered event is the same (request, secret).
    let mut distinct = BTreeSet::new();
    let events: Vec<&Value> = received
        .iter()
        .filter(|event| distinct.insert(event["detail"]["requestId"].to_string()))
        .collect();
    let mut seen: Vec<(String, Value, Value)> = events
        .iter()
        .map(|event| {
            let detail = &event["detail"];
            assert_eq!(event["source"], "cortex.secrets", "{event}");
            assert_eq!(event["detail-type"], "Secret Changed", "{event}");
            assert_eq!(
                (&detail["tenant"], &detail["id"], &detail["tag"]),
                (&json!(tenant.name), &json!(id), &json!("watched")),
                "{event}"
            );
            for never in [
                "first-value",
                "second-value",
                "never-written",
                "Renamed",
                "Watched name",
            ] {
                assert!(!event.to_string().contains(never), "{never} in {event}");
            }
            let operation = detail["operation"].as_str().unwrap().to_owned();
            (
                operation,
                detail["version"].clone(),
                detail["valueVersion"].clone(),
            )
        })
        .collect();
    // By version, and a delete (which carries the version it read, here
    // the restore's: nothing raced it) after the change it read.
    seen.sort_by_key(|(operation, version, _)| (version.as_u64(), operation == "deleted"));
    let expected = [
        ("created", 1, json!(1)),
        ("updated", 2, json!(2)),
        ("updated", 3, Value::Null),
        ("restored", 4, json!(3)),
        ("deleted", 4, Value::Null),
        ("recovered", 5, json!(3)),
    ];
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(operation, version, value_version)| {
            (operation.to_owned(), json!(version), value_version)
        })
        .collect();
    assert_eq!(
        seen, expected,
        "one event per committed change, and no other: {received:#?}"
    );
    // The last event's version is the one the recovery's ETag names.
    let etag = recovered.header("etag").unwrap();
    assert_eq!(etag, format!("\"{id}.5\""));
}
