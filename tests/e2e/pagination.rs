use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use tokio::task::JoinSet;

use crate::api::{Api, Tenant};

const SECRETS: usize = 320;

async fn walk(api: &Api, tenant: &Tenant, page_size: usize) -> Vec<String> {
    let pages = SECRETS.div_ceil(page_size);
    let mut tags = Vec::new();
    for page in 0..pages {
        let reply = api
            .get(tenant, &format!("?page={page}&pageSize={page_size}"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json();
        assert_eq!(body["page"], page);
        assert_eq!(body["total"], SECRETS);
        assert_eq!(body["totalPages"], pages);
        let rows = body["secrets"].as_array().unwrap();
        assert_eq!(
            rows.len(),
            page_size.min(SECRETS - page * page_size),
            "page {page}"
        );
        tags.extend(
            rows.iter()
                .map(|row| row["tag"].as_str().unwrap().to_owned()),
        );
    }
    let past = api
        .get(tenant, &format!("?page={pages}&pageSize={page_size}"))
        .await
        .json();
    assert_eq!(past["secrets"], Value::Array(vec![]));
    assert_eq!(past["total"], SECRETS);
    tags
}

#[tokio::test]
async fn walking_the_pages_returns_every_secret_exactly_once_in_tag_order() {
    let api = Arc::new(Api::from_env());
    let tenant = Arc::new(api.tenant());
    let mut created = JoinSet::new();
    for worker in 0..8 {
        let (api, tenant) = (api.clone(), tenant.clone());
        created.spawn(async move {
            for i in (worker..SECRETS).step_by(8) {
                api.create(&tenant, &format!("page-walk-{:03}", (i * 7919) % SECRETS))
                    .await;
            }
        });
    }
    created.join_all().await;

    let expected: Vec<String> = (0..SECRETS).map(|i| format!("page-walk-{i:03}")).collect();
    for page_size in [37, 250, 1000] {
        let tags = walk(&api, &tenant, page_size).await;
        assert_eq!(tags.len(), SECRETS, "page size {page_size}");
        assert_eq!(
            tags.iter().collect::<BTreeSet<_>>().len(),
            SECRETS,
            "duplicates at page size {page_size}"
        );
        assert_eq!(tags, expected, "page size {page_size}");
    }
    let default_page = api.get(&tenant, "").await.json();
    assert_eq!(
        default_page["secrets"].as_array().unwrap().len(),
        250,
        "default page size"
    );
    assert_eq!(default_page["totalPages"], 2);
}
