//! The parts of an order: lines, shipments, returns, refunds, payment, review.

use serde::{Deserialize, Serialize};

use super::customs::{Customs, LabelOptions};
use crate::clock::Timestamp;
use crate::contact::{Address, check_text};
use crate::error::{DomainError, DomainResult};
use crate::ids::LineQuantity;
use crate::ids::{
    CarrierCode, Quantity, RefundId, ReturnId, ShipmentId, Sku, Subject, TrackingNumber, VendorId,
};
use crate::money::Money;
use crate::status::{
    CarrierAction, IntentState, PackageStatus, PaymentStatus, ReturnStatus, ShipmentStatus,
};

/// Bounds of DESIGN.md §3 that keep an order item well under DynamoDB's 400 KB.
pub const MAX_LINES: usize = 250;
pub const MAX_SHIPMENTS: usize = 50;
pub const MAX_RETURNS: usize = 50;
pub const MAX_VENDORS: usize = 20;
/// Packages of one shipment (FedEx takes 30 line items in one ship request).
pub const MAX_PACKAGES: usize = 30;
/// Packages of all an order's shipments together.
pub const MAX_ORDER_PACKAGES: usize = 200;
/// Refunds: one per return plus as many order refunds again.
pub const MAX_REFUNDS: usize = 100;
/// Longest free text (reasons, comments, instructions, references), in bytes.
pub const MAX_TEXT: usize = 1_000;

/// Validates an optional free-text field (reasons, comments, instructions).
pub(crate) fn optional_text(field: &'static str, s: Option<&str>) -> DomainResult<Option<String>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            check_text(field, s, MAX_TEXT, true)?;
            Ok(Some(s.to_owned()))
        }
    }
}

/// Validates a required free-text field.
pub(crate) fn required_text(field: &'static str, s: &str) -> DomainResult<String> {
    let s = s.trim();
    check_text(field, s, MAX_TEXT, true)?;
    Ok(s.to_owned())
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub sku: Sku,
    pub vendor: VendorId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub quantity: Quantity,
    pub unit_price: Money,
    /// How much of `quantity` was cancelled (`cancelOrderLines`).
    #[serde(default)]
    pub cancelled: u32,
}

impl OrderLine {
    /// Ordered minus cancelled: what the order still owes the customer.
    pub fn due(&self) -> u32 {
        self.quantity.get().saturating_sub(self.cancelled)
    }
}

/// A new line, as the caller gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub sku: Sku,
    pub vendor: VendorId,
    pub title: Option<String>,
    pub quantity: Quantity,
    pub unit_price: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShippingMode {
    Ground,
    Express,
    Overnight,
    Freight,
    /// The customer (or a courier) picks the parcel up.
    Pickup,
}

/// Package weight in grams and dimensions in millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub weight_grams: u32,
    pub length_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
}

impl Package {
    pub fn new(
        weight_grams: u32,
        length_mm: u32,
        width_mm: u32,
        height_mm: u32,
    ) -> DomainResult<Self> {
        const MAX_WEIGHT: u32 = 1_000_000; // 1 t
        const MAX_SIDE: u32 = 10_000; // 10 m
        if weight_grams == 0 || weight_grams > MAX_WEIGHT {
            return Err(DomainError::invalid(
                "package.weightGrams",
                format!("must be between 1 and {MAX_WEIGHT}"),
            ));
        }
        for (field, v) in [
            ("package.lengthMm", length_mm),
            ("package.widthMm", width_mm),
            ("package.heightMm", height_mm),
        ] {
            if v == 0 || v > MAX_SIDE {
                return Err(DomainError::invalid(
                    field,
                    format!("must be between 1 and {MAX_SIDE}"),
                ));
            }
        }
        Ok(Self {
            weight_grams,
            length_mm,
            width_mm,
            height_mm,
        })
    }
}

/// Where and when a carrier picks the parcel up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pickup {
    pub address: Address,
    pub window_start: Timestamp,
    pub window_end: Timestamp,
}

impl Pickup {
    pub fn new(
        address: Address,
        window_start: Timestamp,
        window_end: Timestamp,
    ) -> DomainResult<Self> {
        if window_end <= window_start {
            return Err(DomainError::invalid(
                "pickup.windowEnd",
                "must be after the window start",
            ));
        }
        Ok(Self {
            address,
            window_start,
            window_end,
        })
    }
}

/// A label bought from a carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    pub url: String,
    /// `PDF`, `PNG`, `ZPL`, …
    pub format: String,
}

