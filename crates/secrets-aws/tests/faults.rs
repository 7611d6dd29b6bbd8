//! DynamoDB and KMS failing in every way the service must survive, with
//! SDK clients whose responses are mocked (aws-smithy-mocks) and which
//! retry exactly as the functions' clients do.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, KeysAndAttributes};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use serde_json::json;
use zeroize::Zeroizing;

use secrets_aws::dynamo::{ConflictBackoff, DEFAULT_COUNT_SHARDS, DynamoStore, Item};
use secrets_aws::kms::KmsDataKeys;
use secrets_aws::metrics::CallCounter;
use secrets_aws::reseal::{LambdaResealer, ResealAnswer};
use secrets_aws::sdk::{MAX_ATTEMPTS, retry_config};
use secrets_domain::crypto::{CipherScheme, ResealRequest, SealedValue};
use secrets_domain::error::Error;
use secrets_domain::idempotency::{IdempotencyKey, IdempotencyRecord};
use secrets_domain::input::CreateSecret;
use secrets_domain::model::{SecretId, SecretName, SecretValue, Tag, TagOrId, TenantId};
use secrets_domain::operation::Operation;
use secrets_domain::page::PageRequest;
use secrets_domain::ports::Reseal;
use secrets_domain::ports::{DEFAULT_MAX_SECRETS_PER_TENANT, SecretStore};
use secrets_domain::service::Secrets;
use secrets_testkit::{MemoryStore, actor, conformance};

/// The production retry policy, minus the wait between attempts.
fn fast_retries() -> aws_sdk_dynamodb::config::retry::RetryConfig {
    retry_config().with_initial_backoff(Duration::from_millis(1))
}

fn error_response(status: u16, error_type: &str) -> Response {
    let body = format!(r#"{{"__type":"{error_type}","message":"injected fault"}}"#);
    Response::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

fn canceled(codes: &[&str]) -> TransactWriteItemsError {
    let mut exception = TransactionCanceledException::builder().message("Transaction cancelled");
    for code in codes {
        exception =
            exception.cancellation_reasons(CancellationReason::builder().code(*code).build());
    }
    TransactWriteItemsError::TransactionCanceledException(exception.build())
}

/// Records the `ClientRequestToken` of every transaction attempt sent, and
/// the `lastWrite` token of a create's META item.
#[derive(Debug, Clone, Default)]
struct TokenRecorder(Arc<Mutex<Vec<String>>>, Arc<Mutex<Option<String>>>);

impl TokenRecorder {
    fn tokens(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The `lastWrite` token of the last create sent (its META item's).
    fn last_write(&self) -> Option<String> {
        self.1.lock().unwrap().clone()
    }
}

impl Intercept for TokenRecorder {
    fn name(&self) -> &'static str {
        "TokenRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.request().body().bytes().unwrap_or_default();
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
            return Ok(());
        };
        if let Some(token) = json["ClientRequestToken"].as_str() {
            self.0.lock().unwrap().push(token.to_owned());
        }
        let items = json["TransactItems"].as_array().into_iter().flatten();
        for written in items.filter_map(|item| item["Put"]["Item"]["lastWrite"]["S"].as_str()) {
            *self.1.lock().unwrap() = Some(written.to_owned());
        }
        Ok(())
    }
}

fn store(rules: &[&aws_smithy_mocks::Rule], recorder: &TokenRecorder) -> DynamoStore {
    counted_store(rules, recorder, &CallCounter::default())
}

/// A store whose calls `usage` counts, as the functions' stores are.
fn counted_store(
    rules: &[&aws_smithy_mocks::Rule],
    recorder: &TokenRecorder,
    usage: &CallCounter,
) -> DynamoStore {
    let (recorder, usage) = (recorder.clone(), usage.clone());
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        rules,
        move |builder| builder
            .retry_config(fast_retries())
            .interceptor(recorder.clone())
            .interceptor(usage.clone())
    );
    DynamoStore::new(client, "secrets")
}

/// When a create's count shard is full, the store reads all the shards:
/// here, each of the 16 holds its sixteenth of the limit.
fn tenant_at_its_limit() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_dynamodb::Client::query).then_output(|| {
        let shards = (0..DEFAULT_COUNT_SHARDS).map(|shard| {
            Item::from([
                (
                    "sk".to_owned(),
                    AttributeValue::S(format!("COUNT#{shard:03}")),
                ),
                (
                    "count".to_owned(),
                    AttributeValue::N(
                        (DEFAULT_MAX_SECRETS_PER_TENANT / u64::from(DEFAULT_COUNT_SHARDS))
                            .to_string(),
                    ),
                ),
            ])
        });
        QueryOutput::builder()
            .set_items(Some(shards.collect()))
            .build()
    })
}

