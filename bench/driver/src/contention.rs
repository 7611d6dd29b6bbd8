//! Writers at once, against the emulator that isolates transactions as
//! DynamoDB does: a bulk import into one tenant with one count shard and
//! with the default shards, the same import with no item shared at all (the
//! emulator's own ceiling), and fifty creates of one tag.
//!
//! Driven through the service and the DynamoDB store the functions use
//! (data keys sealed in process, so that only DynamoDB's behaviour is
//! measured), with every answer's HTTP status counted.

use std::sync::Arc;
use std::time::Instant;

use secrets_aws::dynamo::{DEFAULT_COUNT_SHARDS, DynamoStore};
use secrets_domain::error::Result;
use secrets_domain::input::CreateSecret;
use secrets_domain::model::{SecretSummary, TagOrId, TenantId, random_hex};
use secrets_domain::operation::Operation;
use secrets_domain::page::PageRequest;
use secrets_domain::service::Secrets;
use secrets_testkit::{LocalDataKeys, actor};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

type Service = Secrets<DynamoStore, LocalDataKeys>;

/// How many answers of each kind.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Answers {
    pub ok: usize,
    pub conflict_409: usize,
    pub server_5xx: usize,
    pub other: usize,
    pub seconds: f64,
}

impl Answers {
    fn count<T>(results: &[Result<T>], seconds: f64) -> Self {
        let mut answers = Self {
            seconds,
            ..Self::default()
        };
        for result in results {
            match result.as_ref().map_err(|e| e.http_status()) {
                Ok(_) => answers.ok += 1,
                Err(409) => answers.conflict_409 += 1,
                Err(status) if status >= 500 => answers.server_5xx += 1,
                Err(_) => answers.other += 1,
            }
        }
        answers
    }

    pub fn commits_per_second(&self) -> f64 {
        self.ok as f64 / self.seconds.max(f64::EPSILON)
    }
}

/// One bulk import: creates, then deletes of what was created.
#[derive(Debug, Serialize)]
pub struct Import {
    pub label: String,
    pub count_shards: u16,
    pub creates: Answers,
    pub deletes: Answers,
    /// After the creates: the tenant's `total`, and the rows listed.
    pub total_after_creates: u64,
    pub stored_after_creates: u64,
    pub total_after_deletes: u64,
    pub stored_after_deletes: u64,
}

/// The same-tag race.
#[derive(Debug, Serialize)]
pub struct Race {
    pub creates: usize,
    pub answers: Answers,
    pub total: u64,
}

pub struct Contention {
    pub store: DynamoStore,
    pub clients: usize,
    pub secrets: usize,
}

fn service(store: DynamoStore) -> Arc<Service> {
    Arc::new(Secrets::new(store, LocalDataKeys::default()))
}

fn create_request(tag: &str) -> CreateSecret {
    let body = serde_json::json!({"tag": tag, "name": "Imported", "secret": "v".repeat(100)});
    CreateSecret::from_json(body.to_string().as_bytes()).expect("a valid create")
}

fn tenant(label: &str) -> TenantId {
    TenantId::parse(&format!(
        "bench-{label}-{}",
        random_hex::<4>().expect("random")
    ))
    .expect("tenant")
}

impl Contention {
    /// `secrets` creates by `clients` at once, each in `tenant_of(i)`, then
    /// a delete of each secret created.
    async fn import(
        &self,
        label: &str,
        shards: u16,
        tenant_of: impl Fn(usize) -> TenantId,
    ) -> Import {
        let secrets = service(self.store.clone().with_count_shards(shards));
        let tenants: Vec<TenantId> = (0..self.secrets).map(&tenant_of).collect();
        let started = Instant::now();
        let created = self
            .at_once(&secrets, &tenants, |secrets, tenant, i| async move {
                let creator = actor(&tenant, Operation::Create);
                secrets
                    .create(&creator, create_request(&format!("imported-{i:05}")))
                    .await
            })
            .await;
        let creates = Answers::count(&created, started.elapsed().as_secs_f64());
        let (total_after_creates, stored_after_creates) = census(&secrets, &tenants).await;

        let ids: Vec<Option<SecretSummary>> = created.into_iter().map(Result::ok).collect();
        let ids = Arc::new(ids);
        let started = Instant::now();
        let deleted = self
            .at_once(&secrets, &tenants, |secrets, tenant, i| {
                let ids = ids.clone();
                async move {
                    let Some(secret) = &ids[i] else {
                        return Ok(());
                    };
                    let deleter = actor(&tenant, Operation::Delete);
                    secrets
                        .delete(&deleter, &TagOrId::Id(secret.id.clone()), None)
                        .await
                }
            })
            .await;
        let attempted: Vec<Result<()>> = deleted
            .into_iter()
            .zip(ids.iter())
            .filter(|(_, id)| id.is_some())
            .map(|(result, _)| result)
            .collect();
        let deletes = Answers::count(&attempted, started.elapsed().as_secs_f64());
        let (total_after_deletes, stored_after_deletes) = census(&secrets, &tenants).await;
        Import {
            label: label.to_owned(),
            count_shards: shards,
            creates,
            deletes,
            total_after_creates,
            stored_after_creates,
            total_after_deletes,
            stored_after_deletes,
        }
    }

