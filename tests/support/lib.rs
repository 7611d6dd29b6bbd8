//! What the adapter and end-to-end suites share: their configuration, read
//! from the environment that `make test` (tools/local_stack/devstack.py) provides.

use aws_config::{BehaviorVersion, SdkConfig};
use secrets_domain::model::{SecretId, TenantId, random_hex};
use secrets_domain::operation::Operation;
use secrets_testkit::conformance::ReadAuditTrail;

/// A variable the suite cannot run without. Missing means the suite was
/// started outside `make test`: fail loudly rather than pass vacuously.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these suites through `make test` (python -m tools.local_stack.devstack test)")
    })
}

/// SDK configuration for the emulator (`AWS_ENDPOINT_URL` and friends).
pub async fn sdk_config() -> SdkConfig {
    required_env("AWS_ENDPOINT_URL");
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// deploy/function-permissions.json, compiled in.
fn permissions_manifest() -> serde_json::Value {
    serde_json::from_str(include_str!("../../deploy/function-permissions.json")).unwrap()
}

/// The IAM actions deploy/function-permissions.json grants the code of
/// `function` (its logical id in template.yaml), which the template check
/// also reads: the adapter suites hold the code to exactly these.
pub fn granted(function: &str) -> std::collections::BTreeSet<String> {
    let manifest = permissions_manifest();
    manifest["functions"][function]
        .as_array()
        .unwrap_or_else(|| panic!("{function} missing from the manifest"))
        .iter()
        .map(|action| action.as_str().unwrap().to_owned())
        .collect()
}

/// What deploy/function-permissions.json lets `function` name on the
/// secrets table (its `leading_keys`, which the template check also reads):
/// by action, the `dynamodb:LeadingKeys` patterns its role is held to.
pub fn granted_leading_keys(
    function: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let manifest = permissions_manifest();
    let by_action = manifest["leading_keys"][function]
        .as_object()
        .unwrap_or_else(|| panic!("{function} missing from the manifest's leading_keys"));
    by_action
        .iter()
        .map(|(action, patterns)| {
            let patterns = patterns.as_array().unwrap().iter();
            let patterns = patterns.map(|pattern| pattern.as_str().unwrap().to_owned());
            (action.clone(), patterns.collect())
        })
        .collect()
}

/// The IAM actions deploy/function-permissions.json grants an operator's
/// command through the managed policy `policy` (its `operators`), which the
/// template check also reads.
pub fn granted_to_operators(policy: &str) -> std::collections::BTreeSet<String> {
    let manifest = permissions_manifest();
    let placement = manifest["operators"][policy]
        .as_object()
        .unwrap_or_else(|| panic!("{policy} missing from the manifest's operators"));
    placement
        .values()
        .flat_map(|actions| actions.as_array().unwrap())
        .map(|action| action.as_str().unwrap().to_owned())
        .collect()
}

/// A name no other test (or run) uses, so that tests can share one table.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", random_hex::<8>().expect("random"))
}

/// An item of the audit table.
pub type AuditItem = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// Every audit record of `tenant`, oldest first, read consistently from
/// the table in `AUDIT_TABLE_NAME`: one query per partition the tenant's
/// records are spread over, merged by sort key (time, then request id).
pub async fn audit_records(client: &aws_sdk_dynamodb::Client, tenant: &str) -> Vec<AuditItem> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let tenant = TenantId::parse(tenant).expect("a valid tenant");
    let mut records = Vec::new();
    for partition in secrets_aws::dynamo::audit_partitions(Some(&tenant)) {
        let mut start = None;
        loop {
            let page = client
                .query()
                .table_name(required_env("AUDIT_TABLE_NAME"))
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(partition.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("the audit table answers");
            records.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
    }
    records.sort_by(|a, b| text(a, "sk").cmp(text(b, "sk")));
    records
}

/// A string attribute of an item, or "" when absent.
pub fn text<'a>(item: &'a AuditItem, name: &str) -> &'a str {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map_or("", String::as_str)
}

