//! The resolve function: a secret's plaintext value for trusted internal
//! systems. No API Gateway route leads here; `lambda:InvokeFunction` on this
//! function is the only way in, and its role alone may call `kms:Decrypt`.

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = secrets_http::Resolver::from_env().await?;
    secrets_http::serve_invocations(app, handler::handle).await
}
