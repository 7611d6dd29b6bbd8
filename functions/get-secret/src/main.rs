//! `GET /api/v1/secrets/{tagOrId}`: one secret's id, name and tag; and
//! `GET /api/v1/secrets/{tagOrId}/versions`: its kept value versions.

mod handler;

use secrets_lambda::{Function, serve, start};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = start::<()>(Function::GetSecret).await?;
    serve(app, handler::handle).await
}
