//! The bench's one table, its verdict on each target, and its JSON copy.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// List prices used for the price column (us-east-1, November 2026).
pub mod price {
    /// Lambda on arm64, per GB-second, and per request.
    pub const LAMBDA_ARM64_GB_SECOND: f64 = 0.000_013_333_4;
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// API Gateway REST APIs, first 333 million requests a month.
    pub const API_GATEWAY_REST_REQUEST: f64 = 3.50 / 1e6;
    /// DynamoDB on-demand, per read and write request unit.
    pub const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
    pub const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
    /// KMS, per API request (GenerateDataKey, Decrypt).
    pub const KMS_REQUEST: f64 = 0.03 / 1e4;
    /// The memory every function is deployed with.
    pub const MEMORY_GB: f64 = 128.0 / 1024.0;
}

/// One operation's figures, per request: the AWS side from the function's
/// own metric records, the process side from /proc.
#[derive(Debug, Serialize)]
pub struct Measured {
    pub function: String,
    pub operation: String,
    pub requests: usize,
    pub cpu_us: f64,
    pub wall_ms: f64,
    /// Medians over the requests' metric records; None for the floors,
    /// which make no AWS calls and print no records.
    pub dynamodb_calls: Option<f64>,
    pub kms_calls: Option<f64>,
    pub read_units: Option<f64>,
    pub write_units: Option<f64>,
    /// The calls of the median request, by `Service.Operation`.
    pub calls: BTreeMap<String, u64>,
}

impl Measured {
    pub fn new(
        function: &str,
        operation: &str,
        requests: usize,
        cpu_ns: u64,
        wall: Duration,
        records: &[Value],
    ) -> Self {
        assert!(
            records.is_empty() || records.len() == requests,
            "{function} {operation}: {} metric records for {requests} requests",
            records.len()
        );
        let field = |name: &str| median(records.iter().filter_map(|r| r[name].as_f64()).collect());
        let calls = records
            .get(records.len() / 2)
            .and_then(|record| serde_json::from_value(record["Calls"].clone()).ok())
            .unwrap_or_default();
        let per_request = requests.max(1) as f64;
        Self {
            function: function.to_owned(),
            operation: operation.to_owned(),
            requests,
            cpu_us: cpu_ns as f64 / 1e3 / per_request,
            wall_ms: wall.as_secs_f64() * 1e3 / per_request,
            dynamodb_calls: field("DynamoDBCalls"),
            kms_calls: field("KMSCalls"),
            read_units: field("ReadCapacityUnits"),
            write_units: field("WriteCapacityUnits"),
            calls,
        }
    }

    /// Dollars per million requests: API Gateway, Lambda (requests, and
    /// 128 MB for the wall time measured against the emulator, which is
    /// slower than DynamoDB: an upper bound), DynamoDB units and KMS calls.
    pub fn dollars_per_million(&self) -> f64 {
        let lambda_seconds = (self.wall_ms.ceil()) / 1e3;
        let per_request = price::API_GATEWAY_REST_REQUEST
            + price::LAMBDA_REQUEST
            + price::MEMORY_GB * lambda_seconds * price::LAMBDA_ARM64_GB_SECOND
            + self.read_units.unwrap_or(0.0) * price::DYNAMODB_READ_UNIT
            + self.write_units.unwrap_or(0.0) * price::DYNAMODB_WRITE_UNIT
            + self.kms_calls.unwrap_or(0.0) * price::KMS_REQUEST;
        per_request * 1e6
    }
}

#[derive(Debug, Serialize)]
pub struct ColdStart {
    pub function: String,
    /// The median, in ms, from process start to the first Runtime API poll.
    pub median_ms: f64,
    pub samples_ms: Vec<f64>,
}

