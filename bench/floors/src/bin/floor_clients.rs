//! The floor with clients: the hello-world function plus what every real
//! function builds at cold start, the SDK configuration and the DynamoDB and
//! KMS clients, configured as the functions configure them.

use std::time::Duration;

use aws_config::BehaviorVersion;
use lambda_http::{Body, Error, Request, Response, run, service_fn};
use secrets_core::aws::{retry_config, timeout_config};
use secrets_core::config::CallTimeouts;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let timeouts = CallTimeouts {
        attempt: Duration::from_secs(2),
        operation: Duration::from_secs(5),
    };
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeout_config(timeouts))
        .retry_config(retry_config())
        .load()
        .await;
    let clients = (
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_kms::Client::new(&sdk),
    );
    let clients = &clients;
    run(service_fn(move |_request: Request| async move {
        // Borrowed, as the real handlers borrow theirs.
        let _ = clients;
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
