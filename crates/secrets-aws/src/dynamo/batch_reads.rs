//! Many items in few calls (BatchGetItem): a batch resolve reads up to 20
//! secrets' TAG, META and VALUE items in one call per step instead of one
//! per item. Strongly consistent, like the single reads.
//!
//! BatchGetItem answers in any order, and may leave keys unprocessed (when
//! a partition is throttled, or past 16 MB): those are asked again after a
//! short jittered wait, a bounded number of times, and then the read fails
//! as unavailable (503) rather than answering them as missing. The metrics
//! count each unprocessed key as a DynamoDB throttle.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnConsumedCapacity};
use secrets_domain::crypto::SealedValue;
use secrets_domain::error::{Error, Result};
use secrets_domain::model::{SecretId, SecretSummary, TagOrId, TenantId};

use super::attributes::{PK, SK};
use super::codec::{self, META_ITEM_ATTRIBUTES, TAG_ITEM_ATTRIBUTES, VALUE_ITEM_ATTRIBUTES};
use super::expressions::projection;
use super::layout::ItemKey;
use super::{DynamoStore, Item};
use crate::errors::{classify, unavailable};

/// BatchGetItem's limit of keys per call.
const KEYS_PER_CALL: usize = 100;
/// Calls for one set of keys before unprocessed keys fail the read.
const ATTEMPTS: u32 = 5;
/// The ceiling of the wait before asking again for unprocessed keys,
/// doubled each time (25, 50, 100, 200 ms; each wait between half the
/// ceiling and all of it, so that callers left unprocessed together do not
/// come back together): DynamoDB leaves keys unprocessed when a partition
/// is throttled, its way of saying "slow down" to a batch. At most 375 ms.
const FIRST_WAIT: Duration = Duration::from_millis(25);

/// (partition key, sort key): how answered items are matched to the keys.
type KeyPair = (String, String);

impl DynamoStore {
    /// The items at `keys` that exist, with the attributes named (and their
    /// keys), by key.
    async fn batch_get(
        &self,
        keys: &[ItemKey],
        attributes: &[&str],
    ) -> Result<HashMap<KeyPair, Item>> {
        let mut unique: Vec<&ItemKey> = Vec::with_capacity(keys.len());
        for key in keys {
            // BatchGetItem refuses a request that names a key twice.
            if !unique.iter().any(|seen| seen.pair() == key.pair()) {
                unique.push(key);
            }
        }
        // The keys, to match answers; each name once (DynamoDB refuses
        // overlapping projection paths).
        let mut projected: Vec<&str> = vec![PK, SK];
        for attribute in attributes {
            if !projected.contains(attribute) {
                projected.push(attribute);
            }
        }
        let mut found = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(KEYS_PER_CALL) {
            let mut pending: Vec<Item> = chunk.iter().map(|key| key.to_item()).collect();
            let mut wait = FIRST_WAIT;
            for attempt in 1..=ATTEMPTS {
                let (projection, placeholders) = projection(&projected);
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .projection_expression(projection)
                    .set_expression_attribute_names(Some(placeholders.names))
                    .build()
                    .map_err(build_failed)?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| classify("reading items", e))?;
                let items = output
                    .responses
                    .and_then(|mut responses| responses.remove(&self.table))
                    .unwrap_or_default();
                for item in items {
                    found.insert(pair_of(&item)?, item);
                }
                pending = output
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .map(|left| left.keys)
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt == ATTEMPTS {
                    return Err(unavailable(format!(
                        "{} keys still unprocessed after {ATTEMPTS} BatchGetItem calls",
                        pending.len()
                    )));
                }
                tokio::time::sleep(wait.mul_f64(0.5 + fastrand::f64() / 2.0)).await;
                wait *= 2;
            }
        }
        Ok(found)
    }

    /// By tag, each TAG item; by id, each META item: one call for up to 100.
    pub(super) async fn find_secrets(
        &self,
        tenant: &TenantId,
        keys: &[TagOrId],
    ) -> Result<Vec<Option<SecretSummary>>> {
        let item_keys: Vec<ItemKey> = keys
            .iter()
            .map(|key| match key {
                TagOrId::Tag(tag) => ItemKey::tag(tenant, tag),
                TagOrId::Id(id) => ItemKey::meta(tenant, id),
            })
            .collect();
        let attributes: Vec<&str> = TAG_ITEM_ATTRIBUTES
            .iter()
            .chain(META_ITEM_ATTRIBUTES)
            .copied()
            .collect();
        let found = self.batch_get(&item_keys, &attributes).await?;
        keys.iter()
            .zip(&item_keys)
            .map(|(key, item_key)| {
                let id = match key {
                    TagOrId::Tag(_) => None,
                    TagOrId::Id(id) => Some(id),
                };
                found
                    .get(&item_key.pair())
                    .filter(|item| codec::is_live(item))
                    .map(|item| codec::summary(item, id))
                    .transpose()
            })
            .collect()
    }

    /// Each (secret, value version)'s VALUE item: one call for up to 100.
    pub(super) async fn read_sealed_versions(
        &self,
        tenant: &TenantId,
        values: &[(SecretId, u64)],
    ) -> Result<Vec<Option<SealedValue>>> {
        let item_keys: Vec<ItemKey> = values
            .iter()
            .map(|(id, value_version)| ItemKey::value(tenant, id, *value_version))
            .collect();
        let found = self.batch_get(&item_keys, VALUE_ITEM_ATTRIBUTES).await?;
        item_keys
            .iter()
            .map(|key| found.get(&key.pair()).map(codec::sealed_value).transpose())
            .collect()
    }
}

fn pair_of(item: &Item) -> Result<KeyPair> {
    Ok((
        codec::text(item, PK)?.to_owned(),
        codec::text(item, SK)?.to_owned(),
    ))
}

fn build_failed(error: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::internal("building a BatchGetItem request", error)
}