/// A create of tag `t` in a fresh tenant.
async fn create(store: &DynamoStore) -> secrets_domain::error::Result<()> {
    store
        .insert(
            &conformance::random_tenant(),
            conformance::new_secret("t"),
            None,
        )
        .await
}

fn by_tag(tag: &str) -> TagOrId {
    TagOrId::Tag(Tag::parse(tag).unwrap())
}

#[tokio::test]
async fn throttled_reads_become_429_after_the_sdks_retries() {
    let throttled = mock!(aws_sdk_dynamodb::Client::get_item)
        .sequence()
        .http_response(|| {
            error_response(400, "com.amazonaws.dynamodb.v20120810#ThrottlingException")
        })
        .times(5)
        .build();
    let usage = CallCounter::default();
    let store = counted_store(&[&throttled], &TokenRecorder::default(), &usage);
    let error = store
        .find(&conformance::random_tenant(), &by_tag("t"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Throttled {
                retry_after_secs: 1
            }
        ),
        "{error}"
    );
    assert_eq!(
        throttled.num_calls(),
        MAX_ATTEMPTS as usize,
        "bounded retries"
    );
    // Every refused attempt reaches the function's metrics (and alarms).
    let usage = usage.take();
    assert_eq!(
        (usage.dynamodb_throttles, usage.kms_throttles),
        (MAX_ATTEMPTS, 0)
    );
}

