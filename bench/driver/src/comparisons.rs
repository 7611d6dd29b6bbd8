//! The side-by-side comparisons of storage at scale (issue 14): bulk imports
//! with one count shard and with the default shards, a same-tag race, and a
//! walk of every page with remembered starts and without; their table and
//! their targets.

use std::fmt::Write as _;

use serde::Serialize;

use crate::contention::{Import, Race};
use crate::verdict::Target;
use crate::walk::Walk;

#[derive(Debug, Default, Serialize)]
pub struct Comparisons {
    pub imports: Vec<Import>,
    pub race: Option<Race>,
    pub walk: Option<Walk>,
}

impl Comparisons {
    pub fn render(&self, out: &mut String) {
        if !self.imports.is_empty() {
            let _ = writeln!(
                out,
                "\nBulk import: 100 clients at once create, then delete, distinct tags"
            );
            let _ = writeln!(
                out,
                "{:<32} {:>6} {:>22} {:>22} {:>10} {:>10} {:>17} {:>17}",
                "run",
                "shards",
                "creates 200/409/5xx",
                "deletes 200/409/5xx",
                "creates/s",
                "deletes/s",
                "total/stored",
                "after deletes"
            );
            for import in &self.imports {
                let answers = |a: &crate::contention::Answers| {
                    format!("{}/{}/{}", a.ok, a.conflict_409, a.server_5xx)
                };
                let _ = writeln!(
                    out,
                    "{:<32} {:>6} {:>22} {:>22} {:>10.1} {:>10.1} {:>17} {:>17}",
                    import.label,
                    import.count_shards,
                    answers(&import.creates),
                    answers(&import.deletes),
                    import.creates.commits_per_second(),
                    import.deletes.commits_per_second(),
                    format!(
                        "{}/{}",
                        import.total_after_creates, import.stored_after_creates
                    ),
                    format!(
                        "{}/{}",
                        import.total_after_deletes, import.stored_after_deletes
                    ),
                );
            }
        }
        if let Some(race) = &self.race {
            let a = race.answers;
            let _ = writeln!(
                out,
                "\nSame-tag race: {} creates of one tag at once: {} x 200, {} x 409, {} x 5xx, {} other; total {}",
                race.creates, a.ok, a.conflict_409, a.server_5xx, a.other, race.total
            );
        }
        if let Some(walk) = &self.walk {
            let _ = writeln!(
                out,
                "\nFull walk: {} pages of {} (two instances taking turns; without remembered starts: \
                 from {} sampled pages, linear between them)",
                walk.pages,
                walk.page_size,
                walk.samples.len()
            );
            let _ = writeln!(
                out,
                "{:<34} {:>9} {:>11} {:>9} {:>14} {:>13}",
                "walk", "calls", "RCU", "WCU", "RCU per page", "x read once"
            );
            let pages = f64::from(walk.pages);
            for (label, cost) in [
                ("one read of every tag item", walk.read_once),
                ("with remembered starts", walk.with_starts),
                ("without remembered starts", walk.without_starts),
            ] {
                let _ = writeln!(
                    out,
                    "{:<34} {:>9.0} {:>11.1} {:>9.0} {:>14.1} {:>13.2}",
                    label,
                    cost.calls,
                    cost.read_units,
                    cost.write_units,
                    cost.read_units / pages,
                    cost.read_units / walk.read_once.read_units
                );
            }
            let samples = walk
                .samples
                .iter()
                .map(|(page, cost)| {
                    format!("page {page}: {} calls, {} RCU", cost.calls, cost.read_units)
                })
                .collect::<Vec<_>>()
                .join("; ");
            let _ = writeln!(
                out,
                "most calls on one page with starts: {}; without, sampled: {samples}",
                walk.with_starts_most_calls_on_a_page
            );
            let _ = writeln!(
                out,
                "deepest page asked again: {} calls, {} RCU (page 0: {} calls, {} RCU)",
                walk.repeated_deep_page.calls,
                walk.repeated_deep_page.read_units,
                walk.page_zero.calls,
                walk.page_zero.read_units
            );
        }
    }

    pub fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let mut check = |target: &str, measured: String, met: Option<bool>| {
            targets.push(Target::new(target, measured, met));
        };
        let find = |shards: bool, shared: bool| {
            self.imports.iter().find(|i| {
                (i.count_shards > 1) == shards && i.label.starts_with("no item shared") != shared
            })
        };
        let (single, sharded, apart) = (find(false, true), find(true, true), find(true, false));
        let exact = |i: &Import| {
            i.total_after_creates == i.stored_after_creates
                && i.total_after_deletes == i.stored_after_deletes
        };
        check(
            "bulk import with shards: no 5xx, total exact",
            sharded.map_or("missing".into(), |i| {
                format!(
                    "{} x 5xx creating, {} deleting; total {} for {} stored",
                    i.creates.server_5xx,
                    i.deletes.server_5xx,
                    i.total_after_creates,
                    i.stored_after_creates
                )
            }),
            sharded.map(|i| i.creates.server_5xx == 0 && i.deletes.server_5xx == 0 && exact(i)),
        );
        let rate = |i: Option<&Import>| i.map(|i| i.creates.commits_per_second());
        let (one, many, cap) = (rate(single), rate(sharded), rate(apart));
        check(
            "bulk import: 5x the single shard's creates/s, or 0.8x the emulator's cap",
            format!(
                "{} creates/s against {} with one shard ({}) and {} with nothing shared ({})",
                show(many),
                show(one),
                ratio(many.zip(one)),
                show(cap),
                ratio(many.zip(cap))
            ),
            many.zip(one)
                .zip(cap)
                .map(|((many, one), cap)| many >= 5.0 * one || many >= 0.8 * cap),
        );
        let race = self.race.as_ref();
        check(
            "same-tag race of 50: one 200, 49 409s, no 5xx",
            race.map_or("missing".into(), |r| {
                format!(
                    "{} x 200, {} x 409, {} x 5xx",
                    r.answers.ok, r.answers.conflict_409, r.answers.server_5xx
                )
            }),
            race.map(|r| {
                r.answers.ok == 1 && r.answers.conflict_409 == r.creates - 1 && r.total == 1
            }),
        );
        let walk = self.walk.as_ref();
        check(
            "full walk with remembered starts: at most 2x one read of every tag item, 4 calls a page",
            walk.map_or("missing".into(), |w| {
                format!(
                    "{:.2}x ({:.0} RCU against {:.0}); at most {} calls a page",
                    w.with_starts.read_units / w.read_once.read_units,
                    w.with_starts.read_units,
                    w.read_once.read_units,
                    w.with_starts_most_calls_on_a_page
                )
            }),
            walk.map(|w| {
                w.with_starts.read_units <= 2.0 * w.read_once.read_units
                    && w.with_starts_most_calls_on_a_page <= 4.0
            }),
        );
        check(
            "deepest page asked again: at most 3x page 0",
            walk.map_or("missing".into(), |w| {
                format!(
                    "{} RCU against {}",
                    w.repeated_deep_page.read_units, w.page_zero.read_units
                )
            }),
            walk.map(|w| w.repeated_deep_page.read_units <= 3.0 * w.page_zero.read_units),
        );
        targets
    }
}

fn show(value: Option<f64>) -> String {
    value.map_or("missing".to_owned(), |v| format!("{v:.1}"))
}

fn ratio(pair: Option<(f64, f64)>) -> String {
    pair.map_or("missing".to_owned(), |(a, b)| format!("{:.2}x", a / b))
}
