//! The core of the secrets API: everything but the Lambda/HTTP glue.
//!
//! - [`domain`], [`page`], [`input`]: values that can only be valid, and the
//!   parsing of request bodies and query parameters into them.
//! - [`idempotency`]: `Idempotency-Key`, remembered creates.
//! - [`precondition`]: `If-Match`, versions and entity tags.
//! - [`error`]: the one error type, with its single status mapping.
//! - [`auth`]: bearer JWT verification into a [`auth::Caller`].
//! - [`crypto`], [`kms`]: envelope encryption with KMS data keys.
//! - [`store`], [`dynamo`]: the storage port and its DynamoDB adapter.
//! - [`service`]: the five operations over a store and a key source.
//! - [`audit`]: the record of every change and resolve, allowed or refused.
//! - [`config`]: start-up configuration from the environment.
//! - [`metrics`]: counting AWS calls per operation.

pub mod aws;

pub mod audit;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod dynamo;
pub mod error;
#[cfg(test)]
mod faults;
pub mod idempotency;
pub mod input;
pub mod kms;
pub mod metrics;
pub mod page;
pub mod precondition;
#[cfg(test)]
mod properties;
pub mod service;
pub mod store;

pub use error::{Error, Result};
