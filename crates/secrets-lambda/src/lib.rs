//! The Lambda glue shared by the eight functions: which function is which
//! ([`Function`]), what each builds once per cold start ([`App`], from
//! [`config`]), and what happens to each request: reading it
//! ([`request`]), one [`Exchange`] that times and logs it ([`telemetry`]),
//! records its refusal ([`refusals`]) and answers it ([`response`]).
//! Handlers in `functions/` are about fifteen lines over these.

mod app;
pub mod config;
mod exchange;
mod function;
mod function_keys;
pub mod logging;
mod refusals;
pub mod request;
pub mod response;
mod serve;
pub mod telemetry;

pub use app::{App, KeysOnly, start, start_events, start_keys, start_signed};
pub use exchange::Exchange;
pub use function::{Door, Function, KmsUse, Route};
pub use function_keys::{FunctionKeys, UpdateKeys};
pub use lambda_http::{Body, Request, Response};
pub use serve::serve;
