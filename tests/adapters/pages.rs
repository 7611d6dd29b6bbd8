//! Walking a tenant's pages on DynamoDB: each page starts where the last one
//! ended (remembered in the instance and in the table, per generation), so
//! a walk reads each row about once; what is remembered is never used once
//! a create or delete has moved the generation.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use secrets_aws::dynamo::DynamoStore;
use secrets_aws::metrics::CallCounter;
use secrets_domain::model::{Tag, TagOrId, TenantId};
use secrets_domain::page::PageRequest;
use secrets_domain::ports::{DeleteGuard, SecretStore};
use secrets_testkit::conformance::new_secret;
use secrets_tests::{required_env, sdk_config, unique};

/// Stores as separate function instances would have them: one table, each
/// its own memory, every call counted.
struct Instances {
    client: Client,
    calls: CallCounter,
}

impl Instances {
    async fn new() -> Self {
        let calls = CallCounter::default();
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config().await)
            .interceptor(calls.clone())
            .build();
        Self {
            client: Client::from_conf(config),
            calls,
        }
    }

    fn start(&self) -> DynamoStore {
        DynamoStore::new(self.client.clone(), required_env("TABLE_NAME"))
    }

    fn calls(&self) -> BTreeMap<String, u32> {
        self.calls.take().calls
    }
}

fn calls(expected: &[(&str, u32)]) -> BTreeMap<String, u32> {
    expected
        .iter()
        .map(|(name, n)| ((*name).to_owned(), *n))
        .collect()
}

async fn tenant_with(store: &DynamoStore, rows: usize) -> TenantId {
    let tenant = TenantId::parse(&unique("pages")).unwrap();
    for i in 0..rows {
        store
            .insert(&tenant, new_secret(&format!("row-{i:02}")), None)
            .await
            .unwrap();
    }
    tenant
}

async fn page(store: &DynamoStore, tenant: &TenantId, page: u32) -> Vec<String> {
    let page = store
        .list(tenant, PageRequest::new(page, 10).unwrap())
        .await
        .unwrap();
    page.secrets.iter().map(|s| s.tag.to_string()).collect()
}

fn rows(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("row-{i:02}")).collect()
}

#[tokio::test]
async fn a_walk_starts_each_page_where_the_last_one_ended() {
    let instances = Instances::new().await;
    let walker = instances.start();
    let tenant = tenant_with(&walker, 30).await;
    instances.calls();

    assert_eq!(page(&walker, &tenant, 0).await, rows(0..10));
    assert_eq!(
        instances.calls(),
        calls(&[("DynamoDB.Query", 2)]),
        "page 0: count shards and rows, nothing written"
    );
    assert_eq!(page(&walker, &tenant, 1).await, rows(10..20));
    assert_eq!(
        instances.calls(),
        calls(&[("DynamoDB.Query", 3), ("DynamoDB.PutItem", 1)]),
        "page 1: count, lookup, its rows with page 0's (page 0 remembers \
         nothing), and where page 2 starts stored"
    );
    assert_eq!(page(&walker, &tenant, 2).await, rows(20..30));
    assert_eq!(
        instances.calls(),
        calls(&[("DynamoDB.Query", 2)]),
        "the last page starts where page 1 ended (remembered here)"
    );

    let elsewhere = instances.start();
    assert_eq!(page(&elsewhere, &tenant, 2).await, rows(20..30));
    assert_eq!(
        instances.calls(),
        calls(&[("DynamoDB.Query", 3)]),
        "another instance finds the start in the table: count, lookup, rows"
    );
    let cold = instances.start();
    assert_eq!(page(&cold, &tenant, 1).await, rows(10..20));
    assert_eq!(
        instances.calls(),
        calls(&[("DynamoDB.Query", 3), ("DynamoDB.PutItem", 1)]),
        "page 1 with nothing remembered: its rows and page 0's in one query; \
         where page 2 starts is stored"
    );
}

#[tokio::test]
async fn a_create_or_delete_makes_remembered_starts_unused() {
    let instances = Instances::new().await;
    let store = instances.start();
    let tenant = tenant_with(&store, 30).await;
    for number in 0..3 {
        page(&store, &tenant, number).await;
    }
    store
        .insert(&tenant, new_secret("row-00a"), None)
        .await
        .unwrap();
    instances.calls();
    assert_eq!(
        page(&store, &tenant, 2).await,
        [rows(19..20), rows(20..29)].concat(),
        "one row later, not where the old generation's page 2 began"
    );
    assert_eq!(
        instances.calls(),
        calls(&[("DynamoDB.Query", 4), ("DynamoDB.PutItem", 2)]),
        "count, lookup (nothing at this generation), skip, rows; this page's \
         start and page 3's (which exists now) stored"
    );
    assert_eq!(
        page(&store, &tenant, 2).await,
        [rows(19..20), rows(20..29)].concat()
    );
    assert_eq!(
        instances.calls(),
        calls(&[("DynamoDB.Query", 2)]),
        "asked again: no skip, nothing stored"
    );
    assert_eq!(
        page(&instances.start(), &tenant, 2).await,
        [rows(19..20), rows(20..29)].concat()
    );
    assert_eq!(
        instances.calls(),
        calls(&[("DynamoDB.Query", 3), ("DynamoDB.PutItem", 1)]),
        "asked again elsewhere: the start from the table, no skip"
    );
    let gone = store
        .find(&tenant, &TagOrId::Tag(Tag::parse("row-05").unwrap()))
        .await
        .unwrap()
        .unwrap();
    store
        .delete(
            &tenant,
            &gone,
            DeleteGuard::Exists,
            &secrets_testkit::conformance::at_once(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(page(&store, &tenant, 2).await, rows(20..30));
}

#[tokio::test]
async fn past_the_end_costs_the_count_only() {
    let instances = Instances::new().await;
    let store = instances.start();
    let tenant = tenant_with(&store, 3).await;
    instances.calls();
    assert!(page(&store, &tenant, 1).await.is_empty());
    assert_eq!(instances.calls(), calls(&[("DynamoDB.Query", 1)]));
}

/// Each count shard takes creates up to its share of the limit without a
/// read; past that, a create reads every shard: the limit holds exactly,
/// with the read-free check (64 over 2 shards: a share of 16 each) and
/// without it (32 over 16 shards: too small a share, every create reads).
#[tokio::test]
async fn the_limit_holds_across_shards() {
    let instances = Instances::new().await;
    for (limit, shards) in [(64, 2), (32, 16)] {
        let store = instances
            .start()
            .with_max_secrets(limit)
            .with_count_shards(shards);
        let tenant = TenantId::parse(&unique("limit")).unwrap();
        for i in 0..limit {
            store
                .insert(&tenant, new_secret(&format!("tag-{i}")), None)
                .await
                .unwrap_or_else(|e| panic!("create {i} of {limit}: {e}"));
        }
        let error = store
            .insert(&tenant, new_secret("one-too-many"), None)
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), 409, "{error}");
        let listed = store
            .list(&tenant, PageRequest::new(0, 100).unwrap())
            .await
            .unwrap();
        assert_eq!(u64::from(listed.total), limit);
        assert_eq!(listed.secrets.len() as u64, limit);
    }
}
