//! `DELETE /api/v1/secrets/{tagOrId}`: removes a secret and frees its tag.

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = secrets_http::App::deleting().await?;
    secrets_http::serve(app, handler::handle).await
}