#[tokio::test]
async fn a_brief_outage_is_retried_and_then_succeeds() {
    let flaky = mock!(aws_sdk_dynamodb::Client::get_item)
        .sequence()
        .http_response(|| {
            error_response(500, "com.amazonaws.dynamodb.v20120810#InternalServerError")
        })
        .output(|| GetItemOutput::builder().build())
        .build();
    let store = store(&[&flaky], &TokenRecorder::default());
    assert_eq!(
        store
            .find(&conformance::random_tenant(), &by_tag("t"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(flaky.num_calls(), 2);
}

#[tokio::test]
async fn a_lasting_outage_becomes_503() {
    let down = mock!(aws_sdk_dynamodb::Client::get_item)
        .sequence()
        .http_response(|| error_response(503, "ServiceUnavailable"))
        .times(5)
        .build();
    let store = store(&[&down], &TokenRecorder::default());
    let error = store
        .find(&conformance::random_tenant(), &by_tag("t"))
        .await
        .unwrap_err();
    assert_eq!(
        (error.http_status(), error.retry_after_secs()),
        (503, Some(1))
    );
}

/// A short budget: conflicts go on for as long as it lasts, then 503.
#[tokio::test]
async fn conflicts_are_retried_until_the_budget_is_spent_then_503() {
    let conflicted = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .error(|| canceled(&["None", "TransactionConflict", "None", "None"]))
        .times(100_000)
        .build();
    let recorder = TokenRecorder::default();
    let backoff = ConflictBackoff {
        first: Duration::from_millis(1),
        cap: Duration::from_millis(4),
        budget: Duration::from_millis(100),
    };
    let store = store(&[&conflicted], &recorder).with_conflict_backoff(backoff);
    let started = std::time::Instant::now();
    let error = create(&store).await.unwrap_err();
    assert_eq!(
        (error.http_status(), error.retry_after_secs()),
        (503, Some(1))
    );
    assert!(
        started.elapsed() >= backoff.budget,
        "gave up with budget left"
    );
    assert!(
        conflicted.num_calls() > 3,
        "{} attempts",
        conflicted.num_calls()
    );
    let tokens = recorder.tokens();
    let distinct: std::collections::BTreeSet<_> = tokens.iter().collect();
    assert_eq!(distinct.len(), tokens.len(), "a new attempt is a new write");
}

/// Eight conflicts in a row: even at their longest, the default waits
/// (10 + 20 + ... + 640 + 640 ms) fit in the budget, so the write succeeds
/// instead of answering 503.
#[tokio::test(start_paused = true)]
async fn a_run_of_conflicts_within_the_budget_ends_in_success() {
    let conflicted = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .error(|| canceled(&["TransactionConflict", "None", "None", "None"]))
        .times(8)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let store = store(&[&conflicted], &TokenRecorder::default());
    let started = tokio::time::Instant::now();
    create(&store).await.unwrap();
    assert_eq!(conflicted.num_calls(), 9);
    assert!(started.elapsed() < ConflictBackoff::default().budget);
}

/// The SDK gave up on a write whose answer was lost: if the secret's META
/// item carries the write's own token, it committed, and the create
/// succeeded; another write's token, or no item, after three looks: 503.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_checked_before_it_is_reported() {
    for (found, status, looks) in [
        (Some(true), None, 1),
        (Some(false), Some(503), 3),
        (None, Some(503), 3),
    ] {
        let lost = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .sequence()
            .http_response(|| {
                error_response(500, "com.amazonaws.dynamodb.v20120810#InternalServerError")
            })
            .times(MAX_ATTEMPTS as usize)
            .build();
        let recorder = TokenRecorder::default();
        let sent = recorder.clone();
        let check = mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
            let token = match found {
                Some(true) => sent.last_write().expect("the create carried a token"),
                _ => "another write's token".to_owned(),
            };
            let meta = Item::from([("lastWrite".to_owned(), AttributeValue::S(token))]);
            GetItemOutput::builder()
                .set_item(found.map(|_| meta))
                .build()
        });
        let store = store(&[&lost, &check], &recorder);
        let result = create(&store).await;
        assert_eq!(result.err().map(|e| e.http_status()), status, "{found:?}");
        assert_eq!(
            (lost.num_calls(), check.num_calls()),
            (MAX_ATTEMPTS as usize, looks),
            "{found:?}"
        );
    }
}

/// A refusal DynamoDB answered is final: nothing to check.
#[tokio::test]
async fn a_refused_create_is_not_checked() {
    let refused = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .then_error(|| canceled(&["ConditionalCheckFailed", "None", "None", "None"]));
    let check =
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let store = store(&[&refused, &check], &TokenRecorder::default());
    let error = create(&store).await.unwrap_err();
    assert_eq!((error.http_status(), check.num_calls()), (409, 0));
}

#[tokio::test]
async fn a_single_conflict_is_retried_and_succeeds() {
    let once = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .error(|| canceled(&["TransactionConflict", "None", "None", "None"]))
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let store = store(&[&once], &TokenRecorder::default());
    create(&store).await.unwrap();
    assert_eq!(once.num_calls(), 2);
}

/// A write whose response was lost is retried by the SDK with the same
/// request, token included, which DynamoDB answers with the first result
/// instead of applying it again.
#[tokio::test]
async fn a_retried_attempt_carries_the_same_client_request_token() {
    let lost = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .http_response(|| {
            error_response(500, "com.amazonaws.dynamodb.v20120810#InternalServerError")
        })
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let recorder = TokenRecorder::default();
    let store = store(&[&lost], &recorder);
    create(&store).await.unwrap();
    let tokens = recorder.tokens();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert_eq!(tokens[0], tokens[1]);
    assert_eq!(tokens[0].len(), 32);
}

/// A BatchGetItem answer leaving `keys` unprocessed and answering `items`.
fn batch_answer(items: Vec<Item>, keys: Vec<Item>) -> BatchGetItemOutput {
    let mut output = BatchGetItemOutput::builder().responses("secrets", items);
    if !keys.is_empty() {
        let left = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .build()
            .unwrap();
        output = output.unprocessed_keys("secrets", left);
    }
    output.build()
}

