//! What padding values to their size buckets costs (issue 15): the VALUE
//! item a secret of each size leaves in the table, laid out by the store's
//! own codec, with the exact-length ciphertext of cipher scheme v1 beside
//! the padded one of v2 (sealed for real, so the length is the seal's).

use std::fmt::Write as _;

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_aws::dynamo::{Item, secret_items};
use secrets_domain::clock::Timestamp;
use secrets_domain::crypto::{CipherScheme, EncryptionContext, seal};
use secrets_domain::model::{
    FIRST_VERSION, SecretId, SecretName, SecretSummary, SecretValue, Tag, TenantId,
};
use secrets_testkit::LocalDataKeys;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::seed::stand_in;
use crate::verdict::Target;

/// Value sizes from a PIN to the largest value, with each side of the
/// first bucket's edge.
const SIZES: [usize; 9] = [4, 40, 100, 255, 256, 1000, 4096, 30_000, 64 * 1024];
/// AES-GCM's tag, which v1 appended to the exact-length value.
const TAG_BYTES: usize = 16;
/// DynamoDB's standard storage price, per GB-month (us-east-1).
const STORAGE_USD_PER_GB_MONTH: f64 = 0.25;

#[derive(Debug, Serialize)]
pub struct StoredValue {
    pub value_bytes: usize,
    pub v1_ciphertext_bytes: usize,
    pub v2_ciphertext_bytes: usize,
    pub v1_item_bytes: usize,
    pub v2_item_bytes: usize,
    /// Write units of one PutItem of the VALUE item (twice that in a
    /// transaction, for both schemes alike).
    pub v1_write_units: usize,
    pub v2_write_units: usize,
}

/// The VALUE item of a secret of each size, under both schemes.
pub async fn stored_values() -> Vec<StoredValue> {
    let keys = LocalDataKeys::default();
    let tenant = TenantId::parse("bench-storage").expect("tenant");
    let mut rows = Vec::with_capacity(SIZES.len());
    for value_bytes in SIZES {
        let value = SecretValue::parse(Zeroizing::new("v".repeat(value_bytes))).expect("value");
        let id = SecretId::generate().expect("id");
        let v2 = seal(
            &keys,
            EncryptionContext::new(&tenant, &id),
            FIRST_VERSION,
            &value,
        )
        .await
        .expect("seal");
        let v1_ciphertext_bytes = value_bytes + TAG_BYTES;
        // Laid out with the real seal's lengths, and a KMS-sized wrapped key
        // and key ARN (LocalDataKeys' are not).
        let item = |scheme, ciphertext_bytes| {
            let summary = SecretSummary {
                id: id.clone(),
                name: SecretName::parse(format!("Value of {value_bytes} bytes")).expect("name"),
                tag: Tag::parse(&format!("value-{value_bytes}")).expect("tag"),
                version: FIRST_VERSION,
                value_version: Some(FIRST_VERSION),
            };
            let stored = stand_in(
                summary,
                scheme,
                ciphertext_bytes,
                Timestamp::from_millis(1_795_000_000_000),
            );
            let [_, _, value_item, _] = secret_items(&tenant, &stored);
            item_bytes(&value_item)
        };
        let v1_item_bytes = item(CipherScheme::V1, v1_ciphertext_bytes);
        let v2_item_bytes = item(v2.scheme, v2.ciphertext.len());
        rows.push(StoredValue {
            value_bytes,
            v1_ciphertext_bytes,
            v2_ciphertext_bytes: v2.ciphertext.len(),
            v1_item_bytes,
            v2_item_bytes,
            v1_write_units: v1_item_bytes.div_ceil(1024),
            v2_write_units: v2_item_bytes.div_ceil(1024),
        });
    }
    rows
}

