//! Batch resolve: up to 20 secrets of one tenant in one request, each
//! answered on its own (its value, or its own error), read in three store
//! calls (the keys, the records the tags name, the values) instead of
//! three per secret. The trust model is single resolve's: the caller is
//! the tenant's trusted internal system, every entry is audited.

use crate::audit::Actor;
use crate::crypto::{Currency, EncryptionContext, SealedValue, currency, open};
use crate::error::{Error, Result};
use crate::model::{FIRST_VERSION, SecretId, SecretSummary, TagOrId, TenantId};
use crate::ports::{DataKeys, SecretStore};

use super::{Resolved, Secrets};

/// The most secrets one batch resolve may name.
pub const MAX_BATCH_KEYS: usize = 20;

/// What a batch resolve asks for: 1 to 20 keys, each once, in the order
/// first named (a key named twice is answered, and audited, once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchKeys(Vec<TagOrId>);

impl BatchKeys {
    pub fn new(keys: impl IntoIterator<Item = TagOrId>) -> Result<Self> {
        let mut unique: Vec<TagOrId> = Vec::new();
        for key in keys {
            if !unique.contains(&key) {
                unique.push(key);
            }
            if unique.len() > MAX_BATCH_KEYS {
                break;
            }
        }
        if unique.is_empty() || unique.len() > MAX_BATCH_KEYS {
            return Err(Error::BadRequest {
                message: format!(
                    "name 1 to {MAX_BATCH_KEYS} different secrets, each as a tagOrId parameter"
                ),
            });
        }
        Ok(Self(unique))
    }

    pub fn keys(&self) -> &[TagOrId] {
        &self.0
    }
}

/// One entry of a batch resolve's answer: the key as asked, and its value
/// or why there is none.
pub type BatchEntry = (TagOrId, Result<Resolved>);

impl<S: SecretStore, K: DataKeys> Secrets<S, K> {
    /// Each secret's plaintext, or its own error, in the keys' order. Each
    /// value is audited before it is returned (an entry whose record cannot
    /// be stored answers that error instead, and no value); refused entries
    /// are the caller's to record, as for single resolve. `Err` only when
    /// the reads themselves fail: then no entry is answered.
    pub async fn resolve_many(&self, actor: &Actor, keys: &BatchKeys) -> Result<Vec<BatchEntry>> {
        let tenant = &actor.tenant;
        let records = self.records_of(tenant, keys.keys()).await?;
        let values: Vec<(SecretId, u64)> = records
            .iter()
            .flatten()
            .map(|r| (r.id.clone(), r.value_version.unwrap_or(FIRST_VERSION)))
            .collect();
        let mut values = self
            .store
            .sealed_versions(tenant, &values)
            .await?
            .into_iter();
        let mut entries = Vec::with_capacity(records.len());
        for (item, (key, record)) in keys.keys().iter().zip(records).enumerate() {
            let result = match record {
                None => Err(Error::NotFound),
                Some(record) => {
                    let sealed = values.next().flatten();
                    self.resolve_entry(actor, record, sealed, item).await
                }
            };
            entries.push((key.clone(), result));
        }
        Ok(entries)
    }

    /// The record of each key, naming its value version: by id, read at
    /// once; by tag, the TAG item names the id, whose record is read next.
    async fn records_of(
        &self,
        tenant: &TenantId,
        keys: &[TagOrId],
    ) -> Result<Vec<Option<SecretSummary>>> {
        let mut records = self.store.find_many(tenant, keys).await?;
        let by_tag: Vec<(usize, TagOrId)> = keys
            .iter()
            .zip(&records)
            .enumerate()
            .filter_map(|(index, (key, found))| match (key, found) {
                (TagOrId::Tag(_), Some(found)) => Some((index, TagOrId::Id(found.id.clone()))),
                _ => None,
            })
            .collect();
        if !by_tag.is_empty() {
            let ids: Vec<TagOrId> = by_tag.iter().map(|(_, id)| id.clone()).collect();
            // A delete between the reads: gone. A re-create under the tag:
            // another secret, whose record is read by its own id.
            let named = self.store.find_many(tenant, &ids).await?;
            for ((index, _), record) in by_tag.into_iter().zip(named) {
                records[index] = record;
            }
        }
        Ok(records)
    }

    /// One entry: the value read in the batch if it is the one the record
    /// names; otherwise (an update or delete landed between the reads, or
    /// an older value was put back) single resolve's reads decide.
    async fn resolve_entry(
        &self,
        actor: &Actor,
        record: SecretSummary,
        sealed: Option<SealedValue>,
        item: usize,
    ) -> Result<Resolved> {
        let (summary, sealed) = match sealed {
            Some(sealed) if currency(record.value_version, &sealed) == Currency::Current => {
                (record, sealed)
            }
            _ => {
                self.current_value(&actor.tenant, &TagOrId::Id(record.id))
                    .await?
            }
        };
        let context = EncryptionContext::new(&actor.tenant, &summary.id);
        let value = open(&self.keys, context, &sealed).await?;
        let item = u16::try_from(item).expect("at most MAX_BATCH_KEYS entries");
        let opened = sealed.scheme.value_version().unwrap_or(FIRST_VERSION);
        let record = actor
            .allowed(&summary, self.clock.now())
            .in_batch(item)
            .opened(opened);
        self.store.record(&record).await?;
        Ok(Resolved { summary, value })
    }
}
