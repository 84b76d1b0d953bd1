//! The carrier-neutral shapes the [`super::Carrier`] trait speaks: metric parcels in, exact
//! money and normalised tracking statuses out.

use domain::money::Money;
pub use domain::order::{Customs, LabelFormat, LabelOptions, Signature};
use serde::{Deserialize, Serialize};

/// EasyPost's production API (the adapter appends `/v2/...`).
pub const EASYPOST_BASE_URL: &str = "https://api.easypost.com";
/// Shippo's production API.
pub const SHIPPO_BASE_URL: &str = "https://api.goshippo.com";

/// A postal address as both carriers take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub company: Option<String>,
    pub street1: String,
    pub street2: Option<String>,
    pub city: String,
    pub state: Option<String>,
    pub zip: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// One parcel in metric units; each adapter converts to what its carrier takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parcel {
    pub weight_grams: u32,
    pub length_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
}

/// What to quote: one or more parcels from one address to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRequest {
    pub from: Address,
    pub to: Address,
    /// The parcels in package order, at least one. A carrier that ships several as one
    /// multi-piece shipment (`Carrier::multi_piece`) quotes and buys them together.
    pub parcels: Vec<Parcel>,
    /// Our reference (e.g. the order id), passed on where the carrier keeps one.
    pub reference: Option<String>,
    /// A return label: `from` is the customer sending the parcel back, `to` where it goes
    /// (the real direction). Each adapter maps it to its carrier's return flag: EasyPost's
    /// `is_return` and Shippo's `extra.is_return` take the outbound addresses and swap them
    /// themselves; FedEx's `RETURN_SHIPMENT` takes the real direction.
    #[serde(default)]
    pub is_return: bool,
    /// The customs declaration of a shipment that crosses a border.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs: Option<Customs>,
    /// The label's format and size, insurance and signature: an adapter that cannot honour one
    /// answers `NotSupported` before any call.
    #[serde(default)]
    pub options: LabelOptions,
}

impl ShipmentRequest {
    /// The parcels, refused before any carrier call when there are none or one weighs nothing.
    pub fn checked_parcels(&self) -> Result<&[Parcel], super::CarrierError> {
        if self.parcels.is_empty() {
            return Err(super::CarrierError::Rejected(
                "the shipment has no parcel".into(),
            ));
        }
        if let Some(n) = self.parcels.iter().position(|p| p.weight_grams == 0) {
            return Err(super::CarrierError::Rejected(format!(
                "parcel {} weighs nothing",
                n + 1
            )));
        }
        Ok(&self.parcels)
    }
}

/// The longest purchase reference (`Purchase::reference`) a carrier must take: FedEx keeps 30
/// characters of a customer reference (for Ground).
pub const MAX_PURCHASE_REFERENCE: usize = 30;

/// A label purchase: the quoted rate, the shipment it was quoted for, and our reference of this
/// one purchase attempt (at most [`MAX_PURCHASE_REFERENCE`] characters, unique per attempt),
/// which a carrier that keeps customer references stores with the label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub rate: RateRef,
    pub shipment: ShipmentRequest,
    pub reference: String,
}

/// What a purchase needs to name a quoted rate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RateRef {
    pub rate_id: String,
    /// The carrier's shipment the rate belongs to: EasyPost buys through its `shp_…` id;
    /// Shippo needs only the rate id.
    pub carrier_shipment: Option<String>,
    /// The carrier the quote named, as the aggregator's carrier token (Shippo's `usps`), where
    /// the purchase answer does not name it: Shippo's transactions name the rate by id only.
    /// Carried with the rate id so the label records the carrier that carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
}

/// One quoted service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub rate: RateRef,
    /// The carrier that would carry the parcel (e.g. "USPS"), not the aggregator.
    pub carrier: String,
    pub service: String,
    pub amount: Money,
    pub delivery_days: Option<u32>,
}

