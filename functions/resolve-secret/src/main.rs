//! `GET /internal/v1/tenants/{tenant}/secrets/{tagOrId}`: a secret's
//! plaintext value, for trusted internal systems; and
//! `GET /internal/v1/tenants/{tenant}/secrets?tagOrId=...`: up to 20 at once. The route is `AWS_IAM`:
//! API Gateway verifies each caller's SigV4 signature and its IAM policy
//! for this tenant's path before the function runs, and the function
//! records the principal it names. Its role alone may call `kms:Decrypt`.

mod batch;
mod handler;

use secrets_aws::kms::KmsDataKeys;
use secrets_lambda::{Function, serve, start_signed};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = start_signed::<KmsDataKeys>(Function::ResolveSecret).await?;
    serve(app, handler::handle).await
}
