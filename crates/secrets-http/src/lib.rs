//! Lambda HTTP glue shared by the five functions: start-up ([`App`]),
//! reading requests ([`request`]) and writing responses ([`response`]).
//! Handlers in `functions/` are a few lines over these.

mod app;
pub mod logging;
pub mod request;
pub mod response;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use app::{App, serve};
pub use lambda_http::{Body, Request, Response};
