//! The partitions a DynamoDB call names, as IAM sees them: the condition key
//! `dynamodb:LeadingKeys` holds each item's partition key, and the template
//! narrows each role's actions on the secrets table to the prefixes its
//! code uses (`deploy/function-permissions.json`, `leading_keys`). Recorded
//! per call by [`crate::metrics::CallCounter`], so that the adapter tests and
//! every request of the local stack hold the code to those grants: nothing
//! local enforces IAM, and a missing prefix would show only in AWS, as an
//! AccessDenied.
//!
//! A prefix is a partition key up to and including its first `#`
//! (`TENANT#`, `SECRET#`, `PAGES#`, `IDEMPOTENCY#`): what a grant's
//! `TENANT#*` matches, and never a tenant's or a secret's name.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_smithy_runtime_api::client::interceptors::context::Input;

use super::attributes::PK;

/// What a call names when its partition could not be read.
pub const UNREAD: &str = "?";

/// Prefixes by table name, then by IAM action.
pub type LeadingKeys = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// One call's partitions: (table, action, prefix) for each item it names.
/// Calls that name no table item (KMS, Lambda, streams) give none.
pub(crate) fn of_call(input: &Input) -> Vec<(String, &'static str, String)> {
    let mut named = Vec::new();
    let mut add = |table: Option<&str>, action, key: Option<&AttributeValue>| {
        // A partition this reading cannot tell (a key condition written
        // otherwise, a key that is not a string) is named UNREAD, which no
        // grant matches: it fails the checks instead of passing them unseen.
        let prefix = key.and_then(prefix_of).unwrap_or_else(|| UNREAD.to_owned());
        if let Some(table) = table {
            named.push((table.to_owned(), action, prefix));
        }
    };
    if let Some(input) = input.downcast_ref::<GetItemInput>() {
        add(input.table_name(), "dynamodb:GetItem", pk(input.key()));
    } else if let Some(input) = input.downcast_ref::<PutItemInput>() {
        add(input.table_name(), "dynamodb:PutItem", pk(input.item()));
    } else if let Some(input) = input.downcast_ref::<UpdateItemInput>() {
        add(input.table_name(), "dynamodb:UpdateItem", pk(input.key()));
    } else if let Some(input) = input.downcast_ref::<DeleteItemInput>() {
        add(input.table_name(), "dynamodb:DeleteItem", pk(input.key()));
    } else if let Some(input) = input.downcast_ref::<QueryInput>() {
        add(
            input.table_name(),
            "dynamodb:Query",
            queried_partition(input),
        );
    } else if let Some(input) = input.downcast_ref::<BatchGetItemInput>() {
        for (table, keys) in input.request_items().into_iter().flatten() {
            for key in keys.keys() {
                add(Some(table), "dynamodb:BatchGetItem", key.get(PK));
            }
        }
    } else if let Some(input) = input.downcast_ref::<TransactWriteItemsInput>() {
        for (table, action, key) in input.transact_items().iter().filter_map(transaction_item) {
            add(Some(table), action, key);
        }
    }
    named
}

/// IAM authorizes each item of a transaction as its own action.
pub(crate) fn item_action(item: &TransactWriteItem) -> Option<&'static str> {
    transaction_item(item).map(|(_, action, _)| action)
}

fn transaction_item(
    item: &TransactWriteItem,
) -> Option<(&str, &'static str, Option<&AttributeValue>)> {
    if let Some(put) = item.put() {
        Some((put.table_name(), "dynamodb:PutItem", put.item().get(PK)))
    } else if let Some(update) = item.update() {
        let key = update.key().get(PK);
        Some((update.table_name(), "dynamodb:UpdateItem", key))
    } else if let Some(delete) = item.delete() {
        let key = delete.key().get(PK);
        Some((delete.table_name(), "dynamodb:DeleteItem", key))
    } else {
        let check = item.condition_check()?;
        let key = check.key().get(PK);
        Some((check.table_name(), "dynamodb:ConditionCheckItem", key))
    }
}

fn pk<V>(item: Option<&std::collections::HashMap<String, V>>) -> Option<&V> {
    item.and_then(|item| item.get(PK))
}

/// The partition a Query reads: the value its key condition binds to the
/// partition key (`#pk = :pk`, the name aliased or not, as every Query
/// here writes it).
fn queried_partition(input: &QueryInput) -> Option<&AttributeValue> {
    let condition = input.key_condition_expression()?;
    let names = input.expression_attribute_names();
    let is_partition_key = |name: &str| {
        name == PK || names.and_then(|names| names.get(name)).map(String::as_str) == Some(PK)
    };
    let placeholder = condition
        .split(" AND ")
        .filter_map(|part| part.split_once('='))
        .find(|(name, _)| is_partition_key(name.trim()))
        .map(|(_, value)| value.trim())?;
    input.expression_attribute_values()?.get(placeholder)
}

fn prefix_of(key: &AttributeValue) -> Option<String> {
    let key = key.as_s().ok()?;
    let end = key.find('#').map_or(key.len(), |at| at + 1);
    Some(key[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::{Delete, Put};

    use super::*;

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.to_owned())
    }

    #[test]
    fn a_transaction_names_each_items_action_and_partition_prefix() {
        let put = Put::builder()
            .table_name("secrets")
            .item(PK, s("TENANT#acme"))
            .item("sk", s("TAG#db"))
            .build()
            .unwrap();
        let delete = Delete::builder()
            .table_name("secrets")
            .key(PK, s("SECRET#acme#0123"))
            .key("sk", s("VERSION#1"))
            .build()
            .unwrap();
        let input = TransactWriteItemsInput::builder()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .build()
            .unwrap();
        assert_eq!(
            of_call(&Input::erase(input)),
            [
                (
                    "secrets".to_owned(),
                    "dynamodb:PutItem",
                    "TENANT#".to_owned()
                ),
                (
                    "secrets".to_owned(),
                    "dynamodb:DeleteItem",
                    "SECRET#".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_query_names_the_partition_its_key_condition_binds() {
        let input = QueryInput::builder()
            .table_name("secrets")
            .key_condition_expression("#p = :partition AND #sk <= :after")
            .expression_attribute_names("#p", PK)
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":after", s("TAG#a"))
            .expression_attribute_values(":partition", s("PAGES#acme#3"))
            .build()
            .unwrap();
        assert_eq!(
            of_call(&Input::erase(input)),
            [("secrets".to_owned(), "dynamodb:Query", "PAGES#".to_owned())]
        );
    }

    #[test]
    fn a_query_whose_partition_cannot_be_read_names_one_no_grant_matches() {
        let input = QueryInput::builder()
            .table_name("secrets")
            .key_condition_expression("(pk = :partition)")
            .expression_attribute_values(":partition", s("TENANT#acme"))
            .build()
            .unwrap();
        assert_eq!(
            of_call(&Input::erase(input)),
            [("secrets".to_owned(), "dynamodb:Query", UNREAD.to_owned())]
        );
    }

    #[test]
    fn a_key_without_a_separator_is_its_own_prefix() {
        assert_eq!(prefix_of(&s("UNAUTHENTICATED")).unwrap(), "UNAUTHENTICATED");
        assert_eq!(prefix_of(&AttributeValue::N("1".into())), None);
    }
}
