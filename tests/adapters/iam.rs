//! The IAM actions each function's code needs, against the manifest.

use std::time::Duration;

use secrets_aws::reseal::LambdaResealer;
use secrets_aws::sdk::{self, CallTimeouts};
use secrets_domain::deleted::{DeletedPageRequest, RecoveryWindow};
use secrets_domain::idempotency::IdempotencyKey;
use secrets_domain::model::TagOrId;
use secrets_domain::operation::Operation;
use secrets_domain::page::PageRequest;
use secrets_domain::service::{BatchKeys, Secrets};
use secrets_domain::versions::DEFAULT_VALUE_VERSIONS_KEPT;
use secrets_testkit::actor;
use secrets_tests::{granted, sdk_config};

use super::harness::*;

/// The IAM actions each function's code needs, per the manifest that the
/// template check also reads: the code must need exactly these.
#[tokio::test]
async fn each_function_needs_exactly_the_iam_actions_it_is_granted() {
    let harness = harness().await;
    let acme = tenant();
    let secret = harness
        .secrets
        .create_with_key(
            &actor(&acme, Operation::Create),
            create("iam", "v"),
            Some(&IdempotencyKey::parse(b"iam-1").unwrap()),
        )
        .await
        .unwrap()
        .secret;
    let creating = harness.calls.take().iam_actions;
    // The conflict path needs nothing more than the success path.
    harness
        .secrets
        .create_with_key(
            &actor(&acme, Operation::Create),
            create("iam", "v"),
            Some(&IdempotencyKey::parse(b"iam-2").unwrap()),
        )
        .await
        .unwrap_err();
    assert_eq!(harness.calls.take().iam_actions, creating);
    // Near the tenant's limit, a create reads every count shard first (a
    // limit this small always does): that Query is the create role's too.
    let near_limit = Secrets::new(
        harness.secrets.store().clone().with_max_secrets(1),
        harness.secrets.keys().clone(),
    );
    near_limit
        .create(&actor(&acme, Operation::Create), create("iam-limit", "v"))
        .await
        .unwrap_err();
    let at_limit = harness.calls.take();
    assert_eq!(at_limit.calls.get("DynamoDB.Query"), Some(&1));
    let creating: std::collections::BTreeSet<_> =
        creating.into_iter().chain(at_limit.iam_actions).collect();
    assert_eq!(creating, granted("CreateSecretFunction"));

    harness.secrets.get(&acme, &by_tag("iam")).await.unwrap();
    harness
        .secrets
        .get(&acme, &TagOrId::Id(secret.id.clone()))
        .await
        .unwrap();
    // The versions list is the get function's second route.
    harness
        .secrets
        .versions(&acme, &by_tag("iam"))
        .await
        .unwrap();
    assert_eq!(
        harness.calls.take().iam_actions,
        granted("GetSecretFunction")
    );

    harness.created(&acme, "iam-2", "v").await;
    harness.created(&acme, "iam-3", "v").await;
    harness.calls.take();
    // A walk (which remembers where pages start), and past the end.
    for page in [0, 1, 2, 5] {
        harness
            .secrets
            .list(&acme, PageRequest::new(page, 1).unwrap())
            .await
            .unwrap();
    }
    // Its other route: the deleted secrets.
    let first = DeletedPageRequest::new(None, 10).unwrap();
    harness.secrets.deleted(&acme, &first).await.unwrap();
    assert_eq!(
        harness.calls.take().iam_actions,
        granted("ListSecretsFunction")
    );

    for body in [
        &br#"{"name":"n"}"#[..],
        br#"{"secret":"s"}"#,
        br#"{"name":"m","secret":"t"}"#,
    ] {
        harness.updated(&acme, "iam", body).await;
    }
    // Past the versions kept: the oldest are deleted with the new value.
    for i in 0..DEFAULT_VALUE_VERSIONS_KEPT {
        let body = format!(r#"{{"secret":"value {i}"}}"#);
        harness.updated(&acme, "iam", body.as_bytes()).await;
    }
    let mut recorded = harness.calls.take().iam_actions;
    // A restore (the update function's other route), through the invoker
    // the function starts with. The emulator runs no reseal function, so
    // the invoke is refused, but it was made: its action is recorded.
    let timeouts = CallTimeouts {
        attempt: Duration::from_secs(2),
        operation: Duration::from_secs(5),
    };
    let lambda = sdk::lambda_client(&sdk_config().await, &harness.calls, timeouts);
    let restorer = Secrets::new(
        harness.secrets.store().clone(),
        LambdaResealer::new(lambda, "reseal-secret:live"),
    );
    restorer
        .restore(
            &actor(&acme, Operation::RestoreVersion),
            &by_tag("iam"),
            5,
            None,
        )
        .await
        .unwrap_err();
    let restore = harness.calls.take();
    assert_eq!(restore.calls.get("Lambda.Invoke"), Some(&1));
    recorded.extend(restore.iam_actions);
    assert_eq!(recorded, granted("UpdateSecretFunction"));

    for key in [by_tag("iam"), TagOrId::Id(secret.id.clone())] {
        harness
            .resolver
            .resolve(&actor(&acme, Operation::Resolve), &key)
            .await
            .unwrap();
    }
    harness
        .resolver
        .resolve(&actor(&acme, Operation::Resolve), &by_tag("unknown"))
        .await
        .unwrap_err();
    let batch = BatchKeys::new([by_tag("iam"), TagOrId::Id(secret.id.clone())]).unwrap();
    harness
        .resolver
        .resolve_many(&actor(&acme, Operation::Resolve), &batch)
        .await
        .unwrap();
    assert_eq!(
        harness.calls.take().iam_actions,
        granted("ResolveSecretFunction")
    );

    harness.deleted(&acme, &by_tag("iam")).await;
    let mut deleting = harness.calls.take().iam_actions;
    // With a recovery window: a kept delete, then its recovery (the delete
    // function's other route) near the tenant's limit, which a limit this
    // small always is: it reads the count shards.
    let kept = harness.created(&acme, "iam-kept", "v").await;
    harness.calls.take();
    let keeping = Secrets::new(harness.secrets.store().clone().with_max_secrets(3), ())
        .with_recovery_window(RecoveryWindow::days(7));
    keeping
        .delete(&actor(&acme, Operation::Delete), &by_tag("iam-kept"), None)
        .await
        .unwrap();
    keeping
        .recover(&actor(&acme, Operation::RecoverDeleted), &kept.id)
        .await
        .unwrap();
    let recovery = harness.calls.take();
    // The kept versions, read by the delete and the recovery; the counts.
    assert_eq!(recovery.calls.get("DynamoDB.Query"), Some(&3));
    deleting.extend(recovery.iam_actions);
    assert_eq!(deleting, granted("DeleteSecretFunction"));
}
