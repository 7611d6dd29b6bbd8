//! End-to-end tests over HTTP against a running stack: the local one that
//! `make test` starts (moto + `cargo lambda watch`), or a deployment. The
//! full suite mints its own tokens (it needs the stack's HS256 secret); the
//! `smoke_` tests need only a URL and one token (`make smoke`).

mod api;
mod audit;
mod crud;
mod deleted;
mod errors;
mod events;
mod hostile;
mod idempotency;
mod if_match;
mod pagination;
mod races;
mod resolve;
mod smoke;
mod tenancy;
mod tokens;
mod versions;
