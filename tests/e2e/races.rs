//! Requests racing each other: the store must stay exact. The local stack
//! runs several instances of each function, and its emulator isolates
//! transactions as DynamoDB does (tools/local_stack/contention.py: items
//! held while a transaction is in flight, conflicting ones cancelled), so
//! these requests really do overlap and really do conflict.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tokio::task::JoinSet;

use crate::api::{Api, Tenant};

fn shared() -> (Arc<Api>, Arc<Tenant>) {
    let api = Api::from_env();
    let tenant = api.tenant();
    (Arc::new(api), Arc::new(tenant))
}

/// Runs `count` copies of a request at once; returns their statuses, sorted.
async fn at_once<F, Fut>(count: usize, request: F) -> Vec<u16>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16> + Send + 'static,
{
    let mut set = JoinSet::new();
    for _ in 0..count {
        set.spawn(request());
    }
    let mut statuses = set.join_all().await;
    statuses.sort_unstable();
    statuses
}

#[tokio::test]
async fn fifty_creates_of_one_tag_make_one_secret() {
    let (api, tenant) = shared();
    let statuses = at_once(50, || {
        let (api, tenant) = (api.clone(), tenant.clone());
        async move {
            let body = json!({"tag": "contended", "name": "n", "secret": "s"});
            api.post(&tenant, body).await.status
        }
    })
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    assert_eq!(api.total(&tenant).await, 1);
    let listed = api.get(&tenant, "").await.json();
    assert_eq!(listed["secrets"].as_array().unwrap().len(), 1);
}

/// A bulk import: with the count spread over shards, creates of different
/// tags rarely meet, and those that do are retried, never answered 5xx.
#[tokio::test]
async fn a_hundred_creates_of_distinct_tags_all_land() {
    let (api, tenant) = shared();
    let mut set = JoinSet::new();
    for i in 0..100 {
        let (api, tenant) = (api.clone(), tenant.clone());
        set.spawn(async move {
            let body = json!({"tag": format!("import-{i:03}"), "name": "n", "secret": "s"});
            let reply = api.post(&tenant, body).await;
            (reply.status, reply.body)
        });
    }
    for (status, body) in set.join_all().await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(api.total(&tenant).await, 100);
    let listed = api.get(&tenant, "?pageSize=1000").await.json();
    assert_eq!(listed["secrets"].as_array().unwrap().len(), 100);
}

/// Pages read while secrets come and go may shift between requests, as any
/// offset paging does, but a page never shows one secret twice, nor more
/// rows than asked for, and the total stays what is stored.
#[tokio::test]
async fn a_walk_during_churn_repeats_no_row_within_a_page() {
    let (api, tenant) = shared();
    for i in 0..40 {
        api.create(&tenant, &format!("steady-{i:02}")).await;
    }
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut churn = JoinSet::new();
    for worker in 0..4u64 {
        let (api, tenant) = (api.clone(), tenant.clone());
        churn.spawn(async move {
            let mut dice = Dice(0x2545_f491_4f6c_dd1d ^ (worker + 1));
            while Instant::now() < deadline {
                let tag = format!("churning-{:02}", dice.roll(20));
                let reply = if dice.roll(2) == 0 {
                    api.post(&tenant, json!({"tag": tag, "name": "n", "secret": "s"}))
                        .await
                } else {
                    api.delete(&tenant, &format!("/{tag}")).await
                };
                assert!(matches!(reply.status, 200 | 404 | 409), "{}", reply.body);
            }
        });
    }
    let mut pages = 0;
    while Instant::now() < deadline {
        for page in 0..8 {
            let reply = api.get(&tenant, &format!("?page={page}&pageSize=7")).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let rows = tags_of(&reply.json());
            let unique: BTreeSet<&String> = rows.iter().collect();
            assert!(rows.len() <= 7 && unique.len() == rows.len(), "{rows:?}");
            let mut sorted = rows.clone();
            sorted.sort();
            assert_eq!(rows, sorted, "a page is in tag order");
            pages += 1;
        }
    }
    churn.join_all().await;
    assert!(pages > 8, "the walker did walk ({pages} pages)");
    let listed = api.get(&tenant, "?pageSize=1000").await.json();
    let all = tags_of(&listed);
    assert_eq!(
        listed["total"],
        all.len(),
        "the count equals what is stored"
    );
    // Once it is quiet, the pages (starts remembered during the churn, by
    // any instance) join up to exactly the whole list, twice over.
    for round in 0..2 {
        assert_eq!(walk(&api, &tenant, all.len(), 7).await, all, "walk {round}");
    }
}

#[tokio::test]
async fn two_deletes_of_one_secret_count_down_once() {
    let (api, tenant) = shared();
    for round in 0..8 {
        let tag = format!("doomed-{round}");
        api.create(&tenant, &tag).await;
        let statuses = at_once(2, || {
            let (api, tenant, path) = (api.clone(), tenant.clone(), format!("/{tag}"));
            async move { api.delete(&tenant, &path).await.status }
        })
        .await;
        assert_eq!(statuses, [200, 404], "round {round}");
        assert_eq!(api.total(&tenant).await, 0, "round {round}");
    }
}