fn tag_item(tenant: &TenantId, tag: &str, id: &SecretId) -> (Item, Item) {
    let key = Item::from([
        (
            "pk".to_owned(),
            AttributeValue::S(format!("TENANT#{tenant}")),
        ),
        ("sk".to_owned(), AttributeValue::S(format!("TAG#{tag}"))),
    ]);
    let mut item = key.clone();
    item.insert("id".to_owned(), AttributeValue::S(id.as_str().to_owned()));
    item.insert("name".to_owned(), AttributeValue::S("n".to_owned()));
    item.insert("version".to_owned(), AttributeValue::N("1".to_owned()));
    (key, item)
}

#[tokio::test]
async fn unprocessed_batch_keys_are_asked_for_again() {
    let tenant = conformance::random_tenant();
    let id = SecretId::generate().unwrap();
    let (_, item) = tag_item(&tenant, "t", &id);
    let unprocessed = (format!("TENANT#{tenant}"), "TAG#t".to_owned());
    let busy_then_answered = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .sequence()
        // As DynamoDB sends it (through the SDK's deserializer, which the
        // metrics read).
        .http_response(move || {
            let body = json!({"Responses": {"secrets": []}, "UnprocessedKeys": {"secrets": {"Keys": [
                {"pk": {"S": unprocessed.0}, "sk": {"S": unprocessed.1}}
            ]}}});
            Response::new(StatusCode::try_from(200).unwrap(), SdkBody::from(body.to_string()))
        })
        .output(move || batch_answer(vec![item.clone()], vec![]))
        .build();
    let usage = CallCounter::default();
    let store = counted_store(&[&busy_then_answered], &TokenRecorder::default(), &usage);
    let found = store
        .find_many(&tenant, &[by_tag("t"), by_tag("t")])
        .await
        .unwrap();
    let ids: Vec<_> = found
        .iter()
        .map(|f| f.as_ref().map(|s| s.id.clone()))
        .collect();
    assert_eq!(
        ids,
        [Some(id.clone()), Some(id)],
        "a key asked twice is answered twice"
    );
    assert_eq!(busy_then_answered.num_calls(), 2);
    assert_eq!(
        usage.take().dynamodb_throttles,
        1,
        "an unprocessed key is a throttle"
    );
}

#[tokio::test]
async fn batch_keys_left_unprocessed_are_a_503_not_a_miss() {
    let tenant = conformance::random_tenant();
    let (key, _) = tag_item(&tenant, "t", &SecretId::generate().unwrap());
    let always_busy = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .then_output(move || batch_answer(vec![], vec![key.clone()]));
    let store = store(&[&always_busy], &TokenRecorder::default());
    let error = store.find_many(&tenant, &[by_tag("t")]).await.unwrap_err();
    assert_eq!(error.http_status(), 503, "{error}");
    assert_eq!(
        always_busy.num_calls(),
        5,
        "bounded: five calls, then give up"
    );
}

#[tokio::test]
async fn failed_conditions_are_told_apart_by_item() {
    let cases: [(&[&str], u16, &str); 3] = [
        (
            &["ConditionalCheckFailed", "None", "None", "None", "None"],
            409,
            "already exists",
        ),
        (
            &["None", "None", "None", "None", "ConditionalCheckFailed"],
            409,
            "maximum of",
        ),
        (
            &["ThrottlingError", "None", "None", "None", "None"],
            429,
            "too many requests",
        ),
    ];
    for (codes, status, message) in cases {
        let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .then_error(move || canceled(codes));
        let counts = tenant_at_its_limit();
        let store = store(&[&rule, &counts], &TokenRecorder::default());
        let error = create(&store).await.unwrap_err();
        assert_eq!(error.http_status(), status, "{codes:?}: {error}");
        assert!(error.to_string().contains(message), "{codes:?}: {error}");
    }
}

