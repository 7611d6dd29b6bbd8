//! What an operation costs in AWS terms, measured from inside the process:
//! calls per service and operation, the IAM actions they need, and the
//! DynamoDB capacity they consume, emitted per invocation as CloudWatch
//! Embedded Metric Format.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemError, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryError, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ConsumedCapacity;
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::operation::generate_data_key::GenerateDataKeyError;
use aws_sdk_kms::operation::generate_mac::GenerateMacError;
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::Error as InterceptorError;
use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
use serde_json::json;

use crate::dynamo::{LeadingKeys, leading_keys};
use crate::errors::THROTTLING_CODES;

/// The CloudWatch namespace of the service's metrics.
pub const NAMESPACE: &str = "CortexSecrets";

/// AWS usage since the last `take`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Calls by `Service.Operation`, one per call however many attempts.
    pub calls: BTreeMap<String, u32>,
    /// The IAM actions the calls needed (a transaction: those of its items).
    pub iam_actions: BTreeSet<String>,
    /// The partition key prefixes those actions named, by table
    /// (`dynamodb:LeadingKeys`, [`crate::dynamo::leading_keys`]).
    pub leading_keys: LeadingKeys,
    /// As DynamoDB reported them (`ReturnConsumedCapacity=TOTAL`).
    pub read_capacity_units: f64,
    pub write_capacity_units: f64,
    /// Transactions cancelled because another in flight held one of their
    /// items (each retried, or answered 503 once the budget is spent): a
    /// hot item shows here first.
    pub transaction_conflicts: u32,
    /// Attempts refused for throttling (each retried by the SDK, or
    /// answered 429 once its attempts are spent), by service: KMS's shared
    /// request quota shows here before callers see 429s.
    pub kms_throttles: u32,
    pub dynamodb_throttles: u32,
}

impl Usage {
    /// Calls to one service (`DynamoDB`, `KMS`).
    pub fn calls_to(&self, service: &str) -> u32 {
        self.calls
            .iter()
            .filter(|(name, _)| name.split('.').next() == Some(service))
            .map(|(_, count)| count)
            .sum()
    }

    /// One Embedded Metric Format record: CloudWatch turns it into metrics
    /// by operation, and keeps the details searchable. `KMSThrottles` is
    /// also declared by function, for the stack's alarm (the operation
    /// alone mixes every stack of an account and region); only it, since
    /// each metric declared costs a custom metric per dimension value.
    pub fn to_emf(
        &self,
        operation: &str,
        function: &str,
        status: u16,
        timestamp_ms: u128,
    ) -> String {
        let metric = |name: &str| json!({"Name": name, "Unit": "Count"});
        json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Operation"]],
                    "Metrics": [
                        metric("DynamoDBCalls"),
                        metric("KMSCalls"),
                        metric("ReadCapacityUnits"),
                        metric("WriteCapacityUnits"),
                        metric("TransactionConflicts"),
                        metric("Unauthenticated"),
                        metric("KMSThrottles"),
                        metric("DynamoDBThrottles"),
                    ],
                }, {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [metric("KMSThrottles")],
                }],
            },
            "Operation": operation,
            "FunctionName": function,
            "Status": status,
            "DynamoDBCalls": self.calls_to("DynamoDB"),
            "KMSCalls": self.calls_to("KMS"),
            "ReadCapacityUnits": self.read_capacity_units,
            "WriteCapacityUnits": self.write_capacity_units,
            "TransactionConflicts": self.transaction_conflicts,
            // Refused before authentication: never in the audit table, so
            // counted here (a flood of them is someone probing).
            "Unauthenticated": u32::from(status == 401),
            "KMSThrottles": self.kms_throttles,
            "DynamoDBThrottles": self.dynamodb_throttles,
            "Calls": self.calls,
            // Not a metric: what the role's grants must allow, checked
            // against them for every request of the local stack.
            "LeadingKeys": self.leading_keys,
        })
        .to_string()
    }
}

/// An SDK interceptor recording [`Usage`]. Clones share what they record.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    recorded: Arc<Mutex<Usage>>,
}