/// Each record as "operation outcome status", e.g. "createSecret refused 409".
pub fn audit_summary(records: &[AuditItem]) -> Vec<String> {
    records
        .iter()
        .map(|record| {
            let status = record
                .get("status")
                .and_then(|value| value.as_n().ok())
                .map_or("200", String::as_str);
            format!(
                "{} {} {status}",
                text(record, "operation"),
                text(record, "outcome")
            )
        })
        .collect()
}

/// The audit table in `AUDIT_TABLE_NAME`, as the conformance suite reads it
/// back.
pub struct AuditTable(pub aws_sdk_dynamodb::Client);

impl ReadAuditTrail for AuditTable {
    async fn allowed(&self, tenant: &TenantId) -> Vec<(Operation, SecretId)> {
        audit_records(&self.0, tenant.as_str())
            .await
            .iter()
            .filter(|record| text(record, "outcome") == "allowed")
            .map(|record| {
                let name = text(record, "operation");
                let operation = Operation::ALL
                    .into_iter()
                    .find(|operation| operation.as_str() == name)
                    .unwrap_or_else(|| panic!("an audit record of an unknown operation: {name}"));
                let id = SecretId::parse(text(record, "secretId")).expect("a secret id");
                (operation, id)
            })
            .collect()
    }
}

/// A consumer following one tenant's change events as the README shows:
/// an EventBridge rule on the default bus matching the tenant, into an SQS
/// queue of its own. Against the local stack both live in moto; against a
/// deployment, in its account (the credentials in the environment).
pub struct EventFollower {
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    rule: String,
    queue_url: String,
}

impl EventFollower {
    pub async fn follow(tenant: &str) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let (events, sqs) = (
            aws_sdk_eventbridge::Client::new(&sdk),
            aws_sdk_sqs::Client::new(&sdk),
        );
        let name = unique("events");
        let queue_url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .expect("a queue")
            .queue_url
            .expect("its URL");
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("the queue's ARN");
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("the queue's ARN")
            .clone();
        let pattern = serde_json::json!({
            "source": [secrets_domain::change_event::EVENT_SOURCE],
            "detail-type": [secrets_domain::change_event::EVENT_DETAIL_TYPE],
            "detail": {"tenant": [tenant]},
        });
        let rule_arn = events
            .put_rule()
            .name(&name)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .expect("a rule")
            .rule_arn
            .unwrap_or_default();
        // What a real queue needs before EventBridge may deliver to it.
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }],
        });
        sqs.set_queue_attributes()
            .queue_url(&queue_url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::Policy,
                policy.to_string(),
            )
            .send()
            .await
            .expect("the queue's policy");
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("queue")
            .arn(queue_arn)
            .build()
            .expect("a target");
        events
            .put_targets()
            .rule(&name)
            .targets(target)
            .send()
            .await
            .expect("the rule's target");
        Self {
            events,
            sqs,
            rule: name,
            queue_url,
        }
    }

    /// The events received, waiting until `count` have arrived and then
    /// `settle` longer for any more (none should come), at most `limit`
    /// in all. Each is the whole EventBridge event, `detail` included.
    pub async fn received(
        &self,
        count: usize,
        settle: std::time::Duration,
        limit: std::time::Duration,
    ) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + limit;
        let mut events = Vec::new();
        let mut settled_at = None;
        while std::time::Instant::now() < deadline {
            if events.len() >= count {
                let until = *settled_at.get_or_insert_with(|| std::time::Instant::now() + settle);
                if std::time::Instant::now() >= until {
                    break;
                }
            }
            let messages = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive");
            for message in messages.messages() {
                let body = message.body().expect("a body");
                events.push(serde_json::from_str(body).expect("an event"));
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .set_receipt_handle(message.receipt_handle().map(str::to_owned))
                    .send()
                    .await
                    .expect("delete");
            }
        }
        events
    }

    /// Removes the rule and the queue.
    pub async fn stop(self) {
        let _ = self
            .events
            .remove_targets()
            .rule(&self.rule)
            .ids("queue")
            .send()
            .await;
        let _ = self.events.delete_rule().name(&self.rule).send().await;
        let _ = self
            .sqs
            .delete_queue()
            .queue_url(&self.queue_url)
            .send()
            .await;
    }
}
