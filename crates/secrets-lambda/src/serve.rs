//! The Lambda loops: HTTP events for the functions behind API Gateway, JSON
//! events for the directly invoked resolve function. The app is leaked on
//! purpose: it lives exactly as long as the process, and a `'static` borrow
//! lets every invocation use the same clients without reference counting.

use std::convert::Infallible;
use std::future::Future;

use lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent};
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

/// JSON event in, JSON answer or function error out.
pub async fn serve_invocations<S, K, H, F, T>(app: App<S, K>, handler: H) -> Result<(), LambdaError>
where
    S: Send + Sync + 'static,
    K: Send + Sync + 'static,
    H: Fn(&'static App<S, K>, LambdaEvent<serde_json::Value>) -> F,
    F: Future<Output = Result<T, Diagnostic>> + Send + 'static,
    T: serde::Serialize,
{
    let app: &'static App<S, K> = Box::leak(Box::new(app));
    // Boxed: the runtime's layered future is too deep a type for the
    // compiler to lay out inline in the caller's `main`.
    Box::pin(lambda_runtime::run(service_fn(move |event| {
        handler(app, event)
    })))
    .await
}
