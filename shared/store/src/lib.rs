//! TenantOMS storage: one table in DynamoDB or in an embedded redb file, behind one small port.
//!
//! - [`port`]: the item-store port both backends implement, and DynamoDB's limits both enforce.
//! - [`keys`]: every key of the single-table layout, built from validated newtypes only.
//! - [`embedded`] and [`dynamo`]: the two backends.
//! - [`repo`]: the repositories, app's repository ports implemented once over the item port.

pub mod cursor;
pub mod dynamo;
pub mod embedded;
pub mod error;
pub mod item;
pub mod keys;
pub mod port;
pub mod repo;
pub mod schema;
pub mod shards;

pub use domain::scope::{TenantScope, VerifiedBy};
pub use error::{CancelReason, StoreError, StoreResult};
pub use item::{Item, Key, Value};
pub use port::{
    Clock, Condition, ItemStore, ManualClock, Page, Query, SkRange, SystemClock, WriteAction,
};
pub use shards::FixedShards;
