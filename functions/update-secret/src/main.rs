//! `PUT /api/v1/secrets/{tagOrId}`: renames a secret and/or replaces its
//! value (under a fresh data key). The tag never changes.

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = secrets_http::App::read_write().await?;
    secrets_http::serve(app, handler::handle).await
}
