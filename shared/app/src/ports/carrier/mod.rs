//! The carrier port: one [`Carrier`] trait every adapter implements (the `carriers` crate holds
//! EasyPost's, Shippo's and FedEx's), the carrier-neutral model it speaks ([`model`]), its one
//! error ([`CarrierError`]), and how the use cases get a carrier for the credentials in force of
//! a tenant's account or a platform account ([`EffectiveCredentials`], [`CarrierConnector`]).

mod error;
mod model;

pub use error::CarrierError;
pub use model::*;

use domain::gateway::{CredentialVersion, GatewayConfig};
use secrecy::SecretString;

/// A carrier behind one interface.
#[async_trait::async_trait]
pub trait Carrier: Send + Sync {
    /// Quotes rates for a parcel; per-carrier rating failures come back in `Rates::errors`, not as Err.
    async fn rates(&self, shipment: &ShipmentRequest) -> Result<Rates, CarrierError>;
    /// Buys the label of a rate returned by `rates` (same carrier, same credentials) for the
    /// shipment it was quoted for. A carrier whose quotes name no shipment of theirs (FedEx)
    /// ships `purchase.shipment` whole; one that keeps a customer reference gets
    /// `purchase.reference`, by which `find_purchase` finds the label again.
    async fn buy_label(&self, purchase: &Purchase) -> Result<PurchasedLabel, CarrierError>;
    /// Voids (refunds) a label by its carrier reference (EasyPost shipment id; Shippo transaction id).
    async fn void_label(&self, carrier_reference: &str) -> Result<VoidOutcome, CarrierError>;
    /// Current tracking of a parcel.
    async fn track(&self, carrier: &str, tracking_number: &str) -> Result<Tracking, CarrierError>;
    /// A cheap authenticated call that proves the credentials work.
    async fn verify_credentials(&self) -> Result<(), CarrierError>;

    /// Checks an address with the carrier's verification: deliverable or not, corrected, with
    /// its residential flag and the carrier's remarks.
    async fn verify_address(&self, address: &Address) -> Result<AddressCheck, CarrierError> {
        let _ = address;
        Err(CarrierError::NotSupported(
            "this carrier offers no address verification".into(),
        ))
    }

    /// Whether several parcels are quoted and bought as one multi-piece shipment (one call,
    /// one purchase, a label per parcel). A carrier that cannot refuses a request of more than
    /// one parcel with `NotSupported`; its packages are bought one by one.
    fn multi_piece(&self) -> bool {
        false
    }

    /// What became of a purchase of `rate` under our `reference` (the `Purchase::reference`
    /// it was made with) whose answer was lost (a timeout, a crash before the commit): looked
    /// up at the carrier, never bought again. A carrier without a lookup answers
    /// `NotSupported`, and the purchase stays for a person to reconcile.
    async fn find_purchase(
        &self,
        rate: &RateRef,
        reference: &str,
    ) -> Result<PurchaseLookup, CarrierError> {
        let _ = (rate, reference);
        Err(CarrierError::NotSupported(
            "this carrier offers no purchase lookup".into(),
        ))
    }

    /// What became of a purchase the carrier took and left queued (`CarrierError::Queued`),
    /// by the carrier's own id of it: looked up, never bought again.
    async fn find_queued(
        &self,
        rate: &RateRef,
        carrier_ref: &str,
    ) -> Result<PurchaseLookup, CarrierError> {
        let _ = (rate, carrier_ref);
        Err(CarrierError::NotSupported(
            "this carrier queues no purchases".into(),
        ))
    }

    /// The carrier of a label recorded before its carrier was known (a Shippo label stored
    /// under `shippo`, the aggregator, rather than the carrier that carries it), looked up by
    /// its carrier reference; `None` when `carrier` already names the carrier.
    async fn carrier_of_label(
        &self,
        carrier: &str,
        carrier_reference: &str,
    ) -> Result<Option<String>, CarrierError> {
        let _ = (carrier, carrier_reference);
        Ok(None)
    }

    /// What became of a void of the label `carrier_reference` whose answer was lost.
    async fn find_void(&self, carrier_reference: &str) -> Result<VoidLookup, CarrierError> {
        let _ = carrier_reference;
        Err(CarrierError::NotSupported(
            "this carrier offers no refund lookup".into(),
        ))
    }
}

/// The secret fields of a version. Never printed (Debug shows which fields are set only).
#[derive(Clone, Default)]
pub struct CredentialSecrets {
    pub api_key: Option<SecretString>,
    pub password: Option<SecretString>,
    pub shared_secret: Option<SecretString>,
    pub client_secret: Option<SecretString>,
    /// The client secret of a second key pair for the carrier's tracking API (FedEx issues
    /// separate Track API keys); `CredentialVersion::track_client_id` names its client.
    pub track_client_secret: Option<SecretString>,
}

impl std::fmt::Debug for CredentialSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSecrets")
            .field("api_key", &self.api_key.as_ref().map(|_| "…"))
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("shared_secret", &self.shared_secret.as_ref().map(|_| "…"))
            .field("client_secret", &self.client_secret.as_ref().map(|_| "…"))
            .field(
                "track_client_secret",
                &self.track_client_secret.as_ref().map(|_| "…"),
            )
            .finish()
    }
}

/// The version in force and its secrets, for a carrier call.
#[derive(Debug, Clone)]
pub struct EffectiveCredentials {
    pub gateway: GatewayConfig,
    pub version: CredentialVersion,
    pub secrets: CredentialSecrets,
}

/// Connects to a carrier with a version's credentials.
pub trait CarrierConnector: Send + Sync {
    fn connect(&self, credentials: &EffectiveCredentials)
    -> Result<Box<dyn Carrier>, CarrierError>;
}
