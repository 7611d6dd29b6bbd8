//! `POST /api/v1/secrets`: stores a new secret, its value sealed under a
//! fresh KMS data key.

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = secrets_http::App::creating().await?;
    secrets_http::serve(app, handler::handle).await
}
