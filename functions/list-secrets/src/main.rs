//! `GET /api/v1/secrets`: one page of the caller's secrets, in tag order.

mod handler;

use secrets_lambda::{Function, serve, start};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = start::<()>(Function::ListSecrets).await?;
    serve(app, handler::handle).await
}