#[tokio::test]
async fn an_update_racing_a_delete_never_brings_the_secret_back() {
    let (api, tenant) = shared();
    for round in 0..8 {
        let tag = format!("racing-{round}");
        let id = api.create(&tenant, &tag).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (by_id, by_tag) = (format!("/{id}"), format!("/{tag}"));
        let change = json!({"name": "renamed", "secret": "new value"});
        let (update, delete) = tokio::join!(
            api.put(&tenant, &by_id, change),
            api.delete(&tenant, &by_tag),
        );
        assert_eq!(delete.status, 200, "round {round}: {}", delete.body);
        assert!(
            matches!(update.status, 200 | 404),
            "round {round}: {}",
            update.body
        );
        for path in [format!("/{tag}"), format!("/{id}")] {
            api.get(&tenant, &path).await.error(404, "NOT_FOUND");
        }
        assert_eq!(api.total(&tenant).await, 0, "round {round}");
    }
}

/// The tags of a list answer, in its order.
fn tags_of(listed: &serde_json::Value) -> Vec<String> {
    listed["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tag"].as_str().unwrap().to_owned())
        .collect()
}

/// Every page of a tenant holding `count` secrets, joined.
async fn walk(api: &Api, tenant: &Tenant, count: usize, page_size: usize) -> Vec<String> {
    let mut walked = Vec::new();
    for page in 0..count.div_ceil(page_size) {
        let path = format!("?page={page}&pageSize={page_size}");
        walked.extend(tags_of(&api.get(tenant, &path).await.json()));
    }
    walked
}

/// A small deterministic generator: races need variety, not cryptography.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }
}

#[tokio::test]
async fn random_creates_deletes_and_updates_leave_the_count_exact() {
    const TAGS: u64 = 12;
    const WORKERS: u64 = 8;
    let (api, tenant) = shared();
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut workers = JoinSet::new();
    for worker in 0..WORKERS {
        let (api, tenant) = (api.clone(), tenant.clone());
        workers.spawn(async move {
            let mut dice = Dice(0x9e37_79b9_7f4a_7c15 ^ (worker + 1));
            let mut requests = 0;
            while Instant::now() < deadline {
                let tag = format!("churn-{}", dice.roll(TAGS));
                let reply = match dice.roll(3) {
                    0 => {
                        api.post(&tenant, json!({"tag": tag, "name": "n", "secret": "s"}))
                            .await
                    }
                    1 => api.delete(&tenant, &format!("/{tag}")).await,
                    _ => {
                        api.put(
                            &tenant,
                            &format!("/{tag}"),
                            json!({"name": format!("w{worker}")}),
                        )
                        .await
                    }
                };
                assert!(
                    matches!(reply.status, 200 | 404 | 409),
                    "{}: {}",
                    reply.status,
                    reply.body
                );
                requests += 1;
            }
            requests
        });
    }
    let requests: u64 = workers.join_all().await.into_iter().sum();
    assert!(
        requests > WORKERS * 5,
        "the workers did race ({requests} requests)"
    );

    let listed = api.get(&tenant, "?pageSize=1000").await.json();
    let tags = tags_of(&listed);
    let unique: BTreeSet<&String> = tags.iter().collect();
    assert_eq!(unique.len(), tags.len(), "no secret listed twice: {tags:?}");
    assert_eq!(
        listed["total"],
        tags.len(),
        "the count equals what is stored"
    );
    for page_size in [1, 5] {
        let walked = walk(&api, &tenant, tags.len(), page_size).await;
        assert_eq!(walked, tags, "page size {page_size}");
    }
    for tag in (0..TAGS).map(|i| format!("churn-{i}")) {
        let status = api
            .send(Method::GET, &format!("/{tag}"), Some(&tenant.token), None)
            .await
            .status;
        assert_eq!(status == 200, unique.contains(&tag), "{tag}: {status}");
    }
}

#[tokio::test]
async fn concurrent_creates_with_one_idempotency_key_make_one_secret() {
    let (api, tenant) = shared();
    let key = secrets_tests::unique("race");
    let mut set = JoinSet::new();
    for _ in 0..6 {
        let (api, tenant, key) = (api.clone(), tenant.clone(), key.clone());
        set.spawn(async move {
            let body = json!({"tag": "raced", "name": "Raced", "secret": "v"});
            api.send_as(
                Method::POST,
                "",
                &tenant,
                &[("Idempotency-Key", &key)],
                Some(body),
            )
            .await
        });
    }
    let ids: BTreeSet<String> = set
        .join_all()
        .await
        .iter()
        .map(|reply| {
            assert_eq!(reply.status, 200, "{}", reply.body);
            reply.json()["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every one of them names the one secret");
    assert_eq!(api.total(&tenant).await, 1);
}

#[tokio::test]
async fn concurrent_updates_without_if_match_all_land() {
    let (api, tenant) = shared();
    api.create(&tenant, "contended").await;
    // Each loser of a race retries on top of the winner; with three
    // writers no one can lose more than twice, within the service's three
    // attempts, so every one of them must land.
    let statuses = at_once(3, || {
        let (api, tenant) = (api.clone(), tenant.clone());
        async move {
            api.put(&tenant, "/contended", json!({"secret": "rotated"}))
                .await
                .status
        }
    })
    .await;
    assert_eq!(
        statuses, [200; 3],
        "no 412 for clients that sent no If-Match"
    );
    let version = api.get(&tenant, "/contended").await;
    let etag = version.header("etag").unwrap();
    assert!(
        etag.ends_with(".4\""),
        "three updates after the create: {etag}"
    );
}
