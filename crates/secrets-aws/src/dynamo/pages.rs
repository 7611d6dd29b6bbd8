//! Listing: a page of TAG items in tag order, with the tenant's total.
//!
//! | page                                   | calls                                                        |
//! |----------------------------------------|--------------------------------------------------------------|
//! | first                                  | count shards ‖ rows                                          |
//! | start remembered in this instance      | count shards, rows, [remember the next start]               |
//! | start remembered, or a page before it  | count shards, nearest start, rows (and those before them), [store the next start] |
//! | nothing remembered near                | count shards, nearest start, skips (bounded in time), rows, store this start [and the next] |
//!
//! So a walk through every page reads each tag item about once, plus a
//! count and a lookup per page, and a deep page asked for again costs about
//! what the first page does ([`super::page_starts`]).

use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use secrets_domain::error::Result;
use secrets_domain::model::{SecretSummary, TenantId};
use secrets_domain::page::{Page, PageRequest};

use super::attributes::SK;
use super::codec::{self, TAG_ITEM_ATTRIBUTES};
use super::layout::{ItemKey, TAG_PREFIX};
use super::{DynamoStore, Item};
use crate::errors::{classify, unavailable};

/// Skipping to a deep page with nothing remembered reads at most the
/// tenant's limit of secrets (by default 100,000 small items, about 15
/// one-megabyte queries); should DynamoDB be slow, the request gives up with
/// a 503 before the function's own timeout would end it without an answer.
const SKIP_DEADLINE: Duration = Duration::from_secs(7);

/// Rows, and where they start when that was found on the way.
type Rows = (Vec<SecretSummary>, Option<String>);

/// Rows, and where they start if that is worth remembering, and where.
type FoundRows = (Vec<SecretSummary>, Option<(String, Remember)>);

impl DynamoStore {
    pub(super) async fn list_page(&self, tenant: &TenantId, request: PageRequest) -> Result<Page> {
        let (offset, size) = (request.skip(), request.size());
        if offset == 0 {
            // The first page needs no skipping: read rows and total at once.
            // In no fixed order, so its end is not remembered: a change
            // between the two reads would file the start under the wrong
            // generation. (Page 1 then reads its rows with page 0's.)
            let (counts, (rows, _)) =
                tokio::try_join!(self.counts(tenant), self.rows(tenant, None, 0, size))?;
            return Ok(Page::new(request, rows, counts.total));
        }
        // The generation is read before any row: a start found in rows read
        // after it is right for it, or for a later one (a change landed in
        // between) which no one reads at this generation any more.
        let counts = self.counts(tenant).await?;
        if request.is_past_end(counts.total) {
            return Ok(Page::new(request, Vec::new(), counts.total));
        }
        let (rows, found) = self
            .rows_at(tenant, counts.generation, offset, size)
            .await?;
        // Read consistently: where this page starts, for whoever asks again.
        if let Some((tag, remember)) = found {
            self.remember_start(tenant, counts.generation, offset, &tag, remember)
                .await;
        }
        self.remember_next(tenant, counts.generation, &request, &rows, counts.total)
            .await;
        Ok(Page::new(request, rows, counts.total))
    }

    /// The `size` rows from `offset`, from the nearest remembered start.
    async fn rows_at(
        &self,
        tenant: &TenantId,
        generation: u64,
        offset: u64,
        size: u32,
    ) -> Result<FoundRows> {
        let (from, after) = match self.nearest_start(tenant, generation, offset).await? {
            Some(start) => (start.offset, Some(start.after)),
            None => (0, None),
        };
        let behind = offset - from;
        if behind <= u64::from(size) {
            // Close enough: the rows before the page come in the same query.
            // Asked again elsewhere, it would be again: no need to store
            // where it starts, which keeps a walk at 4 calls a page.
            let (rows, passed) = self.rows(tenant, after, behind as u32, size).await?;
            return Ok((rows, passed.map(|tag| (tag, Remember::InMemory))));
        }
        match self.skip(tenant, after, behind).await? {
            Some(start) => {
                let tag = tag_of(&start).map(|tag| (tag, Remember::InTable));
                Ok((self.rows(tenant, Some(start), 0, size).await?.0, tag))
            }
            None => Ok((Vec::new(), None)),
        }
    }

    /// Where the page after a full one starts, unless this is the last.
    async fn remember_next(
        &self,
        tenant: &TenantId,
        generation: u64,
        request: &PageRequest,
        rows: &[SecretSummary],
        total: u64,
    ) {
        let next = request.skip() + u64::from(request.size());
        if let Some(last) = rows.last()
            && rows.len() == request.size() as usize
            && next < total
        {
            self.remember_start(
                tenant,
                generation,
                next,
                last.tag.as_str(),
                Remember::InTable,
            )
            .await;
        }
    }

    /// Walks past `rows` tag items after `start` with `Select=COUNT`
    /// queries, which return no items: DynamoDB still reads (and bills) the
    /// skipped items, but they are the smallest items of the tenant and
    /// each call covers up to 1 MB of them. Strongly consistent, at twice
    /// the price of an eventually consistent skip, because where it ends is
    /// remembered for the generation ([`super::page_starts`]): a start read
    /// a second late could be a row off for as long as the tenant does not
    /// change. Returns where the page starts, or `None` past the end.
    async fn skip(
        &self,
        tenant: &TenantId,
        start: Option<Item>,
        rows: u64,
    ) -> Result<Option<Item>> {
        let started = tokio::time::Instant::now();
        let mut remaining = rows;
        let mut start = start;
        while remaining > 0 {
            if started.elapsed() > SKIP_DEADLINE {
                return Err(unavailable("skipping to a deep page took too long"));
            }
            let output = self
                .tag_query(tenant)
                .select(Select::Count)
                .limit(i32::try_from(remaining).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("skipping to a page", e))?;
            remaining = remaining.saturating_sub(u64::try_from(output.count).unwrap_or(0));
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(None),
            }
        }
        Ok(start)
    }

    /// `size` rows after `start`, having passed over the first `passed`;
    /// and the tag of the last row passed over, where the rows start.
    async fn rows(
        &self,
        tenant: &TenantId,
        start: Option<Item>,
        passed: u32,
        size: u32,
    ) -> Result<Rows> {
        let mut rows = Vec::with_capacity(size as usize);
        let mut start = start;
        let mut to_pass = passed as usize;
        let mut last_passed = None;
        loop {
            let wanted = to_pass + size as usize - rows.len();
            let partition = ItemKey::tenant_partition(tenant);
            let output = self
                .projected_query(partition, TAG_PREFIX, TAG_ITEM_ATTRIBUTES)
                .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("reading a page", e))?;
            for item in output.items.unwrap_or_default() {
                if to_pass > 0 {
                    to_pass -= 1;
                    last_passed = tag_of(&item);
                } else {
                    rows.push(codec::summary(&item, None)?);
                }
            }
            match output.last_evaluated_key {
                Some(key) if rows.len() < size as usize => start = Some(key),
                _ => return Ok((rows, last_passed)),
            }
        }
    }

    fn tag_query(&self, tenant: &TenantId) -> QueryFluentBuilder {
        self.prefix_query(ItemKey::tenant_partition(tenant), TAG_PREFIX)
    }
}

pub(super) use super::page_starts::Remember;

/// The tag of a TAG item, or of the key of one.
fn tag_of(item: &Item) -> Option<String> {
    match item.get(SK) {
        Some(AttributeValue::S(sort)) => sort.strip_prefix(TAG_PREFIX).map(str::to_owned),
        _ => None,
    }
}
