//! Create with an `Idempotency-Key`.

use secrets_domain::clock::Timestamp;
use secrets_domain::idempotency::IDEMPOTENCY_WINDOW_SECS;
use secrets_domain::ports::Clock;
use secrets_domain::service::Created;
use secrets_testkit::ManualClock;

use super::*;

/// An allowed create of `tag` (holding "v") by `tenant` with the key `key`.
async fn keyed_create(
    service: &Secrets<MemoryStore, LocalDataKeys>,
    tenant: &TenantId,
    tag: &str,
    key_text: &str,
) -> Created {
    let creator = acting(tenant, Operation::Create);
    let request = create_request(tag, "v");
    service
        .create_with_key(&creator, request, Some(&key(key_text)))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retried_create_with_its_key_answers_as_the_first_did() {
    let service = service();
    let acme = tenant("acme");
    let creator = acting(&acme, Operation::Create);
    let first = service
        .create_with_key(&creator, create_request("db", "v"), Some(&key("k-1")))
        .await
        .unwrap();
    assert!(!first.replayed);
    let again = service
        .create_with_key(&creator, create_request("db", "v"), Some(&key("k-1")))
        .await
        .unwrap();
    assert_eq!(
        (again.secret.clone(), again.replayed),
        (first.secret.clone(), true)
    );
    assert_eq!(service.keys().generated(), 1, "no second data key");

    // Changed after the fact: the replay is still the first answer.
    update_secret(&service, &acme, &by_tag("db"), rename("Later"))
        .await
        .unwrap();
    let later = service
        .create_with_key(&creator, create_request("db", "v"), Some(&key("k-1")))
        .await
        .unwrap();
    assert_eq!(later.secret, first.secret);

    for (tag, value) in [("db", "other value"), ("other", "v")] {
        let error = service
            .create_with_key(&creator, create_request(tag, value), Some(&key("k-1")))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::IdempotencyKeyReused), "{error}");
    }
    // Without the key, or with another, the contract's 409.
    for other in [None, Some(key("k-2"))] {
        let error = service
            .create_with_key(&creator, create_request("db", "v"), other.as_ref())
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), 409);
    }
    // Keys are per tenant.
    let globex = tenant("globex");
    let theirs = keyed_create(&service, &globex, "db", "k-1").await;
    assert!(!theirs.replayed);
    let replays = service
        .store()
        .audit_records()
        .iter()
        .filter(|record| record.replayed)
        .count();
    assert_eq!(replays, 2);
    assert_eq!(total(&service, &acme).await, 1);
}

#[tokio::test]
async fn a_create_that_loses_a_race_to_its_own_key_replays_the_winner() {
    let service = service();
    let acme = tenant("acme");
    service.store().interference().twin_before_next_insert();
    let created = keyed_create(&service, &acme, "db", "raced").await;
    assert!(
        created.replayed,
        "answered from the winner's record, not 409"
    );
    assert_eq!(
        service.get(&acme, &by_tag("db")).await.unwrap(),
        created.secret
    );
}

/// A record counts for 24 hours on the service's clock, whether or not TTL
/// has removed it: a retry a second before the end replays; at the end the
/// key starts afresh, and the old request meets its own tag.
#[tokio::test]
async fn a_key_is_remembered_for_a_day_on_the_services_clock() {
    let start = Timestamp::from_secs(1_795_000_000);
    let clock = ManualClock::at(start);
    let service = service().with_clock(clock.clone());
    let acme = tenant("acme");
    let creator = acting(&acme, Operation::Create);
    let create = || create_request("db", "v");
    let first = service
        .create_with_key(&creator, create(), Some(&key("k")))
        .await
        .unwrap();
    clock.advance_secs(IDEMPOTENCY_WINDOW_SECS - 1);
    let retry = service
        .create_with_key(&creator, create(), Some(&key("k")))
        .await
        .unwrap();
    assert_eq!((retry.secret, retry.replayed), (first.secret.clone(), true));
    clock.advance_secs(1);
    let late = service
        .create_with_key(&creator, create(), Some(&key("k")))
        .await
        .unwrap_err();
    assert_eq!(late.http_status(), 409);
    let renewed = service
        .create_with_key(&creator, create_request("other", "v"), Some(&key("k")))
        .await
        .unwrap();
    assert!(!renewed.replayed);
    let times: Vec<u64> = service
        .store()
        .audit_records()
        .iter()
        .map(|record| record.time_ms)
        .collect();
    let day = IDEMPOTENCY_WINDOW_SECS * 1000;
    assert_eq!(
        times,
        [
            start.millis(),
            start.millis() + day - 1000,
            start.millis() + day
        ],
        "records are stamped by the same clock"
    );
}

/// A clock that moves a second on at each reading, as time does between a
/// create's calls.
struct Ticking(ManualClock);

impl Clock for Ticking {
    fn now(&self) -> Timestamp {
        let now = self.0.now();
        self.0.advance_secs(1);
        now
    }
}

/// A retry that reaches its key's record a second before it expires, while
/// time moves on under it, gets the first answer: the time it writes at is
/// never earlier than the time it found the record at, so it is never
/// refused (422) for a key it found live, nor for one it found expired.
#[tokio::test]
async fn a_retry_at_the_edge_of_expiry_is_never_refused() {
    let clock = ManualClock::at(Timestamp::from_secs(1_795_000_000));
    let service = service().with_clock(Ticking(clock.clone()));
    let acme = tenant("acme");
    let first = keyed_create(&service, &acme, "db", "k").await;
    let expires_at = service
        .store()
        .idempotency_record(&acme, &key("k").digest("tester"))
        .await
        .unwrap()
        .expect("the record")
        .expires_at;
    // The create's next reading of the clock is a second before expiry.
    clock.advance_secs(expires_at.secs() - 1 - clock.now().secs());
    let creator = acting(&acme, Operation::Create);
    let retry = service
        .create_with_key(&creator, create_request("db", "v"), Some(&key("k")))
        .await
        .expect("the first answer, not a 422");
    assert_eq!((retry.secret, retry.replayed), (first.secret, true));
}

#[tokio::test]
async fn a_colleague_with_the_same_key_learns_nothing_of_the_value() {
    let service = service();
    let acme = tenant("acme");
    let first = keyed_create(&service, &acme, "db", "shared-key").await;
    let colleague = Actor {
        subject: "colleague".into(),
        ..acting(&acme, Operation::Create)
    };
    // The right guess and a wrong one get the same answer: the tag is
    // taken. With the keys shared across subjects, the right guess would
    // replay (200) and the wrong one be a 422.
    for guess in ["v", "wrong"] {
        let error = service
            .create_with_key(
                &colleague,
                create_request("db", guess),
                Some(&key("shared-key")),
            )
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), 409, "{guess}");
    }
    // The creator's own retry still replays.
    let again = keyed_create(&service, &acme, "db", "shared-key").await;
    assert_eq!((again.secret, again.replayed), (first.secret, true));
}