impl ColdStart {
    pub fn new(function: &str, times: Vec<Duration>) -> Self {
        let samples_ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
        Self {
            function: function.to_owned(),
            median_ms: median(samples_ms.clone()).unwrap_or(f64::NAN),
            samples_ms,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub cold_starts: Vec<ColdStart>,
    pub warm: Vec<Measured>,
    pub peak_rss_kib: BTreeMap<String, u64>,
    pub scale: Vec<Measured>,
    pub values: Vec<Measured>,
    /// Bytes of each arm64 release `bootstrap`.
    pub arm64_bytes: BTreeMap<String, Option<u64>>,
    pub targets: Vec<Target>,
}

const HELLO: &str = "floor-hello";
const CLIENTS: &str = "floor-clients";
/// One GetItem per request and nothing else: what one DynamoDB call costs.
pub const ONE_CALL: &str = "floor-get-item";
/// The page size of the scale scenarios.
pub const DEEP_PAGE_SIZE: usize = 250;

/// The page of a scale scenario named `list page {page} of {pages}`.
fn deep_page(operation: &str) -> Option<usize> {
    operation
        .strip_prefix("list page ")?
        .split_once(" of ")?
        .0
        .parse()
        .ok()
}

impl Report {
    pub fn add(&mut self, function: &str, measured: Vec<Measured>, peak_rss_kib: u64) {
        self.warm.extend(measured);
        let peak = self.peak_rss_kib.entry(function.to_owned()).or_default();
        *peak = (*peak).max(peak_rss_kib);
    }

    fn cold_start_ms(&self, function: &str) -> Option<f64> {
        self.cold_starts
            .iter()
            .find(|c| c.function == function)
            .map(|c| c.median_ms)
    }

    fn floor_cpu_us(&self) -> Option<f64> {
        self.warm
            .iter()
            .find(|m| m.function == HELLO)
            .map(|m| m.cpu_us)
    }

    fn size(&self, function: &str) -> Option<u64> {
        self.arm64_bytes.get(function).copied().flatten()
    }

    fn operation<'a>(&'a self, rows: &'a [Measured], operation: &str) -> Option<&'a Measured> {
        rows.iter().find(|m| m.operation == operation)
    }

    /// Judges every target of the issue against the figures, in order.
    pub fn judge(&mut self, functions: &[&str]) {
        let mut targets = Vec::new();
        let mut check = |target: &str, measured: String, met: bool| {
            targets.push(Target {
                target: target.to_owned(),
                measured,
                met,
            })
        };
        let calls = |m: Option<&Measured>| {
            m.map(|m| {
                (
                    m.dynamodb_calls.unwrap_or(f64::NAN),
                    m.kms_calls.unwrap_or(f64::NAN),
                )
            })
            .unwrap_or((f64::NAN, f64::NAN))
        };
        for operation in ["retrieve by id", "retrieve by tag"] {
            let (dynamodb, kms) = calls(self.operation(&self.warm, operation));
            check(
                &format!("{operation}: 1 DynamoDB read, 0 KMS"),
                format!("{dynamodb} DynamoDB, {kms} KMS"),
                dynamodb == 1.0 && kms == 0.0,
            );
        }
        let lists: Vec<&Measured> = self
            .warm
            .iter()
            .chain(&self.scale)
            .chain(&self.values)
            .filter(|m| m.function == "list-secrets")
            .collect();
        let list_kms: f64 = lists.iter().filter_map(|m| m.kms_calls).sum();
        check(
            "list: 0 KMS",
            format!("{list_kms} KMS over {} kinds of page", lists.len()),
            !lists.is_empty() && list_kms == 0.0,
        );
        let (page0, _) = calls(self.operation(&self.warm, "list page 0"));
        check(
            "list page 0: at most 2 DynamoDB calls",
            format!("{page0}"),
            page0 <= 2.0,
        );
        let value_units = |label: &str| {
            self.values
                .iter()
                .find(|m| m.function == "list-secrets" && m.operation.ends_with(label))
                .and_then(|m| m.read_units)
                .unwrap_or(f64::NAN)
        };
        let (small, large) = (value_units("100 B"), value_units("64 KiB"));
        check(
            "list page capacity independent of value size",
            format!("{small} RCU with 100 B values, {large} RCU with 64 KiB"),
            small == large,
        );
        let create = self.operation(&self.warm, "create");
        let (_, kms) = calls(create);
        let transactions = create.map_or(0, |m| {
            m.calls
                .get("DynamoDB.TransactWriteItems")
                .copied()
                .unwrap_or(0)
        });
        check(
            "create: 1 KMS call, 1 transaction",
            format!("{kms} KMS, {transactions} transaction(s)"),
            kms == 1.0 && transactions == 1,
        );
        let (_, kms) = calls(self.operation(&self.warm, "update name only"));
        check("update name only: 0 KMS", format!("{kms} KMS"), kms == 0.0);
        let (dynamodb, kms) = calls(self.operation(&self.warm, "delete"));
        check(
            "delete: at most 2 DynamoDB calls, 0 KMS",
            format!("{dynamodb} DynamoDB, {kms} KMS"),
            dynamodb <= 2.0 && kms == 0.0,
        );

        let floor_cold = self.cold_start_ms(CLIENTS).unwrap_or(f64::NAN);
        let floor_cpu = self.floor_cpu_us().unwrap_or(f64::NAN);
        let floor_size = self.size(CLIENTS).map_or(f64::NAN, |s| s as f64);
        let one_call = self
            .warm
            .iter()
            .find(|m| m.function == ONE_CALL)
            .map_or(f64::NAN, |m| m.cpu_us / floor_cpu);
        for function in functions {
            let cold = self.cold_start_ms(function).unwrap_or(f64::NAN) / floor_cold;
            check(
                &format!("{function}: cold start at most 1.3x floor-clients"),
                format!("{cold:.2}x"),
                cold <= 1.3,
            );
            let worst_cpu = self
                .warm
                .iter()
                .filter(|m| m.function == *function)
                .map(|m| m.cpu_us / floor_cpu)
                .fold(f64::NAN, f64::max);
            check(
                &format!("{function}: warm CPU at most 3x floor-hello"),
                format!(
                    "{worst_cpu:.2}x (its costliest operation; one bare GetItem is {one_call:.2}x)"
                ),
                worst_cpu <= 3.0,
            );
            let rss = self
                .peak_rss_kib
                .get(*function)
                .copied()
                .unwrap_or(u64::MAX);
            check(
                &format!("{function}: peak RSS under 40 MB"),
                format!("{:.1} MB", rss as f64 / 1024.0),
                rss < 40 * 1024,
            );
            let size = self.size(function).map_or(f64::NAN, |s| s as f64) / floor_size;
            check(
                &format!("{function}: arm64 binary at most 1.2x floor-clients"),
                format!("{size:.2}x"),
                size <= 1.2,
            );
        }
        let first = self
            .scale
            .iter()
            .find(|m| deep_page(&m.operation) == Some(0));
        let skipped: Vec<(f64, f64)> = self
            .scale
            .iter()
            .filter_map(|m| Some((deep_page(&m.operation)?, m.read_units?)))
            .filter(|(page, _)| *page > 0)
            .map(|(page, units)| {
                let page_zero = first.and_then(|f| f.read_units).unwrap_or(f64::NAN);
                let rows = (page * DEEP_PAGE_SIZE) as f64;
                (rows, (units - page_zero) / rows)
            })
            .collect();
        let per_row: Vec<f64> = skipped.iter().map(|(_, unit)| *unit).collect();
        let (least, most) = per_row
            .iter()
            .fold((f64::INFINITY, 0.0_f64), |(lo, hi), u| {
                (lo.min(*u), hi.max(*u))
            });
        check(
            "deep pages cost in proportion to the rows they skip",
            skipped
                .iter()
                .map(|(rows, unit)| {
                    format!("{rows} rows skipped at {:.1} rows per RCU", 1.0 / unit)
                })
                .collect::<Vec<_>>()
                .join("; "),
            skipped.len() >= 2 && least > 0.0 && most <= least * 1.1,
        );
        self.targets = targets;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let floor_cpu = self.floor_cpu_us().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "\nOperations (per request; CPU against the emulator, x = ratio to {HELLO})"
        );
        operation_table(&mut out, &self.warm, Some(floor_cpu));
        let _ = writeln!(
            out,
            "\nScale: one tenant with many secrets, noise in another"
        );
        operation_table(&mut out, &self.scale, None);
        let _ = writeln!(out, "\nValue sizes");
        operation_table(&mut out, &self.values, None);

        let floor_cold = self.cold_start_ms(CLIENTS).unwrap_or(f64::NAN);
        let floor_size = self.size(CLIENTS).map_or(f64::NAN, |s| s as f64);
        let _ = writeln!(out, "\nFunctions (x = ratio to {CLIENTS})");
        let _ = writeln!(
            out,
            "{:<15} {:>14} {:>6} {:>13} {:>15} {:>6}",
            "function", "cold start ms", "x", "peak RSS MB", "arm64 MB", "x"
        );
        for cold in &self.cold_starts {
            let name = cold.function.as_str();
            let rss = self
                .peak_rss_kib
                .get(name)
                .map_or(f64::NAN, |k| *k as f64 / 1024.0);
            let size = self.size(name).map_or(f64::NAN, |s| s as f64);
            let _ = writeln!(
                out,
                "{:<15} {:>14.1} {:>6.2} {:>13.1} {:>15.2} {:>6.2}",
                name,
                cold.median_ms,
                cold.median_ms / floor_cold,
                rss,
                size / 1e6,
                size / floor_size,
            );
        }

        let _ = writeln!(out, "\nTargets");
        for target in &self.targets {
            let verdict = if target.met { "met" } else { "NOT MET" };
            let _ = writeln!(out, "{verdict:<8} {}: {}", target.target, target.measured);
        }
        let _ = writeln!(
            out,
            "\nPrices used ($): API Gateway REST {}/M requests; Lambda arm64 {}/GB-s at 128 MB \
             for the wall time rounded up to 1 ms, {}/M requests; DynamoDB on-demand {}/M read \
             units, {}/M write units; KMS {:.2}/10k requests. CloudWatch Logs ingestion of the one \
             log line and metric record per request is not included.",
            price::API_GATEWAY_REST_REQUEST * 1e6,
            price::LAMBDA_ARM64_GB_SECOND,
            price::LAMBDA_REQUEST * 1e6,
            price::DYNAMODB_READ_UNIT * 1e6,
            price::DYNAMODB_WRITE_UNIT * 1e6,
            price::KMS_REQUEST * 1e4,
        );
        out
    }

    pub fn write(&self, path: &Path) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("report directory");
        }
        let json = serde_json::to_string_pretty(self).expect("report as JSON");
        std::fs::write(path, json)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

fn operation_table(out: &mut String, rows: &[Measured], floor_cpu: Option<f64>) {
    let _ = writeln!(
        out,
        "{:<40} {:<14} {:>5} {:>4} {:>7} {:>7} {:>9} {:>6} {:>8} {:>8}",
        "operation", "function", "DDB", "KMS", "RCU", "WCU", "CPU us", "x", "wall ms", "$/M req"
    );
    for m in rows {
        let ratio = floor_cpu.map_or(String::new(), |floor| format!("{:.2}", m.cpu_us / floor));
        let _ = writeln!(
            out,
            "{:<40} {:<14} {:>5} {:>4} {:>7} {:>7} {:>9.1} {:>6} {:>8.2} {:>8.2}",
            m.operation,
            m.function,
            fmt(m.dynamodb_calls),
            fmt(m.kms_calls),
            fmt(m.read_units),
            fmt(m.write_units),
            m.cpu_us,
            ratio,
            m.wall_ms,
            m.dollars_per_million(),
        );
    }
}

fn fmt(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| format!("{v}"))
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(dynamodb: u32, kms: u32, read: f64) -> Value {
        json!({"DynamoDBCalls": dynamodb, "KMSCalls": kms, "ReadCapacityUnits": read,
               "WriteCapacityUnits": 0.0, "Calls": {"DynamoDB.GetItem": dynamodb}})
    }

