//! The DynamoDB store. One table; a tenant's item collection holds only its
//! small tag items and its count, and each secret has a collection of its own:
//!
//! | pk                      | sk          | attributes                                   | read by          |
//! |-------------------------|-------------|----------------------------------------------|------------------|
//! | `TENANT#<t>`            | `TAG#<tag>` | id, name, version                            | get by tag, list |
//! | `TENANT#<t>`            | `COUNT`     | count                                        | list (total)     |
//! | `SECRET#<t>#<id>`       | `META`      | tag, name, version, createdAt, updatedAt     | get by id        |
//! | `SECRET#<t>#<id>`       | `VALUE`     | ciphertext, nonce, wrappedKey, wrappingKeyId, cipher, updatedAt | trusted readers |
//! | `IDEMPOTENCY#<t>#<sha256 of key>` | `IDEMPOTENCY` | fingerprint, id, name, tag, version, expiresAt (TTL) | create with Idempotency-Key |
//!
//! Values live apart from metadata so that no read of the public API pays for
//! (or touches) ciphertext, and list pages cost the same for 100 B and 64 KiB
//! values; per-secret items spread over DynamoDB's partitions instead of
//! piling onto the tenant's. Create, update and delete are single
//! transactions over these items, with conditions that make them
//! all-or-nothing under races. The version (the `ETag`) is kept on both the
//! TAG and the META item, so that a read by either key answers it in one
//! GetItem; every update writes both, conditioned on the version it read.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnConsumedCapacity, Select, TransactWriteItem, Update,
};

use crate::audit::{Actor, AuditLog, AuditRecord, Outcome};
use crate::aws::{classify, unavailable};
use crate::crypto::{CIPHER_SCHEME, SealedValue};
use crate::domain::{
    FIRST_VERSION, SecretId, SecretKey, SecretName, SecretSummary, Tag, TenantId, random_hex,
};
use crate::error::{DEFAULT_RETRY_AFTER_SECS, Error, Result};
use crate::idempotency::{Remembered, now_secs};
use crate::page::{Page, PageRequest};
use crate::store::{
    DEFAULT_MAX_SECRETS_PER_TENANT, DeleteGuard, NewSecret, SecretChanges, SecretStore,
};

const PK: &str = "pk";
const SK: &str = "sk";
const TAG_PREFIX: &str = "TAG#";
const VERSION: &str = "version";
/// Seconds since the epoch; the TTL attribute of idempotency records.
const EXPIRES_AT: &str = "expiresAt";

/// Where an item lives. The secret id, of fixed shape, ends the secret's
/// partition key, so that no two (tenant, id) pairs share one.
struct ItemKey {
    partition: String,
    sort: String,
}

impl ItemKey {
    fn tenant_partition(tenant: &TenantId) -> String {
        format!("TENANT#{tenant}")
    }

    fn tag(tenant: &TenantId, tag: &Tag) -> Self {
        Self::new(Self::tenant_partition(tenant), format!("{TAG_PREFIX}{tag}"))
    }

    fn count(tenant: &TenantId) -> Self {
        Self::new(Self::tenant_partition(tenant), "COUNT".to_owned())
    }

    fn meta(tenant: &TenantId, id: &SecretId) -> Self {
        Self::new(format!("SECRET#{tenant}#{id}"), "META".to_owned())
    }

    fn value(tenant: &TenantId, id: &SecretId) -> Self {
        Self::new(format!("SECRET#{tenant}#{id}"), "VALUE".to_owned())
    }

    fn idempotency(tenant: &TenantId, key_digest: &str) -> Self {
        Self::new(
            format!("IDEMPOTENCY#{tenant}#{key_digest}"),
            "IDEMPOTENCY".to_owned(),
        )
    }

    fn new(partition: String, sort: String) -> Self {
        Self { partition, sort }
    }

    fn to_item(&self) -> Item {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(self.partition.clone())),
            (SK.to_owned(), AttributeValue::S(self.sort.clone())),
        ])
    }
}

/// Attempts at a transaction that DynamoDB cancels for a conflict with
/// another in-flight transaction on the same items; then 503.
const TRANSACTION_ATTEMPTS: u32 = 3;