/// An item's size as DynamoDB bills it: each attribute's name and value,
/// a number taking about one byte per two significant digits plus one.
fn item_bytes(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(text) => text.len(),
                    AttributeValue::B(bytes) => bytes.as_ref().len(),
                    AttributeValue::N(number) => {
                        number.trim_start_matches('0').len().div_ceil(2) + 1
                    }
                    AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
                    other => panic!("no size rule for {other:?}"),
                }
        })
        .sum()
}

pub fn render(rows: &[StoredValue], out: &mut String) {
    let _ = writeln!(
        out,
        "\nStored value: the VALUE item, exact length (scheme v1) and padded to its bucket (v2)"
    );
    let _ = writeln!(
        out,
        "{:>10} {:>13} {:>13} {:>12} {:>12} {:>6} {:>6} {:>8} {:>18}",
        "value B",
        "v1 cipher B",
        "v2 cipher B",
        "v1 item B",
        "v2 item B",
        "v1 WU",
        "v2 WU",
        "x item",
        "v2 $/month per 1M"
    );
    for row in rows {
        let monthly = row.v2_item_bytes as f64 * 1e6 / 1e9 * STORAGE_USD_PER_GB_MONTH;
        let _ = writeln!(
            out,
            "{:>10} {:>13} {:>13} {:>12} {:>12} {:>6} {:>6} {:>8.2} {:>18.3}",
            row.value_bytes,
            row.v1_ciphertext_bytes,
            row.v2_ciphertext_bytes,
            row.v1_item_bytes,
            row.v2_item_bytes,
            row.v1_write_units,
            row.v2_write_units,
            row.v2_item_bytes as f64 / row.v1_item_bytes as f64,
            monthly
        );
    }
}

pub fn targets(rows: &[StoredValue]) -> Vec<Target> {
    let first_bucket: Vec<_> = rows.iter().filter(|r| r.value_bytes < 256).collect();
    let same_length = first_bucket
        .windows(2)
        .all(|pair| pair[0].v2_ciphertext_bytes == pair[1].v2_ciphertext_bytes);
    let same_units = first_bucket
        .iter()
        .all(|r| r.v1_write_units == r.v2_write_units);
    let worst = rows
        .iter()
        .map(|r| r.v2_item_bytes as f64 / r.v1_item_bytes as f64)
        .fold(f64::NAN, f64::max);
    vec![
        Target::new(
            "values under 256 B are stored at one length (a PIN looks like a 40-character key)",
            first_bucket
                .iter()
                .map(|r| format!("{} B -> {} B", r.value_bytes, r.v2_ciphertext_bytes))
                .collect::<Vec<_>>()
                .join(", "),
            (!first_bucket.is_empty()).then_some(same_length),
        ),
        Target::new(
            "padding values under 256 B costs no write unit",
            format!(
                "{} sizes, same write units: {same_units}",
                first_bucket.len()
            ),
            (!first_bucket.is_empty()).then_some(same_units),
        ),
        Target::new(
            "no VALUE item grows by more than 2x",
            format!("largest growth {worst:.2}x"),
            worst.is_finite().then_some(worst <= 2.0),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use secrets_domain::crypto::padding::padded_len;

    use super::*;

    #[tokio::test]
    async fn each_row_is_the_seal_of_its_size() {
        let rows = stored_values().await;
        let mut table = String::new();
        render(&rows, &mut table);
        for row in &rows {
            assert_eq!(row.v1_ciphertext_bytes, row.value_bytes + TAG_BYTES);
            assert_eq!(
                row.v2_ciphertext_bytes,
                padded_len(row.value_bytes).unwrap() + TAG_BYTES
            );
            assert_eq!(
                row.v2_item_bytes - row.v1_item_bytes,
                row.v2_ciphertext_bytes - row.v1_ciphertext_bytes
                    + "valueVersion".len()
                    + 2
                    + "AES-256-GCM/KMS-envelope/v2-versioned-padded".len()
                    - "AES-256-GCM/KMS-envelope/v1".len(),
                "{table}"
            );
        }
        println!("{table}");
    }
}
