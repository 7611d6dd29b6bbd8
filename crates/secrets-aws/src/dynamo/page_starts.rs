//! Remembered page starts: what makes a walk through a tenant's pages
//! linear instead of quadratic.
//!
//! DynamoDB has no offset: page *n* would otherwise skip `n * pageSize` rows,
//! reading (and paying for) all of them. But the tag at which the row at a
//! given offset starts depends only on the tenant's set of tags, which only
//! creates and deletes change, and each moves the tenant's generation
//! ([`super::counts`]). So where a page ends, the next one starts: once a
//! page is read (strongly consistently), its last tag is remembered, keyed by
//! tenant, generation and the offset of the row after it, and used by any
//! later request for that offset at the same generation. A create or delete
//! moves the generation and every remembered start of the tenant is simply
//! never looked up again.
//!
//! Where they live, and why both:
//! - in the warm function's memory (bounded, first in first out): free, and
//!   a client walking pages one after another is usually served by the same
//!   instance;
//! - in the table (`PAGES#<t>#<generation>` / `ROW#<offset>`, one small item
//!   per page, expiring after a day by TTL, which is only clean-up: an entry
//!   is right for its generation for ever), so that a walk served by several
//!   instances, or resumed after a cold start, stays linear. A lookup is one
//!   eventually consistent Query for the nearest start at or before the
//!   offset (a miss only costs a skip, never a wrong page); a page that is
//!   not the last writes its successor's start with one PutItem, unless this
//!   instance already knows it is there.
//!
//! The first page writes nothing to the table: its successor's start is
//! only kept in memory, and a second page served elsewhere reads its rows
//! and the first page's in one query, so small tenants and the first page
//! cost what they did before.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use secrets_domain::error::Result;
use secrets_domain::model::TenantId;

use super::attributes::{EXPIRES_AT, PK, SK, START_TAG};
use super::codec::ItemBuilder;
use super::layout::{ItemKey, TAG_PREFIX};
use super::{DynamoStore, Item};
use crate::errors::classify;

/// Starts kept in one instance's memory: a few hundred kilobytes.
const IN_MEMORY: usize = 4096;

/// How long a stored start is kept before TTL removes it.
const STORED_FOR_SECS: u64 = 86_400;

type Key = (TenantId, u64, u64);

/// The starts this instance knows: the tag of the row before each.
#[derive(Clone, Default)]
pub(super) struct PageStarts(Arc<Mutex<Remembered>>);

#[derive(Default)]
struct Remembered {
    tags: HashMap<Key, String>,
    order: VecDeque<Key>,
}

impl PageStarts {
    fn get(&self, key: &Key) -> Option<String> {
        self.0.lock().ok()?.tags.get(key).cloned()
    }

    /// Remembers a start; false if it was known already.
    fn insert(&self, key: Key, tag: String) -> bool {
        let Ok(mut remembered) = self.0.lock() else {
            return true;
        };
        if remembered.tags.contains_key(&key) {
            return false;
        }
        if remembered.order.len() >= IN_MEMORY
            && let Some(oldest) = remembered.order.pop_front()
        {
            remembered.tags.remove(&oldest);
        }
        remembered.order.push_back(key.clone());
        remembered.tags.insert(key, tag);
        true
    }
}

/// A remembered start: the row offset it is at, and the key to read after.
pub(super) struct Start {
    pub(super) offset: u64,
    pub(super) after: Item,
}

impl DynamoStore {
    /// The nearest remembered start at or before `offset`, if any.
    pub(super) async fn nearest_start(
        &self,
        tenant: &TenantId,
        generation: u64,
        offset: u64,
    ) -> Result<Option<Start>> {
        let key = (tenant.clone(), generation, offset);
        if let Some(tag) = self.page_starts.get(&key) {
            return Ok(Some(start_after(tenant, offset, &tag)));
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk <= :sk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(ItemKey::page_starts_partition(tenant, generation)),
            )
            .expression_attribute_values(":sk", AttributeValue::S(ItemKey::page_start_sort(offset)))
            .scan_index_forward(false)
            .limit(1)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("finding where a page starts", e))?;
        let Some(item) = output.items.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        let (Some(AttributeValue::S(sort)), Some(AttributeValue::S(tag))) =
            (item.get(SK), item.get(START_TAG))
        else {
            return Ok(None);
        };
        let Some(found) = sort
            .strip_prefix("ROW#")
            .and_then(|digits| digits.parse::<u64>().ok())
        else {
            return Ok(None);
        };
        self.page_starts
            .insert((tenant.clone(), generation, found), tag.clone());
        Ok(Some(start_after(tenant, found, tag)))
    }

    /// Remembers that the row at `offset` follows the row tagged `tag`, in
    /// memory, and in the table unless `in_memory_only` or already known.
    pub(super) async fn remember_start(
        &self,
        tenant: &TenantId,
        generation: u64,
        offset: u64,
        tag: &str,
        in_memory_only: bool,
    ) -> Result<()> {
        let new = self
            .page_starts
            .insert((tenant.clone(), generation, offset), tag.to_owned());
        if !new || in_memory_only {
            return Ok(());
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let item = ItemBuilder::at(&ItemKey::page_start(tenant, generation, offset))
            .text(START_TAG, tag)
            .number(EXPIRES_AT, now + STORED_FOR_SECS)
            .build();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("remembering where a page starts", e))?;
        Ok(())
    }
}

fn start_after(tenant: &TenantId, offset: u64, tag: &str) -> Start {
    let key = ItemKey::new(
        ItemKey::tenant_partition(tenant),
        format!("{TAG_PREFIX}{tag}"),
    );
    Start {
        offset,
        after: key.to_item(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_bounded_and_forgets_the_oldest_first() {
        let starts = PageStarts::default();
        let tenant = TenantId::parse("t").unwrap();
        let key = |offset: u64| (tenant.clone(), 1, offset);
        assert!(starts.insert(key(0), "first".into()));
        assert!(!starts.insert(key(0), "first".into()), "known already");
        for offset in 1..IN_MEMORY as u64 {
            starts.insert(key(offset), format!("tag-{offset}"));
        }
        assert_eq!(starts.get(&key(0)).as_deref(), Some("first"));
        starts.insert(key(IN_MEMORY as u64), "newest".into());
        assert_eq!(starts.get(&key(0)), None);
        assert_eq!(starts.get(&key(1)).as_deref(), Some("tag-1"));
        assert_eq!(starts.0.lock().unwrap().tags.len(), IN_MEMORY);
    }

    #[test]
    fn a_start_belongs_to_one_generation() {
        let starts = PageStarts::default();
        let tenant = TenantId::parse("t").unwrap();
        starts.insert((tenant.clone(), 1, 250), "b".into());
        assert_eq!(starts.get(&(tenant, 2, 250)), None);
    }
}