/// A package of a new shipment: its size and an optional reference of the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPackage {
    pub package: Package,
    pub reference: Option<String>,
}

/// One package of a shipment: its size, the caller's reference, and once its label is bought
/// its tracking number, label and status (which the carrier's updates for that number move).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentPackage {
    pub package: Package,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<TrackingNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// `None` until the labels are bought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PackageStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_status: Option<String>,
}

impl ShipmentPackage {
    pub fn new(package: Package, reference: Option<String>) -> Self {
        Self {
            package,
            reference,
            tracking_number: None,
            label: None,
            status: None,
            carrier_status: None,
        }
    }
}

/// A new shipment, as the caller describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShipment {
    pub lines: Vec<LineQuantity>,
    /// Defaults to the order's destination.
    pub destination: Option<Address>,
    /// Its packages, in order (none: to be given before rating).
    pub packages: Vec<NewPackage>,
    pub mode: ShippingMode,
    pub carrier: Option<CarrierCode>,
    pub pickup: Option<Pickup>,
    pub instructions: Option<String>,
    /// Its customs declaration (required to rate or buy a shipment that crosses a border).
    pub customs: Option<Customs>,
    pub label_options: LabelOptions,
    /// What the carrier's address check said of the destination (`verify: WARN`).
    pub address_messages: Vec<String>,
}

/// A shipment. Its own `tracking_number` and `label` are its first package's (a multi-piece
/// shipment's master); each package keeps its own. Stored shipments written before packages
/// existed (one optional `package`) read as one package ([`ShipmentWire`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "ShipmentWire")]
pub struct Shipment {
    pub id: ShipmentId,
    pub status: ShipmentStatus,
    pub lines: Vec<LineQuantity>,
    pub destination: Address,
    pub packages: Vec<ShipmentPackage>,
    pub mode: ShippingMode,
    pub carrier: Option<CarrierCode>,
    pub pickup: Option<Pickup>,
    pub instructions: Option<String>,
    pub tracking_number: Option<TrackingNumber>,
    pub label: Option<Label>,
    pub carrier_reference: Option<String>,
    /// The carrier's own status behind the last move a tracking update made (raw, as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_status: Option<String>,
    /// A carrier call in flight for this shipment (a label purchase or a void): recorded before
    /// the call, closed when its outcome is committed. While it is open, nothing else moves the
    /// shipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<CarrierIntent>,
    /// The idempotency key of the request whose intent bought the label, and of the one whose
    /// intent voided it: a retry of that request answers as the first one did, whoever
    /// completed the intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub void_key: Option<String>,
    /// Its customs declaration (required to rate or buy a shipment that crosses a border).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs: Option<Customs>,
    #[serde(default, skip_serializing_if = "LabelOptions::is_empty")]
    pub label_options: LabelOptions,
    /// What the carrier's address check said of the destination when it was created with
    /// `verify: WARN`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address_messages: Vec<String>,
    /// The customs form or commercial invoice the carrier made with the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs_form_url: Option<String>,
    /// The insurance charge, where the carrier's answer itemises it (EasyPost's fees).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurance_charge: Option<Money>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A carrier call that costs money or cannot be undone, recorded on its shipment before it is
/// made (DESIGN.md §2 rule 9). `reference` is what identifies the call at the carrier, opaque
/// here (the application encodes the gateway account, the carrier's shipment or rate id, or the
/// label to void), so a lost outcome can be looked up there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarrierIntent {
    /// The attempt: a ULID, unique per call.
    pub id: String,
    pub action: CarrierAction,
    pub reference: String,
    /// The idempotency key of the request that opened it (its retries complete it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub state: IntentState,
    pub opened_at: Timestamp,
    /// The carrier's own id of the call, when it took the call and is still working on it
    /// (`IntentState::Queued`): what the lookup asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_ref: Option<String>,
}

impl Shipment {
    /// The package a tracking update is for: the one whose bought label has `number`, or the
    /// only package when no number is given. `None` when the labels are not bought through the
    /// gateway or no package has it (the update then moves the shipment as a whole).
    pub fn bought_package(&self, number: Option<&TrackingNumber>) -> Option<usize> {
        let bought = |p: &ShipmentPackage| p.status.is_some();
        match number {
            Some(n) => self
                .packages
                .iter()
                .position(|p| bought(p) && p.tracking_number.as_ref() == Some(n)),
            None if self.packages.len() == 1 && bought(&self.packages[0]) => Some(0),
            None => None,
        }
    }

    pub fn quantity_of(&self, sku: &Sku) -> u32 {
        self.lines
            .iter()
            .filter(|l| &l.sku == sku)
            .map(|l| l.quantity.get())
            .sum()
    }
}

