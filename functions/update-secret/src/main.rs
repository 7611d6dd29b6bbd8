//! `PUT /api/v1/secrets/{tagOrId}`: renames a secret and/or replaces its
//! value (under a fresh data key). The tag never changes.

mod handler;

use secrets_aws::kms::KmsDataKeys;
use secrets_lambda::{Function, serve, start};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = start::<KmsDataKeys>(Function::UpdateSecret).await?;
    serve(app, handler::handle).await
}
