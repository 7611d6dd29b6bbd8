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