    /// Runs `work(i)` for every index, `clients` at a time.
    async fn at_once<T, F, Fut>(
        &self,
        secrets: &Arc<Service>,
        tenants: &[TenantId],
        work: F,
    ) -> Vec<Result<T>>
    where
        T: Send + 'static,
        F: Fn(Arc<Service>, TenantId, usize) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        let permits = Arc::new(Semaphore::new(self.clients));
        let mut set = JoinSet::new();
        for (i, tenant) in tenants.iter().enumerate() {
            let permit = permits.clone().acquire_owned().await.expect("semaphore");
            let job = work(secrets.clone(), tenant.clone(), i);
            set.spawn(async move {
                let result = job.await;
                drop(permit);
                (i, result)
            });
        }
        let mut results: Vec<(usize, Result<T>)> = set.join_all().await;
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, result)| result).collect()
    }

    /// (a): one tenant with one count shard, then with the default shards,
    /// then with every create in a tenant of its own (no item shared).
    pub async fn bulk_imports(&self) -> Vec<Import> {
        let mut imports = Vec::new();
        for (label, shards) in [
            ("one count shard", 1),
            ("default count shards", DEFAULT_COUNT_SHARDS),
        ] {
            let one = tenant("import");
            imports.push(self.import(label, shards, |_| one.clone()).await);
            eprintln!(
                "[bench] bulk import, {label}: {:?}",
                imports.last().map(|i| i.creates)
            );
        }
        let label = "no item shared (a tenant each)";
        let prefix = random_hex::<4>().expect("random");
        let apart = self
            .import(label, DEFAULT_COUNT_SHARDS, |i| {
                TenantId::parse(&format!("bench-apart-{prefix}-{i}")).expect("tenant")
            })
            .await;
        eprintln!("[bench] bulk import, {label}: {:?}", apart.creates);
        imports.push(apart);
        imports
    }

    /// (c): fifty creates of one tag at once.
    pub async fn same_tag_race(&self) -> Race {
        const CREATES: usize = 50;
        let secrets = service(self.store.clone());
        let one = tenant("race");
        let tenants = vec![one.clone(); CREATES];
        let started = Instant::now();
        let created = self
            .at_once(&secrets, &tenants, |secrets, tenant, _| async move {
                let creator = actor(&tenant, Operation::Create);
                secrets.create(&creator, create_request("contended")).await
            })
            .await;
        let answers = Answers::count(&created, started.elapsed().as_secs_f64());
        let (total, _) = census(&secrets, &[one]).await;
        Race {
            creates: CREATES,
            answers,
            total,
        }
    }
}

/// The `total` the list reports and the rows it lists, summed over the
/// distinct tenants.
async fn census(secrets: &Service, tenants: &[TenantId]) -> (u64, u64) {
    let mut distinct: Vec<&TenantId> = tenants.iter().collect();
    distinct.sort();
    distinct.dedup();
    let (mut total, mut stored) = (0, 0);
    for tenant in distinct {
        let mut page = 0;
        loop {
            let listed = secrets
                .list(tenant, PageRequest::new(page, 1000).expect("page"))
                .await
                .expect("a list");
            if page == 0 {
                total += u64::from(listed.total);
            }
            stored += listed.secrets.len() as u64;
            if listed.secrets.len() < 1000 {
                break;
            }
            page += 1;
        }
    }
    (total, stored)
}
