//! The resolve function: a secret's plaintext value for trusted internal
//! systems. No API Gateway route leads here; `lambda:InvokeFunction` on this
//! function is the only way in, and its role alone may call `kms:Decrypt`.

mod handler;

use secrets_aws::kms::KmsDataKeys;
use secrets_lambda::{Function, serve_invocations, start_invoked};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = start_invoked::<KmsDataKeys>(Function::ResolveSecret).await?;
    serve_invocations(app, handler::handle).await
}
