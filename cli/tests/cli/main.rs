//! The `oms` binary as a user runs it: commands, and end-to-end tests over HTTP against
//! `oms serve`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_commands;
mod api_keys;
mod commands;
mod e2e;
mod events;
mod fedex;
mod gateway;
mod graphiql;
mod labels_options;
mod lambda;
mod metrics;
mod notifier;
mod packages;
mod platform;
mod platform_accounts;
mod production;
mod readme;
mod resilience;
mod returns;
mod server;
mod shippo;
mod shutdown;
mod traces;
mod tracking;
mod webhooks;
