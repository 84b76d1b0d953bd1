//! The store crate's one integration-test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod dynamo;
mod support;
