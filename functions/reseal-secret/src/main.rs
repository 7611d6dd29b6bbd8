//! The reseal function: no route. The update function invokes it (through
//! Lambda, its `live` alias) for a restore: an earlier value version's
//! envelope in, the same value sealed as the new version out. It holds
//! `kms:Decrypt` and `kms:GenerateDataKey` for the secrets' context and
//! nothing else: no table, no plaintext ever in its answer.

mod handler;

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use secrets_aws::kms::KmsDataKeys;
use secrets_aws::reseal::ResealPayload;
use secrets_lambda::{Function, KeysOnly, start_keys};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = start_keys::<KmsDataKeys>(Function::ResealSecret).await?;
    // Lives as long as the process: every invocation borrows the one client.
    let started: &'static KeysOnly<KmsDataKeys> = Box::leak(Box::new(started));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ResealPayload>| {
        handler::handle(started, event.payload, event.context.request_id)
    }))
    .await
}
