//! The AWS side of the secrets API: the adapters that implement the domain's
//! ports (`secrets_domain::ports`) with AWS services, and how their clients
//! are set up, fail and are measured.
//!
//! - [`dynamo`]: the store, one file per concern of the table layout.
//! - [`kms`]: data keys (`GenerateDataKey`, `Decrypt`) and MACs (`GenerateMac`).
//! - [`reseal`]: a restore's reseal, through the reseal function (Lambda).
//! - [`change_stream`]: the audit table's stream read into change events;
//!   [`event_bus`]: those events onto EventBridge.
//! - [`sdk`]: client set-up (retries, timeouts); `errors`: SDK failures
//!   as the service's errors; [`metrics`]: calls and capacity per request.
//! - [`jwks`]: the issuer's JWKS over HTTPS (not AWS, but the same kind of
//!   adapter: network I/O behind a domain port).

pub mod change_stream;
pub mod dynamo;
mod errors;
pub mod event_bus;
pub mod jwks;
pub mod kms;
pub mod metrics;
pub mod reseal;
pub mod sdk;
