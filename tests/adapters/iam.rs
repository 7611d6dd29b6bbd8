//! The IAM actions each function's code needs, against the manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use secrets_aws::metrics::Usage;
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
use secrets_tests::{granted, granted_leading_keys, required_env, sdk_config};

use super::harness::*;

/// What one function's code needed: its IAM actions, and by action the
/// partitions it named on the secrets table, as `dynamodb:LeadingKeys`
/// patterns (`TENANT#*`).
#[derive(Default)]
struct Needed {
    actions: BTreeSet<String>,
    leading_keys: BTreeMap<String, BTreeSet<String>>,
}

impl Needed {
    fn of(usage: Usage) -> Self {
        let mut needed = Self::default();
        needed.add(usage);
        needed
    }

    fn add(&mut self, usage: Usage) {
        self.actions.extend(usage.iam_actions);
        let mut tables = usage.leading_keys;
        let on_secrets = tables
            .remove(&required_env("TABLE_NAME"))
            .unwrap_or_default();
        for (action, prefixes) in on_secrets {
            let patterns = prefixes.into_iter().map(|prefix| format!("{prefix}*"));
            self.leading_keys
                .entry(action)
                .or_default()
                .extend(patterns);
        }
    }

    /// Exactly what the manifest grants: nothing the code would be refused
    /// in AWS, and no grant the code does not use.
    fn assert_granted(&self, function: &str) {
        assert_eq!(self.actions, granted(function), "{function}: IAM actions");
        assert_eq!(
            self.leading_keys,
            granted_leading_keys(function),
            "{function}: dynamodb:LeadingKeys on the secrets table"
        );
    }
}

/// The IAM actions each function's code needs, and the partitions of the
/// secrets table it names, per the manifest that the template check also
/// reads: the code must need exactly these.
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
    let mut creating = Needed::of(harness.calls.take());
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
    let conflict = Needed::of(harness.calls.take());
    assert_eq!(conflict.actions, creating.actions);
    assert_eq!(conflict.leading_keys, creating.leading_keys);
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
    creating.add(at_limit);
    // A create whose answer was lost reads the new secret's META for its
    // write token before it reports anything (outcome.rs): it committed.
    let losing = Secrets::new(
        store_losing_transaction_answers(&harness.calls).await,
        harness.secrets.keys().clone(),
    );
    losing
        .create(&actor(&acme, Operation::Create), create("iam-lost", "v"))
        .await
        .unwrap();
    let settled = harness.calls.take();
    assert_eq!(settled.calls.get("DynamoDB.GetItem"), Some(&1));
    creating.add(settled);
    // Not counted against the recovery's small limit below.
    harness.deleted(&acme, &by_tag("iam-lost")).await;
    harness.calls.take();
    creating.assert_granted("CreateSecretFunction");

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
    Needed::of(harness.calls.take()).assert_granted("GetSecretFunction");

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
    Needed::of(harness.calls.take()).assert_granted("ListSecretsFunction");

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
    let mut updating = Needed::of(harness.calls.take());
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
    updating.add(restore);
    updating.assert_granted("UpdateSecretFunction");

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
    Needed::of(harness.calls.take()).assert_granted("ResolveSecretFunction");

    harness.deleted(&acme, &by_tag("iam")).await;
    let mut deleting = Needed::of(harness.calls.take());
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
    deleting.add(recovery);
    deleting.assert_granted("DeleteSecretFunction");
}
