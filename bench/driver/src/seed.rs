//! Bulk loading: many secrets written straight to the table, item for item
//! as the store's own `insert` lays them out, far faster than creating them
//! one transaction at a time.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use secrets_aws::dynamo::{DEFAULT_COUNT_SHARDS, Item, count_items, secret_items};
use secrets_domain::clock::Timestamp;
use secrets_domain::crypto::padding::padded_len;
use secrets_domain::crypto::{CipherScheme, SealedValue};
use secrets_domain::model::{FIRST_VERSION, SecretId, SecretName, SecretSummary, Tag, TenantId};
use secrets_domain::ports::NewSecret;

/// A KMS-wrapped AES-256 data key is 184 bytes.
const WRAPPED_KEY_BYTES: usize = 184;
/// The shape of a KMS key's ARN, as a VALUE item names it.
const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/0b2d9b6e-7c4a-4f2e-9a51-3c8d2e6f1a07";

/// A secret as a create stores it, with a stand-in for its sealed value
/// that no one opens but that is as large as the real one: `ciphertext_bytes`
/// of ciphertext, a KMS-sized wrapped key and key ARN.
pub(crate) fn stand_in(
    summary: SecretSummary,
    scheme: CipherScheme,
    ciphertext_bytes: usize,
    at: Timestamp,
) -> NewSecret {
    NewSecret {
        summary,
        sealed: SealedValue {
            scheme,
            ciphertext: vec![0x5a; ciphertext_bytes],
            nonce: [7; 12],
            wrapped_key: vec![0x3c; WRAPPED_KEY_BYTES],
            wrapping_key_id: KEY_ARN.into(),
        },
        idempotency: None,
        at,
        author: "bench-seed".into(),
    }
}
const BATCH: usize = 25;

/// Writes `count` secrets with `value_bytes`-byte values, tagged
/// `{prefix}-000000`, `{prefix}-000001`..., and sets the tenant's count
/// shards.
pub async fn seed(
    client: &Client,
    table: &str,
    tenant: &TenantId,
    prefix: &str,
    count: usize,
    value_bytes: usize,
) -> Vec<SecretSummary> {
    let at = Timestamp::from_millis(1_795_000_000_000);
    let mut summaries = Vec::with_capacity(count);
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..count {
        let summary = SecretSummary {
            id: SecretId::generate().expect("id"),
            name: SecretName::parse(format!("Secret number {i:06}")).expect("name"),
            tag: Tag::parse(&format!("{prefix}-{i:06}")).expect("tag"),
            version: FIRST_VERSION,
            value_version: Some(FIRST_VERSION),
        };
        // As large as a value of `value_bytes` sealed: padded to its bucket,
        // plus the tag.
        let sealed_bytes = padded_len(value_bytes).expect("a bucket") + 16;
        let scheme = CipherScheme::V2 {
            value_version: FIRST_VERSION,
        };
        let secret = stand_in(summary, scheme, sealed_bytes, at);
        for item in secret_items(tenant, &secret) {
            batch.push(item);
            if batch.len() == BATCH {
                write(client, table, std::mem::take(&mut batch)).await;
            }
        }
        summaries.push(secret.summary);
    }
    let tags = summaries.iter().map(|summary| &summary.tag);
    batch.extend(count_items(tenant, tags, DEFAULT_COUNT_SHARDS));
    // BatchWriteItem takes at most 25 items (moto does not enforce it).
    for chunk in batch.chunks(BATCH) {
        write(client, table, chunk.to_vec()).await;
    }
    summaries
}

async fn write(client: &Client, table: &str, items: Vec<Item>) {
    let mut requests: Vec<WriteRequest> = items
        .into_iter()
        .map(|item| {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("put");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    while !requests.is_empty() {
        let output = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .expect("batch written");
        requests = output
            .unprocessed_items
            .and_then(|mut unprocessed| unprocessed.remove(table))
            .unwrap_or_default();
    }
}
