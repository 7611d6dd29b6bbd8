//! Lambda glue shared by the functions: start-up ([`App`], and [`Resolver`]
//! for the directly invoked resolve function),
//! reading requests ([`request`]) and writing responses ([`response`]).
//! Handlers in `functions/` are a few lines over these.

mod app;
pub mod logging;
pub mod request;
pub mod response;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use app::{App, Resolver, serve, serve_invocations};
pub use lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent};
pub use lambda_http::{Body, Request, Response};
