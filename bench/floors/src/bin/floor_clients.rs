//! The floor with clients: the hello-world function plus what every real
//! function builds at cold start, the SDK configuration and the DynamoDB and
//! KMS clients, configured as the functions configure them.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = secrets_bench_floors::sdk_config().await;
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