/// With every item a create can carry (the key's record first; the tag,
/// META, the first value and its version item; the count shard; the audit
/// record last), each failed condition names what failed, wherever it is.
#[tokio::test]
async fn failed_conditions_are_told_apart_by_role_with_every_item() {
    let cases: [(usize, u16, &str); 7] = [
        (0, 422, "Idempotency-Key"),
        (1, 409, "already exists"),
        (2, 500, "internal error"),
        (3, 500, "internal error"),
        (4, 500, "internal error"),
        (5, 409, "maximum of"),
        (6, 500, "internal error"),
    ];
    for (failing, status, message) in cases {
        let mut codes = ["None"; 7];
        codes[failing] = "ConditionalCheckFailed";
        let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .then_error(move || canceled(&codes));
        let counts = tenant_at_its_limit();
        let store =
            store(&[&rule, &counts], &TokenRecorder::default()).with_audit_table("audit", 0);
        let tenant = conformance::random_tenant();
        let mut secret = conformance::new_secret("t");
        let key = IdempotencyKey::parse(b"k").unwrap();
        secret.idempotency = Some(IdempotencyRecord::new(
            key.digest("tester"),
            vec![1; 32],
            secret.summary.clone(),
            secret.at,
        ));
        let record = actor(&tenant, Operation::Create).allowed(&secret.summary, secret.at);
        let error = store
            .insert(&tenant, secret, Some(&record))
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), status, "item {failing}: {error}");
        assert!(
            error.to_string().contains(message),
            "item {failing}: {error}"
        );
    }
}

#[tokio::test]
async fn an_unexpected_dynamodb_error_is_a_500_that_says_nothing() {
    let invalid = mock!(aws_sdk_dynamodb::Client::get_item).then_http_response(|| {
        error_response(400, "com.amazon.coral.validate#ValidationException")
    });
    let store = store(&[&invalid], &TokenRecorder::default());
    let error = store
        .find(&conformance::random_tenant(), &by_tag("t"))
        .await
        .unwrap_err();
    assert_eq!(
        (error.http_status(), error.to_string()),
        (500, "internal error".to_owned())
    );
}

// --- KMS ------------------------------------------------------------------

fn kms(rules: &[&aws_smithy_mocks::Rule], usage: &CallCounter) -> KmsDataKeys {
    let usage = usage.clone();
    let client = mock_client!(aws_sdk_kms, RuleMode::MatchAny, rules, move |builder| {
        builder
            .retry_config(fast_retries())
            .interceptor(usage.clone())
    });
    KmsDataKeys::new(client, "alias/secrets")
}

fn create_request() -> CreateSecret {
    CreateSecret {
        tag: Tag::parse("t").unwrap(),
        name: SecretName::parse("n".into()).unwrap(),
        secret: SecretValue::parse(Zeroizing::new("value".into())).unwrap(),
    }
}

/// The create's error, the KMS calls made, the tenant's secrets after it,
/// and the KMS throttles the function's metrics counted.
async fn create_with_kms_failing(error_type: &str, status: u16) -> (Error, usize, u32, u32) {
    let error_type = error_type.to_owned();
    let failing = mock!(aws_sdk_kms::Client::generate_data_key)
        .sequence()
        .http_response(move || error_response(status, &error_type))
        .times(5)
        .build();
    let usage = CallCounter::default();
    let secrets = Secrets::new(MemoryStore::default(), kms(&[&failing], &usage));
    let tenant = conformance::random_tenant();
    let error = secrets
        .create(&actor(&tenant, Operation::Create), create_request())
        .await
        .unwrap_err();
    let total = secrets
        .list(&tenant, PageRequest::new(0, 1).unwrap())
        .await
        .unwrap()
        .total;
    (
        error,
        failing.num_calls(),
        total,
        usage.take().kms_throttles,
    )
}

#[tokio::test]
async fn kms_throttling_becomes_429_and_nothing_is_written() {
    let (error, calls, total, throttles) =
        create_with_kms_failing("ThrottlingException", 400).await;
    assert!(matches!(error, Error::Throttled { .. }), "{error}");
    assert_eq!((calls, total), (MAX_ATTEMPTS as usize, 0));
    assert_eq!(throttles, MAX_ATTEMPTS, "each refused attempt is counted");
}

#[tokio::test]
async fn a_kms_outage_becomes_503_and_nothing_is_written() {
    let (error, calls, total, throttles) =
        create_with_kms_failing("KMSInternalException", 500).await;
    assert_eq!(error.http_status(), 503, "{error}");
    assert_eq!((calls, total, throttles), (MAX_ATTEMPTS as usize, 0, 0));
}

