//! `republish-changes` against the emulator: a batch the publish function
//! gave up on, named in the failure queue as Lambda names it, is read
//! again from the audit table's stream (or, past its retention, found in
//! the audit table by its times) and its changes reach a follower.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use republish_changes::failure_queue::FailureQueue;
use republish_changes::republish::{Options, Outcome, Report, republish};
use republish_changes::source::ChangeSource;
use republish_changes::stream_range::AuditStream;
use secrets_aws::dynamo::audit_item;
use secrets_aws::event_bus::EventBus;
use secrets_aws::metrics::CallCounter;
use secrets_aws::sdk;
use secrets_domain::audit::{Actor, AuditRecord};
use secrets_domain::clock::Timestamp;
use secrets_domain::model::{FIRST_VERSION, SecretId, SecretName, SecretSummary, Tag, TenantId};
use secrets_domain::operation::Operation;
use secrets_tests::{EventFollower, granted_to_operators, required_env, sdk_config, unique};

/// A secret's records in the order its requests were made: three changes,
/// and between them a resolve and a replayed create, which are none.
fn history(tenant: &TenantId) -> Vec<AuditRecord> {
    let secret = SecretSummary {
        id: SecretId::generate().unwrap(),
        name: SecretName::parse("Primary database".into()).unwrap(),
        tag: Tag::parse("db").unwrap(),
        version: FIRST_VERSION,
        value_version: Some(FIRST_VERSION),
    };
    let at = |ms: u64| Timestamp::from_millis(1_795_000_000_000 + ms);
    let actor = |operation, request: &str| Actor {
        tenant: tenant.clone(),
        subject: "alice".into(),
        request_id: request.into(),
        operation,
    };
    vec![
        actor(Operation::Create, "r-create")
            .allowed(&secret, at(1))
            .made_current(1),
        actor(Operation::Resolve, "r-resolve")
            .allowed(&secret, at(2))
            .opened(1),
        actor(Operation::Create, "r-replay")
            .allowed(&secret, at(3))
            .replayed(),
        actor(Operation::Update, "r-update")
            .allowed(&secret, at(4))
            .made_current(2),
        actor(Operation::Delete, "r-delete").allowed(&secret, at(5)),
    ]
}

/// The stream's shard and the sequence numbers of the records whose
/// request ids are `requests`, read with the SDK, not the code under test.
async fn sequence_numbers(
    streams: &aws_sdk_dynamodbstreams::Client,
    stream_arn: &str,
    requests: &[&str],
) -> (String, HashMap<String, String>) {
    let described = streams
        .describe_stream()
        .stream_arn(stream_arn)
        .send()
        .await
        .unwrap();
    let shard = described.stream_description().unwrap().shards()[0]
        .shard_id()
        .unwrap()
        .to_owned();
    let mut iterator = streams
        .get_shard_iterator()
        .stream_arn(stream_arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator;
    let mut found = HashMap::new();
    while let Some(at) = iterator.take() {
        let read = streams
            .get_records()
            .shard_iterator(at)
            .send()
            .await
            .unwrap();
        for record in read.records() {
            let change = record.dynamodb().unwrap();
            let request = change.new_image().and_then(|image| image.get("requestId"));
            if let Some(Ok(request)) = request.map(|value| value.as_s())
                && requests.contains(&request.as_str())
            {
                found.insert(
                    request.clone(),
                    change.sequence_number().unwrap().to_owned(),
                );
            }
        }
        if !read.records().is_empty() && found.len() < requests.len() {
            iterator = read.next_shard_iterator;
        }
    }
    assert_eq!(found.len(), requests.len(), "{found:?}");
    (shard, found)
}

/// What Lambda sends the on-failure destination for a given-up batch.
fn failure_record(stream_arn: &str, shard: &str, first: &str, last: &str) -> String {
    serde_json::json!({
        "requestContext": {"condition": "RecordAgeExceeded", "approximateInvokeCount": 40},
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-11-28T10:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": first,
            "endSequenceNumber": last,
            // Just after the history's changes were made (stamped from
            // 1_795_000_000_001 ms), to the second as Lambda may give them.
            "approximateArrivalOfFirstRecord": "2026-11-18T11:06:40Z",
            "approximateArrivalOfLastRecord": "2026-11-18T11:06:40Z",
            "batchSize": 3,
            "streamArn": stream_arn
        }
    })
    .to_string()
}

