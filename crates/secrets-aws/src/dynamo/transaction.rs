//! One `TransactWriteItems`: its items, each with the [`Role`] it plays, so
//! that a cancelled write is explained by what failed (the tag is taken, the
//! tenant is full), never by where the item happened to sit in the list.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, ReturnConsumedCapacity, TransactWriteItem, Update};
use secrets_domain::error::{Error, Result};
use secrets_domain::model::random_hex;
use tokio::time::Instant;

use super::Item;
use super::backoff::ConflictBackoff;
use super::expressions::{Changes, Condition};
use super::layout::ItemKey;
use crate::errors::{classify, throttled, unavailable};

/// What an item of a write is there for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The record of a create's `Idempotency-Key`.
    IdempotencyRecord,
    /// The tenant's TAG item of the secret: the tag is taken while it exists.
    Tag,
    /// The secret's META item: its version.
    Meta,
    /// The secret's VALUE item of the version written.
    Value,
    /// The VERSION item beside it.
    Version,
    /// An item of a kept version the write removes (too old, or deleted
    /// with its secret): unconditionally, since META's version condition
    /// already makes the kept set read exact, and an item missing from a
    /// damaged pair must not make the secret unchangeable.
    OldVersion,
    /// The tenant's count shard of the secret's tag.
    Count,
    /// A deleted secret's entry in its tenant's collection.
    Deleted,
    /// An item of a kept version whose expiry the write sets (a delete
    /// with a recovery window: unconditionally, as [`Role::OldVersion`])
    /// or clears (a recovery: only while it is there, expiring as the
    /// delete set it, so TTL's removal is never undone by a stub).
    KeptVersion,
    /// The audit record of the change.
    AuditRecord,
}

#[derive(Default)]
pub(super) struct Transaction {
    items: Vec<(Role, TransactWriteItem)>,
}

/// Why a transaction did not surely commit.
#[derive(Debug)]
pub(super) enum Uncommitted {
    /// DynamoDB answered: nothing was written.
    Refused(Error),
    /// No clear answer even after the SDK's retries (a timeout, a lost
    /// response, a server error): it may have committed.
    Unknown(Error),
}

/// Errors after which a transaction may have been applied.
const UNKNOWN_OUTCOME_CODES: &[&str] = &[
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

impl Transaction {
    pub(super) fn put(
        &mut self,
        role: Role,
        table: &str,
        item: Item,
        condition: Condition,
    ) -> Result<()> {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(condition.text)
            .set_expression_attribute_names(Some(condition.placeholders.names))
            .set_expression_attribute_values(non_empty(condition.placeholders.values))
            .build()
            .map_err(|e| Error::internal("building a put", e))?;
        self.push(role, TransactWriteItem::builder().put(put).build());
        Ok(())
    }

    pub(super) fn update(
        &mut self,
        role: Role,
        table: &str,
        key: &ItemKey,
        changes: Changes,
        condition: Option<Condition>,
    ) -> Result<()> {
        let (expression, mut placeholders) = changes.into_parts();
        let condition = condition.map(|condition| {
            placeholders.merge(condition.placeholders);
            condition.text
        });
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key.to_item()))
            .update_expression(expression)
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(placeholders.names))
            .set_expression_attribute_values(non_empty(placeholders.values))
            .build()
            .map_err(|e| Error::internal("building an update", e))?;
        self.push(role, TransactWriteItem::builder().update(update).build());
        Ok(())
    }

    /// Deletes the item at `key`; without a condition, whether or not it
    /// exists.
    pub(super) fn delete(
        &mut self,
        role: Role,
        table: &str,
        key: &ItemKey,
        condition: Option<Condition>,
    ) -> Result<()> {
        let (text, placeholders) = match condition {
            Some(condition) => (Some(condition.text), condition.placeholders),
            None => (None, Default::default()),
        };
        let delete = Delete::builder()
            .table_name(table)
            .set_key(Some(key.to_item()))
            .set_condition_expression(text)
            .set_expression_attribute_names(non_empty(placeholders.names))
            .set_expression_attribute_values(non_empty(placeholders.values))
            .build()
            .map_err(|e| Error::internal("building a delete", e))?;
        self.push(role, TransactWriteItem::builder().delete(delete).build());
        Ok(())
    }

    fn push(&mut self, role: Role, item: TransactWriteItem) {
        self.items.push((role, item));
    }

    /// The keys of the items written, as `(table, pk, sk)`.
    #[cfg(test)]
    pub(super) fn keys(&self) -> Vec<(String, String, String)> {
        let text = |item: &Item, name: &str| match item.get(name) {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(value)) => value.clone(),
            _ => String::new(),
        };
        self.items
            .iter()
            .map(|(_, item)| {
                let (table, key) = if let Some(put) = item.put() {
                    (put.table_name(), put.item())
                } else if let Some(update) = item.update() {
                    (update.table_name(), update.key())
                } else if let Some(delete) = item.delete() {
                    (delete.table_name(), delete.key())
                } else {
                    unreachable!("only puts, updates and deletes are built")
                };
                let pk = text(key, super::attributes::PK);
                (table.to_owned(), pk, text(key, super::attributes::SK))
            })
            .collect()
    }

    /// Commits, retrying cancellations caused by conflicts with other
    /// transactions for as long as `backoff` allows. `refused` names the
    /// error when the condition of the item playing a role does not hold.
    pub(super) async fn commit(
        self,
        client: &Client,
        backoff: &ConflictBackoff,
        refused: impl Fn(Role) -> Error,
    ) -> std::result::Result<(), Uncommitted> {
        let (roles, items): (Vec<Role>, Vec<TransactWriteItem>) = self.items.into_iter().unzip();
        let deadline = Instant::now() + backoff.budget;
        let mut conflicts = 0;
        loop {
            // A token per attempt: the SDK's own retries of one attempt (say,
            // after a lost response) reuse it, so a committed write is never
            // applied twice; a new attempt after a cancellation is a new write.
            let token = random_hex::<16>().map_err(Uncommitted::Refused)?;
            let result = client
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
            let refusal = match cancellation(&error) {
                Some(Cancellation::ConditionFailed(index)) => match roles.get(index) {
                    Some(role) => refused(*role),
                    None => Error::internal(
                        "writing a transaction",
                        "a condition failed on an item the transaction does not have",
                    ),
                },
                Some(Cancellation::Conflict) => {
                    conflicts += 1;
                    match backoff.wait(conflicts, fastrand::f64(), deadline) {
                        Some(wait) => {
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                        None => unavailable(error),
                    }
                }
                Some(Cancellation::Throttled) => throttled(),
                None if outcome_unknown(&error) => {
                    return Err(Uncommitted::Unknown(classify(
                        "writing a transaction",
                        error,
                    )));
                }
                None => classify("writing a transaction", error),
            };
            return Err(Uncommitted::Refused(refusal));
        }
    }
}

fn outcome_unknown<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => error
            .code()
            .is_some_and(|code| UNKNOWN_OUTCOME_CODES.contains(&code)),
        _ => false,
    }
}

/// DynamoDB refuses an empty map of expression values.
fn non_empty<K, V>(
    map: std::collections::HashMap<K, V>,
) -> Option<std::collections::HashMap<K, V>> {
    (!map.is_empty()).then_some(map)
}

enum Cancellation {
    /// The condition of the item at this index failed.
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
