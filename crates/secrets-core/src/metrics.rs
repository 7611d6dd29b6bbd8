//! Counting the AWS calls an operation makes, from inside the process, and
//! the IAM actions those calls need.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// An SDK interceptor counting calls by `Service.Operation`: one per call,
/// however many attempts the SDK's retries make. Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    recorded: Arc<Mutex<Recorded>>,
}

#[derive(Debug, Default)]
struct Recorded {
    calls: BTreeMap<String, u32>,
    iam_actions: BTreeSet<String>,
}

impl CallCounter {
    /// The calls counted since the last `take`, and a fresh start.
    pub fn take(&self) -> BTreeMap<String, u32> {
        std::mem::take(&mut self.lock().calls)
    }

    /// The IAM actions (`dynamodb:PutItem`, `kms:GenerateDataKey`...) the
    /// calls since the last `take_iam_actions` needed, and a fresh start.
    /// A transaction needs the actions of its items, not an action of its own.
    pub fn take_iam_actions(&self) -> BTreeSet<String> {
        std::mem::take(&mut self.lock().iam_actions)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
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
                .filter_map(item_action)
                .map(str::to_owned)
                .collect(),
            None => vec![format!("{}:{operation}", service.to_ascii_lowercase())],
        };
        let mut recorded = self.lock();
        *recorded
            .calls
            .entry(format!("{service}.{operation}"))
            .or_default() += 1;
        recorded.iam_actions.extend(actions);
        Ok(())
    }
}

fn item_action(item: &TransactWriteItem) -> Option<&'static str> {
    if item.put().is_some() {
        Some("dynamodb:PutItem")
    } else if item.update().is_some() {
        Some("dynamodb:UpdateItem")
    } else if item.delete().is_some() {
        Some("dynamodb:DeleteItem")
    } else if item.condition_check().is_some() {
        Some("dynamodb:ConditionCheckItem")
    } else {
        None
    }
}
