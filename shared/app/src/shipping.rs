//! Carrier calls: rates for a shipment, buying and voiding its label, and polling its tracking —
//! each with the tenant's credentials in force at the time of the call, through one carrier
//! interface (`carriers::Carrier`).
//!
//! A purchase talks to the carrier between loading the order and committing: the carrier is
//! called once, then the command records the label (the retry of a lost optimistic-lock race
//! only records it again on the fresh order, it never buys again). The label's tracking number
//! goes into the tenant's tracking index and the SaaS-wide one in the same transaction, so
//! carrier webhooks find the shipment on either route.

use std::sync::Arc;

use base64::Engine;
use carriers::{Carrier, CarrierError, Credentials, RateRef, ShipmentRequest, TrackStatus};
use domain::Money;
use domain::access::Operation;
use domain::gateway::{CarrierKind, GatewayAuthType};
use domain::ids::{AccountId, CarrierCode, OrderId, ShipmentId, TrackingNumber};
use domain::order::{Label, Order, Shipment, ShipmentStatus, TrackingStatus, TrackingUpdate};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::context::{RequestCtx, UnitOfWork};
use crate::engine::{App, Change, CommandSpec, OrderRef};
use crate::error::{AppError, AppResult};
use crate::gateway::EffectiveCredentials;
use crate::orders::{Tracked, own_shipment};

/// Connects to a carrier with a version's credentials.
pub trait CarrierConnector: Send + Sync {
    fn connect(&self, credentials: &EffectiveCredentials) -> AppResult<Box<dyn Carrier>>;
}

/// The connector over HTTP: EasyPost or Shippo by the gateway's kind, every call through the
/// guarded outbound client and every request's URL checked against its policy first.
pub struct HttpConnector {
    client: reqwest::Client,
    policy: domain::outbound::OutboundPolicy,
}

impl HttpConnector {
    /// `client` must be the outbound client built for `policy` (`auth::outbound::client`).
    pub fn new(client: reqwest::Client, policy: domain::outbound::OutboundPolicy) -> Self {
        Self { client, policy }
    }
}

impl CarrierConnector for HttpConnector {
    fn connect(&self, c: &EffectiveCredentials) -> AppResult<Box<dyn Carrier>> {
        if c.version.auth_type != GatewayAuthType::ApiKey {
            return Err(carrier_error(CarrierError::NotSupported(format!(
                "{} credentials are not supported by the {} adapter",
                c.version.auth_type.as_str(),
                c.gateway.kind.as_str()
            ))));
        }
        let key = c.secrets.api_key.as_ref().ok_or_else(|| {
            carrier_error(CarrierError::AuthFailed(
                "the credentials have no API key".into(),
            ))
        })?;
        let credentials = Credentials::new(c.version.base_url.clone(), key.expose_secret());
        Ok(match c.gateway.kind {
            CarrierKind::Easypost => Box::new(
                carriers::easypost::EasyPost::new(credentials)
                    .with_client(self.client.clone())
                    .with_policy(self.policy.clone()),
            ),
            CarrierKind::Shippo => Box::new(
                carriers::shippo::Shippo::new(credentials)
                    .with_client(self.client.clone())
                    .with_policy(self.policy.clone()),
            ),
        })
    }
}

/// A carrier's failure as the API reports it (the carrier's words, never a key).
pub fn carrier_error(e: CarrierError) -> AppError {
    AppError::Carrier {
        code: e.code(),
        message: e.to_string(),
    }
}

/// One quoted rate; `id` is what `buyShippingLabel` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotedRate {
    pub id: String,
    pub carrier: String,
    pub service: String,
    pub amount: Money,
    pub delivery_days: Option<u32>,
}

/// A quote: the rates, and the carriers that could not rate the parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub rates: Vec<QuotedRate>,
    pub errors: Vec<(String, String)>,
}

/// What a rate id carries: which account quoted it, and the carrier's own reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RateToken {
    g: CarrierCode,
    a: AccountId,
    s: Option<String>,
    r: String,
}

/// What a bought label's carrier reference carries: the account, and the carrier's reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LabelRef {
    g: CarrierCode,
    a: AccountId,
    r: String,
}

