//! End-to-end tests over HTTP against a running stack: the local one that
//! `make test` starts (moto + `cargo lambda watch`), or any deployment whose
//! URL and token signing secret are given in the environment.

mod api;
mod crud;
mod errors;
mod pagination;
mod tenancy;
