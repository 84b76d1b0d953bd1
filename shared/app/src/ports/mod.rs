//! The ports the use cases are written over, each implemented outside `app`: the repositories
//! (`store` implements them over its item store, both backends), the carriers (`carriers`
//! implements [`carrier::Carrier`] and [`carrier::CarrierConnector`]), the tenant directory's
//! shard counts and the token sealer. The composition root (`boot`) wires them.

mod apikeys;
pub mod carrier;
mod credentials;
mod error;
mod idempotency;
mod listing;
mod orders;
mod registry;
mod shards;
mod tenants;
mod tokens;
mod usage;

pub use apikeys::{ApiKeyStore, StoredApiKey};
pub use credentials::{Chain, ChainError, CredentialStore, GatewayCatalogue, Owner};
pub use error::{RepoError, RepoResult};
pub use idempotency::{
    DELIVERY_TTL_SECS, IDEMPOTENCY_TTL_SECS, IdempotencyRecord, IdempotencyStore,
};
pub use listing::{MAX_PAGE_SIZE, Page, PageRequest, RowCursor, RowPosition};
pub use orders::{
    CommandWrite, GatewayLabel, OrderListing, OrderPage, OrderStore, OrderSummary, StoredOrder,
    TrackingClaim, TrackingIndex, VendorLine, VendorOrderPage, VendorOrderSummary,
};
pub use registry::{Registry, StoredProfile};
pub use shards::ShardCounts;
pub use tenants::{TenantAuditLog, TenantConfigStore};
pub use tokens::TokenSealer;
pub use usage::UsageLog;

use std::sync::Arc;

/// The platform's records: what the platform use cases run over.
#[derive(Clone)]
pub struct PlatformRepositories {
    pub registry: Arc<dyn Registry>,
    pub catalogue: Arc<dyn GatewayCatalogue>,
    /// The platform's own carrier credentials (`Owner::Platform`).
    pub credentials: Arc<dyn CredentialStore>,
    /// Every tenant's carrier usage of platform accounts.
    pub usage: Arc<dyn UsageLog>,
}

/// The repositories the use cases run over, one implementation each.
#[derive(Clone)]
pub struct Repositories {
    pub orders: Arc<dyn OrderStore>,
    pub configs: Arc<dyn TenantConfigStore>,
    pub tenant_audit: Arc<dyn TenantAuditLog>,
    pub credentials: Arc<dyn CredentialStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub api_keys: Arc<dyn ApiKeyStore>,
    pub tokens: Arc<dyn TokenSealer>,
    /// The platform's records (the gateway catalogue tenants' credentials name).
    pub platform: PlatformRepositories,
}
