//! No code: the workspace's architecture rules are this crate's tests (`tests/rules.rs`), which
//! read every member's manifest and sources.
