//! The bench's one table, its verdict on each target, and its JSON copy.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::comparisons::Comparisons;
use crate::verdict::Target;

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
    /// None when the process's CPU time could not be read (/proc).
    pub cpu_us: Option<f64>,
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
        cpu_ns: Option<u64>,
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
            cpu_us: cpu_ns.map(|ns| ns as f64 / 1e3 / per_request),
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

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub cold_starts: Vec<ColdStart>,
    pub warm: Vec<Measured>,
    /// None when a process's peak memory could not be read (/proc).
    pub peak_rss_kib: BTreeMap<String, Option<u64>>,
    pub scale: Vec<Measured>,
    pub values: Vec<Measured>,
    /// Bytes of each arm64 release `bootstrap`.
    pub arm64_bytes: BTreeMap<String, Option<u64>>,
    /// Writers at once, and a walk of every page.
    pub comparisons: Comparisons,
    /// The VALUE item of each value size, exact and padded.
    pub stored_values: Vec<crate::storage::StoredValue>,
    pub targets: Vec<Target>,
}

pub(crate) const HELLO: &str = "floor-hello";
pub(crate) const CLIENTS: &str = "floor-clients";
/// One GetItem per request and nothing else: what one DynamoDB call costs.
pub const ONE_CALL: &str = "floor-get-item";
/// The page size of the scale scenarios.
pub const DEEP_PAGE_SIZE: usize = 250;

/// The page of a scale scenario named `list page {page} of {pages}`.
pub(crate) fn deep_page(operation: &str) -> Option<usize> {
    operation
        .strip_prefix("list page ")?
        .split_once(" of ")?
        .0
        .parse()
        .ok()
}

impl Report {
    /// A function's warm figures; its peak memory is the highest of its
    /// runs, and missing if any run's could not be read.
    pub fn add(&mut self, function: &str, measured: Vec<Measured>, peak_rss_kib: Option<u64>) {
        self.warm.extend(measured);
        let peak = self
            .peak_rss_kib
            .entry(function.to_owned())
            .or_insert(Some(0));
        *peak = peak.zip(peak_rss_kib).map(|(a, b)| a.max(b));
    }

    pub(crate) fn cold_start_ms(&self, function: &str) -> Option<f64> {
        self.cold_starts
            .iter()
            .find(|c| c.function == function)
            .map(|c| c.median_ms)
            .filter(|ms| ms.is_finite())
    }

    pub(crate) fn floor_cpu_us(&self) -> Option<f64> {
        self.warm
            .iter()
            .find(|m| m.function == HELLO)
            .and_then(|m| m.cpu_us)
    }

    pub(crate) fn size(&self, function: &str) -> Option<u64> {
        self.arm64_bytes.get(function).copied().flatten()
    }

    pub(crate) fn operation<'a>(
        &'a self,
        rows: &'a [Measured],
        operation: &str,
    ) -> Option<&'a Measured> {
        rows.iter().find(|m| m.operation == operation)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let floor_cpu = self.floor_cpu_us();
        let _ = writeln!(
            out,
            "\nOperations (per request; CPU against the emulator, x = ratio to {HELLO})"
        );
        operation_table(&mut out, &self.warm, floor_cpu);
        let _ = writeln!(
            out,
            "\nScale: one tenant with many secrets, noise in another"
        );
        operation_table(&mut out, &self.scale, None);
        let _ = writeln!(out, "\nValue sizes");
        operation_table(&mut out, &self.values, None);
        self.comparisons.render(&mut out);
        crate::storage::render(&self.stored_values, &mut out);

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
                .copied()
                .flatten()
                .map_or(f64::NAN, |k| k as f64 / 1024.0);
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
            let _ = writeln!(
                out,
                "{:<8} {}: {}",
                target.verdict.as_str(),
                target.target,
                target.measured
            );
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
        let ratio = floor_cpu
            .zip(m.cpu_us)
            .map_or(String::new(), |(floor, cpu)| format!("{:.2}", cpu / floor));
        let _ = writeln!(
            out,
            "{:<40} {:<14} {:>5} {:>4} {:>7} {:>7} {:>9} {:>6} {:>8.2} {:>8.2}",
            m.operation,
            m.function,
            fmt(m.dynamodb_calls),
            fmt(m.kms_calls),
            fmt(m.read_units),
            fmt(m.write_units),
            m.cpu_us.map_or("-".to_owned(), |cpu| format!("{cpu:.1}")),
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
            Some(3_000_000),
            Duration::from_millis(30),
            &records,
        );
        assert_eq!((m.dynamodb_calls, m.read_units), (Some(1.0), Some(0.5)));
        assert_eq!((m.cpu_us, m.wall_ms), (Some(1000.0), 10.0));
    }

    #[test]
    fn price_counts_every_service() {
        let m = Measured::new(
            "create-secret",
            "create",
            1,
            Some(0),
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
}
