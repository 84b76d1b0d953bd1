//! Every carrier call measured: a [`CarrierConnector`] that wraps the carriers another one
//! connects, timing each call and counting its outcome (`ok` or the error's code) by carrier
//! kind and call (`telemetry::carrier_call`). Nothing else changes: the answers pass through.

use std::time::Instant;

use app::ports::carrier::{
    Address, AddressCheck, Carrier, CarrierConnector, CarrierError, EffectiveCredentials, Purchase,
    PurchaseLookup, PurchasedLabel, RateRef, Rates, ShipmentRequest, Tracking, VoidLookup,
    VoidOutcome,
};

/// Connects through `inner`, every carrier it returns measured.
pub struct MeteredConnector<C>(pub C);

impl<C: CarrierConnector> CarrierConnector for MeteredConnector<C> {
    fn connect(&self, c: &EffectiveCredentials) -> Result<Box<dyn Carrier>, CarrierError> {
        let inner = self.0.connect(c)?;
        Ok(Box::new(Metered {
            inner,
            kind: c.gateway.kind.as_str(),
        }))
    }
}

struct Metered {
    inner: Box<dyn Carrier>,
    kind: &'static str,
}

impl Metered {
    async fn timed<T>(
        &self,
        call: &'static str,
        f: impl Future<Output = Result<T, CarrierError>>,
    ) -> Result<T, CarrierError> {
        use tracing::Instrument;
        let started = Instant::now();
        let span = tracing::debug_span!("carrier", otel.name = call, carrier = self.kind);
        let out = f.instrument(span).await;
        let outcome = match &out {
            Ok(_) => telemetry::OK,
            Err(e) => e.code(),
        };
        telemetry::carrier_call(self.kind, call, outcome, started.elapsed());
        out
    }
}

#[async_trait::async_trait]
impl Carrier for Metered {
    async fn rates(&self, shipment: &ShipmentRequest) -> Result<Rates, CarrierError> {
        self.timed("rates", self.inner.rates(shipment)).await
    }

    async fn buy_label(&self, purchase: &Purchase) -> Result<PurchasedLabel, CarrierError> {
        self.timed("buy", self.inner.buy_label(purchase)).await
    }

    async fn void_label(&self, carrier_reference: &str) -> Result<VoidOutcome, CarrierError> {
        self.timed("void", self.inner.void_label(carrier_reference))
            .await
    }

    async fn track(&self, carrier: &str, tracking_number: &str) -> Result<Tracking, CarrierError> {
        self.timed("track", self.inner.track(carrier, tracking_number))
            .await
    }

    async fn verify_credentials(&self) -> Result<(), CarrierError> {
        self.timed("verify", self.inner.verify_credentials()).await
    }

    async fn verify_address(&self, address: &Address) -> Result<AddressCheck, CarrierError> {
        self.timed("address", self.inner.verify_address(address))
            .await
    }

    fn multi_piece(&self) -> bool {
        self.inner.multi_piece()
    }

    async fn find_purchase(
        &self,
        rate: &RateRef,
        reference: &str,
    ) -> Result<PurchaseLookup, CarrierError> {
        self.timed("find_purchase", self.inner.find_purchase(rate, reference))
            .await
    }

    async fn find_queued(
        &self,
        rate: &RateRef,
        carrier_ref: &str,
    ) -> Result<PurchaseLookup, CarrierError> {
        self.timed("find_queued", self.inner.find_queued(rate, carrier_ref))
            .await
    }

    async fn carrier_of_label(
        &self,
        carrier: &str,
        carrier_reference: &str,
    ) -> Result<Option<String>, CarrierError> {
        self.timed(
            "carrier_of_label",
            self.inner.carrier_of_label(carrier, carrier_reference),
        )
        .await
    }

    async fn find_void(&self, carrier_reference: &str) -> Result<VoidLookup, CarrierError> {
        self.timed("find_void", self.inner.find_void(carrier_reference))
            .await
    }
}
