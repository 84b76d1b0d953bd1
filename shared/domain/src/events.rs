//! Domain events. Every successful command emits one or more; all carry the order's new version
//! (a per-order sequence, since the bus does not keep order) and go into one outbox item.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::LineQuantity;
use crate::ids::{
    CarrierCode, EventId, ExternalRef, OrderId, RefundId, ReturnId, ShipmentId, Sku, Subject,
    TenantId, TrackingNumber, VendorId,
};
use crate::money::Money;
use crate::status::{
    CarrierAction, Command, IntentOutcome, OrderStatus, PackageStatus, PaymentStatus, ReturnStatus,
    ShipmentStatus,
};

/// The schema version of the event envelope and payloads. Bump on a breaking change.
pub const EVENT_SCHEMA_VERSION: u16 = 1;

/// The `source` our events carry on a bus; no tenant may register it as its own.
pub const EVENT_SOURCE: &str = "tenantoms";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainEvent {
    pub event_id: EventId,
    pub schema_version: u16,
    pub tenant: TenantId,
    pub order_id: OrderId,
    /// The order's version after the command that caused this event.
    pub aggregate_version: u64,
    pub occurred_at: Timestamp,
    #[serde(flatten)]
    pub payload: EventPayload,
}

impl DomainEvent {
    /// The event's type name, e.g. `OrderCreated`.
    pub fn event_type(&self) -> &'static str {
        self.payload.event_type()
    }
}

