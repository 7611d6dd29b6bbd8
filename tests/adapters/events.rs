//! Change events onto EventBridge, as a consumer following one tenant
//! receives them: a rule on the default bus into a queue.

use std::time::Duration;

use secrets_aws::event_bus::EventBus;
use secrets_aws::metrics::CallCounter;
use secrets_domain::audit::Actor;
use secrets_domain::change_event::ChangeEvent;
use secrets_domain::clock::Timestamp;
use secrets_domain::model::{FIRST_VERSION, SecretId, SecretName, SecretSummary, Tag, TenantId};
use secrets_domain::operation::Operation;
use secrets_domain::ports::ChangeEvents;
use secrets_tests::{EventFollower, granted, sdk_config, unique};

fn events_of(tenant: &TenantId, count: usize) -> Vec<ChangeEvent> {
    (0..count)
        .map(|i| {
            let actor = Actor {
                tenant: tenant.clone(),
                subject: "alice".into(),
                request_id: format!("req-{i:02}"),
                operation: Operation::Create,
            };
            let secret = SecretSummary {
                id: SecretId::generate().unwrap(),
                name: SecretName::parse("a name no event carries".into()).unwrap(),
                tag: Tag::parse(&format!("tag-{i:02}")).unwrap(),
                version: FIRST_VERSION,
                value_version: Some(FIRST_VERSION),
            };
            let at = Timestamp::from_millis(1_795_000_000_000 + i as u64);
            let record = actor.allowed(&secret, at).made_current(FIRST_VERSION);
            ChangeEvent::of(&record).unwrap().unwrap()
        })
        .collect()
}

#[tokio::test]
async fn twelve_events_reach_a_follower_of_their_tenant_in_two_calls() {
    let tenant = TenantId::parse(&unique("events")).unwrap();
    let follower = EventFollower::follow(tenant.as_str()).await;
    let calls = CallCounter::default();
    let config = aws_sdk_eventbridge::config::Builder::from(&sdk_config().await)
        .interceptor(calls.clone())
        .build();
    let bus = EventBus::new(aws_sdk_eventbridge::Client::from_conf(config), "default");
    let events = events_of(&tenant, 12);
    // Another tenant's events never reach this follower.
    let stranger = TenantId::parse(&unique("events")).unwrap();
    assert_eq!(bus.publish(&events_of(&stranger, 1)).await, 1);
    calls.take();

    assert_eq!(bus.publish(&events).await, 12);
    let usage = calls.take();
    assert_eq!(usage.calls["EventBridge.PutEvents"], 2);
    assert_eq!(usage.iam_actions, granted("PublishChangesFunction"));
    let received = follower
        .received(12, Duration::from_secs(2), Duration::from_secs(30))
        .await;
    follower.stop().await;
    let mut requests: Vec<&str> = received
        .iter()
        .map(|event| {
            assert_eq!(event["source"], "cortex.secrets");
            assert_eq!(event["detail-type"], "Secret Changed");
            assert_eq!(event["detail"]["tenant"], tenant.as_str());
            assert!(!event.to_string().contains("a name no event carries"));
            event["detail"]["requestId"].as_str().unwrap()
        })
        .collect();
    requests.sort_unstable();
    let expected: Vec<String> = (0..12).map(|i| format!("req-{i:02}")).collect();
    assert_eq!(requests, expected);
    let first = received
        .iter()
        .find(|event| event["detail"]["requestId"] == "req-00")
        .unwrap();
    assert_eq!(first["detail"], serde_json::to_value(&events[0]).unwrap());
}
