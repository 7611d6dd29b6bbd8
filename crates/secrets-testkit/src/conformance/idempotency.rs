//! Idempotency records: written with their secret or not at all, read back
//! as written, and taking their key until they expire.

use secrets_domain::error::Error;
use secrets_domain::idempotency::{IDEMPOTENCY_WINDOW_SECS, IdempotencyKey, IdempotencyRecord};
use secrets_domain::model::TenantId;
use secrets_domain::ports::{NewSecret, SecretStore};

use super::{insert, new_secret, now, tag, total};

/// `secret` as a create with the key `key` would insert it, at its own time.
fn keyed(mut secret: NewSecret, key: &str) -> NewSecret {
    let digest = IdempotencyKey::parse(key.as_bytes())
        .expect("key")
        .digest("tester");
    let fingerprint = digest.as_bytes()[..32].to_vec();
    secret.idempotency = Some(IdempotencyRecord::new(
        digest,
        fingerprint,
        secret.summary.clone(),
        secret.at,
    ));
    secret
}

fn digest(secret: &NewSecret) -> String {
    secret
        .idempotency
        .as_ref()
        .expect("keyed")
        .key_digest
        .clone()
}

/// The record `store` holds for the key `secret` was created with.
async fn record_of<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
    secret: &NewSecret,
) -> Option<IdempotencyRecord> {
    store
        .idempotency_record(tenant, &digest(secret))
        .await
        .unwrap()
}

pub async fn idempotency_records_are_kept_with_their_secret<S: SecretStore>(
    store: &S,
    tenant: &TenantId,
    other_tenant: &TenantId,
) {
    let first = keyed(new_secret("keyed"), "key-1");
    insert(store, tenant, &first).await;
    assert_eq!(
        record_of(store, tenant, &first).await,
        first.idempotency.clone(),
        "read back as written"
    );
    let unknown = IdempotencyKey::parse(b"never-used")
        .unwrap()
        .digest("tester");
    assert_eq!(
        store.idempotency_record(tenant, &unknown).await.unwrap(),
        None
    );

    // The key is taken, checked before the tag: the same create again, or
    // another one, writes nothing.
    for tag_name in ["keyed", "another"] {
        let error = store
            .insert(tenant, keyed(new_secret(tag_name), "key-1"), None)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::IdempotencyKeyReused), "{error}");
    }
    assert_eq!(store.find(tenant, &tag("another")).await.unwrap(), None);
    assert_eq!(total(store, tenant).await, 1);

    // A create refused for its tag leaves no record of its key.
    let refused = keyed(new_secret("keyed"), "key-2");
    let error = store
        .insert(tenant, refused.clone(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TagTaken { .. }), "{error}");
    assert_eq!(record_of(store, tenant, &refused).await, None);

    // Keys are per tenant.
    let theirs = keyed(new_secret("keyed"), "key-1");
    store
        .insert(other_tenant, theirs.clone(), None)
        .await
        .expect("another tenant's own key");
    assert_eq!(
        record_of(store, other_tenant, &theirs).await,
        theirs.idempotency
    );
    assert_eq!(
        record_of(store, tenant, &first).await,
        first.idempotency,
        "untouched by the other tenant's"
    );
}

/// A record that TTL has not removed yet still takes its key until its
/// time; from then on a create may replace it.
pub async fn a_key_is_taken_until_its_record_expires<S: SecretStore>(store: &S, tenant: &TenantId) {
    let first = keyed(new_secret("early"), "key-1");
    insert(store, tenant, &first).await;
    let expires_at = first.idempotency.as_ref().unwrap().expires_at;

    let mut just_before = keyed(new_secret("late"), "key-1");
    just_before.at = now().plus_secs(IDEMPOTENCY_WINDOW_SECS - 60);
    let error = store.insert(tenant, just_before, None).await.unwrap_err();
    assert!(matches!(error, Error::IdempotencyKeyReused), "{error}");

    let mut after = new_secret("late");
    after.at = expires_at;
    let after = keyed(after, "key-1");
    store
        .insert(tenant, after.clone(), None)
        .await
        .expect("the expired record is replaced");
    assert_eq!(record_of(store, tenant, &after).await, after.idempotency);
    assert_eq!(total(store, tenant).await, 2);
}