    #[test]
    fn figures_are_the_median_request() {
        let records = [record(1, 0, 0.5), record(3, 0, 9.0), record(1, 0, 0.5)];
        let m = Measured::new(
            "get-secret",
            "retrieve",
            3,
            3_000_000,
            Duration::from_millis(30),
            &records,
        );
        assert_eq!((m.dynamodb_calls, m.read_units), (Some(1.0), Some(0.5)));
        assert_eq!((m.cpu_us, m.wall_ms), (1000.0, 10.0));
    }

    #[test]
    fn price_counts_every_service() {
        let m = Measured::new(
            "create-secret",
            "create",
            1,
            0,
            Duration::from_micros(1500),
            &[json!({
                "DynamoDBCalls": 1, "KMSCalls": 1, "ReadCapacityUnits": 0.0, "WriteCapacityUnits": 8.0,
            })],
        );
        // 3.50 + 0.20 + 0.125 GB x 2 ms + 8 x 0.625 + 3.00
        let expected = 3.5 + 0.2 + 0.125 * 0.002 * 13.3334 + 5.0 + 3.0;
        assert!(
            (m.dollars_per_million() - expected).abs() < 1e-9,
            "{}",
            m.dollars_per_million()
        );
    }

    fn deep_pages(read_units: [f64; 3]) -> Option<bool> {
        let mut report = Report::default();
        for (page, units) in [0, 200, 399].into_iter().zip(read_units) {
            let operation = format!("list page {page} of 400");
            let records = [record(2, 0, units)];
            let m = Measured::new("list-secrets", &operation, 1, 0, Duration::ZERO, &records);
            report.scale.push(m);
        }
        report.judge(&[]);
        let target = report
            .targets
            .iter()
            .find(|t| t.target.starts_with("deep pages"))?;
        Some(target.met)
    }

    #[test]
    fn deep_pages_must_cost_the_same_per_skipped_row() {
        assert_eq!(deep_pages([7.0, 509.5, 1009.0]), Some(true));
        assert_eq!(deep_pages([7.0, 509.5, 2000.0]), Some(false));
        assert_eq!(deep_pages([7.0, 7.0, 7.0]), Some(false));
    }

    #[test]
    fn a_missing_figure_fails_its_target() {
        let mut report = Report::default();
        report.judge(&["get-secret"]);
        assert!(
            report.targets.iter().all(|t| !t.met),
            "{:#?}",
            report.targets
        );
    }
}
