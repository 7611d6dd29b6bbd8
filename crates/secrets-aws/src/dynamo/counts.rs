//! A tenant's number of secrets, spread over count shards.
//!
//! One count item written by every create and delete of a tenant would be a
//! hot item: DynamoDB cancels a transaction at once when another in flight
//! holds one of its items, so a tenant could commit about one create per
//! transaction latency, however many clients it has. Instead the count is
//! kept in `count_shards` items (`TENANT#<t>` / `COUNT#<nnn>`), and the shard
//! of a secret is chosen by its tag's hash: creates and deletes of different
//! tags share an item only when their tags fall in the same shard, and each
//! shard stays exact (it counts the tenant's secrets whose tags hash to it).
//! The total is the sum, read with one strongly consistent Query of a few
//! hundred bytes.
//!
//! Each shard also counts its creates and deletes (`changes`); their sum,
//! the tenant's generation, moves with every create and delete and never
//! comes back, so that a page start remembered at one generation is known
//! to be right for as long as the generation is unchanged
//! ([`super::page_starts`]).
//!
//! The shard count is fixed for a table's life: the total is the sum of
//! whatever shards exist, so it stays exact after a change, but the shards
//! would no longer each count their own tags, which the tenant limit relies
//! on ([`super::writes`]); changing it needs a one-off recount of each
//! shard while writes are stopped.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::error::Result;
use secrets_domain::model::{Tag, TenantId};

use super::attributes::{CHANGES, COUNT, SK};
use super::codec::ItemBuilder;
use super::expressions::Changes;
use super::layout::{COUNT_PREFIX, ItemKey, shard_of};
use super::{DynamoStore, Item};

/// Enough for a tenant to commit creates from many clients at once (16
/// times the rate of a single item) while the total stays one small read.
pub const DEFAULT_COUNT_SHARDS: u16 = 16;

/// The most shards a table may have: their read stays one small query.
pub const MAX_COUNT_SHARDS: u16 = 256;

/// What the count shards of a tenant say.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct TenantCounts {
    pub(super) total: u64,
    pub(super) generation: u64,
    /// Each shard's count, by shard number.
    by_shard: HashMap<u16, i64>,
}

impl TenantCounts {
    fn from_items(items: &[Item]) -> Result<Self> {
        let mut counts = Self::default();
        let mut total: i64 = 0;
        for item in items {
            let count = signed(item, COUNT)?;
            total += count;
            counts.generation += signed(item, CHANGES)?.max(0) as u64;
            let shard = match item.get(SK) {
                Some(AttributeValue::S(sort)) => sort
                    .strip_prefix(COUNT_PREFIX)
                    .and_then(|digits| digits.parse::<u16>().ok()),
                _ => None,
            };
            if let Some(shard) = shard {
                counts.by_shard.insert(shard, count);
            }
        }
        // A negative total would mean a bug elsewhere: report no rows
        // rather than fail every list.
        counts.total = total.max(0) as u64;
        Ok(counts)
    }

    /// What the shards other than `shard` (of `shards`) have claimed of the
    /// tenant's limit: each its count, or its `share` if it holds fewer
    /// (it may still take that many creates without a read).
    pub(super) fn claimed_outside(&self, shard: u16, shards: u16, share: u64) -> u64 {
        (0..shards)
            .filter(|other| *other != shard)
            .map(|other| {
                let count = self.by_shard.get(&other).copied().unwrap_or(0).max(0) as u64;
                count.max(share)
            })
            .sum()
    }
}

impl DynamoStore {
    /// The number of the count shard of a secret tagged `tag`.
    pub(super) fn shard_number(&self, tag: &Tag) -> u16 {
        shard_of(tag.as_str(), self.count_shards)
    }

    /// The count shard of a secret tagged `tag`.
    pub(super) fn count_shard(&self, tenant: &TenantId, tag: &Tag) -> ItemKey {
        ItemKey::count_shard(tenant, self.shard_number(tag))
    }

    /// All of a tenant's count shards: one strongly consistent Query.
    pub(super) async fn counts(&self, tenant: &TenantId) -> Result<TenantCounts> {
        let partition = ItemKey::tenant_partition(tenant);
        let query = self.projected_query(partition, COUNT_PREFIX, &[SK, COUNT, CHANGES]);
        let items = self.all_items(query, "reading the tenant's count").await?;
        TenantCounts::from_items(&items)
    }
}

/// A shard's changes for a create (+1) or a delete (-1).
pub(super) fn counted(delta: i64) -> Changes {
    Changes::default().add(COUNT, delta).add(CHANGES, 1)
}

/// The count shards of a tenant holding secrets with these tags, as creates
/// would have left them; for bulk loading.
pub fn count_items<'a>(
    tenant: &TenantId,
    tags: impl IntoIterator<Item = &'a Tag>,
    shards: u16,
) -> Vec<Item> {
    let mut counts: HashMap<u16, u64> = HashMap::new();
    for tag in tags {
        *counts.entry(shard_of(tag.as_str(), shards)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(shard, count)| {
            ItemBuilder::at(&ItemKey::count_shard(tenant, shard))
                .number(COUNT, count)
                .number(CHANGES, count)
                .build()
        })
        .collect()
}

fn signed(item: &Item, name: &'static str) -> Result<i64> {
    match item.get(name) {
        None => Ok(0),
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| {
            secrets_domain::error::Error::internal(
                "reading the tenant's count",
                format!("{name} is not a whole number"),
            )
        }),
        Some(_) => Err(secrets_domain::error::Error::internal(
            "reading the tenant's count",
            format!("{name} is not a number"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(sort: &str, count: i64, changes: u64) -> Item {
        Item::from([
            (SK.to_owned(), AttributeValue::S(sort.to_owned())),
            (COUNT.to_owned(), AttributeValue::N(count.to_string())),
            (CHANGES.to_owned(), AttributeValue::N(changes.to_string())),
        ])
    }

    #[test]
    fn the_total_and_generation_are_sums_over_the_shards() {
        let counts =
            TenantCounts::from_items(&[shard("COUNT#000", 3, 5), shard("COUNT#007", 2, 2)])
                .unwrap();
        assert_eq!((counts.total, counts.generation), (5, 7));
        assert_eq!(TenantCounts::from_items(&[]).unwrap().total, 0);
    }

    #[test]
    fn shards_below_their_share_claim_their_share() {
        let counts =
            TenantCounts::from_items(&[shard("COUNT#000", 3, 5), shard("COUNT#001", 9, 9)])
                .unwrap();
        // Of 4 shards with a share of 5: shard 0 claims 5 (holds 3), shard 1
        // its 9, shards 2 and 3 (no item yet) 5 each.
        assert_eq!(counts.claimed_outside(3, 4, 5), 5 + 9 + 5);
        assert_eq!(counts.claimed_outside(1, 4, 5), 5 + 5 + 5);
        assert_eq!(
            counts.claimed_outside(1, 4, 0),
            3,
            "no share: the exact count"
        );
    }

    #[test]
    fn bulk_loaded_shards_sum_to_the_secrets_loaded() {
        let tenant = TenantId::parse("t").unwrap();
        let tags: Vec<Tag> = (0..100)
            .map(|i| Tag::parse(&format!("tag-{i}")).unwrap())
            .collect();
        let items = count_items(&tenant, &tags, 16);
        assert!(items.len() > 1 && items.len() <= 16);
        let counts = TenantCounts::from_items(&items).unwrap();
        assert_eq!((counts.total, counts.generation), (100, 100));
    }
}
