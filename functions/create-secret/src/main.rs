//! `POST /api/v1/secrets`: stores a new secret, its value sealed under a
//! fresh KMS data key.

mod handler;

use secrets_aws::kms::KmsDataKeys;
use secrets_lambda::{Function, serve, start};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = start::<KmsDataKeys>(Function::CreateSecret).await?;
    serve(app, handler::handle).await
}
