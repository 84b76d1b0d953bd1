//! Shipping carriers behind one [`Carrier`] trait: EasyPost v2 ([`easypost::EasyPost`]) and
//! Shippo ([`shippo::Shippo`]). Both speak plain JSON over HTTPS through one request helper
//! (timeout, no redirects, bounded retries that never repeat a purchase the carrier may have
//! seen), parse responses leniently, and map every failure onto [`CarrierError`] with a stable
//! code. Amounts are exact [`domain::money::Money`], never floats.
//!
//! With the `fake` feature, [`fake::FakeCarrier`] runs a stateful fake of either API on
//! 127.0.0.1 so tests (here and in other crates) exercise the real adapters end to end.

pub mod easypost;
pub mod error;
#[cfg(feature = "fake")]
pub mod fake;
mod http;
mod lenient;
pub mod model;
pub mod shippo;

pub use error::CarrierError;
pub use http::RetryPolicy;
pub use model::*;

/// A carrier behind one interface.
#[async_trait::async_trait]
pub trait Carrier: Send + Sync {
    /// Quotes rates for a parcel; per-carrier rating failures come back in `Rates::errors`, not as Err.
    async fn rates(&self, shipment: &ShipmentRequest) -> Result<Rates, CarrierError>;
    /// Buys the label of a rate returned by `rates` (same carrier, same credentials).
    async fn buy_label(&self, rate: &RateRef) -> Result<PurchasedLabel, CarrierError>;
    /// Voids (refunds) a label by its carrier reference (EasyPost shipment id; Shippo transaction id).
    async fn void_label(&self, carrier_reference: &str) -> Result<VoidOutcome, CarrierError>;
    /// Current tracking of a parcel.
    async fn track(&self, carrier: &str, tracking_number: &str) -> Result<Tracking, CarrierError>;
    /// A cheap authenticated call that proves the credentials work.
    async fn verify_credentials(&self) -> Result<(), CarrierError>;

    /// What became of a purchase of `rate` whose answer was lost (a timeout, a crash before the
    /// commit): looked up at the carrier, never bought again. A carrier without a lookup
    /// answers `NotSupported`, and the purchase stays for a person to reconcile.
    async fn find_purchase(&self, rate: &RateRef) -> Result<PurchaseLookup, CarrierError> {
        let _ = rate;
        Err(CarrierError::NotSupported(
            "this carrier offers no purchase lookup".into(),
        ))
    }

    /// What became of a void of the label `carrier_reference` whose answer was lost.
    async fn find_void(&self, carrier_reference: &str) -> Result<VoidLookup, CarrierError> {
        let _ = carrier_reference;
        Err(CarrierError::NotSupported(
            "this carrier offers no refund lookup".into(),
        ))
    }
}
