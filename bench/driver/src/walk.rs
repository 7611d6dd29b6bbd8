//! (b): walking every page of the large tenant, as the Cortex CLI does for
//! `secrets list`, with remembered page starts and without.
//!
//! With: a fresh walk at a new generation, each page served by the other of
//! two store instances in turn (as Lambda may spread a client's requests),
//! so that every start comes from the table rather than from memory.
//! Without: what a page costs when nothing is remembered near it, measured
//! on sampled pages, deepest first and each on a fresh instance at a new
//! generation (so that no sample finds what an earlier one stored), and
//! summed over all pages by linear interpolation between the samples.
//! Against: one strongly consistent read of every tag item (a Query of the
//! whole partition), the cost of reading each row once.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use secrets_aws::dynamo::DynamoStore;
use secrets_aws::metrics::{CallCounter, Usage};
use secrets_domain::model::{TagOrId, TenantId};
use secrets_domain::page::PageRequest;
use secrets_domain::ports::{DeleteGuard, SecretStore};
use secrets_testkit::conformance::{at_once, new_secret};
use serde::Serialize;

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Cost {
    pub calls: f64,
    pub read_units: f64,
    pub write_units: f64,
}

impl Cost {
    fn of(usage: &Usage) -> Self {
        Self {
            calls: f64::from(usage.calls_to("DynamoDB")),
            read_units: usage.read_capacity_units,
            write_units: usage.write_capacity_units,
        }
    }

    fn add(&mut self, other: Cost) {
        self.calls += other.calls;
        self.read_units += other.read_units;
        self.write_units += other.write_units;
    }
}

#[derive(Debug, Serialize)]
pub struct Walk {
    pub pages: u32,
    pub page_size: u32,
    /// One read of every tag item.
    pub read_once: Cost,
    pub with_starts: Cost,
    pub with_starts_most_calls_on_a_page: f64,
    /// Computed from `samples` (page, cost).
    pub without_starts: Cost,
    pub samples: Vec<(u32, Cost)>,
    /// A deep page asked for again at the same generation, on an instance
    /// that served it once: against page 0.
    pub repeated_deep_page: Cost,
    pub page_zero: Cost,
}

pub struct Walker {
    pub client: Client,
    pub calls: CallCounter,
    pub table: String,
    pub tenant: TenantId,
    pub secrets: usize,
}

const PAGE_SIZE: u32 = 250;

impl Walker {
    fn instance(&self) -> DynamoStore {
        DynamoStore::new(self.client.clone(), self.table.clone())
    }

    async fn page(&self, store: &DynamoStore, page: u32) -> Cost {
        self.calls.take();
        let listed = store
            .list(
                &self.tenant,
                PageRequest::new(page, PAGE_SIZE).expect("page"),
            )
            .await
            .expect("a page");
        let expected = (self.secrets - (page * PAGE_SIZE) as usize).min(PAGE_SIZE as usize);
        assert_eq!(listed.secrets.len(), expected, "page {page}");
        Cost::of(&self.calls.take())
    }

    /// A create and a delete: a generation at which nothing is remembered.
    async fn new_generation(&self) {
        // The tenant may be at its limit: room for one more, for a moment.
        let store = self.instance().with_max_secrets(self.secrets as u64 + 1);
        let secret = new_secret("zz-generation-mover");
        let summary = secret.summary.clone();
        store
            .insert(&self.tenant, secret, None)
            .await
            .expect("create");
        store
            .delete(
                &self.tenant,
                &summary,
                DeleteGuard::Exists,
                &at_once(),
                None,
            )
            .await
            .expect("delete");
        assert!(
            store
                .find(&self.tenant, &TagOrId::Id(summary.id))
                .await
                .expect("find")
                .is_none()
        );
    }

    async fn read_once(&self) -> Cost {
        self.calls.take();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :tag)")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(format!("TENANT#{}", self.tenant)),
                )
                .expression_attribute_values(":tag", AttributeValue::S("TAG#".into()))
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("a query");
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        Cost::of(&self.calls.take())
    }

    pub async fn run(&self) -> Walk {
        let pages = self.secrets.div_ceil(PAGE_SIZE as usize) as u32;
        let read_once = self.read_once().await;

        // Without: deepest first, a fresh instance and generation each.
        let mut samples = Vec::new();
        for page in [pages - 1, pages * 3 / 4, pages / 2, pages / 4, 1, 0] {
            self.new_generation().await;
            samples.push((page, self.page(&self.instance(), page).await));
        }
        samples.sort_by_key(|(page, _)| *page);
        let without_starts = interpolated_sum(&samples, pages);

        // With: a fresh generation, two instances taking turns.
        self.new_generation().await;
        let instances = [self.instance(), self.instance()];
        let mut with_starts = Cost::default();
        let mut most_calls: f64 = 0.0;
        let mut page_zero = Cost::default();
        for page in 0..pages {
            let cost = self.page(&instances[page as usize % 2], page).await;
            if page == 0 {
                page_zero = cost;
            }
            most_calls = most_calls.max(cost.calls);
            with_starts.add(cost);
        }
        let deep = pages - 1;
        let repeated_deep_page = self.page(&instances[deep as usize % 2], deep).await;
        Walk {
            pages,
            page_size: PAGE_SIZE,
            read_once,
            with_starts,
            with_starts_most_calls_on_a_page: most_calls,
            without_starts,
            samples,
            repeated_deep_page,
            page_zero,
        }
    }
}

/// The sum over pages `0..pages` of a cost known at sampled pages (sorted,
/// first 0, last `pages - 1`), linear between them.
fn interpolated_sum(samples: &[(u32, Cost)], pages: u32) -> Cost {
    let mut total = Cost::default();
    for page in 0..pages {
        let after = samples
            .iter()
            .position(|(sampled, _)| *sampled >= page)
            .expect("the last page is sampled");
        let (high, high_cost) = samples[after];
        let (low, low_cost) = if after == 0 {
            samples[0]
        } else {
            samples[after - 1]
        };
        let share = if high == low {
            0.0
        } else {
            f64::from(page - low) / f64::from(high - low)
        };
        let between = |a: f64, b: f64| a + (b - a) * share;
        total.add(Cost {
            calls: between(low_cost.calls, high_cost.calls),
            read_units: between(low_cost.read_units, high_cost.read_units),
            write_units: between(low_cost.write_units, high_cost.write_units),
        });
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interpolated_sum_of_a_linear_cost_is_exact() {
        let cost = |page: u32| Cost {
            calls: 3.0,
            read_units: 7.0 + 2.0 * f64::from(page),
            write_units: 1.0,
        };
        let samples: Vec<(u32, Cost)> = [0, 1, 100, 399].map(|p| (p, cost(p))).to_vec();
        let sum = interpolated_sum(&samples, 400);
        let exact: f64 = (0..400).map(|p| cost(p).read_units).sum();
        assert!(
            (sum.read_units - exact).abs() < 1e-6,
            "{} {exact}",
            sum.read_units
        );
        assert!((sum.calls - 1200.0).abs() < 1e-9);
    }
}
