use secrets_domain::deleted::{DeletedPageRequest, RecoveryWindow};
use secrets_testkit::ManualClock;

use super::*;

const WEEK_SECS: u64 = 7 * 86_400;

/// A service keeping deleted secrets for a week, on a clock that stands
/// still until moved.
fn with_window() -> (Secrets<MemoryStore, LocalDataKeys>, ManualClock) {
    let clock = ManualClock::at(secrets_domain::clock::Timestamp::from_secs(1_800_000_000));
    let service = service()
        .with_clock(clock.clone())
        .with_recovery_window(RecoveryWindow::days(7));
    (service, clock)
}

fn first_page() -> DeletedPageRequest {
    DeletedPageRequest::new(None, 10).unwrap()
}

/// `acme`'s secret "db", holding `value`, created then deleted.
async fn deleted_db(
    service: &Secrets<MemoryStore, LocalDataKeys>,
    acme: &TenantId,
    value: &str,
) -> SecretSummary {
    let created = create_secret(service, acme, "db", value).await;
    service
        .delete(&acting(acme, Operation::Delete), &by_tag("db"), None)
        .await
        .unwrap();
    created
}

/// Whether `tenant` has nothing left to recover.
async fn nothing_listed(service: &Secrets<MemoryStore, LocalDataKeys>, tenant: &TenantId) -> bool {
    let page = service.deleted(tenant, &first_page()).await.unwrap();
    page.secrets.is_empty() && page.next.is_none()
}

/// The status of `tenant`'s recovery of `id`, which must fail.
async fn recovery_refused(
    service: &Secrets<MemoryStore, LocalDataKeys>,
    tenant: &TenantId,
    id: &SecretId,
) -> (u16, &'static str) {
    let recoverer = acting(tenant, Operation::RecoverDeleted);
    let error = service.recover(&recoverer, id).await.unwrap_err();
    (error.http_status(), error.error_type())
}

#[tokio::test]
async fn a_deleted_secret_is_gone_as_the_contract_says_then_recovered_whole() {
    let (service, _) = with_window();
    let acme = tenant("acme");
    let created = deleted_db(&service, &acme, "kept").await;
    let gone = service.get(&acme, &by_tag("db")).await.unwrap_err();
    assert_eq!(gone.http_status(), 404);
    assert_eq!(total(&service, &acme).await, 0);
    let listed = service.deleted(&acme, &first_page()).await.unwrap();
    assert_eq!(listed.secrets.len(), 1);
    assert_eq!(listed.secrets[0].summary.id, created.id);
    assert_eq!(listed.secrets[0].deleted_by, "tester");

    let recoverer = acting(&acme, Operation::RecoverDeleted);
    let recovered = service.recover(&recoverer, &created.id).await.unwrap();
    assert_eq!(recovered.version, created.version + 1);
    let found = service.get(&acme, &by_tag("db")).await.unwrap();
    assert_eq!(found.id, created.id);
    let resolver = acting(&acme, Operation::Resolve);
    let resolved = service.resolve(&resolver, &by_tag("db")).await.unwrap();
    assert_eq!(resolved.value.as_slice(), b"kept");
    assert!(nothing_listed(&service, &acme).await);
    let audited = service.store().audit_records();
    let recovery = audited
        .iter()
        .find(|r| r.operation == Operation::RecoverDeleted)
        .expect("the recovery's record");
    assert_eq!(recovery.secret_id.as_ref(), Some(&created.id));
    // Once back, there is nothing left to recover; nor for another tenant.
    for who in [&acme, &tenant("globex")] {
        let refused = recovery_refused(&service, who, &created.id).await;
        assert_eq!(refused, (404, "NOT_FOUND"));
    }
}

#[tokio::test]
async fn after_its_window_a_deleted_secret_is_gone_for_good() {
    let (service, clock) = with_window();
    let acme = tenant("acme");
    let created = deleted_db(&service, &acme, "v").await;
    clock.advance_secs(WEEK_SECS - 1);
    assert!(
        !nothing_listed(&service, &acme).await,
        "a second before its end"
    );
    clock.advance_secs(1);
    assert!(nothing_listed(&service, &acme).await);
    let refused = recovery_refused(&service, &acme, &created.id).await;
    assert_eq!(refused, (404, "NOT_FOUND"));
}

#[tokio::test]
async fn a_tag_taken_since_the_delete_is_a_409_and_without_a_window_nothing_is_kept() {
    let (service, _) = with_window();
    let acme = tenant("acme");
    let first = deleted_db(&service, &acme, "first").await;
    create_secret(&service, &acme, "db", "second").await;
    let refused = recovery_refused(&service, &acme, &first.id).await;
    assert_eq!(refused, (409, "CONFLICT"));

    // No window: as the contract alone says.
    let at_once = super::service();
    let created = deleted_db(&at_once, &acme, "v").await;
    assert!(nothing_listed(&at_once, &acme).await);
    let refused = recovery_refused(&at_once, &acme, &created.id).await;
    assert_eq!(refused, (404, "NOT_FOUND"));
}