/// A stored shipment as read: today's `packages`, or the single `package` of shipments stored
/// before packages existed, which becomes one package carrying the shipment's own tracking
/// number, label and (when bought) status.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShipmentWire {
    id: ShipmentId,
    status: ShipmentStatus,
    lines: Vec<LineQuantity>,
    destination: Address,
    #[serde(default)]
    packages: Vec<ShipmentPackage>,
    #[serde(default)]
    package: Option<Package>,
    mode: ShippingMode,
    carrier: Option<CarrierCode>,
    pickup: Option<Pickup>,
    instructions: Option<String>,
    tracking_number: Option<TrackingNumber>,
    label: Option<Label>,
    carrier_reference: Option<String>,
    #[serde(default)]
    carrier_status: Option<String>,
    #[serde(default)]
    intent: Option<CarrierIntent>,
    #[serde(default)]
    label_key: Option<String>,
    #[serde(default)]
    void_key: Option<String>,
    #[serde(default)]
    customs: Option<Customs>,
    #[serde(default)]
    label_options: LabelOptions,
    #[serde(default)]
    address_messages: Vec<String>,
    #[serde(default)]
    customs_form_url: Option<String>,
    #[serde(default)]
    insurance_charge: Option<Money>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<ShipmentWire> for Shipment {
    fn from(w: ShipmentWire) -> Self {
        let packages = match (w.packages.is_empty(), w.package) {
            (true, Some(package)) => {
                let bought = w.carrier_reference.is_some() && w.tracking_number.is_some();
                vec![ShipmentPackage {
                    package,
                    reference: None,
                    tracking_number: bought.then(|| w.tracking_number.clone()).flatten(),
                    label: bought.then(|| w.label.clone()).flatten(),
                    status: if bought {
                        PackageStatus::of_shipment(w.status)
                    } else {
                        None
                    },
                    carrier_status: bought.then(|| w.carrier_status.clone()).flatten(),
                }]
            }
            _ => w.packages,
        };
        Shipment {
            id: w.id,
            status: w.status,
            lines: w.lines,
            destination: w.destination,
            packages,
            mode: w.mode,
            carrier: w.carrier,
            pickup: w.pickup,
            instructions: w.instructions,
            tracking_number: w.tracking_number,
            label: w.label,
            carrier_reference: w.carrier_reference,
            carrier_status: w.carrier_status,
            intent: w.intent,
            label_key: w.label_key,
            void_key: w.void_key,
            customs: w.customs,
            label_options: w.label_options,
            address_messages: w.address_messages,
            customs_form_url: w.customs_form_url,
            insurance_charge: w.insurance_charge,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Return {
    pub id: ReturnId,
    pub status: ReturnStatus,
    pub lines: Vec<LineQuantity>,
    pub reason: String,
    pub refund_id: Option<RefundId>,
    pub requested_at: Timestamp,
    pub updated_at: Timestamp,
    /// The return's own label, bought through the gateway (the customer ships the parcel back
    /// with it); its carrier's updates move the return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<ReturnLabel>,
    /// A return-label purchase or void in flight (the same rules as a shipment's): while it is
    /// open nothing else moves the return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<CarrierIntent>,
    /// The idempotency keys of the requests whose intents bought and voided the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub void_key: Option<String>,
}

/// A return's label: the package it ships in, its carrier, tracking number, document and void
/// reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnLabel {
    pub package: Package,
    pub carrier: CarrierCode,
    pub tracking_number: TrackingNumber,
    pub label: Label,
    pub carrier_reference: String,
}

impl Return {
    pub fn quantity_of(&self, sku: &Sku) -> u32 {
        self.lines
            .iter()
            .filter(|l| &l.sku == sku)
            .map(|l| l.quantity.get())
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    pub id: RefundId,
    pub amount: Money,
    pub reason: String,
    /// Set for a refund of a return; `None` for `refundOrder`.
    pub return_id: Option<ReturnId>,
    /// Σ unit price × returned quantity, for a return's refund.
    pub gross: Option<Money>,
    /// The restocking fee taken, for a return's refund.
    pub fee: Option<Money>,
    /// The tenant config version the refund was computed with.
    pub config_version: u32,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub status: PaymentStatus,
    pub paid: Money,
    pub refunded: Money,
    pub reference: Option<String>,
    pub paid_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub reviewer: Subject,
    pub comments: Option<String>,
    pub assigned_by: Subject,
    pub assigned_at: Timestamp,
}