#[tokio::test]
async fn a_disabled_key_is_a_500_and_nothing_is_written() {
    let (error, calls, total, _) = create_with_kms_failing("DisabledException", 400).await;
    assert_eq!(
        (error.http_status(), error.to_string()),
        (500, "internal error".to_owned())
    );
    assert_eq!((calls, total), (1, 0), "not retried: it will not heal");
}

// --- Lambda (a restore's reseal) --------------------------------------------

fn resealer(rules: &[&aws_smithy_mocks::Rule], usage: &CallCounter) -> LambdaResealer {
    let usage = usage.clone();
    let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, rules, move |builder| {
        builder.interceptor(usage.clone())
    });
    LambdaResealer::new(client, "reseal-secret:live")
}

fn reseal_request() -> ResealRequest {
    ResealRequest {
        tenant: TenantId::parse("acme").unwrap(),
        secret_id: SecretId::generate().unwrap(),
        sealed: SealedValue {
            scheme: CipherScheme::V2 { value_version: 1 },
            ciphertext: vec![1; 48],
            nonce: [2; 12],
            wrapped_key: vec![3; 40],
            wrapping_key_id: "arn:aws:kms:us-east-1:1:key/k".into(),
        },
        from: 1,
        to: 3,
    }
}

fn invoked(
    payload: serde_json::Value,
    function_error: Option<&'static str>,
) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_lambda::Client::invoke).then_output(move || {
        let output = aws_sdk_lambda::operation::invoke::InvokeOutput::builder()
            .status_code(200)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()));
        match function_error {
            Some(error) => output.function_error(error).build(),
            None => output.build(),
        }
    })
}

/// The reseal function's answer becomes the new envelope; its failures keep
/// their class; the call is recorded as the IAM action it needs.
#[tokio::test]
async fn a_reseal_through_lambda_answers_the_envelope_or_the_failures_class() {
    let sealed = SealedValue {
        scheme: CipherScheme::V2 { value_version: 3 },
        ..reseal_request().sealed
    };
    let usage = CallCounter::default();
    let answered = invoked(
        serde_json::to_value(ResealAnswer::of(&Ok(sealed.clone()))).unwrap(),
        None,
    );
    let got = resealer(&[&answered], &usage)
        .reseal(&reseal_request())
        .await
        .unwrap();
    assert_eq!(got, sealed);
    assert_eq!(
        usage.take().iam_actions.into_iter().collect::<Vec<_>>(),
        ["lambda:InvokeFunction"]
    );
    for (answer, function_error, status) in [
        (json!({"failed": {"status": 503}}), None, 503),
        (json!({"failed": {"status": 429}}), None, 429),
        (json!({"failed": {"status": 500}}), None, 500),
        (json!({"errorMessage": "boom"}), Some("Unhandled"), 500),
        (json!("not an answer"), None, 500),
    ] {
        let rule = invoked(answer, function_error);
        let error = resealer(&[&rule], &CallCounter::default())
            .reseal(&reseal_request())
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), status, "{function_error:?}");
    }
}

/// Lambda's own failures keep their class: a throttled invoke is a 429
/// (counted by Lambda as the reseal function's throttle, not ours), an
/// outage a 503, and a missing function or permission (a deployment fault)
/// a 500.
#[tokio::test]
async fn an_invoke_that_lambda_refuses_is_answered_by_its_class() {
    for (error_type, status, expected) in [
        ("TooManyRequestsException", 429, 429),
        ("ServiceException", 500, 503),
        ("ResourceNotFoundException", 404, 500),
        ("AccessDeniedException", 403, 500),
    ] {
        let failing = mock!(aws_sdk_lambda::Client::invoke)
            .sequence()
            .http_response(move || error_response(status, error_type))
            .times(MAX_ATTEMPTS as usize)
            .build();
        let usage = CallCounter::default();
        let error = resealer(&[&failing], &usage)
            .reseal(&reseal_request())
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), expected, "{error_type}");
        let usage = usage.take();
        assert_eq!((usage.kms_throttles, usage.dynamodb_throttles), (0, 0));
    }
}
