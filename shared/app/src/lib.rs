//! TenantOMS application layer: every operation of the product as a use case over the domain,
//! authorization and the ports it defines ([`ports`]: repositories, the carrier port, shard
//! counts, the token sealer), which `store` and `carriers` implement and `boot` wires. Edges
//! (GraphQL, webhooks, the event consumer, the admin CLI) parse their input, call one use case
//! and render its typed result.
//!
//! - [`orders`]: order, shipment, return and refund use cases, and order queries;
//! - [`tenants`]: a tenant's config and audit log; [`platform`]: the SaaS provider's tasks;
//! - [`intake`]: what the edges take in (orders, shipments) as plain serde data;
//! - [`idempotency`]: keyed operations (run once per key, replayed after);
//! - [`api_keys`]: a tenant's API keys; [`credentials`]: a tenant's carrier credentials; [`shipping`]: rates, labels, voids and
//!   tracking through the carriers; [`carrier`]: what they keep beside the carrier port;
//! - [`authz`]: plan ∩ role, scopes, audited denials; [`engine`]: load, command, commit;
//! - [`services`]: what an edge serves requests with; [`directory`]: the tenant directory as
//!   the listings' shard counts.

pub mod api_keys;
mod audit_days;
pub mod authz;
pub mod carrier;
mod commit_items;
pub mod context;
pub mod credentials;
pub mod directory;
pub mod engine;
pub mod error;
pub mod idempotency;
pub mod intake;
pub mod orders;
pub mod platform;
pub mod ports;
pub mod services;
pub mod shipping;
pub mod tenants;

pub use authz::{Authorizer, AuthzError, Target, authorize};
pub use context::{NumberSource, Pending, RequestCtx, UnitOfWork};
pub use engine::{App, OrderRef, SystemIds};
pub use error::{AppError, AppResult, Cause};
pub use idempotency::{Keyed, KeyedOutcome, StoredResponse};
pub use orders::{
    AddedOrder, Listed, ReturnStep, ShipmentStep, Tracked, TrackingApplied, TrackingChange,
    TrackingReport,
};
pub use ports::GatewayLabel;
pub use services::Services;

/// The listing types the edges pass to and get from the order queries.
pub mod listing {
    pub use crate::ports::{
        MAX_PAGE_SIZE, OrderListing, OrderPage, OrderSummary, Page, PageRequest, RowCursor,
        VendorOrderPage, VendorOrderSummary,
    };
}