/// What happened. Serialized as `{"eventType": "...", "payload": {...}}` inside the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "eventType", content = "payload")]
pub enum EventPayload {
    #[serde(rename_all = "camelCase")]
    OrderCreated {
        external_ref: Option<ExternalRef>,
        created_by: Subject,
        total: Money,
        lines: Vec<LineQuantity>,
        vendors: Vec<VendorId>,
    },
    #[serde(rename_all = "camelCase")]
    OrderReviewerAssigned {
        reviewer: Subject,
        comments: Option<String>,
        assigned_by: Subject,
    },
    #[serde(rename_all = "camelCase")]
    OrderApproved {
        by: Subject,
        comments: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    OrderRejected { by: Subject, reason: String },
    #[serde(rename_all = "camelCase")]
    OrderCancelled { reason: Option<String> },
    #[serde(rename_all = "camelCase")]
    OrderLinesCancelled {
        lines: Vec<LineQuantity>,
        reason: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    OrderPaid { amount: Money, reference: String },
    #[serde(rename_all = "camelCase")]
    OrderStatusChanged {
        from: OrderStatus,
        to: OrderStatus,
        cause: Command,
    },
    #[serde(rename_all = "camelCase")]
    OrderCompleted {},
    #[serde(rename_all = "camelCase")]
    PaymentStatusChanged {
        from: PaymentStatus,
        to: PaymentStatus,
    },
    #[serde(rename_all = "camelCase")]
    ShipmentCreated {
        shipment_id: ShipmentId,
        lines: Vec<LineQuantity>,
    },
    #[serde(rename_all = "camelCase")]
    ShipmentStatusChanged {
        shipment_id: ShipmentId,
        from: ShipmentStatus,
        to: ShipmentStatus,
        cause: Command,
    },
    #[serde(rename_all = "camelCase")]
    ShipmentTrackingUpdated {
        shipment_id: ShipmentId,
        carrier: Option<CarrierCode>,
        tracking_number: Option<TrackingNumber>,
    },
    /// One package of a shipment of several moved on a carrier's update for its number
    /// (`package`: its place in the shipment, from 1); the shipment's own status follows the
    /// roll-up of its packages' (a `ShipmentStatusChanged` when it changes).
    #[serde(rename_all = "camelCase")]
    PackageStatusChanged {
        shipment_id: ShipmentId,
        package: u32,
        tracking_number: Option<TrackingNumber>,
        from: PackageStatus,
        to: PackageStatus,
    },
    /// A label purchase or void was recorded as an intent, before the carrier is called.
    #[serde(rename_all = "camelCase")]
    CarrierCallStarted {
        shipment_id: ShipmentId,
        intent_id: String,
        action: CarrierAction,
    },
    /// What became of the intent (`UNKNOWN`: left open for a person to reconcile).
    #[serde(rename_all = "camelCase")]
    CarrierCallOutcome {
        shipment_id: ShipmentId,
        intent_id: String,
        action: CarrierAction,
        outcome: IntentOutcome,
    },
    #[serde(rename_all = "camelCase")]
    ReturnRequested {
        return_id: ReturnId,
        lines: Vec<LineQuantity>,
        reason: String,
    },
    #[serde(rename_all = "camelCase")]
    ReturnStatusChanged {
        return_id: ReturnId,
        from: ReturnStatus,
        to: ReturnStatus,
    },
    /// A return-label purchase or void was recorded as an intent on the return.
    #[serde(rename_all = "camelCase")]
    ReturnCarrierCallStarted {
        return_id: ReturnId,
        intent_id: String,
        action: CarrierAction,
    },
    /// What became of a return's intent.
    #[serde(rename_all = "camelCase")]
    ReturnCarrierCallOutcome {
        return_id: ReturnId,
        intent_id: String,
        action: CarrierAction,
        outcome: IntentOutcome,
    },
    /// The return's label was bought: the customer ships the parcel back with it.
    #[serde(rename_all = "camelCase")]
    ReturnLabelPurchased {
        return_id: ReturnId,
        carrier: CarrierCode,
        tracking_number: TrackingNumber,
    },
    #[serde(rename_all = "camelCase")]
    ReturnLabelVoided {
        return_id: ReturnId,
        tracking_number: Option<TrackingNumber>,
    },
    #[serde(rename_all = "camelCase")]
    RefundIssued {
        refund_id: RefundId,
        amount: Money,
        return_id: Option<ReturnId>,
        config_version: u32,
    },
}

impl EventPayload {
    /// Every event type name, as `eventType` carries it.
    pub const TYPES: [&'static str; 23] = [
        "OrderCreated",
        "OrderReviewerAssigned",
        "OrderApproved",
        "OrderRejected",
        "OrderCancelled",
        "OrderLinesCancelled",
        "OrderPaid",
        "OrderStatusChanged",
        "OrderCompleted",
        "PaymentStatusChanged",
        "ShipmentCreated",
        "ShipmentStatusChanged",
        "ShipmentTrackingUpdated",
        "PackageStatusChanged",
        "CarrierCallStarted",
        "CarrierCallOutcome",
        "ReturnRequested",
        "ReturnStatusChanged",
        "ReturnCarrierCallStarted",
        "ReturnCarrierCallOutcome",
        "ReturnLabelPurchased",
        "ReturnLabelVoided",
        "RefundIssued",
    ];

    pub fn event_type(&self) -> &'static str {
        match self {
            EventPayload::OrderCreated { .. } => "OrderCreated",
            EventPayload::OrderReviewerAssigned { .. } => "OrderReviewerAssigned",
            EventPayload::OrderApproved { .. } => "OrderApproved",
            EventPayload::OrderRejected { .. } => "OrderRejected",
            EventPayload::OrderCancelled { .. } => "OrderCancelled",
            EventPayload::OrderLinesCancelled { .. } => "OrderLinesCancelled",
            EventPayload::OrderPaid { .. } => "OrderPaid",
            EventPayload::OrderStatusChanged { .. } => "OrderStatusChanged",
            EventPayload::OrderCompleted { .. } => "OrderCompleted",
            EventPayload::PaymentStatusChanged { .. } => "PaymentStatusChanged",
            EventPayload::ShipmentCreated { .. } => "ShipmentCreated",
            EventPayload::ShipmentStatusChanged { .. } => "ShipmentStatusChanged",
            EventPayload::ShipmentTrackingUpdated { .. } => "ShipmentTrackingUpdated",
            EventPayload::PackageStatusChanged { .. } => "PackageStatusChanged",
            EventPayload::CarrierCallStarted { .. } => "CarrierCallStarted",
            EventPayload::CarrierCallOutcome { .. } => "CarrierCallOutcome",
            EventPayload::ReturnRequested { .. } => "ReturnRequested",
            EventPayload::ReturnStatusChanged { .. } => "ReturnStatusChanged",
            EventPayload::ReturnCarrierCallStarted { .. } => "ReturnCarrierCallStarted",
            EventPayload::ReturnCarrierCallOutcome { .. } => "ReturnCarrierCallOutcome",
            EventPayload::ReturnLabelPurchased { .. } => "ReturnLabelPurchased",
            EventPayload::ReturnLabelVoided { .. } => "ReturnLabelVoided",
            EventPayload::RefundIssued { .. } => "RefundIssued",
        }
    }

    /// The SKUs this event concerns, when it names lines (vendor-scoped consumers filter on it).
    pub fn skus(&self) -> Vec<&Sku> {
        match self {
            EventPayload::OrderCreated { lines, .. }
            | EventPayload::OrderLinesCancelled { lines, .. }
            | EventPayload::ShipmentCreated { lines, .. }
            | EventPayload::ReturnRequested { lines, .. } => lines.iter().map(|l| &l.sku).collect(),
            _ => Vec::new(),
        }
    }
}
