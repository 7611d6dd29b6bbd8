//! `make bench`: every function measured side by side with the floors it
//! could reach, in one run, against the emulator. See README "Benchmarks".
//!
//! Environment (set by the bench launcher): BENCH_BIN_DIR (native release
//! binaries), BENCH_ARM64_DIR (cargo lambda's arm64 builds), BENCH_OUTPUT,
//! BENCH_REQUESTS, BENCH_SCALE, BENCH_IMPORT, and the emulator's AWS_* settings,
//! TABLE_NAME, AUDIT_TABLE_NAME, KMS_KEY_ID and IDEMPOTENCY_MAC_KEY_ID.

mod comparisons;
mod contention;
mod function;
mod invoke_api;
mod report;
mod runtime_api;
mod seed;
mod storage;
mod targets;
mod verdict;
mod walk;

use std::path::PathBuf;
use std::time::Instant;

use aws_config::BehaviorVersion;
use secrets_aws::dynamo::{DEFAULT_COUNT_SHARDS, DynamoStore, count_items};
use secrets_domain::model::{SecretSummary, TenantId};
use secrets_domain::ports::SecretStore;
use secrets_domain::service::MAX_BATCH_KEYS;
use secrets_domain::versions::DEFAULT_VALUE_VERSIONS_KEPT;
use secrets_testkit::events::TestRequest;
use secrets_testkit::tokens::{AUDIENCE, ISSUER, PERMISSION, SHARED_SECRET, token};
use serde_json::{Value, json};

use crate::contention::Contention;
use crate::function::Function;
use crate::invoke_api::InvokeApi;
use crate::report::{ColdStart, DEEP_PAGE_SIZE, Measured, ONE_CALL, Report};
use crate::walk::Walker;

/// The functions measured cold and by size: those of the contract. Resolve
/// is measured warm only, over secrets the bench creates through
/// create-secret (the bulk-loaded stand-ins for values are not ciphertext).
fn functions() -> Vec<&'static str> {
    secrets_lambda::Function::ALL
        .into_iter()
        .filter(|function| function.authenticates())
        .map(secrets_lambda::Function::name)
        .collect()
}
const FLOORS: [&str; 2] = ["floor-hello", "floor-clients"];
/// The internal caller of resolve, as API Gateway names a verified signer.
const RESOLVER: &str = "arn:aws:sts::123456789012:assumed-role/bench-resolver/bench";
const COLD_STARTS: usize = 9;

struct Bench {
    bin_dir: PathBuf,
    arm64_dir: PathBuf,
    env: Vec<(String, String)>,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    requests: usize,
    scale: usize,
}

/// A batch of requests for one operation, all expected to succeed.
struct Scenario {
    operation: String,
    events: Vec<String>,
}

impl Scenario {
    fn new(operation: impl Into<String>, events: Vec<String>) -> Self {
        Self {
            operation: operation.into(),
            events,
        }
    }
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run `make bench`"))
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).expect("tenant")
}

fn event(tenant: &TenantId, request: TestRequest) -> String {
    request
        .bearer(&token(tenant.as_str(), &[PERMISSION]))
        .rest_v1_json()
}

