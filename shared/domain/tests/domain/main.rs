//! The domain crate's one integration-test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod customs;
mod events_doc;
mod intents;
mod lifecycle;
mod packages;
mod properties;
mod return_labels;
mod support;
mod transitions;
