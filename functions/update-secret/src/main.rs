//! `PUT /api/v1/secrets/{tagOrId}`: renames a secret and/or replaces its
//! value (under a fresh data key). The tag never changes. And
//! `POST /api/v1/secrets/{tagOrId}/versions/{valueVersion}/restore`: a kept
//! earlier value made current again, resealed by the reseal function.

mod handler;

use secrets_lambda::{Function, UpdateKeys, serve, start};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = start::<UpdateKeys>(Function::UpdateSecret).await?;
    serve(app, handler::handle).await
}
