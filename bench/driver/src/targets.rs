//! The bench's verdict on each target of the issues, from the report's
//! figures. A target whose figure is missing (no metric records, no
//! page-0 capacity, an unreadable /proc) is reported as missing: never met.

use crate::report::{CLIENTS, Measured, ONE_CALL, Report, deep_page};
use crate::verdict::Target;

/// Every value, or None if any is missing (or there are none).
fn all<T>(values: impl IntoIterator<Item = Option<T>>) -> Option<Vec<T>> {
    let values: Option<Vec<T>> = values.into_iter().collect();
    values.filter(|values| !values.is_empty())
}

fn show(value: Option<f64>) -> String {
    value.map_or("missing".to_owned(), |v| format!("{v}"))
}

fn ratio(value: Option<f64>) -> String {
    value.map_or("missing".to_owned(), |v| format!("{v:.2}x"))
}

/// DynamoDB and KMS calls of a measured operation.
fn calls(m: Option<&Measured>) -> (Option<f64>, Option<f64>) {
    (
        m.and_then(|m| m.dynamodb_calls),
        m.and_then(|m| m.kms_calls),
    )
}

impl Report {
    /// Judges every target against the figures, in order.
    pub fn judge(&mut self, functions: &[&str]) {
        let mut targets = Vec::new();
        let mut check = |target: &str, measured: String, met: Option<bool>| {
            targets.push(Target::new(target, measured, met));
        };
        for operation in ["retrieve by id", "retrieve by tag"] {
            let (dynamodb, kms) = calls(self.operation(&self.warm, operation));
            check(
                &format!("{operation}: 1 DynamoDB read, 0 KMS"),
                format!("{} DynamoDB, {} KMS", show(dynamodb), show(kms)),
                dynamodb.zip(kms).map(|(d, k)| d == 1.0 && k == 0.0),
            );
        }
        let lists: Vec<&Measured> = self
            .warm
            .iter()
            .chain(&self.scale)
            .chain(&self.values)
            .filter(|m| m.function == "list-secrets")
            .collect();
        let list_kms = all(lists.iter().map(|m| m.kms_calls)).map(|kms| kms.iter().sum::<f64>());
        check(
            "list: 0 KMS",
            format!("{} KMS over {} kinds of page", show(list_kms), lists.len()),
            list_kms.map(|kms| kms == 0.0),
        );
        let (page0, _) = calls(self.operation(&self.warm, "list page 0"));
        check(
            "list page 0: at most 2 DynamoDB calls",
            show(page0),
            page0.map(|calls| calls <= 2.0),
        );
        let value_units = |label: &str| {
            self.values
                .iter()
                .find(|m| m.function == "list-secrets" && m.operation.ends_with(label))
                .and_then(|m| m.read_units)
        };
        let (small, large) = (value_units("100 B"), value_units("64 KiB"));
        check(
            "list page capacity independent of value size",
            format!(
                "{} RCU with 100 B values, {} RCU with 64 KiB",
                show(small),
                show(large)
            ),
            small.zip(large).map(|(small, large)| small == large),
        );
        let create = self.operation(&self.warm, "create");
        let (_, kms) = calls(create);
        let transactions = create
            .map(|m| {
                m.calls
                    .get("DynamoDB.TransactWriteItems")
                    .copied()
                    .unwrap_or(0)
            })
            .filter(|_| create.is_some_and(|m| m.dynamodb_calls.is_some()));
        check(
            "create: 1 KMS call, 1 transaction",
            format!(
                "{} KMS, {} transaction(s)",
                show(kms),
                show(transactions.map(|t| t as f64))
            ),
            kms.zip(transactions).map(|(k, t)| k == 1.0 && t == 1),
        );
        let (_, kms) = calls(self.operation(&self.warm, "update name only"));
        check(
            "update name only: 0 KMS",
            format!("{} KMS", show(kms)),
            kms.map(|k| k == 0.0),
        );
        let (dynamodb, kms) = calls(self.operation(&self.warm, "delete"));
        check(
            "delete: at most 2 DynamoDB calls, 0 KMS",
            format!("{} DynamoDB, {} KMS", show(dynamodb), show(kms)),
            dynamodb.zip(kms).map(|(d, k)| d <= 2.0 && k == 0.0),
        );
        // Its record, its kept versions' keys (their expiry is cleared),
        // one transaction; a tenant near its limit adds the count shards.
        let (dynamodb, kms) = calls(self.operation(&self.warm, "recover a deleted secret"));
        check(
            "recover: at most 3 DynamoDB calls, 0 KMS",
            format!("{} DynamoDB, {} KMS", show(dynamodb), show(kms)),
            dynamodb.zip(kms).map(|(d, k)| d <= 3.0 && k == 0.0),
        );
        // The update function never decrypts: the reseal function does.
        let (_, kms) = calls(self.operation(&self.warm, "restore a kept version"));
        check(
            "restore: 0 KMS in the update function",
            format!("{} KMS", show(kms)),
            kms.map(|k| k == 0.0),
        );

        let floor_cold = self.cold_start_ms(CLIENTS);
        let floor_cpu = self.floor_cpu_us().filter(|cpu| *cpu > 0.0);
        let floor_size = self.size(CLIENTS).map(|s| s as f64);
        let one_call = self
            .warm
            .iter()
            .find(|m| m.function == ONE_CALL)
            .and_then(|m| m.cpu_us)
            .zip(floor_cpu)
            .map(|(cpu, floor)| cpu / floor);
        for function in functions {
            let cold = self
                .cold_start_ms(function)
                .zip(floor_cold)
                .map(|(cold, floor)| cold / floor);
            check(
                &format!("{function}: cold start at most 1.3x floor-clients"),
                ratio(cold),
                cold.map(|cold| cold <= 1.3),
            );
            let cpu = all(self
                .warm
                .iter()
                .filter(|m| m.function == *function)
                .map(|m| m.cpu_us.zip(floor_cpu).map(|(cpu, floor)| cpu / floor)));
            let worst_cpu = cpu.map(|ratios| ratios.into_iter().fold(0.0, f64::max));
            check(
                &format!("{function}: warm CPU at most 3x floor-hello"),
                format!(
                    "{} (its costliest operation; one bare GetItem is {})",
                    ratio(worst_cpu),
                    ratio(one_call)
                ),
                worst_cpu.map(|worst| worst <= 3.0),
            );
            let rss = self.peak_rss_kib.get(*function).copied().flatten();
            check(
                &format!("{function}: peak RSS under 40 MB"),
                rss.map_or("missing".to_owned(), |kib| {
                    format!("{:.1} MB", kib as f64 / 1024.0)
                }),
                rss.map(|kib| kib < 40 * 1024),
            );
            let size = self
                .size(function)
                .zip(floor_size)
                .map(|(size, floor)| size as f64 / floor);
            check(
                &format!("{function}: arm64 binary at most 1.2x floor-clients"),
                ratio(size),
                size.map(|size| size <= 1.2),
            );
        }
        let (measured, met) = self.deep_pages();
        check(
            "a deep page asked again costs at most 3x page 0",
            measured,
            met,
        );
        targets.extend(self.comparisons.targets());
        targets.extend(crate::storage::targets(&self.stored_values));
        self.targets = targets;
    }

