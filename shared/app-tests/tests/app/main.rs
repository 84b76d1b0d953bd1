//! The app crate's one integration-test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authz;
mod bus_policy;
mod credential_secrets;
mod double_apply;
mod gateway_env;
mod labels;
mod outbound;
mod platform;