/// The (request, operation) of each event the follower gets, sorted; none
/// may carry the secret's name.
async fn delivered(follower: &EventFollower) -> Vec<(String, String)> {
    let received = follower
        .received(3, Duration::from_secs(2), Duration::from_secs(30))
        .await;
    let mut delivered: Vec<_> = received
        .iter()
        .map(|event| {
            assert!(!event.to_string().contains("Primary database"));
            (
                event["detail"]["requestId"].as_str().unwrap().to_owned(),
                event["detail"]["operation"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    delivered.sort_unstable();
    delivered
}

fn outcomes(reports: &[Report]) -> Vec<&Outcome> {
    let mut outcomes: Vec<_> = reports.iter().map(|report| &report.outcome).collect();
    outcomes.sort_by_key(|outcome| outcome.is_kept());
    outcomes
}

#[tokio::test]
async fn a_given_up_batch_is_published_again_from_the_stream_or_the_audit_table() {
    let sdk = sdk_config().await;
    let (dynamodb, streams, sqs) = (
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_dynamodbstreams::Client::new(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
    );
    let tenant = TenantId::parse(&unique("republish")).unwrap();
    let audit_table = required_env("AUDIT_TABLE_NAME");
    // One transaction: the emulator serves a call at a time, so no other
    // test's record lands between these in the stream's one shard.
    let puts = history(&tenant).into_iter().map(|record| {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&audit_table)
            .set_item(Some(audit_item(&record, 0)))
            .build()
            .unwrap();
        aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .put(put)
            .build()
    });
    dynamodb
        .transact_write_items()
        .set_transact_items(Some(puts.collect()))
        .send()
        .await
        .unwrap();
    let stream_arn = dynamodb
        .describe_table()
        .table_name(&audit_table)
        .send()
        .await
        .unwrap()
        .table
        .and_then(|table| table.latest_stream_arn)
        .expect("the audit table has a stream");
    let (shard, sequences) =
        sequence_numbers(&streams, &stream_arn, &["r-create", "r-delete"]).await;
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("failed"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let given_up = failure_record(
        &stream_arn,
        &shard,
        &sequences["r-create"],
        &sequences["r-delete"],
    );
    for body in [given_up.as_str(), r#"{"another": "sender"}"#] {
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let follower = EventFollower::follow(tenant.as_str()).await;
    // The command's clients, whose calls are counted as IAM actions.
    let calls = CallCounter::default();
    let queue = FailureQueue::new(
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        ),
        &queue_url,
    );
    let stream = ChangeSource::Stream(AuditStream::new(
        aws_sdk_dynamodbstreams::Client::from_conf(
            aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        ),
    ));
    let bus = EventBus::new(sdk::eventbridge_client(&sdk, &calls), "default");
    let options = |dry_run| Options {
        dry_run,
        max_messages: 10,
    };

    // A dry run reads the batch and names its three changes, publishing
    // and deleting nothing; both messages are shown again at once.
    let dry = republish(&queue, &stream, &bus, options(true))
        .await
        .unwrap();
    let [would, not_a_batch] = outcomes(&dry)[..] else {
        panic!("{dry:?}")
    };
    let Outcome::WouldPublish { records: 5, events } = would else {
        panic!("{dry:?}")
    };
    let requests: Vec<_> = events.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(requests, ["r-create", "r-update", "r-delete"]);
    assert!(
        matches!(not_a_batch, Outcome::Kept { reason, .. } if reason.contains("not a stream batch"))
    );

    let run = republish(&queue, &stream, &bus, options(false))
        .await
        .unwrap();
    let [done, kept] = outcomes(&run)[..] else {
        panic!("{run:?}")
    };
    assert_eq!(
        done,
        &Outcome::Republished {
            records: 5,
            events: 3
        }
    );
    assert!(kept.is_kept());
    let first_run = delivered(&follower).await;
    let expected = [
        ("r-create", "created"),
        ("r-delete", "deleted"),
        ("r-update", "updated"),
    ];
    let expected = expected.map(|(r, o)| (r.to_owned(), o.to_owned()));
    assert_eq!(first_run, expected);

    // Only the message that names no batch is left.
    let left = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let bodies: Vec<_> = left.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, [r#"{"another": "sender"}"#]);
    for message in left.messages() {
        let receipt = message.receipt_handle().unwrap();
        sqs.delete_message()
            .queue_url(&queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .unwrap();
    }

    // Past the stream's retention, the same batch is found in the audit
    // table by its times: its changes are published again (twice now, as
    // consumers are told to expect), and its message deleted.
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body(&given_up)
        .send()
        .await
        .unwrap();
    let from_table = ChangeSource::AuditTable {
        client: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        ),
        table: audit_table,
    };
    let run = republish(&queue, &from_table, &bus, options(false))
        .await
        .unwrap();
    let [Outcome::Republished { records, events }] = outcomes(&run)[..] else {
        panic!("{run:?}")
    };
    // The window holds at least this history's three changes; its replayed
    // create is passed over, as on the stream.
    assert!(*records >= 3 && *events >= 3, "{run:?}");
    assert_eq!(delivered(&follower).await, expected);
    follower.stop().await;
    // A batch larger than the window's changes lost some to the table's
    // retention: kept, never deleted as done.
    let larger = given_up.replace(r#""batchSize":3"#, r#""batchSize":50"#);
    assert_ne!(larger, given_up);
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body(&larger)
        .send()
        .await
        .unwrap();
    let run = republish(&queue, &from_table, &bus, options(false))
        .await
        .unwrap();
    let [Outcome::Kept { reason, .. }] = outcomes(&run)[..] else {
        panic!("{run:?}")
    };
    assert!(reason.contains("the batch had 50"), "{reason}");
    // Receive, read the range or the table, publish, delete the done
    // messages and show the kept one again: exactly what its operators'
    // policy grants.
    assert_eq!(
        calls.take().iam_actions,
        granted_to_operators("RepublishChangesPolicy")
    );
    sqs.delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
}
