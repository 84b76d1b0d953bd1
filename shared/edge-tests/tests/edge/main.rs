//! API tests through the router, in process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_socket;
mod api_keys;
mod connections;
mod credentials;
mod documents;
mod errors;
mod every_mutation_keyed;
mod external_ref;
mod idempotency;
mod listing;
mod logs;
mod notifications;
mod order;
mod tracking_owner;
mod webhook_add_order;
mod webhook_saas;
mod webhook_tracker;
