//! The behaviour every [`SecretStore`] must have, as one suite run against
//! the memory store (this crate's tests) and the DynamoDB store (adapter
//! tests). Each check works in fresh tenants, so stores may be shared.

mod audit;
mod deleted;
mod idempotency;
mod reads;
mod versions;
mod writes;

use std::future::Future;

use secrets_domain::clock::{SystemClock, Timestamp};
use secrets_domain::crypto::{CipherScheme, SealedValue};
use secrets_domain::deleted::{Deletion, RecoveryWindow};
use secrets_domain::model::{
    FIRST_VERSION, SecretId, SecretName, SecretSummary, Tag, TagOrId, TenantId, random_hex,
};
use secrets_domain::operation::Operation;
use secrets_domain::page::PageRequest;
use secrets_domain::ports::{Clock, NewSecret, SecretStore};
use secrets_domain::versions::DEFAULT_VALUE_VERSIONS_KEPT;

pub use audit::changes_are_recorded_with_their_write;
pub use deleted::{
    a_delete_after_an_unread_rename_recovers_the_renamed_secret,
    a_deleted_secret_is_out_of_sight_and_recovered_whole, a_recovery_counts_against_the_limit,
    a_walk_of_the_deleted_passes_any_number_of_ended_ones,
    deleted_secrets_are_listed_by_id_while_recoverable,
};
pub use idempotency::{
    a_key_is_taken_until_its_record_expires, idempotency_records_are_kept_with_their_secret,
};
pub use reads::{
    batch_reads_answer_as_single_reads, pages_walk_every_secret_once_in_tag_order,
    tenants_are_isolated,
};
pub use versions::{
    a_delete_removes_versions_written_after_its_read, value_versions_are_kept_up_to_the_retention,
    value_versions_are_recorded_with_their_value, versions_advance_and_stale_writes_are_refused,
};
pub use writes::{
    a_taken_tag_is_refused_and_not_counted, an_update_never_resurrects_a_deleted_secret,
    deletes_uncount_and_free_the_tag, inserted_secrets_are_found_by_tag_and_by_id,
    the_tenant_limit_holds, updates_change_only_what_they_name,
};

/// How the suite reads back what a store audited: each allowed record of a
/// tenant as (operation, secret id), in any order.
pub trait ReadAuditTrail {
    fn allowed(&self, tenant: &TenantId) -> impl Future<Output = Vec<(Operation, SecretId)>>;
}

/// Runs every check, each in fresh tenants from `tenant`; `trail` reads
/// back what `store` audited.
pub async fn run_all<S: SecretStore>(
    store: &S,
    tenant: impl Fn() -> TenantId,
    trail: &impl ReadAuditTrail,
) {
    inserted_secrets_are_found_by_tag_and_by_id(store, &tenant()).await;
    a_taken_tag_is_refused_and_not_counted(store, &tenant()).await;
    pages_walk_every_secret_once_in_tag_order(store, &tenant()).await;
    updates_change_only_what_they_name(store, &tenant()).await;
    an_update_never_resurrects_a_deleted_secret(store, &tenant()).await;
    deletes_uncount_and_free_the_tag(store, &tenant()).await;
    versions_advance_and_stale_writes_are_refused(store, &tenant()).await;
    value_versions_are_recorded_with_their_value(store, &tenant()).await;
    value_versions_are_kept_up_to_the_retention(store, &tenant(), DEFAULT_VALUE_VERSIONS_KEPT)
        .await;
    a_delete_removes_versions_written_after_its_read(store, &tenant()).await;
    tenants_are_isolated(store, &tenant(), &tenant()).await;
    batch_reads_answer_as_single_reads(store, &tenant(), &tenant()).await;
    idempotency_records_are_kept_with_their_secret(store, &tenant(), &tenant()).await;
    a_key_is_taken_until_its_record_expires(store, &tenant()).await;
    changes_are_recorded_with_their_write(store, &tenant(), trail).await;
    a_deleted_secret_is_out_of_sight_and_recovered_whole(store, &tenant(), trail).await;
    a_delete_after_an_unread_rename_recovers_the_renamed_secret(store, &tenant()).await;
    deleted_secrets_are_listed_by_id_while_recoverable(store, &tenant()).await;
    a_walk_of_the_deleted_passes_any_number_of_ended_ones(store, &tenant()).await;
}

/// The subject the suite writes as.
pub const AUTHOR: &str = "conformance-suite";

pub fn random_tenant() -> TenantId {
    TenantId::parse(&format!("tenant-{}", random_hex::<6>().expect("random"))).expect("tenant")
}

/// The time of the suite's writes: the real time, since a store backed by
/// DynamoDB may expire what is stamped in the past.
fn now() -> Timestamp {
    SystemClock.now()
}

pub fn new_secret(tag: &str) -> NewSecret {
    NewSecret {
        summary: SecretSummary {
            id: SecretId::generate().expect("id"),
            name: SecretName::parse(format!("Name of {tag}")).expect("name"),
            tag: Tag::parse(tag).expect("tag"),
            version: FIRST_VERSION,
            value_version: Some(FIRST_VERSION),
        },
        sealed: sealed(tag.len()),
        idempotency: None,
        at: now(),
        author: AUTHOR.into(),
    }
}

/// A delete with no recovery window: everything goes at once.
pub fn at_once() -> Deletion {
    RecoveryWindow::NONE.deletion(now(), AUTHOR)
}

/// Inserts `secret`, which must succeed.
async fn insert<S: SecretStore>(store: &S, tenant: &TenantId, secret: &NewSecret) {
    store
        .insert(tenant, secret.clone(), None)
        .await
        .expect("insert");
}

/// A stand-in for a first value (the suite never opens one).
fn sealed(seed: usize) -> SealedValue {
    sealed_at(
        seed,
        CipherScheme::V2 {
            value_version: FIRST_VERSION,
        },
    )
}

/// A stand-in for the value an update writes next: version 2.
pub fn second_value(seed: usize) -> SealedValue {
    sealed_at(seed, CipherScheme::V2 { value_version: 2 })
}

fn sealed_at(seed: usize, scheme: CipherScheme) -> SealedValue {
    SealedValue {
        scheme,
        ciphertext: vec![seed as u8; 48],
        nonce: [7; 12],
        wrapped_key: vec![9; 64],
        wrapping_key_id: "arn:aws:kms:us-east-1:000000000000:key/test".into(),
    }
}

fn tag(raw: &str) -> TagOrId {
    TagOrId::Tag(Tag::parse(raw).expect("tag"))
}

async fn total<S: SecretStore>(store: &S, tenant: &TenantId) -> u32 {
    store
        .list(tenant, PageRequest::new(0, 1).unwrap())
        .await
        .expect("list")
        .total
}
