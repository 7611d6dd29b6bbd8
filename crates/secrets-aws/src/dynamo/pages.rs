//! Listing: a page of TAG items in tag order, with the tenant's count.

use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity, Select};
use secrets_domain::error::Result;
use secrets_domain::model::{SecretSummary, TenantId};
use secrets_domain::page::{Page, PageRequest};

use super::attributes::{COUNT, PK, SK};
use super::codec::{self, TAG_ITEM_ATTRIBUTES};
use super::expressions::projection;
use super::layout::{ItemKey, TAG_PREFIX};
use super::{DynamoStore, Item};
use crate::errors::{classify, unavailable};

/// Skipping to a deep page reads at most the tenant's limit of secrets (by
/// default 100,000 small items, about 15 one-megabyte queries); should
/// DynamoDB be slow, the request gives up with a 503 before the function's
/// own timeout would end it without an answer.
const SKIP_DEADLINE: Duration = Duration::from_secs(7);

impl DynamoStore {
    pub(super) async fn list_page(&self, tenant: &TenantId, request: PageRequest) -> Result<Page> {
        if request.skip() == 0 {
            // The first page needs no skipping: read rows and total at once.
            let (total, rows) =
                tokio::try_join!(self.count(tenant), self.rows(tenant, None, request.size()))?;
            return Ok(Page::new(request, rows, total));
        }
        let total = self.count(tenant).await?;
        if request.is_past_end(total) {
            return Ok(Page::new(request, Vec::new(), total));
        }
        let rows = match self.skip(tenant, request.skip()).await? {
            Some(start) => self.rows(tenant, Some(start), request.size()).await?,
            None => Vec::new(),
        };
        Ok(Page::new(request, rows, total))
    }

    async fn count(&self, tenant: &TenantId) -> Result<u64> {
        let item = self.get(&ItemKey::count(tenant), &[COUNT]).await?;
        codec::count(item.as_ref())
    }

    fn tag_query(&self, tenant: &TenantId) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(ItemKey::tenant_partition(tenant)),
            )
            .expression_attribute_values(":prefix", AttributeValue::S(TAG_PREFIX.to_owned()))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
    }

    /// Walks past `rows` tag items with `Select=COUNT` queries, which return
    /// no items: DynamoDB still reads (and bills) the skipped items, but they
    /// are the smallest items of the tenant, each call covers up to 1 MB of
    /// them, and the reads are eventually consistent, at half the price. A
    /// write in the last second may thus move the page's start by a row, as
    /// a write between two page requests would anyway; the page's own rows
    /// and the total are read consistently. Returns where the page starts,
    /// or `None` past the end.
    async fn skip(&self, tenant: &TenantId, rows: u64) -> Result<Option<Item>> {
        let started = tokio::time::Instant::now();
        let mut remaining = rows;
        let mut start: Option<Item> = None;
        while remaining > 0 {
            if started.elapsed() > SKIP_DEADLINE {
                return Err(unavailable("skipping to a deep page took too long"));
            }
            let output = self
                .tag_query(tenant)
                .select(Select::Count)
                .consistent_read(false)
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

    async fn rows(
        &self,
        tenant: &TenantId,
        start: Option<Item>,
        size: u32,
    ) -> Result<Vec<SecretSummary>> {
        let mut rows = Vec::with_capacity(size as usize);
        let mut start = start;
        let (projection, placeholders) = projection(TAG_ITEM_ATTRIBUTES);
        loop {
            let wanted = size as usize - rows.len();
            let mut query = self
                .tag_query(tenant)
                .projection_expression(&projection)
                .limit(wanted as i32)
                .set_exclusive_start_key(start.take());
            for (placeholder, attribute) in &placeholders.names {
                query = query.expression_attribute_names(placeholder, attribute);
            }
            let output = query
                .send()
                .await
                .map_err(|e| classify("reading a page", e))?;
            for item in output.items.unwrap_or_default() {
                rows.push(codec::summary(&item, None)?);
            }
            match output.last_evaluated_key {
                Some(key) if rows.len() < size as usize => start = Some(key),
                _ => return Ok(rows),
            }
        }
    }
}
