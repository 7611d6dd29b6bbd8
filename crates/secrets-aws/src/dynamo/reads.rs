//! Single-item reads: a secret by tag or by id, its sealed value. Always
//! strongly consistent: a read that follows a write sees it.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use secrets_domain::crypto::SealedValue;
use secrets_domain::error::Result;
use secrets_domain::model::{SecretId, SecretSummary, TagOrId, TenantId};

use super::attributes::{PK, SK};
use super::codec::{self, META_ITEM_ATTRIBUTES, TAG_ITEM_ATTRIBUTES, VALUE_ITEM_ATTRIBUTES};
use super::expressions::projection;
use super::layout::ItemKey;
use super::{DynamoStore, Item};
use crate::errors::classify;

impl DynamoStore {
    /// The attributes named of the item at `key`, if it exists.
    pub(super) async fn get(&self, key: &ItemKey, attributes: &[&str]) -> Result<Option<Item>> {
        let (projection, placeholders) = projection(attributes);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .projection_expression(projection)
            .set_expression_attribute_names(Some(placeholders.names))
            .send()
            .await
            .map_err(|e| classify("reading an item", e))?;
        Ok(output.item)
    }

    /// By tag, the tenant's TAG item; by id, the secret's META item.
    pub(super) async fn find_secret(
        &self,
        tenant: &TenantId,
        key: &TagOrId,
    ) -> Result<Option<SecretSummary>> {
        let (item, id) = match key {
            TagOrId::Tag(tag) => (
                self.get(&ItemKey::tag(tenant, tag), TAG_ITEM_ATTRIBUTES)
                    .await?,
                None,
            ),
            TagOrId::Id(id) => (
                self.get(&ItemKey::meta(tenant, id), META_ITEM_ATTRIBUTES)
                    .await?,
                Some(id),
            ),
        };
        item.filter(codec::is_live)
            .map(|item| codec::summary(&item, id))
            .transpose()
    }

    pub(super) async fn read_sealed_version(
        &self,
        tenant: &TenantId,
        id: &SecretId,
        value_version: u64,
    ) -> Result<Option<SealedValue>> {
        let item = self
            .get(
                &ItemKey::value(tenant, id, value_version),
                VALUE_ITEM_ATTRIBUTES,
            )
            .await?;
        item.as_ref().map(codec::sealed_value).transpose()
    }
}

impl DynamoStore {
    /// A strongly consistent query of the items of `partition` whose sort
    /// key begins with `prefix`, in sort-key order.
    pub(super) fn prefix_query(&self, partition: String, prefix: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(partition))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
    }

    /// Every item `query` finds, page after page.
    pub(super) async fn all_items(
        &self,
        query: QueryFluentBuilder,
        context: &'static str,
    ) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = query
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify(context, e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(items),
            }
        }
    }

    /// `prefix_query`, returning only `attributes`.
    pub(super) fn projected_query(
        &self,
        partition: String,
        prefix: &str,
        attributes: &[&str],
    ) -> QueryFluentBuilder {
        let (projection, placeholders) = projection(attributes);
        let query = self
            .prefix_query(partition, prefix)
            .projection_expression(projection);
        placeholders
            .names
            .into_iter()
            .fold(query, |query, (placeholder, attribute)| {
                query.expression_attribute_names(placeholder, attribute)
            })
    }
}