impl Bench {
    async fn from_env() -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let mut env: Vec<(String, String)> = [
            "AWS_ENDPOINT_URL",
            "AWS_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "TABLE_NAME",
            "AUDIT_TABLE_NAME",
            "KMS_KEY_ID",
            "IDEMPOTENCY_MAC_KEY_ID",
        ]
        .into_iter()
        .map(|name| (name.to_owned(), var(name)))
        .collect();
        env.extend(
            [
                ("JWT_ISSUER", ISSUER),
                ("JWT_AUDIENCE", AUDIENCE),
                (
                    "JWT_HS256_SECRET",
                    std::str::from_utf8(SHARED_SECRET).expect("utf-8"),
                ),
                ("AWS_EC2_METADATA_DISABLED", "true"),
                // A restore invokes it through the bench's Invoke API.
                ("RESEAL_FUNCTION_NAME", "reseal-secret"),
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
                // The emulator can be slow under load and does not honour
                // DynamoDB's idempotency tokens: one long attempt instead
                // of retries (see docs/design.md).
                ("SDK_ATTEMPT_TIMEOUT_MS", "9000"),
                ("SDK_OPERATION_TIMEOUT_MS", "9000"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        Self {
            bin_dir: var("BENCH_BIN_DIR").into(),
            arm64_dir: var("BENCH_ARM64_DIR").into(),
            env,
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            table: var("TABLE_NAME"),
            requests: var("BENCH_REQUESTS").parse().expect("BENCH_REQUESTS"),
            scale: var("BENCH_SCALE").parse().expect("BENCH_SCALE"),
        }
    }

    async fn seed(
        &self,
        tenant: &TenantId,
        prefix: &str,
        count: usize,
        value_bytes: usize,
    ) -> Vec<SecretSummary> {
        let started = Instant::now();
        let seeded = seed::seed(
            &self.dynamodb,
            &self.table,
            tenant,
            prefix,
            count,
            value_bytes,
        )
        .await;
        eprintln!(
            "[bench] seeded {count} secrets for {tenant} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        seeded
    }

    async fn start(&self, name: &str) -> Function {
        Function::start(&self.bin_dir.join(name), &self.env)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs each scenario on one warm process of `name`; returns what each
    /// cost, and the process's peak memory.
    async fn run(&self, name: &str, scenarios: Vec<Scenario>) -> (Vec<Measured>, Option<u64>) {
        let function = self.start(name).await;
        let mut measured = Vec::new();
        for scenario in scenarios {
            // Connections and caches warm up outside the measurement.
            for warm_up in scenario.events.iter().take(3) {
                function.invoke(warm_up.clone()).await.expect("warm-up");
            }
            function.take_records().await;
            let events = &scenario.events[3.min(scenario.events.len())..];
            let (cpu_before, started) = (function.cpu_ns(), Instant::now());
            let mut failures = Vec::new();
            for event in events {
                let response = function
                    .invoke(event.clone())
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                if response["statusCode"].as_u64() != Some(200) {
                    failures.push(response);
                }
            }
            let cpu = function
                .cpu_ns()
                .zip(cpu_before)
                .map(|(after, before)| after - before);
            let wall = started.elapsed();
            let records = function.take_records().await;
            assert!(
                failures.is_empty(),
                "{name} {}: {} of {} requests failed, the first with {}",
                &scenario.operation,
                failures.len(),
                events.len(),
                failures[0]
            );
            eprintln!(
                "[bench] {name}, {}: {} requests in {:.1} s",
                &scenario.operation,
                events.len(),
                wall.as_secs_f64()
            );
            measured.push(Measured::new(
                name,
                &scenario.operation,
                events.len(),
                cpu,
                wall,
                &records,
            ));
        }
        let peak = function.peak_rss_kib();
        function.stop().await;
        (measured, peak)
    }

    /// Runs `scenarios` on `name` and adds them to the warm table.
    async fn warm(&self, report: &mut Report, name: &str, scenarios: Vec<Scenario>) {
        let (measured, peak) = self.run(name, scenarios).await;
        report.add(name, measured, peak);
    }

    async fn cold_starts(&self, name: &str) -> ColdStart {
        let mut times = Vec::new();
        for _ in 0..COLD_STARTS {
            let function = self.start(name).await;
            times.push(function.cold_start);
            function.stop().await;
        }
        ColdStart::new(name, times)
    }

    fn binary_size(&self, name: &str) -> Option<u64> {
        std::fs::metadata(self.arm64_dir.join(name).join("bootstrap"))
            .ok()
            .map(|m| m.len())
    }
}

fn repeat(count: usize, make: impl Fn(usize) -> String) -> Vec<String> {
    (0..count).map(make).collect()
}

fn list(tenant: &TenantId, page: usize, size: usize) -> String {
    event(
        tenant,
        TestRequest::new("GET", "/api/v1/secrets")
            .query("page", &page.to_string())
            .query("pageSize", &size.to_string()),
    )
}

#[tokio::main]
async fn main() {
    let mut bench = Bench::from_env().await;
    let n = bench.requests;
    // The reseal function, warm for the whole run, behind the Invoke API a
    // restore calls.
    let reseal = bench.start("reseal-secret").await;
    let lambda = InvokeApi::start(reseal.runtime_api()).await;
    bench
        .env
        .push(("AWS_ENDPOINT_URL_LAMBDA".to_owned(), lambda.endpoint()));
    let mut report = Report::default();

    eprintln!("[bench] loading data");
    let browse = tenant("bench-browse");
    let browsed = bench.seed(&browse, "browse", 2000, 100).await;
    let doomed_tenant = tenant("bench-delete");
    let doomed = bench.seed(&doomed_tenant, "doomed", n + 3, 100).await;
    let (small, large) = (tenant("bench-values-100b"), tenant("bench-values-64kib"));
    let small_secrets = bench.seed(&small, "value", 1000, 100).await;
    let large_secrets = bench.seed(&large, "value", 1000, 64 * 1024).await;
    let scale = tenant("bench-scale");
    let scaled = bench.seed(&scale, "scale", bench.scale, 100).await;
    bench
        .seed(&tenant("bench-noise"), "noise", bench.scale / 5, 100)
        .await;

    let started = Instant::now();
    for name in FLOORS.iter().chain(functions().iter()) {
        report.cold_starts.push(bench.cold_starts(name).await);
    }
    eprintln!(
        "[bench] {COLD_STARTS} cold starts of each in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    eprintln!("[bench] warm runs");
    let hello = || repeat(n + 3, |_| list(&browse, 0, 250));
    for floor in FLOORS {
        bench
            .warm(&mut report, floor, vec![Scenario::new("hello", hello())])
            .await;
    }
    // One of the browsing tenant's count shards: a small item, read
    // consistently, as get-secret reads a secret's.
    let first_tag = secrets_domain::model::Tag::parse("browse-000000").expect("tag");
    let count = count_items(&browse, [&first_tag], DEFAULT_COUNT_SHARDS).remove(0);
    let key = |name: &str| count[name].as_s().expect("string key").clone();
    let one_call = event(
        &browse,
        TestRequest::new("GET", "/floor")
            .query("pk", &key("pk"))
            .query("sk", &key("sk")),
    );
    bench
        .warm(
            &mut report,
            ONE_CALL,
            vec![Scenario::new("one GetItem", vec![one_call; n + 3])],
        )
        .await;

    let by_id = format!("{}", browsed[0].id);
    let by_tag = browsed[0].tag.to_string();
    let get = |key: &str| {
        repeat(n + 3, |_| {
            event(&browse, TestRequest::for_secret("GET", key))
        })
    };
    bench
        .warm(
            &mut report,
            "get-secret",
            vec![
                Scenario::new("retrieve by id", get(&by_id)),
                Scenario::new("retrieve by tag", get(&by_tag)),
            ],
        )
        .await;

    let deep = (n / 20).max(20);
    bench
        .warm(
            &mut report,
            "list-secrets",
            vec![
                Scenario::new("list page 0", repeat(n + 3, |_| list(&browse, 0, 250))),
                Scenario::new(
                    "list middle page (4 of 8)",
                    repeat(deep, |_| list(&browse, 4, 250)),
                ),
                Scenario::new(
                    "list last page (7 of 8)",
                    repeat(deep, |_| list(&browse, 7, 250)),
                ),
                Scenario::new("list 1000 rows", repeat(deep, |_| list(&browse, 0, 1000))),
            ],
        )
        .await;

    let creator = tenant("bench-create");
    let value = "v".repeat(100);
    // Enough for a batch resolve of them, however few requests are asked.
    let creates = repeat((n + 3).max(MAX_BATCH_KEYS), |i| {
        let body = json!({"tag": format!("created-{i:06}"), "name": "Created", "secret": value});
        event(
            &creator,
            TestRequest::new("POST", "/api/v1/secrets").json(&body.to_string()),
        )
    });
    bench
        .warm(
            &mut report,
            "create-secret",
            vec![Scenario::new("create", creates)],
        )
        .await;

    // Real secrets (sealed under the emulator's KMS key by create-secret),
    // resolved one by one and twenty at a time, by the internal caller's
    // signed route.
    let resolved: Vec<String> = (0..MAX_BATCH_KEYS)
        .map(|i| format!("created-{i:06}"))
        .collect();
    let signed = |request: TestRequest| request.signed_by(RESOLVER).rest_v1_json();
    let singles = repeat(n + 3, |i| {
        signed(TestRequest::for_resolve(
            creator.as_str(),
            &resolved[i % MAX_BATCH_KEYS],
        ))
    });
    let keys: Vec<&str> = resolved.iter().map(String::as_str).collect();
    let batches = repeat(n + 3, |_| {
        signed(TestRequest::for_resolve_many(creator.as_str(), &keys))
    });
    bench
        .warm(
            &mut report,
            "resolve-secret",
            vec![
                Scenario::new("resolve one", singles),
                Scenario::new(format!("resolve a batch of {MAX_BATCH_KEYS}"), batches),
            ],
        )
        .await;

    let target = browsed[1].id.to_string();
    let update = |body: Value| {
        event(
            &browse,
            TestRequest::for_secret("PUT", &target).json(&body.to_string()),
        )
    };
    bench
        .warm(
            &mut report,
            "update-secret",
            vec![
                Scenario::new(
                    "update name only",
                    repeat(n + 3, |i| update(json!({"name": format!("Name {i}")}))),
                ),
                Scenario::new(
                    "update value",
                    repeat(n + 3, |i| update(json!({"secret": format!("{value}{i}")}))),
                ),
            ],
        )
        .await;

    // Each restore makes the version before the current one current again,
    // as a new version: an earlier value, resealed by the reseal function.
    let store = DynamoStore::new(bench.dynamodb.clone(), &bench.table);
    let updated = store
        .find(
            &browse,
            &secrets_domain::model::TagOrId::Id(browsed[1].id.clone()),
        )
        .await
        .expect("the updated secret")
        .expect("the updated secret");
    let current = updated.value_version.expect("a value version");
    let restores = repeat(n + 3, |i| {
        let previous = (current + i as u64 - 1).to_string();
        event(&browse, TestRequest::for_restore(&target, &previous))
    });
    bench
        .warm(
            &mut report,
            "update-secret",
            vec![Scenario::new("restore a kept version", restores)],
        )
        .await;

    // The updated secret now keeps its newest versions: their list.
    let versions = repeat(n + 3, |_| {
        event(&browse, TestRequest::for_versions(&target))
    });
    bench
        .warm(
            &mut report,
            "get-secret",
            vec![Scenario::new(
                format!("versions list ({DEFAULT_VALUE_VERSIONS_KEPT} kept)"),
                versions,
            )],
        )
        .await;

    let deletes = doomed
        .iter()
        .map(|secret| {
            event(
                &doomed_tenant,
                TestRequest::for_secret("DELETE", secret.id.as_str()),
            )
        })
        .collect();
    // Kept for the default recovery window: each is recovered after.
    let recoveries = doomed
        .iter()
        .map(|secret| {
            event(
                &doomed_tenant,
                TestRequest::for_recovery(secret.id.as_str()),
            )
        })
        .collect();
    bench
        .warm(
            &mut report,
            "delete-secret",
            vec![
                Scenario::new("delete", deletes),
                Scenario::new("recover a deleted secret", recoveries),
            ],
        )
        .await;

    eprintln!(
        "[bench] scale: {} secrets in one tenant, {} in another",
        bench.scale,
        bench.scale / 5
    );
    let pages = bench.scale.div_ceil(DEEP_PAGE_SIZE);
    let mut scale_scenarios = Vec::new();
    for page in [0, pages / 2, pages - 1] {
        scale_scenarios.push(Scenario::new(
            format!("list page {page} of {pages}"),
            repeat(6, |_| list(&scale, page, DEEP_PAGE_SIZE)),
        ));
    }
    let (measured, _) = bench.run("list-secrets", scale_scenarios).await;
    report.scale.extend(measured);
    let scaled_id = scaled[bench.scale / 2].id.to_string();
    let (measured, _) = bench
        .run(
            "get-secret",
            vec![Scenario::new(
                "retrieve by id",
                repeat(20, |_| {
                    event(&scale, TestRequest::for_secret("GET", &scaled_id))
                }),
            )],
        )
        .await;
    report.scale.extend(measured);

    eprintln!("[bench] writers at once: bulk imports and a same-tag race");
    let timeouts = secrets_aws::sdk::CallTimeouts {
        attempt: std::time::Duration::from_secs(9),
        operation: std::time::Duration::from_secs(9),
    };
    let sdk = secrets_aws::sdk::load(timeouts).await;
    let calls = secrets_aws::metrics::CallCounter::default();
    let client = secrets_aws::sdk::dynamodb_client(&sdk, &calls);
    let contention = Contention {
        store: DynamoStore::new(client.clone(), &bench.table)
            .with_audit_table(var("AUDIT_TABLE_NAME"), 0),
        clients: 100,
        secrets: var("BENCH_IMPORT").parse().expect("BENCH_IMPORT"),
    };
    report.comparisons.imports = contention.bulk_imports().await;
    report.comparisons.race = Some(contention.same_tag_race().await);
    eprintln!("[bench] walking every page of {scale}");
    let walker = Walker {
        client,
        calls,
        table: bench.table.clone(),
        tenant: scale.clone(),
        secrets: bench.scale,
    };
    report.comparisons.walk = Some(walker.run().await);

    eprintln!("[bench] values of 100 B and of 64 KiB");
    for (tenant, secrets, label) in [
        (&small, &small_secrets, "100 B"),
        (&large, &large_secrets, "64 KiB"),
    ] {
        let id = secrets[0].id.to_string();
        let scenarios = vec![Scenario::new(
            format!("list page 0, values of {label}"),
            repeat(10, |_| list(tenant, 0, 250)),
        )];
        let (measured, _) = bench.run("list-secrets", scenarios).await;
        report.values.extend(measured);
        let scenarios = vec![Scenario::new(
            format!("retrieve by id, values of {label}"),
            repeat(10, |_| event(tenant, TestRequest::for_secret("GET", &id))),
        )];
        let (measured, _) = bench.run("get-secret", scenarios).await;
        report.values.extend(measured);
    }

    report.stored_values = storage::stored_values().await;

    for name in FLOORS.iter().chain(functions().iter()) {
        report
            .arm64_bytes
            .insert(name.to_string(), bench.binary_size(name));
    }
    reseal.stop().await;
    report.judge(&functions());
    println!("{}", report.render());
    report.write(&PathBuf::from(var("BENCH_OUTPUT")));
}
