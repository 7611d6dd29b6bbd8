//! What the tests of every crate share, so that there is one of each:
//!
//! - [`MemoryStore`]: the store port in memory, with the DynamoDB store's
//!   semantics, and [`Interference`] to script what another writer or a
//!   failing audit log does at the worst moment.
//! - [`conformance`]: the behaviour every store must have, run against the
//!   memory store here and against DynamoDB in the adapter tests.
//! - [`LocalDataKeys`]: data keys and MACs without KMS, binding the
//!   encryption context as KMS does. [`ManualClock`]: time that moves only
//!   when told.
//! - [`tokens`]: the one JWT minter, used by unit tests, the end-to-end
//!   suite and `make token` (the `mint-token` binary); [`auth`]: the test
//!   issuer's settings and verdicts.
//! - [`events`]: requests shaped exactly like API Gateway's REST (v1) and
//!   HTTP (v2) events; [`app`]: a function's app over the doubles.
//! - [`JwksServer`]: a JWKS endpoint on localhost.
//! - [`actor`]: an actor for a test's tenant and operation.

pub mod app;
pub mod auth;
pub mod conformance;
pub mod events;
pub mod tokens;

mod actor;
mod clock;
mod interference;
mod jwks_server;
mod local_keys;
mod memory_store;

pub use actor::actor;
pub use clock::ManualClock;
pub use interference::Interference;
pub use jwks_server::JwksServer;
pub use local_keys::LocalDataKeys;
pub use memory_store::MemoryStore;