fn encode<T: Serialize>(v: &T) -> AppResult<String> {
    let json =
        serde_json::to_vec(v).map_err(|_| AppError::internal("cannot encode a reference"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
}

fn decode<T: for<'de> Deserialize<'de>>(field: &str, s: &str) -> AppResult<T> {
    let invalid = || AppError::Invalid {
        field: field.into(),
        message: "not one of our references".into(),
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

fn address(a: &domain::contact::Address, email: Option<&str>) -> carriers::Address {
    carriers::Address {
        name: a.name.clone(),
        company: None,
        street1: a.line1.clone(),
        street2: a.line2.clone(),
        city: a.city.clone(),
        state: a.region.clone(),
        zip: a.postal_code.clone(),
        country: a.country.clone(),
        phone: a.phone.clone(),
        email: email.map(str::to_owned),
    }
}

fn shipment_of(order: &Order, id: ShipmentId) -> AppResult<&Shipment> {
    order
        .shipment(id)
        .ok_or(AppError::NotFound { what: "shipment" })
}

/// The carrier's view of a shipment: from its pickup address to its destination, its package.
fn request(order: &Order, s: &Shipment) -> AppResult<ShipmentRequest> {
    let from = s.pickup.as_ref().ok_or_else(|| AppError::Invalid {
        field: "pickup".into(),
        message: "the shipment needs a pickup address (where the parcel ships from) to be rated"
            .into(),
    })?;
    let package = s.package.as_ref().ok_or_else(|| AppError::Invalid {
        field: "package".into(),
        message: "the shipment needs a package (weight and size) to be rated".into(),
    })?;
    Ok(ShipmentRequest {
        from: address(&from.address, None),
        to: address(&s.destination, Some(order.customer().email.as_str())),
        parcel: carriers::Parcel {
            weight_grams: package.weight_grams,
            length_mm: package.length_mm,
            width_mm: package.width_mm,
            height_mm: package.height_mm,
        },
        reference: Some(format!("{}/{}", order.id(), s.id)),
    })
}

fn tracking_status(s: TrackStatus) -> Option<TrackingStatus> {
    match s {
        TrackStatus::PreTransit => Some(TrackingStatus::PreTransit),
        TrackStatus::InTransit => Some(TrackingStatus::InTransit),
        TrackStatus::OutForDelivery => Some(TrackingStatus::OutForDelivery),
        TrackStatus::Delivered => Some(TrackingStatus::Delivered),
        TrackStatus::Failure => Some(TrackingStatus::Failure),
        TrackStatus::Returned => Some(TrackingStatus::Returned),
        TrackStatus::Unknown => None,
    }
}

impl App {
    fn connector(&self) -> AppResult<&Arc<dyn CarrierConnector>> {
        self.connector
            .as_ref()
            .ok_or_else(|| AppError::internal("no carrier connector is configured"))
    }

    /// The carrier of an account, with the credentials in force now.
    async fn carrier_for(
        &self,
        rc: &RequestCtx,
        op: Operation,
        gateway: &CarrierCode,
        account: &AccountId,
    ) -> AppResult<Box<dyn Carrier>> {
        let credentials = self
            .effective_credentials(rc, op, gateway, account, self.now())
            .await?;
        self.connector()?.connect(&credentials)
    }

    /// Rates for a confirmed shipment from one gateway account.
    pub async fn shipping_rates(
        &self,
        rc: &RequestCtx,
        order: OrderId,
        shipment: ShipmentId,
        gateway: &CarrierCode,
        account: &AccountId,
    ) -> AppResult<Quote> {
        let op = Operation::GetRates;
        let (stored, _) = self.load_for(rc, op, order, false).await?;
        let identity = rc.identity(op)?;
        own_shipment(identity, op, &stored.order, shipment)?;
        let s = shipment_of(&stored.order, shipment)?;
        let req = request(&stored.order, s)?;
        let carrier = self.carrier_for(rc, op, gateway, account).await?;
        let rates = carrier.rates(&req).await.map_err(carrier_error)?;
        let quoted = rates
            .rates
            .into_iter()
            .map(|r| {
                let token = RateToken {
                    g: gateway.clone(),
                    a: account.clone(),
                    s: r.rate.carrier_shipment.clone(),
                    r: r.rate.rate_id.clone(),
                };
                Ok(QuotedRate {
                    id: encode(&token)?,
                    carrier: r.carrier,
                    service: r.service,
                    amount: r.amount,
                    delivery_days: r.delivery_days,
                })
            })
            .collect::<AppResult<_>>()?;
        Ok(Quote {
            rates: quoted,
            errors: rates
                .errors
                .into_iter()
                .map(|e| (e.carrier, e.message))
                .collect(),
        })
    }

    /// Buys the label of a quoted rate: the shipment moves to LABEL_PURCHASED with its tracking
    /// number, which both tracking indexes learn in the same transaction.
    pub async fn buy_shipping_label(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        shipment: ShipmentId,
        rate_id: &str,
    ) -> AppResult<Order> {
        let op = Operation::BuyLabel;
        let token: RateToken = decode("rateId", rate_id)?;
        let (stored, _) = self.load_for(rc, op, order.id, false).await?;
        let identity = rc.identity(op)?;
        own_shipment(identity, op, &stored.order, shipment)?;
        if shipment_of(&stored.order, shipment)?.status != ShipmentStatus::Confirmed {
            return Err(AppError::Invalid {
                field: "shipmentId".into(),
                message: "a label is bought for a CONFIRMED shipment".into(),
            });
        }
        let carrier = self.carrier_for(rc, op, &token.g, &token.a).await?;
        let label = carrier
            .buy_label(&RateRef {
                rate_id: token.r.clone(),
                carrier_shipment: token.s.clone(),
            })
            .await
            .map_err(carrier_error)?;
        // The same code a carrier's webhook names it by, so both find the label.
        let carrier_code =
            domain::webhook::carrier_code_of(&label.carrier).map_err(AppError::from)?;
        let number = TrackingNumber::parse(&label.tracking_number).map_err(AppError::from)?;
        let reference = encode(&LabelRef {
            g: token.g,
            a: token.a,
            r: label.carrier_reference.clone(),
        })?;
        let printed = Label {
            url: label.label_url.clone(),
            format: label.label_format.clone(),
        };
        tracing::info!(order = %order.id, %shipment, carrier = %carrier_code, "label bought");
        let spec = CommandSpec::new(op, order);
        self.order_command(rc, uow, spec, |o, env| {
            own_shipment(env.identity, env.op, o, shipment)?;
            Ok(Change::events(o.record_label(
                env.ctx,
                shipment,
                carrier_code.clone(),
                number.clone(),
                printed.clone(),
                &reference,
            )?))
        })
        .await
        .map(|(o, ())| o)
    }

    /// The gateway account and carrier reference of a label bought here.
    fn label_ref(s: &Shipment) -> AppResult<LabelRef> {
        let reference = s
            .carrier_reference
            .as_deref()
            .ok_or_else(|| AppError::Invalid {
                field: "shipmentId".into(),
                message: "the shipment has no label bought through the gateway".into(),
            })?;
        decode("shipmentId", reference)
    }

    /// Voids the label at the carrier, then cancels the shipment (its quantities are free
    /// again). A carrier that refuses the void leaves everything as it was.
    pub async fn void_shipping_label(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        shipment: ShipmentId,
    ) -> AppResult<Order> {
        let op = Operation::VoidLabel;
        let (stored, _) = self.load_for(rc, op, order.id, false).await?;
        let identity = rc.identity(op)?;
        own_shipment(identity, op, &stored.order, shipment)?;
        let s = shipment_of(&stored.order, shipment)?;
        if s.status != ShipmentStatus::LabelPurchased {
            return Err(AppError::Invalid {
                field: "shipmentId".into(),
                message: "only a label not yet in transit can be voided".into(),
            });
        }
        let label = Self::label_ref(s)?;
        let carrier = self.carrier_for(rc, op, &label.g, &label.a).await?;
        match carrier.void_label(&label.r).await.map_err(carrier_error)? {
            carriers::VoidOutcome::Rejected(why) => {
                return Err(carrier_error(CarrierError::Rejected(why)));
            }
            carriers::VoidOutcome::Submitted | carriers::VoidOutcome::Refunded => {}
        }
        let spec = CommandSpec::new(op, order);
        self.order_command(rc, uow, spec, |o, env| {
            Ok(Change::events(o.cancel_shipment(env.ctx, shipment)?))
        })
        .await
        .map(|(o, ())| o)
    }

    /// Polls the carrier for a label's tracking and applies it through the same command as a
    /// tracking webhook (never backwards, never out of a terminal state).
    pub async fn track_shipment(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        shipment: ShipmentId,
    ) -> AppResult<Tracked> {
        let op = Operation::TrackShipment;
        let (stored, _) = self.load_for(rc, op, order.id, false).await?;
        let identity = rc.identity(op)?;
        own_shipment(identity, op, &stored.order, shipment)?;
        let s = shipment_of(&stored.order, shipment)?;
        let label = Self::label_ref(s)?;
        let (carrier_code, number) = match (&s.carrier, &s.tracking_number) {
            (Some(c), Some(n)) => (c.clone(), n.clone()),
            _ => {
                return Err(AppError::Invalid {
                    field: "shipmentId".into(),
                    message: "the shipment has no tracking number".into(),
                });
            }
        };
        let carrier = self.carrier_for(rc, op, &label.g, &label.a).await?;
        let tracking = carrier
            .track(carrier_code.as_str(), number.as_str())
            .await
            .map_err(carrier_error)?;
        let Some(status) = tracking_status(tracking.status) else {
            return Ok(Tracked {
                order: stored.order,
                ignored: true,
            });
        };
        let update = TrackingUpdate {
            carrier: Some(carrier_code),
            tracking_number: Some(number),
            status,
            carrier_status: Some(tracking.raw_status),
        };
        let spec = CommandSpec::new(op, order);
        let (order, ignored) = self
            .order_command(rc, uow, spec, |o, env| {
                Ok(
                    match o.update_tracking(env.ctx, shipment, update.clone())? {
                        domain::order::TrackingOutcome::Applied(events) => Change {
                            events,
                            value: false,
                        },
                        domain::order::TrackingOutcome::Ignored { .. } => Change {
                            events: Vec::new(),
                            value: true,
                        },
                    },
                )
            })
            .await?;
        Ok(Tracked { order, ignored })
    }
}
