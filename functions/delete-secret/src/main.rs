//! `DELETE /api/v1/secrets/{tagOrId}`: removes a secret and frees its tag.

mod handler;

use secrets_lambda::{Function, serve, start};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = start::<()>(Function::DeleteSecret).await?;
    serve(app, handler::handle).await
}