impl CallCounter {
    /// The usage since the last `take`, and a fresh start.
    pub fn take(&self) -> Usage {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.recorded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let (service, operation) = (metadata.service(), metadata.name());
        let transaction = context.input().downcast_ref::<TransactWriteItemsInput>();
        let actions: Vec<String> = match transaction {
            Some(input) => input
                .transact_items()
                .iter()
                .filter_map(leading_keys::item_action)
                .map(str::to_owned)
                .collect(),
            None => vec![iam_action(service, operation)],
        };
        let named = leading_keys::of_call(context.input());
        let mut usage = self.lock();
        *usage
            .calls
            .entry(format!("{service}.{operation}"))
            .or_default() += 1;
        usage.iam_actions.extend(actions);
        for (table, action, prefix) in named {
            let by_action = usage.leading_keys.entry(table).or_default();
            by_action
                .entry(action.to_owned())
                .or_default()
                .insert(prefix);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let output = match context.output_or_error() {
            Ok(output) => output,
            Err(error) => {
                let mut usage = self.lock();
                if cancellation_reason(error, "TransactionConflict") {
                    usage.transaction_conflicts += 1;
                }
                if throttled(error) || cancellation_reason(error, "ThrottlingError") {
                    match cfg.load::<Metadata>().map(Metadata::service) {
                        Some("KMS") => usage.kms_throttles += 1,
                        // Lambda counts an invoke it throttles as the
                        // reseal function's `Throttles`, which is alarmed.
                        Some("Lambda") => {}
                        _ => usage.dynamodb_throttles += 1,
                    }
                }
                return Ok(());
            }
        };
        let reads = output
            .downcast_ref::<GetItemOutput>()
            .and_then(GetItemOutput::consumed_capacity)
            .into_iter()
            .chain(
                output
                    .downcast_ref::<QueryOutput>()
                    .and_then(QueryOutput::consumed_capacity),
            )
            .chain(
                output
                    .downcast_ref::<BatchGetItemOutput>()
                    .map(BatchGetItemOutput::consumed_capacity)
                    .unwrap_or_default(),
            );
        // Audit records outside a transaction are single PutItems.
        let writes = output
            .downcast_ref::<TransactWriteItemsOutput>()
            .map(TransactWriteItemsOutput::consumed_capacity)
            .unwrap_or_default()
            .iter()
            .chain(
                output
                    .downcast_ref::<PutItemOutput>()
                    .and_then(PutItemOutput::consumed_capacity),
            );
        let units = |capacity: &ConsumedCapacity| capacity.capacity_units().unwrap_or_default();
        // A batch read's throttling: keys left unprocessed, not an error.
        let unprocessed: usize = output
            .downcast_ref::<BatchGetItemOutput>()
            .and_then(BatchGetItemOutput::unprocessed_keys)
            .map(|tables| tables.values().map(|left| left.keys().len()).sum())
            .unwrap_or_default();
        let mut usage = self.lock();
        usage.dynamodb_throttles += u32::try_from(unprocessed).unwrap_or(u32::MAX);
        usage.read_capacity_units += reads.map(units).sum::<f64>();
        usage.write_capacity_units += writes.map(units).sum::<f64>();
        Ok(())
    }
}

/// Whether an attempt failed with one of the throttling codes the
/// functions answer 429 for.
fn throttled(error: &OrchestratorError<InterceptorError>) -> bool {
    error
        .as_operation_error()
        .and_then(error_code)
        .is_some_and(|code| THROTTLING_CODES.contains(&code))
}

/// The AWS error code of a failed operation. The interceptor sees errors
/// type-erased, so each operation the functions call is named here, as
/// deploy/function-permissions.json lists their actions: a new operation
/// must be added, or its throttles go uncounted (`faults.rs` shows
/// GetItem's and GenerateDataKey's counted).
fn error_code(error: &InterceptorError) -> Option<&str> {
    macro_rules! code_of_first {
        ($($error:ty),+ $(,)?) => {
            $(if let Some(error) = error.downcast_ref::<$error>() {
                return error.code();
            })+
        };
    }
    code_of_first!(
        GetItemError,
        BatchGetItemError,
        QueryError,
        PutItemError,
        UpdateItemError,
        DeleteItemError,
        TransactWriteItemsError,
        GenerateDataKeyError,
        DecryptError,
        GenerateMacError,
        InvokeError,
    );
    None
}

/// Whether a cancelled transaction names `code` among its reasons.
fn cancellation_reason(error: &OrchestratorError<InterceptorError>, code: &str) -> bool {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error
        .as_operation_error()
        .and_then(|error| error.downcast_ref::<TransactWriteItemsError>())
    else {
        return false;
    };
    cancelled
        .cancellation_reasons()
        .iter()
        .any(|reason| reason.code() == Some(code))
}

/// The IAM action an API call needs: its service and operation, but for
/// Lambda's Invoke, which IAM calls InvokeFunction.
fn iam_action(service: &str, operation: &str) -> String {
    match (service, operation) {
        ("Lambda", "Invoke") => "lambda:InvokeFunction".to_owned(),
        // EventBridge's actions are still named by its first name.
        ("EventBridge", operation) => format!("events:{operation}"),
        // A stream's reads are DynamoDB's actions.
        ("DynamoDB Streams", operation) => format!("dynamodb:{operation}"),
        _ => format!("{}:{operation}", service.to_ascii_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn emf_records_carry_the_metrics_and_their_declaration() {
        let usage = Usage {
            calls: BTreeMap::from([
                ("DynamoDB.GetItem".to_owned(), 1),
                ("DynamoDB.TransactWriteItems".to_owned(), 1),
                ("KMS.GenerateDataKey".to_owned(), 1),
            ]),
            iam_actions: BTreeSet::new(),
            leading_keys: BTreeMap::from([(
                "secrets".to_owned(),
                BTreeMap::from([(
                    "dynamodb:PutItem".to_owned(),
                    BTreeSet::from(["TENANT#".to_owned()]),
                )]),
            )]),
            read_capacity_units: 1.0,
            write_capacity_units: 8.0,
            transaction_conflicts: 2,
            kms_throttles: 3,
            dynamodb_throttles: 0,
        };
        let record: serde_json::Value = serde_json::from_str(&usage.to_emf(
            "updateSecret",
            "stack-update",
            200,
            1_795_000_000_000,
        ))
        .unwrap();
        assert_eq!(
            record["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            NAMESPACE
        );
        let directives = record["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        let dimensions: Vec<&Value> = directives.iter().map(|d| &d["Dimensions"]).collect();
        assert_eq!(
            dimensions,
            [&json!([["Operation"]]), &json!([["FunctionName"]])]
        );
        for directive in directives {
            assert_eq!(directive["Namespace"], NAMESPACE);
            for dimension in directive["Dimensions"][0].as_array().unwrap() {
                let dimension = dimension.as_str().unwrap();
                assert!(record[dimension].is_string(), "{dimension} missing");
            }
            for declared in directive["Metrics"].as_array().unwrap() {
                let name = declared["Name"].as_str().unwrap();
                assert!(record[name].is_number(), "{name} declared but missing");
            }
        }
        assert_eq!(
            directives[1]["Metrics"],
            json!([{"Name": "KMSThrottles", "Unit": "Count"}]),
            "by function: only what the stack's alarm reads"
        );
        assert_eq!(
            (record["DynamoDBCalls"].clone(), record["KMSCalls"].clone()),
            (json!(2), json!(1))
        );
        assert_eq!(record["WriteCapacityUnits"], 8.0);
        assert_eq!(
            record["LeadingKeys"],
            json!({"secrets": {"dynamodb:PutItem": ["TENANT#"]}})
        );
        assert_eq!(record["TransactionConflicts"], 2);
        assert_eq!(record["Unauthenticated"], 0);
        assert_eq!(
            (
                record["KMSThrottles"].clone(),
                record["DynamoDBThrottles"].clone()
            ),
            (json!(3), json!(0))
        );
        assert_eq!(record["FunctionName"], "stack-update");
        let refused: serde_json::Value = serde_json::from_str(&usage.to_emf(
            "createSecret",
            "stack-create",
            401,
            1_795_000_000_000,
        ))
        .unwrap();
        assert_eq!(refused["Unauthenticated"], 1);
        assert_eq!(record["Operation"], "updateSecret");
    }
}
