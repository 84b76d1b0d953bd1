//! The auth crate's one integration-test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attacks;
mod cache;
mod dev;
mod directory;
mod jwks;
mod mapping;
mod support;
mod webhook;