/// A carrier that could not rate the parcel; the others' rates still stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateError {
    pub carrier: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rates {
    pub rates: Vec<Rate>,
    pub errors: Vec<RateError>,
}

/// A bought label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchasedLabel {
    pub tracking_number: String,
    pub carrier: String,
    /// Where the label document is; empty when the carrier gives it only with the purchase and
    /// the label was found again by a lookup (FedEx): it is reprinted at the carrier.
    pub label_url: String,
    /// "PDF", "PNG", "ZPL", …
    pub label_format: String,
    /// What `void_label` takes: the EasyPost shipment id, the Shippo transaction id, the FedEx
    /// tracking number.
    pub carrier_reference: String,
    /// Every parcel's label, in package order (the first is the one above: a multi-piece
    /// shipment's master); one for a one-parcel purchase.
    pub packages: Vec<PackageLabel>,
    /// The customs form or commercial invoice the carrier made with the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs_form_url: Option<String>,
    /// The insurance charge, where the carrier's answer itemises it (EasyPost's `fees`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurance_fee: Option<Money>,
}

/// What a carrier's address check said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressCheck {
    /// The carrier can deliver there (as corrected).
    pub deliverable: bool,
    /// The address as the carrier corrected it (the one given when it changed nothing).
    pub address: Address,
    /// Residential (`true`) or business (`false`), when the carrier says.
    pub residential: Option<bool>,
    pub messages: Vec<AddressMessage>,
}

/// One of a carrier's remarks on an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressMessage {
    pub code: String,
    /// Our name of the field it is about (`line1`, `postalCode`, …), when it names one.
    pub field: Option<String>,
    pub message: String,
}

/// One parcel's label of a purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageLabel {
    pub tracking_number: String,
    /// Empty when the document was not returned (a label found again by a lookup).
    pub label_url: String,
    /// What voids this parcel's label: its own (a Shippo parcel's transaction, an EasyPost
    /// shipment), or the whole purchase's (a FedEx master number voids every piece).
    pub carrier_reference: String,
}

impl PurchasedLabel {
    /// A one-parcel label: its only package is itself.
    pub fn single(
        tracking_number: String,
        carrier: String,
        label_url: String,
        label_format: String,
        carrier_reference: String,
    ) -> Self {
        Self {
            packages: vec![PackageLabel {
                tracking_number: tracking_number.clone(),
                label_url: label_url.clone(),
                carrier_reference: carrier_reference.clone(),
            }],
            tracking_number,
            carrier,
            label_url,
            label_format,
            carrier_reference,
            customs_form_url: None,
            insurance_fee: None,
        }
    }
}

/// How a void (refund) request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidOutcome {
    /// Accepted; the carrier refunds later (EasyPost can take up to 30 days).
    Submitted,
    Refunded,
    /// Refused, with the carrier's reason.
    Rejected(String),
}

/// What a purchase lookup found at the carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseLookup {
    /// The label was bought: here it is.
    Bought(PurchasedLabel),
    /// The carrier has no purchase of this rate.
    NotBought,
    /// The carrier is still creating the label (Shippo's queued transactions).
    Pending,
}

/// What a void lookup found at the carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidLookup {
    /// The void was accepted (`Submitted`) or done (`Refunded`).
    Voided(VoidOutcome),
    /// No void of this label is known (or it was rejected).
    NotVoided,
}

/// A tracking status normalised across carriers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackStatus {
    PreTransit,
    InTransit,
    OutForDelivery,
    Delivered,
    Failure,
    Returned,
    Unknown,
}

/// One scan, as the carrier reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackEvent {
    /// The carrier's raw status of this event.
    pub status: String,
    pub message: String,
    /// The carrier's timestamp, as sent (RFC 3339 from both carriers).
    pub at: Option<String>,
}

/// Where a parcel is, with its history in the carrier's order (oldest first for both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    pub status: TrackStatus,
    pub raw_status: String,
    pub events: Vec<TrackEvent>,
}