/// Skipping to a deep page reads at most the tenant's limit of secrets (by
/// default 100,000 small items, about 15 one-megabyte queries); should
/// DynamoDB be slow, the request gives up with a 503 before the function's
/// own timeout would end it without an answer.
const SKIP_DEADLINE: Duration = Duration::from_secs(7);

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    max_secrets: u64,
    audit: Option<AuditTable>,
}

/// Where audit records go: a table of their own, so that they can be kept
/// (and access to them granted) apart from the secrets.
#[derive(Clone)]
struct AuditTable {
    name: String,
    /// 0: records never expire.
    retention_days: u64,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            max_secrets: DEFAULT_MAX_SECRETS_PER_TENANT,
            audit: None,
        }
    }

    /// Audit records go to `table`, expiring after `retention_days` (0: never).
    pub fn with_audit_table(self, table: impl Into<String>, retention_days: u64) -> Self {
        Self {
            audit: Some(AuditTable {
                name: table.into(),
                retention_days,
            }),
            ..self
        }
    }

    fn audit_table(&self) -> Result<&AuditTable> {
        self.audit.as_ref().ok_or(Error::Internal {
            context: "writing an audit record",
            source: Some("this function has no audit table configured".into()),
        })
    }

    /// The record of an allowed change, as one more item of its transaction.
    fn audit_put(
        &self,
        actor: Option<&Actor>,
        secret: &SecretSummary,
    ) -> Result<Option<TransactWriteItem>> {
        let Some(actor) = actor else {
            return Ok(None);
        };
        let audit = self.audit_table()?;
        let put = Put::builder()
            .table_name(&audit.name)
            .set_item(Some(audit_item(
                &actor.allowed(secret),
                audit.retention_days,
            )))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| Error::internal("building an audit put", e))?;
        Ok(Some(TransactWriteItem::builder().put(put).build()))
    }

    pub fn with_max_secrets(self, max_secrets: u64) -> Self {
        Self {
            max_secrets,
            ..self
        }
    }

    async fn get(&self, key: ItemKey, attributes: &[&str]) -> Result<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .projection_expression(projection(attributes))
            .set_expression_attribute_names(Some(placeholders(attributes)))
            .send()
            .await
            .map_err(|e| classify("reading an item", e))?;
        Ok(output.item)
    }

    async fn count(&self, tenant: &TenantId) -> Result<u64> {
        let item = self.get(ItemKey::count(tenant), &["count"]).await?;
        match item.as_ref().and_then(|item| item.get("count")) {
            None => Ok(0),
            // A negative count would mean a bug elsewhere: report no rows
            // rather than fail every list.
            Some(AttributeValue::N(n)) => Ok(n.parse::<i64>().map_or(0, |n| n.max(0) as u64)),
            Some(_) => Err(corrupt("count is not a number")),
        }
    }

    fn tag_query(
        &self,
        tenant: &TenantId,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
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
        loop {
            let wanted = size as usize - rows.len();
            let output = self
                .tag_query(tenant)
                .projection_expression(projection(&[SK, "id", "name", VERSION]))
                .expression_attribute_names("#id", "id")
                .expression_attribute_names("#name", "name")
                .expression_attribute_names("#version", VERSION)
                .limit(wanted as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("reading a page", e))?;
            for item in output.items.unwrap_or_default() {
                rows.push(summary_from_tag_item(&item)?);
            }
            match output.last_evaluated_key {
                Some(key) if rows.len() < size as usize => start = Some(key),
                _ => return Ok(rows),
            }
        }
    }

    /// Runs a transaction, retrying cancellations caused by conflicts with
    /// other transactions. `on_condition_failed` names the error when one of
    /// the conditions does not hold, given the index of the failing item.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        on_condition_failed: impl Fn(usize) -> Error,
    ) -> Result<()> {
        for attempt in 1..=TRANSACTION_ATTEMPTS {
            // A token per attempt: the SDK's own retries of one attempt (say,
            // after a lost response) reuse it, so a committed write is never
            // applied twice; a new attempt after a cancellation is a new write.
            let token = random_hex::<16>()?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .client_request_token(token)
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            match cancellation(&error) {
                Some(Cancellation::ConditionFailed(index)) => {
                    return Err(on_condition_failed(index));
                }
                Some(Cancellation::Conflict) if attempt < TRANSACTION_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(25 * u64::from(attempt))).await;
                }
                Some(Cancellation::Conflict) => return Err(unavailable(error)),
                Some(Cancellation::Throttled) => {
                    return Err(Error::Throttled {
                        retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
                    });
                }
                None => return Err(classify("writing a transaction", error)),
            }
        }
        Err(Error::Unavailable {
            retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
            source: None,
        })
    }

    fn put(&self, item: Item, condition: &str) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| Error::internal("building a put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// `attributes`: every attribute the expressions name, as `#attribute`.
    fn update_item(
        &self,
        key: ItemKey,
        expression: &str,
        condition: Option<&str>,
        attributes: &[&str],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(Some(placeholders(attributes)));
        for (placeholder, value) in values {
            update = update.expression_attribute_values(placeholder, value);
        }
        let update = update
            .build()
            .map_err(|e| Error::internal("building an update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn delete_item(
        &self,
        key: ItemKey,
        condition: &str,
        attributes: &[&str],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem> {
        let mut delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(placeholders(attributes)));
        for (placeholder, value) in values {
            delete = delete.expression_attribute_values(placeholder, value);
        }
        let delete = delete
            .build()
            .map_err(|e| Error::internal("building a delete", e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// The record of a create with an `Idempotency-Key`. It may replace
    /// an expired record that TTL has not removed yet, never a live one.
    fn idempotency_put(&self, tenant: &TenantId, record: &Remembered) -> Result<TransactWriteItem> {
        let mut item = ItemKey::idempotency(tenant, &record.key_digest).to_item();
        let secret = &record.secret;
        item.extend([
            (
                "fingerprint".to_owned(),
                AttributeValue::B(Blob::new(record.fingerprint.clone())),
            ),
            ("id".to_owned(), AttributeValue::S(secret.id.to_string())),
            (
                "name".to_owned(),
                AttributeValue::S(secret.name.as_str().to_owned()),
            ),
            ("tag".to_owned(), AttributeValue::S(secret.tag.to_string())),
            (VERSION.to_owned(), number(secret.version)),
            (EXPIRES_AT.to_owned(), number(record.expires_at)),
        ]);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #expiresAt <= :now")
            .set_expression_attribute_names(Some(placeholders(&[PK, EXPIRES_AT])))
            .expression_attribute_values(":now", number(now_secs()))
            .build()
            .map_err(|e| Error::internal("building an idempotency put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Why a write conditioned on `current` was cancelled: the secret is
    /// gone (404), or another change moved it to another version (412).
    async fn why_refused(&self, tenant: &TenantId, current: &SecretSummary) -> Error {
        match self.find(tenant, &SecretKey::Id(current.id.clone())).await {
            Ok(Some(now)) if now.version != current.version => Error::PreconditionFailed,
            Ok(_) => Error::NotFound,
            Err(error) => error,
        }
    }

    /// Counts one more secret, if the tenant is below its limit.
    fn count_up(&self, tenant: &TenantId) -> Result<TransactWriteItem> {
        self.update_item(
            ItemKey::count(tenant),
            "ADD #count :one",
            Some("attribute_not_exists(#count) OR #count < :max"),
            &["count"],
            vec![
                (":one", AttributeValue::N("1".into())),
                (":max", AttributeValue::N(self.max_secrets.to_string())),
            ],
        )
    }

    fn count_down(&self, tenant: &TenantId) -> Result<TransactWriteItem> {
        self.update_item(
            ItemKey::count(tenant),
            "ADD #count :minus_one",
            None,
            &["count"],
            vec![(":minus_one", AttributeValue::N("-1".into()))],
        )
    }
}

impl SecretStore for DynamoStore {
    async fn find(&self, tenant: &TenantId, key: &SecretKey) -> Result<Option<SecretSummary>> {
        match key {
            SecretKey::Tag(tag) => {
                let item = self
                    .get(ItemKey::tag(tenant, tag), &["id", "name", VERSION])
                    .await?;
                item.map(|item| {
                    Ok(SecretSummary {
                        id: parse_id(string_attr(&item, "id")?)?,
                        name: parse_name(string_attr(&item, "name")?)?,
                        tag: tag.clone(),
                        version: version_attr(&item)?,
                    })
                })
                .transpose()
            }
            SecretKey::Id(id) => {
                let item = self
                    .get(ItemKey::meta(tenant, id), &["tag", "name", VERSION])
                    .await?;
                item.map(|item| {
                    Ok(SecretSummary {
                        id: id.clone(),
                        name: parse_name(string_attr(&item, "name")?)?,
                        tag: parse_tag(string_attr(&item, "tag")?)?,
                        version: version_attr(&item)?,
                    })
                })
                .transpose()
            }
        }
    }

    async fn list(&self, tenant: &TenantId, request: PageRequest) -> Result<Page> {
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

    async fn insert(
        &self,
        tenant: &TenantId,
        secret: NewSecret,
        audit: Option<&Actor>,
    ) -> Result<()> {
        let tag = &secret.summary.tag;
        let [tag_item, meta_item, value_item] = secret_items(tenant, &secret, &now_attr());
        let absent = "attribute_not_exists(#pk)";
        // First, so that its failure is the one reported when a concurrent
        // create with the same key also took the tag.
        let mut items: Vec<TransactWriteItem> = secret
            .idempotency
            .as_ref()
            .map(|record| self.idempotency_put(tenant, record))
            .transpose()?
            .into_iter()
            .collect();
        let first_secret_item = items.len();
        items.extend([
            self.put(tag_item, absent)?,
            self.put(meta_item, absent)?,
            self.put(value_item, absent)?,
            self.count_up(tenant)?,
        ]);
        items.extend(self.audit_put(audit, &secret.summary)?);
        self.transact(items, |index| match index.checked_sub(first_secret_item) {
            None => Error::IdempotencyKeyReused,
            Some(0) => Error::TagTaken {
                tag: tag.to_string(),
            },
            Some(3) => Error::QuotaExceeded {
                limit: self.max_secrets,
            },
            Some(_) => Error::Internal {
                context: "creating a secret",
                source: Some("a freshly generated secret id is already in use".into()),
            },
        })
        .await
    }

    async fn update(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        changes: SecretChanges,
        audit: Option<&Actor>,
    ) -> Result<SecretSummary> {
        let now = now_attr();
        let next = number(current.version + 1);
        let mut tag_update = "SET #version = :next".to_owned();
        let mut tag_attributes = vec![PK, "id", VERSION];
        let mut tag_values = vec![
            (":next", next.clone()),
            (":id", AttributeValue::S(current.id.to_string())),
        ];
        let mut meta_update = "SET #updatedAt = :now, #version = :next".to_owned();
        let mut meta_attributes = vec![PK, "tag", "updatedAt", VERSION];
        let mut meta_values = vec![
            (":now", now.clone()),
            (":next", next),
            (":version", number(current.version)),
            (":tag", AttributeValue::S(current.tag.to_string())),
        ];
        if let Some(name) = &changes.name {
            let name_value = AttributeValue::S(name.as_str().to_owned());
            for (update, attributes, values) in [
                (&mut tag_update, &mut tag_attributes, &mut tag_values),
                (&mut meta_update, &mut meta_attributes, &mut meta_values),
            ] {
                update.push_str(", #name = :name");
                attributes.push("name");
                values.push((":name", name_value.clone()));
            }
        }
        // The META item's condition is the one that matters: it keeps a
        // concurrent delete from being undone and a concurrent update from
        // being overwritten unseen.
        let mut items = vec![
            self.update_item(
                ItemKey::tag(tenant, &current.tag),
                &tag_update,
                Some("attribute_exists(#pk) AND #id = :id"),
                &tag_attributes,
                tag_values,
            )?,
            self.update_item(
                ItemKey::meta(tenant, &current.id),
                &meta_update,
                Some(&format!(
                    "attribute_exists(#pk) AND #tag = :tag AND {}",
                    at_version(current.version)
                )),
                &meta_attributes,
                meta_values,
            )?,
        ];
        if let Some(sealed) = &changes.sealed {
            items.push(self.put(
                value_item(tenant, &current.id, sealed, &now),
                "attribute_exists(#pk)",
            )?);
        }
        let updated = SecretSummary {
            name: changes.name.unwrap_or_else(|| current.name.clone()),
            version: current.version + 1,
            ..current.clone()
        };
        items.extend(self.audit_put(audit, &updated)?);
        match self.transact(items, |_| Error::PreconditionFailed).await {
            Err(Error::PreconditionFailed) => Err(self.why_refused(tenant, current).await),
            Err(error) => Err(error),
            Ok(()) => Ok(updated),
        }
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        current: &SecretSummary,
        guard: DeleteGuard,
        audit: Option<&Actor>,
    ) -> Result<()> {
        let exists = "attribute_exists(#pk)";
        let meta = match guard {
            DeleteGuard::Exists => {
                self.delete_item(ItemKey::meta(tenant, &current.id), exists, &[PK], vec![])?
            }
            DeleteGuard::SameVersion => self.delete_item(
                ItemKey::meta(tenant, &current.id),
                &format!("{exists} AND {}", at_version(current.version)),
                &[PK, VERSION],
                vec![(":version", number(current.version))],
            )?,
        };
        let mut items = vec![
            self.delete_item(
                ItemKey::tag(tenant, &current.tag),
                "attribute_exists(#pk) AND #id = :id",
                &[PK, "id"],
                vec![(":id", AttributeValue::S(current.id.to_string()))],
            )?,
            meta,
            self.delete_item(ItemKey::value(tenant, &current.id), exists, &[PK], vec![])?,
            self.count_down(tenant)?,
        ];
        items.extend(self.audit_put(audit, current)?);
        match self.transact(items, |_| Error::PreconditionFailed).await {
            Err(Error::PreconditionFailed) if guard == DeleteGuard::SameVersion => {
                Err(self.why_refused(tenant, current).await)
            }
            Err(Error::PreconditionFailed) => Err(Error::NotFound),
            result => result,
        }
    }

    async fn remembered(&self, tenant: &TenantId, key_digest: &str) -> Result<Option<Remembered>> {
        let attributes = ["fingerprint", "id", "name", "tag", VERSION, EXPIRES_AT];
        let item = self
            .get(ItemKey::idempotency(tenant, key_digest), &attributes)
            .await?;
        let Some(item) = item else {
            return Ok(None);
        };
        let record = Remembered {
            key_digest: key_digest.to_owned(),
            fingerprint: binary_attr(&item, "fingerprint")?.to_vec(),
            secret: SecretSummary {
                id: parse_id(string_attr(&item, "id")?)?,
                name: parse_name(string_attr(&item, "name")?)?,
                tag: parse_tag(string_attr(&item, "tag")?)?,
                version: version_attr(&item)?,
            },
            expires_at: number_attr(&item, EXPIRES_AT)?,
        };
        // DynamoDB's TTL deletes expired items late, not at their time.
        Ok(record.is_live(now_secs()).then_some(record))
    }

    async fn sealed_value(&self, tenant: &TenantId, id: &SecretId) -> Result<Option<SealedValue>> {
        let item = self
            .get(
                ItemKey::value(tenant, id),
                &["ciphertext", "nonce", "wrappedKey", "wrappingKeyId"],
            )
            .await?;
        item.map(|item| {
            Ok(SealedValue {
                ciphertext: binary_attr(&item, "ciphertext")?.to_vec(),
                nonce: binary_attr(&item, "nonce")?
                    .try_into()
                    .map_err(|_| corrupt("nonce has the wrong length"))?,
                wrapped_key: binary_attr(&item, "wrappedKey")?.to_vec(),
                wrapping_key_id: string_attr(&item, "wrappingKeyId")?.to_owned(),
            })
        })
        .transpose()
    }
}

impl AuditLog for DynamoStore {
    /// One PutItem that never overwrites: a record, once written, stays.
    async fn record(&self, record: &AuditRecord) -> Result<()> {
        let audit = self.audit_table()?;
        self.client
            .put_item()
            .table_name(&audit.name)
            .set_item(Some(audit_item(record, audit.retention_days)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("writing an audit record", e))?;
        Ok(())
    }
}

/// An audit record as an item of the audit table: a tenant's records in
/// one partition (unauthenticated attempts in their own), in time order.
///
/// | pk                                | sk                        |
/// |-----------------------------------|---------------------------|
/// | `TENANT#<t>` or `UNAUTHENTICATED` | `<RFC 3339 time>#<request id>` |
pub fn audit_item(record: &AuditRecord, retention_days: u64) -> Item {
    let partition = match &record.tenant {
        Some(tenant) => ItemKey::tenant_partition(tenant),
        None => "UNAUTHENTICATED".to_owned(),
    };
    let time = record.time().to_string();
    let mut item = ItemKey::new(partition, format!("{time}#{}", record.request_id)).to_item();
    let text = |value: &str| AttributeValue::S(value.to_owned());
    item.extend([
        ("time".to_owned(), text(&time)),
        ("timeMs".to_owned(), number(record.time_ms)),
        ("operation".to_owned(), text(record.operation.as_str())),
        ("requestId".to_owned(), text(&record.request_id)),
    ]);
    let optional = [
        ("tenant", record.tenant.as_ref().map(TenantId::as_str)),
        ("subject", record.subject.as_deref()),
        ("secretId", record.secret_id.as_ref().map(SecretId::as_str)),
        ("tag", record.tag.as_ref().map(Tag::as_str)),
        ("requested", record.requested.as_deref()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.to_owned(), text(value));
        }
    }
    if record.replayed {
        item.insert("replayed".to_owned(), AttributeValue::Bool(true));
    }
    match &record.outcome {
        Outcome::Allowed => {
            item.insert("outcome".to_owned(), text("allowed"));
        }
        Outcome::Refused {
            status,
            error_type,
            reason,
        } => item.extend([
            ("outcome".to_owned(), text("refused")),
            ("status".to_owned(), number(u64::from(*status))),
            ("errorType".to_owned(), text(error_type)),
            ("reason".to_owned(), text(reason)),
        ]),
    }
    if retention_days > 0 {
        let expires = record.time_ms / 1000 + retention_days * 86_400;
        item.insert("expiresAt".to_owned(), number(expires));
    }
    item
}

/// The three items of a secret, as `insert` writes them (its TAG, META and
/// VALUE items); public for bulk loading, which must write the same layout.
pub fn secret_items(tenant: &TenantId, secret: &NewSecret, now: &AttributeValue) -> [Item; 3] {
    let SecretSummary {
        id,
        name,
        tag,
        version,
    } = &secret.summary;
    let name = AttributeValue::S(name.as_str().to_owned());
    let mut tag_item = ItemKey::tag(tenant, tag).to_item();
    tag_item.extend([
        ("id".to_owned(), AttributeValue::S(id.to_string())),
        ("name".to_owned(), name.clone()),
        (VERSION.to_owned(), number(*version)),
    ]);
    let mut meta_item = ItemKey::meta(tenant, id).to_item();
    meta_item.extend([
        ("tag".to_owned(), AttributeValue::S(tag.to_string())),
        ("name".to_owned(), name),
        (VERSION.to_owned(), number(*version)),
        ("createdAt".to_owned(), now.clone()),
        ("updatedAt".to_owned(), now.clone()),
    ]);
    [
        tag_item,
        meta_item,
        value_item(tenant, id, &secret.sealed, now),
    ]
}

/// The count item of a tenant holding `count` secrets, for bulk loading.
pub fn count_item(tenant: &TenantId, count: u64) -> Item {
    let mut item = ItemKey::count(tenant).to_item();
    item.insert("count".to_owned(), number(count));
    item
}

fn value_item(
    tenant: &TenantId,
    id: &SecretId,
    sealed: &SealedValue,
    now: &AttributeValue,
) -> Item {
    let mut item = ItemKey::value(tenant, id).to_item();
    item.extend([
        (
            "ciphertext".to_owned(),
            AttributeValue::B(Blob::new(sealed.ciphertext.clone())),
        ),
        (
            "nonce".to_owned(),
            AttributeValue::B(Blob::new(sealed.nonce.to_vec())),
        ),
        (
            "wrappedKey".to_owned(),
            AttributeValue::B(Blob::new(sealed.wrapped_key.clone())),
        ),
        (
            "wrappingKeyId".to_owned(),
            AttributeValue::S(sealed.wrapping_key_id.clone()),
        ),
        (
            "cipher".to_owned(),
            AttributeValue::S(CIPHER_SCHEME.to_owned()),
        ),
        ("updatedAt".to_owned(), now.clone()),
    ]);
    item
}

enum Cancellation {
    ConditionFailed(usize),
    Conflict,
    Throttled,
}

fn cancellation<R>(error: &SdkError<TransactWriteItemsError, R>) -> Option<Cancellation> {
    let TransactWriteItemsError::TransactionCanceledException(canceled) =
        error.as_service_error()?
    else {
        return None;
    };
    let codes: Vec<&str> = canceled
        .cancellation_reasons()
        .iter()
        .map(|reason| reason.code().unwrap_or("None"))
        .collect();
    if let Some(index) = codes
        .iter()
        .position(|code| *code == "ConditionalCheckFailed")
    {
        return Some(Cancellation::ConditionFailed(index));
    }
    if codes.contains(&"TransactionConflict") {
        return Some(Cancellation::Conflict);
    }
    if codes
        .iter()
        .any(|code| matches!(*code, "ThrottlingError" | "ProvisionedThroughputExceeded"))
    {
        return Some(Cancellation::Throttled);
    }
    None
}

/// Every attribute is named through a `#attribute` placeholder, so that no
/// attribute name can ever collide with one of DynamoDB's reserved words.
fn placeholders(attributes: &[&str]) -> HashMap<String, String> {
    attributes
        .iter()
        .map(|attribute| (format!("#{attribute}"), (*attribute).to_owned()))
        .collect()
}

fn projection(attributes: &[&str]) -> String {
    attributes
        .iter()
        .map(|attribute| format!("#{attribute}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn now_attr() -> AttributeValue {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    AttributeValue::N(millis.to_string())
}

fn summary_from_tag_item(item: &Item) -> Result<SecretSummary> {
    let sort_key = string_attr(item, SK)?;
    let tag = sort_key
        .strip_prefix(TAG_PREFIX)
        .ok_or_else(|| corrupt("tag item without the tag prefix"))?;
    Ok(SecretSummary {
        id: parse_id(string_attr(item, "id")?)?,
        name: parse_name(string_attr(item, "name")?)?,
        tag: parse_tag(tag)?,
        version: version_attr(item)?,
    })
}

/// Items written before versions existed are at the first version.
fn version_attr(item: &Item) -> Result<u64> {
    match item.get(VERSION) {
        None => Ok(FIRST_VERSION),
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| corrupt(VERSION)),
        Some(_) => Err(corrupt(VERSION)),
    }
}

/// The condition that an item is still at the version in `:version`.
fn at_version(version: u64) -> &'static str {
    if version == FIRST_VERSION {
        "(attribute_not_exists(#version) OR #version = :version)"
    } else {
        "#version = :version"
    }
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn string_attr<'a>(item: &'a Item, name: &'static str) -> Result<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(corrupt(name)),
    }
}

fn number_attr(item: &Item, name: &'static str) -> Result<u64> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| corrupt(name)),
        _ => Err(corrupt(name)),
    }
}

fn binary_attr<'a>(item: &'a Item, name: &'static str) -> Result<&'a [u8]> {
    match item.get(name) {
        Some(AttributeValue::B(value)) => Ok(value.as_ref()),
        _ => Err(corrupt(name)),
    }
}

fn parse_id(raw: &str) -> Result<SecretId> {
    SecretId::parse(raw).ok_or_else(|| corrupt("id"))
}

fn parse_tag(raw: &str) -> Result<Tag> {
    Tag::parse(raw).map_err(|_| corrupt("tag"))
}

fn parse_name(raw: &str) -> Result<SecretName> {
    SecretName::parse(raw.to_owned()).map_err(|_| corrupt("name"))
}

fn corrupt(what: &'static str) -> Error {
    Error::Internal {
        context: "reading a stored item",
        source: Some(format!("missing or malformed attribute: {what}").into()),
    }
}
