//! What the secrets API decides, independent of AWS and of Lambda: the
//! values a secret is made of, the rules they follow, the operations,
//! and the ports through which the service reaches storage, keys and time.
//!
//! - [`model`]: tenants, ids, tags, names and values that can only be valid.
//! - [`input`], [`page`], [`precondition`], [`idempotency`]: request bodies,
//!   paging, `If-Match` and `Idempotency-Key`, parsed into those values.
//! - [`error`]: the one error type, with its single status mapping.
//! - [`operation`]: the operations, by their contract names and ours.
//! - [`service`]: the operations over a store, a key source and a clock.
//! - [`ports`]: what the service needs from the outside world (a store, an
//!   audit log, data keys, MACs, a clock, a JWKS), as traits; the AWS
//!   adapters in `secrets-aws` and the doubles in `secrets-testkit`
//!   implement them.
//! - [`crypto`]: envelope encryption over any data key source.
//! - [`audit`]: the record of every change and resolve, allowed or refused.
//! - [`auth`]: bearer JWT verification into a [`auth::Caller`].
//! - [`clock`]: time, read in one place.
//! - [`versions`]: a secret's kept value versions.
//! - [`deleted`]: deleted secrets kept for a recovery window.
//! - [`change_event`]: the event of each committed change.

pub mod audit;
pub mod auth;
pub mod change_event;
pub mod clock;
pub mod crypto;
pub mod deleted;
pub mod error;
pub mod idempotency;
pub mod input;
pub mod model;
pub mod operation;
pub mod page;
pub mod ports;
pub mod precondition;
pub mod service;
pub mod text;
pub mod versions;

pub use error::{Error, Result};
