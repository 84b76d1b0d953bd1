//! Orders as the use cases keep them: the aggregate with what a command writes beside it (audit,
//! outbox events, claims on tracking numbers, the open-intent index, the keyed response), in one
//! transaction per command; the listings; the tracking-number indexes.

use async_trait::async_trait;
use domain::audit::AuditRecord;
use domain::config::TenantConfig;
use domain::events::DomainEvent;
use domain::ids::{CarrierCode, ExternalRef, OrderId, TenantId, TrackingNumber, VendorId};
use domain::order::{CarrierTarget, Order, OrderStatus};
use domain::scope::TenantScope;
use domain::{Money, Timestamp};
use serde::{Deserialize, Serialize};

use super::error::RepoResult;
use super::idempotency::IdempotencyRecord;
use super::listing::{Page, PageRequest};

/// An order as loaded, with what the store needs to update it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    pub order: Order,
    shard: u32,
    /// The command (its audit record's id) that wrote this version: after a commit whose outcome
    /// is unknown, the use case reads it back to learn whether its own write landed.
    command: Option<String>,
}

impl StoredOrder {
    /// The order as the store read or wrote it: on write shard `shard`, by `command`.
    pub fn new(order: Order, shard: u32, command: Option<String>) -> Self {
        Self {
            order,
            shard,
            command,
        }
    }

    pub fn shard(&self) -> u32 {
        self.shard
    }

    pub fn command(&self) -> Option<&str> {
        self.command.as_deref()
    }
}

/// Everything a command writes besides the aggregate.
#[derive(Debug, Clone, Default)]
pub struct CommandWrite<'a> {
    pub events: &'a [DomainEvent],
    pub audit: Option<&'a AuditRecord>,
    pub idempotency: Option<&'a IdempotencyRecord>,
    /// Shipments and returns whose carrier intent opened (`true`) or closed (`false`) in this
    /// command: their entries in the open-intent index `oms labels reconcile` reads.
    pub intents: Vec<(CarrierTarget, bool)>,
    /// Tenant audit records of the same command (a carrier's number left out of an index).
    pub tenant_audit: Vec<AuditRecord>,
    /// The shipments' claims on tracking numbers, in the same transaction: one another shipment
    /// holds fails it with [`RepoError::TrackingNumberTaken`](super::RepoError) naming that claim.
    pub tracking: Vec<TrackingClaim>,
    /// Carrier usage rows (labels bought or voided through a platform account), each written
    /// once (by its id).
    pub usage: Vec<domain::usage::CarrierUsage>,
}

/// Which tracking-number index a claim is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingIndex {
    /// The tenant's carrier webhooks (every tracking number of the tenant).
    Tenant,
    /// SaaS-level carrier webhooks (only labels bought through the gateway).
    Global,
}

/// A shipment's (or a return label's) claim on a tracking number in one index. It is written
/// only when the number is new there (absent or expired) or already this owner's: a number has
/// one owner, and nobody's later label or typing moves another's carrier updates to theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingClaim {
    pub index: TrackingIndex,
    pub carrier: CarrierCode,
    pub number: TrackingNumber,
    pub order: OrderId,
    /// The shipment, or the return whose label it is.
    pub target: CarrierTarget,
}

/// The shipment (or return) whose gateway-bought label carries a tracking number (the global
/// index's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayLabel {
    pub tenant: TenantId,
    pub order: OrderId,
    pub target: CarrierTarget,
}

/// The summary a listing shows (the indexes' projection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSummary {
    pub id: OrderId,
    pub status: OrderStatus,
    pub created_at: Timestamp,
    /// Only the change listing (`ChangedSince`) knows it: the other indexes do not project it,
    /// so that commands changing no listed field do not rewrite them.
    pub updated_at: Option<Timestamp>,
    pub total: Money,
    pub customer_name: String,
    pub external_ref: Option<ExternalRef>,
}

pub type OrderPage = Page<OrderSummary>;

/// One of a vendor's lines on an order, as the vendor's listing keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VendorLine {
    pub sku: String,
    pub quantity: u32,
    pub due: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorOrderSummary {
    pub id: OrderId,
    pub status: OrderStatus,
    pub created_at: Timestamp,
    pub lines: Vec<VendorLine>,
}

pub type VendorOrderPage = Page<VendorOrderSummary>;

/// Which orders a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderListing {
    /// Newest first, optionally within a creation-time window (inclusive).
    ByCreated {
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    },
    /// One status, newest first.
    ByStatus {
        status: OrderStatus,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    },
    /// Changed strictly after `after`, oldest change first (integrations poll this).
    ChangedSince { after: Timestamp },
}

/// Where orders are kept. Every call on tenant data takes the verified tenant scope.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Saves a new order (version 1) with everything its creation writes, in one transaction.
    async fn create(
        &self,
        scope: &TenantScope,
        order: &Order,
        write: CommandWrite<'_>,
    ) -> RepoResult<()>;

    /// Saves a changed order if nobody else changed it since `before` was loaded (optimistic
    /// lock on its version), with everything the command writes, in one transaction.
    async fn update(
        &self,
        scope: &TenantScope,
        before: &StoredOrder,
        after: &Order,
        write: CommandWrite<'_>,
    ) -> RepoResult<()>;

    async fn load(&self, scope: &TenantScope, id: OrderId) -> RepoResult<Option<StoredOrder>>;

    /// The order and the tenant's current config, in one read.
    async fn load_with_config(
        &self,
        scope: &TenantScope,
        id: OrderId,
    ) -> RepoResult<(Option<StoredOrder>, TenantConfig)>;

    /// The order an external reference names.
    async fn id_by_external_ref(
        &self,
        scope: &TenantScope,
        r: &ExternalRef,
    ) -> RepoResult<Option<OrderId>>;

    /// A page of the tenant's orders.
    async fn list(
        &self,
        scope: &TenantScope,
        listing: &OrderListing,
        page: &PageRequest,
    ) -> RepoResult<OrderPage>;

    /// A page of one vendor's orders (`ChangedSince` is refused: not a vendor listing).
    async fn list_by_vendor(
        &self,
        scope: &TenantScope,
        vendor: &VendorId,
        listing: &OrderListing,
        page: &PageRequest,
    ) -> RepoResult<VendorOrderPage>;

    /// A page of an order's audit records, oldest first.
    async fn audit_log(
        &self,
        scope: &TenantScope,
        id: OrderId,
        page: &PageRequest,
    ) -> RepoResult<Page<AuditRecord>>;

    /// The shipments and returns of the tenant with an open carrier intent, in order.
    async fn open_intents(&self, scope: &TenantScope) -> RepoResult<Vec<(OrderId, CarrierTarget)>>;

    /// The shipment or return whose gateway-bought label carries this tracking number, if any (the
    /// SaaS-wide index alone; no tenant's own entry has a say).
    async fn gateway_label(
        &self,
        carrier: &CarrierCode,
        number: &TrackingNumber,
    ) -> RepoResult<Option<GatewayLabel>>;

    /// The shipment (or return) a tenant's tracking number names, if any.
    async fn by_tracking_number(
        &self,
        scope: &TenantScope,
        carrier: &CarrierCode,
        number: &TrackingNumber,
    ) -> RepoResult<Option<(OrderId, CarrierTarget)>>;
}