    /// Read units of each deep page asked for again at an unchanged
    /// generation (the measured requests follow warm-ups of the same page),
    /// against page 0's; missing if page 0's capacity or any page's is, or
    /// fewer than two deep pages were measured.
    fn deep_pages(&self) -> (String, Option<bool>) {
        let page_zero = self
            .scale
            .iter()
            .find(|m| deep_page(&m.operation) == Some(0))
            .and_then(|m| m.read_units);
        let deep = all(self
            .scale
            .iter()
            .filter_map(|m| Some((deep_page(&m.operation)?, m)))
            .filter(|(page, _)| *page > 0)
            .map(|(page, m)| {
                m.read_units
                    .zip(page_zero)
                    .map(|(units, zero)| (page, units / zero))
            }))
        .filter(|pages| pages.len() >= 2);
        let Some(deep) = deep else {
            return ("missing".to_owned(), None);
        };
        let measured = deep
            .iter()
            .map(|(page, ratio)| format!("page {page}: {ratio:.2}x page 0's RCU"))
            .collect::<Vec<_>>()
            .join("; ");
        let met = deep.iter().all(|(_, ratio)| *ratio <= 3.0);
        (measured, Some(met))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::verdict::Verdict;

    fn record(dynamodb: u32, kms: u32, read: f64) -> Value {
        json!({"DynamoDBCalls": dynamodb, "KMSCalls": kms, "ReadCapacityUnits": read,
               "WriteCapacityUnits": 0.0, "Calls": {"DynamoDB.GetItem": dynamodb}})
    }

    fn verdict(report: &Report, prefix: &str) -> Option<Verdict> {
        report
            .targets
            .iter()
            .find(|t| t.target.starts_with(prefix))
            .map(|t| t.verdict)
    }

    fn deep_pages(pages: &[(usize, Option<f64>)]) -> Option<Verdict> {
        let mut report = Report::default();
        for (page, units) in pages {
            let operation = format!("list page {page} of 400");
            let records: Vec<Value> = units.iter().map(|units| record(2, 0, *units)).collect();
            let m = Measured::new(
                "list-secrets",
                &operation,
                1,
                Some(0),
                Duration::ZERO,
                &records,
            );
            report.scale.push(m);
        }
        report.judge(&[]);
        verdict(&report, "a deep page asked again")
    }

    #[test]
    fn deep_pages_asked_again_must_cost_at_most_3x_page_0() {
        let pages = |units: [f64; 3]| {
            [
                (0, Some(units[0])),
                (200, Some(units[1])),
                (399, Some(units[2])),
            ]
        };
        assert_eq!(deep_pages(&pages([7.0, 8.5, 21.0])), Some(Verdict::Met));
        assert_eq!(
            deep_pages(&pages([7.0, 8.5, 1009.0])),
            Some(Verdict::NotMet)
        );
    }

    #[test]
    fn deep_pages_without_page_0_or_a_pages_records_are_missing() {
        let no_page_zero = [(0, None), (200, Some(509.5)), (399, Some(1009.0))];
        assert_eq!(deep_pages(&no_page_zero), Some(Verdict::Missing));
        let a_page_without_records = [(0, Some(7.0)), (200, Some(509.5)), (399, None)];
        assert_eq!(deep_pages(&a_page_without_records), Some(Verdict::Missing));
        assert_eq!(
            deep_pages(&[(0, Some(7.0)), (200, Some(509.5))]),
            Some(Verdict::Missing)
        );
    }

    #[test]
    fn a_missing_figure_is_missing_never_met() {
        let mut report = Report::default();
        report.judge(&["get-secret"]);
        assert!(
            report.targets.iter().all(|t| t.verdict == Verdict::Missing),
            "{:#?}",
            report.targets
        );
    }

    #[test]
    fn a_list_page_without_metric_records_leaves_list_kms_missing() {
        let mut report = Report::default();
        for records in [vec![record(2, 0, 7.0)], vec![]] {
            let m = Measured::new(
                "list-secrets",
                "list page 0",
                1,
                Some(0),
                Duration::ZERO,
                &records,
            );
            report.warm.push(m);
        }
        report.judge(&[]);
        assert_eq!(verdict(&report, "list: 0 KMS"), Some(Verdict::Missing));
    }

    #[test]
    fn an_unreadable_proc_leaves_cpu_and_memory_missing() {
        let mut report = Report::default();
        let run = |function: &str, cpu_ns: Option<u64>| {
            Measured::new(
                function,
                "retrieve by id",
                1,
                cpu_ns,
                Duration::ZERO,
                &[record(1, 0, 0.5)],
            )
        };
        report.add(
            "floor-hello",
            vec![run("floor-hello", Some(1_000))],
            Some(2048),
        );
        report.add("get-secret", vec![run("get-secret", None)], None);
        report.judge(&["get-secret"]);
        assert_eq!(
            verdict(&report, "get-secret: warm CPU"),
            Some(Verdict::Missing)
        );
        assert_eq!(
            verdict(&report, "get-secret: peak RSS"),
            Some(Verdict::Missing)
        );
        // With both readable, the same figures are judged.
        let mut report = Report::default();
        report.add(
            "floor-hello",
            vec![run("floor-hello", Some(1_000))],
            Some(2048),
        );
        report.add(
            "get-secret",
            vec![run("get-secret", Some(2_000))],
            Some(4096),
        );
        report.judge(&["get-secret"]);
        assert_eq!(verdict(&report, "get-secret: warm CPU"), Some(Verdict::Met));
        assert_eq!(verdict(&report, "get-secret: peak RSS"), Some(Verdict::Met));
    }
}
