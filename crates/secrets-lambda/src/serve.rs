//! The Lambda loop: HTTP events from API Gateway. The app is leaked on
//! purpose: it lives exactly as long as the process, and a `'static` borrow
//! lets every invocation use the same clients without reference counting.

use std::convert::Infallible;
use std::future::Future;

use lambda_http::{Body, Error as LambdaError, Request, Response, service_fn};

use crate::App;

pub async fn serve<S, K, H, F>(app: App<S, K>, handler: H) -> Result<(), LambdaError>
where
    S: Send + Sync + 'static,
    K: Send + Sync + 'static,
    H: Fn(&'static App<S, K>, Request) -> F,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let app: &'static App<S, K> = Box::leak(Box::new(app));
    lambda_http::run(service_fn(move |request| {
        let response = handler(app, request);
        async move { Ok::<_, Infallible>(response.await) }
    }))
    .await
}
