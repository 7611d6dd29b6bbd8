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
//! The first page remembers nothing: it reads its rows and the count at
//! once, in no fixed order, so a change between the two could file its end
//! under the wrong generation. The second page then reads its rows and the
//! first page's in one query, so small tenants and the first page cost what
//! they did before. Every other start is found in rows read after the
//! generation: right for it, or (a change landed in between) for a later
//! generation, which no request reads this one for any more.
//!
//! Remembering is a cache: a start that cannot be stored (throttling, an
//! outage) is logged and the page answered all the same.

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

/// Where a start is kept: in memory only when storing it would not pay (a
/// start found at most a page after a stored one: another instance finds
/// it the same way), otherwise in the table too.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Remember {
    InMemory,
    InTable,
}

/// The starts this instance knows: the tag of the row before each, and
/// whether it is known to be in the table.
#[derive(Clone, Default)]
pub(super) struct PageStarts(Arc<Mutex<Remembered>>);

#[derive(Default)]
struct Remembered {
    tags: HashMap<Key, (String, bool)>,
    order: VecDeque<Key>,
}

impl PageStarts {
    fn get(&self, key: &Key) -> Option<String> {
        let remembered = self.0.lock().ok()?;
        remembered.tags.get(key).map(|(tag, _)| tag.clone())
    }

    /// Remembers a start (`stored`: it is in the table); true if it should
    /// be stored in the table and is not known to be.
    fn insert(&self, key: Key, tag: String, remember: Remember, stored: bool) -> bool {
        let Ok(mut remembered) = self.0.lock() else {
            return remember == Remember::InTable;
        };
        if let Some((_, known_stored)) = remembered.tags.get_mut(&key) {
            *known_stored |= stored;
            return remember == Remember::InTable && !*known_stored;
        }
        if remembered.order.len() >= IN_MEMORY
            && let Some(oldest) = remembered.order.pop_front()
        {
            remembered.tags.remove(&oldest);
        }
        remembered.order.push_back(key.clone());
        remembered.tags.insert(key, (tag, stored));
        remember == Remember::InTable && !stored
    }

    fn stored(&self, key: &Key) {
        if let Ok(mut remembered) = self.0.lock()
            && let Some((_, stored)) = remembered.tags.get_mut(key)
        {
            *stored = true;
        }
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
        self.page_starts.insert(
            (tenant.clone(), generation, found),
            tag.clone(),
            Remember::InTable,
            true,
        );
        Ok(Some(start_after(tenant, found, tag)))
    }

    /// Remembers that the row at `offset` follows the row tagged `tag`, in
    /// memory, and in the table if `remember` says so and it is not known
    /// to be there. A failure to store it is logged, never answered.
    pub(super) async fn remember_start(
        &self,
        tenant: &TenantId,
        generation: u64,
        offset: u64,
        tag: &str,
        remember: Remember,
    ) {
        let key = (tenant.clone(), generation, offset);
        if !self
            .page_starts
            .insert(key.clone(), tag.to_owned(), remember, false)
        {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let item = ItemBuilder::at(&ItemKey::page_start(tenant, generation, offset))
            .text(START_TAG, tag)
            .number(EXPIRES_AT, now + STORED_FOR_SECS)
            .build();
        let stored = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match stored {
            Ok(_) => self.page_starts.stored(&key),
            Err(error) => {
                let error = classify("remembering where a page starts", error);
                tracing::warn!(%error, "a page start was not stored; the page is answered");
            }
        }
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
        let memory = Remember::InMemory;
        starts.insert(key(0), "first".into(), memory, false);
        for offset in 1..IN_MEMORY as u64 {
            starts.insert(key(offset), format!("tag-{offset}"), memory, false);
        }
        assert_eq!(starts.get(&key(0)).as_deref(), Some("first"));
        starts.insert(key(IN_MEMORY as u64), "newest".into(), memory, false);
        assert_eq!(starts.get(&key(0)), None);
        assert_eq!(starts.get(&key(1)).as_deref(), Some("tag-1"));
        assert_eq!(starts.0.lock().unwrap().tags.len(), IN_MEMORY);
    }

    #[test]
    fn a_start_belongs_to_one_generation() {
        let starts = PageStarts::default();
        let tenant = TenantId::parse("t").unwrap();
        starts.insert(
            (tenant.clone(), 1, 250),
            "b".into(),
            Remember::InMemory,
            false,
        );
        assert_eq!(starts.get(&(tenant, 2, 250)), None);
    }

    #[test]
    fn a_start_is_stored_until_it_is_known_to_be() {
        let starts = PageStarts::default();
        let key = (TenantId::parse("t").unwrap(), 1, 250);
        assert!(!starts.insert(key.clone(), "b".into(), Remember::InMemory, false));
        assert!(
            starts.insert(key.clone(), "b".into(), Remember::InTable, false),
            "known in memory only: still to be stored"
        );
        assert!(
            starts.insert(key.clone(), "b".into(), Remember::InTable, false),
            "a store that failed is tried again"
        );
        starts.stored(&key);
        assert!(!starts.insert(key.clone(), "b".into(), Remember::InTable, false));
        let found = (TenantId::parse("t").unwrap(), 1, 500);
        assert!(
            !starts.insert(found, "c".into(), Remember::InTable, true),
            "read from the table"
        );
    }
}
