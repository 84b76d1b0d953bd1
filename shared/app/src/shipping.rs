//! Carrier calls: address checks, rates for a shipment or a return's label, buying and voiding
//! those labels, and polling a shipment's tracking — each with the tenant's credentials in force
//! at the time of the call, through one carrier interface (the `ports::carrier::Carrier` port).
//! A shipment's customs and label options travel with its request; one that crosses a border
//! without customs is refused before any call. A shipment of several packages is bought in
//! one multi-piece purchase where the carrier has one (FedEx, Shippo), else one label per
//! package under the shipment's one intent, all or none (EasyPost).
//!
//! A purchase or a void costs money or cannot be undone, so it follows DESIGN.md §2 rule 9: an
//! intent is committed on the shipment (or the return: a `CarrierTarget`) before the carrier is
//! called (a racing second call finds it and never reaches the carrier), and the carrier's
//! answer is committed against it. When
//! the answer is lost (a timeout, a failed commit, a killed process) the next operation on the
//! shipment — the same request retried, another buy, or `oms labels reconcile` — looks the
//! call up at the carrier and completes it; nothing is bought or voided twice, and a label the
//! shipment can no longer take is voided and audited. A Shippo purchase left queued stays open
//! under its transaction id and is looked up by it. Every package's tracking number goes into the
//! tenant's tracking index and the SaaS-wide one in the completing transaction (a return label's
//! number, for the return), so carrier webhooks find it on either route — unless another shipment already holds the
//! number there: the label is recorded without that entry, and the tenant audit says so.

use std::sync::Arc;

use crate::ports::StoredOrder;
use auth::Identity;
use domain::access::Operation;
use domain::audit::{AuditOutcome, AuditTarget};
use domain::gateway::AccountRef;
use domain::ids::{AccountId, AuditId, CarrierCode, OrderId, ReturnId, ShipmentId, TrackingNumber};
use domain::order::{
    Bought, CarrierAction, CarrierIntent, CarrierTarget, Customs, IntentOutcome, IntentState,
    Label, Order, Package, PackageLabel, ReturnLabel, ReturnStatus, Shipment, ShipmentStatus,
    TrackingStatus, TrackingUpdate,
};
use domain::{DomainError, Money};
use serde::{Deserialize, Serialize};

use crate::authz::{Audited, user_audit};
use crate::carrier::{LabelRef, Outcome, account_ref, decode, encode};
use crate::context::{Pending, RequestCtx, UnitOfWork};
use crate::credentials::CarrierUse;
use crate::engine::{App, Change, CommandSpec, OrderRef};
use crate::error::{AppError, AppResult};
use crate::orders::{Tracked, own_shipment};
use crate::ports::carrier::{
    Address as CarrierAddress, AddressCheck, Carrier, CarrierConnector, CarrierError, Parcel,
    Purchase, PurchaseLookup, PurchasedLabel, RateRef, ShipmentRequest, TrackStatus, VoidLookup,
    VoidOutcome,
};

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

/// How long an intent may stay open before a lookup that finds nothing closes it: longer than
/// any carrier call can take (a purchase is never retried in-flight; one attempt times out at
/// 10 s), so no call of its can still land after.
pub const INTENT_SETTLE_SECS: i64 = 60;

/// How many times a purchase or void reloads the order after losing a race.
const RETRIES: usize = 3;

/// What a rate id carries: which account quoted it, and the carrier's own reference. Sealed
/// with the server key for one tenant, order and shipment (`rate_purpose`), so a rate id of
/// another shipment, or one a client made up, is refused before any carrier call.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RateToken {
    g: CarrierCode,
    a: AccountId,
    /// The account is the platform's (`platform:<a>`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    p: bool,
    s: Option<String>,
    r: String,
    /// The quoted amount: what a platform account's usage row records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<Money>,
    /// The carrier the quote named where the purchase answer will not (`RateRef::carrier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<String>,
    /// A label per package bought one by one (a carrier without multi-piece shipments): each
    /// package's own quoted rate, in package order. Empty: one purchase for the shipment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    k: Vec<PieceRate>,
    /// A return label's quote: the package it was quoted for (the return keeps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pk: Option<Package>,
}

/// One package's quoted rate of a purchase made package by package.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PieceRate {
    s: Option<String>,
    r: String,
}

/// A quoted rate and, for a purchase made package by package, each package's own.
struct Priced {
    rate: crate::ports::carrier::Rate,
    pieces: Vec<RateRef>,
}

impl RateToken {
    fn account(&self) -> AccountRef {
        account_ref(&self.a, self.p)
    }

    fn rate_ref(&self) -> RateRef {
        RateRef {
            rate_id: self.r.clone(),
            carrier_shipment: self.s.clone(),
            carrier: self.c.clone(),
        }
    }

    /// Each package's rate of a purchase made package by package.
    fn piece_refs(&self) -> Vec<RateRef> {
        self.k
            .iter()
            .map(|p| RateRef {
                rate_id: p.r.clone(),
                carrier_shipment: p.s.clone(),
                carrier: self.c.clone(),
            })
            .collect()
    }
}

/// What a rate id is sealed for: one shipment's labels, or one return's label.
fn rate_purpose(identity: &Identity, order: OrderId, target: CarrierTarget) -> String {
    match target {
        CarrierTarget::Shipment(s) => format!("rate:{}:{order}:{s}", identity.tenant()),
        CarrierTarget::Return(r) => format!("return-rate:{}:{order}:{r}", identity.tenant()),
    }
}

/// The operation an intent's commands are audited as.
fn intent_operation(target: CarrierTarget, action: CarrierAction) -> Operation {
    match (target, action) {
        (CarrierTarget::Shipment(_), CarrierAction::Purchase) => Operation::BuyLabel,
        (CarrierTarget::Shipment(_), CarrierAction::Void) => Operation::VoidLabel,
        (CarrierTarget::Return(_), CarrierAction::Purchase) => Operation::BuyReturnLabel,
        (CarrierTarget::Return(_), CarrierAction::Void) => Operation::VoidReturnLabel,
    }
}

/// A call whose outcome the carrier did not tell and its lookup could not either.
fn outcome_unknown(e: &CarrierError, what: &str, target: CarrierTarget) -> AppError {
    AppError::Carrier {
        code: "carrier_unavailable",
        message: format!(
            "{e}; the {what}'s outcome is not known yet: it is looked up at the carrier by the next \
             operation on this {} (or `oms labels reconcile`), never made twice",
            target.kind()
        ),
    }
}

/// What one purchase call came to.
enum Attempt {
    Bought(PurchasedLabel),
    /// The carrier refused: nothing was bought.
    Refused(CarrierError),
    /// The carrier took it and is still making it, under its own id of it.
    Queued(String),
}

/// One purchase call. A lost answer is looked up at once (a label found is `Bought`); one the
/// lookup cannot tell either is the error, and the intent stays for the next operation.
async fn attempt(
    carrier: &dyn Carrier,
    purchase: &Purchase,
    target: CarrierTarget,
) -> AppResult<Attempt> {
    match carrier.buy_label(purchase).await {
        Ok(label) => Ok(Attempt::Bought(label)),
        Err(CarrierError::Queued { carrier_ref }) => Ok(Attempt::Queued(carrier_ref)),
        Err(e) if e.is_refusal() => Ok(Attempt::Refused(e)),
        Err(e) => match carrier
            .find_purchase(&purchase.rate, &purchase.reference)
            .await
        {
            Ok(PurchaseLookup::Bought(label)) => Ok(Attempt::Bought(label)),
            _ => Err(outcome_unknown(&e, "purchase", target)),
        },
    }
}

/// A label purchase still open at the carrier.
fn in_progress() -> AppError {
    AppError::Rule(DomainError::CarrierCallInProgress {
        action: CarrierAction::Purchase,
    })
}

/// Package `i`'s purchase reference of a purchase made package by package (the intent's id
/// and the package's place: at most 29 characters).
fn piece_reference(intent: &str, i: usize) -> String {
    format!("{intent}-{}", i + 1)
}

/// One purchase of the labels bought package by package: the first's, with every package's
/// (and every insurance charge summed).
fn combine(mut labels: Vec<PurchasedLabel>) -> Option<PurchasedLabel> {
    let packages = labels.iter().flat_map(|l| l.packages.clone()).collect();
    let insurance = labels
        .iter()
        .filter_map(|l| l.insurance_fee)
        .try_fold(None::<Money>, |sum, fee| match sum {
            None => Some(Some(fee)),
            Some(s) => s.checked_add(&fee).ok().map(Some),
        })
        .flatten();
    let mut first = if labels.is_empty() {
        return None;
    } else {
        labels.swap_remove(0)
    };
    first.packages = packages;
    first.insurance_fee = insurance;
    Some(first)
}

/// The packages' void references other than the purchase's own, once each.
fn other_references(label: &PurchasedLabel) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in &label.packages {
        let r = &p.carrier_reference;
        if !r.is_empty() && *r != label.carrier_reference && !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

/// An open carrier intent, as `oms labels reconcile` reports it.
#[derive(Debug, Clone)]
pub struct IntentReport {
    pub order: OrderId,
    /// The shipment, or the return whose label it is.
    pub target: CarrierTarget,
    pub intent: CarrierIntent,
    /// What the lookup did (when one was asked for).
    pub settled: Option<String>,
}

/// Where a purchase or void stands before it starts (`App::start_call`).
enum Start {
    /// This very request's call is done: its answer.
    Answer(Box<Order>),
    /// The order changed under it: load it again.
    Again,
    /// Call the carrier.
    Go(Box<StoredOrder>),
}

/// What became of an intent found on a shipment.
pub(crate) enum Settled {
    /// Its outcome is committed: the order after.
    Completed(Box<Order>),
    /// The call never happened and cannot any more: the intent is closed.
    Closed,
    /// It may still be in flight (or only a person can tell).
    InFlight,
}

fn address(a: &domain::contact::Address, email: Option<&str>) -> CarrierAddress {
    CarrierAddress {
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

/// A shipment that crosses a border without its customs declaration: refused before any call.
fn customs_needed(
    from: &CarrierAddress,
    to: &CarrierAddress,
    customs: Option<&Customs>,
) -> AppResult<()> {
    if from.country != to.country && customs.is_none() {
        return Err(AppError::Rule(DomainError::CustomsRequired {
            from: from.country.clone(),
            to: to.country.clone(),
        }));
    }
    Ok(())
}

/// The carrier's view of a shipment: from its pickup address to its destination, its package.
fn request(order: &Order, s: &Shipment) -> AppResult<ShipmentRequest> {
    let from = s.pickup.as_ref().ok_or_else(|| AppError::Invalid {
        field: "pickup".into(),
        message: "the shipment needs a pickup address (where the parcel ships from) to be rated"
            .into(),
    })?;
    if s.packages.is_empty() {
        return Err(AppError::Invalid {
            field: "packages".into(),
            message: "the shipment needs a package (weight and size) to be rated".into(),
        });
    }
    let (from, to) = (
        address(&from.address, None),
        address(&s.destination, Some(order.customer().email.as_str())),
    );
    customs_needed(&from, &to, s.customs.as_ref())?;
    Ok(ShipmentRequest {
        from,
        to,
        parcels: s
            .packages
            .iter()
            .map(|p| Parcel {
                weight_grams: p.package.weight_grams,
                length_mm: p.package.length_mm,
                width_mm: p.package.width_mm,
                height_mm: p.package.height_mm,
            })
            .collect(),
        reference: Some(format!("{}/{}", order.id(), s.id)),
        is_return: false,
        customs: s.customs.clone(),
        options: s.label_options.clone(),
    })
}

/// The carrier's view of a return's label: from where the customer received the shipment that
/// delivered the returned items, back to `warehouse` (the tenant's return address) or else to
/// that shipment's pickup address, in one package, with the carrier's return flag.
fn return_request(
    order: &Order,
    id: ReturnId,
    package: Package,
    warehouse: Option<&domain::contact::Address>,
) -> AppResult<ShipmentRequest> {
    let source = order
        .shipment_of_return(id)
        .ok_or_else(|| AppError::Invalid {
            field: "returnId".into(),
            message: "no delivered shipment carried the returned items".into(),
        })?;
    let to = warehouse
        .or(source.pickup.as_ref().map(|p| &p.address))
        .ok_or_else(|| AppError::Invalid {
            field: "returnId".into(),
            message: "nowhere to return to: the shipment has no pickup address and the tenant \
                      config no returnAddress"
                .into(),
        })?;
    let (from, to) = (
        address(&source.destination, Some(order.customer().email.as_str())),
        address(to, None),
    );
    // The outbound declaration, as returned goods.
    let customs = source.customs.clone().map(|c| Customs {
        contents_type: domain::order::ContentsType::ReturnedGoods,
        ..c
    });
    customs_needed(&from, &to, customs.as_ref())?;
    Ok(ShipmentRequest {
        from,
        to,
        parcels: vec![Parcel {
            weight_grams: package.weight_grams,
            length_mm: package.length_mm,
            width_mm: package.width_mm,
            height_mm: package.height_mm,
        }],
        reference: Some(format!("{}/{id}", order.id())),
        is_return: true,
        customs,
        options: domain::order::LabelOptions {
            format: source.label_options.format,
            size: source.label_options.size.clone(),
            ..Default::default()
        },
    })
}

/// The package a return's label is quoted for: the one given, else the first package of the
/// shipment that delivered the returned items.
fn return_package(order: &Order, id: ReturnId, given: Option<Package>) -> AppResult<Package> {
    given
        .or_else(|| {
            order
                .shipment_of_return(id)
                .and_then(|s| s.packages.first())
                .map(|p| p.package)
        })
        .ok_or_else(|| AppError::Invalid {
            field: "package".into(),
            message: "give the return's package (weight and size): the shipment had none".into(),
        })
}

/// The order's return `id`, or NOT_FOUND.
fn return_of(order: &Order, id: ReturnId) -> AppResult<&domain::order::Return> {
    order
        .return_(id)
        .ok_or(AppError::NotFound { what: "return" })
}

/// The caller may act on the target: a vendor only on shipments of its own lines; a return is
/// the tenant's (its operations are not a vendor's).
fn own_target(
    identity: &Identity,
    op: Operation,
    order: &Order,
    target: CarrierTarget,
) -> AppResult<()> {
    match target {
        CarrierTarget::Shipment(id) => own_shipment(identity, op, order, id),
        CarrierTarget::Return(id) => return_of(order, id).map(|_| ()),
    }
}

/// How `createShipment` checks its destination with a carrier first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    None,
    /// Keep the carrier's remarks on the shipment, create it whatever they say.
    Warn,
    /// Refuse an address the carrier cannot deliver to.
    Strict,
}

/// `createShipment(verify: …)`: the mode and the gateway account whose carrier checks.
#[derive(Debug, Clone)]
pub struct Verify {
    pub mode: VerifyMode,
    pub gateway: CarrierCode,
    pub account: Option<AccountRef>,
}

/// Our name of a destination field a carrier's remark names (`street1` → `destination.line1`).
fn destination_field(carrier_field: Option<&str>) -> &'static str {
    match carrier_field {
        Some("street1" | "line1") => "destination.line1",
        Some("street2" | "line2") => "destination.line2",
        Some("city") => "destination.city",
        Some("state" | "region") => "destination.region",
        Some("zip" | "postalCode") => "destination.postalCode",
        Some("country") => "destination.country",
        _ => "destination",
    }
}

/// What a WARN check keeps on the shipment: the carrier's remarks, and what it would correct.
fn address_remarks(check: &AddressCheck, given: &CarrierAddress) -> Vec<String> {
    let mut out: Vec<String> = check
        .messages
        .iter()
        .map(|m| match &m.field {
            Some(f) => format!("{}: {} ({f})", m.code, m.message),
            None => format!("{}: {}", m.code, m.message),
        })
        .collect();
    if !check.deliverable && out.is_empty() {
        out.push("UNDELIVERABLE: the carrier found no deliverable address".to_owned());
    }
    let c = &check.address;
    if check.deliverable
        && (c.street1 != given.street1 || c.city != given.city || c.zip != given.zip)
    {
        out.push(format!(
            "CORRECTED: the carrier delivers to {}, {} {}",
            c.street1, c.city, c.zip
        ));
    }
    out
}

/// The API's name of a target's id field.
fn target_field(target: CarrierTarget) -> &'static str {
    match target {
        CarrierTarget::Shipment(_) => "shipmentId",
        CarrierTarget::Return(_) => "returnId",
    }
}

/// Where a shipment or return is, as a refusal says it: a label bought meanwhile (by another
/// request) reads so.
fn where_it_is(order: &Order, target: CarrierTarget, action: CarrierAction) -> String {
    match target {
        CarrierTarget::Shipment(id) => match order.shipment(id) {
            Some(s)
                if action == CarrierAction::Purchase
                    && s.carrier_reference.is_some()
                    && s.status != ShipmentStatus::Cancelled =>
            {
                "it already has its label".to_owned()
            }
            Some(s) => format!("it is {}", s.status.as_str()),
            None => "it is gone".to_owned(),
        },
        CarrierTarget::Return(id) => match order.return_(id) {
            Some(r) if r.label.is_some() => format!("it is {} with its label", r.status.as_str()),
            Some(r) => format!("it is {} without a label", r.status.as_str()),
            None => "it is gone".to_owned(),
        },
    }
}

/// A return's label from its purchase: one package (a return ships in one), the package its
/// rate was quoted for.
fn return_label(
    token: &RateToken,
    carrier: &CarrierCode,
    labels: &[PackageLabel],
    reference: &str,
) -> Result<ReturnLabel, DomainError> {
    match (labels, token.pk) {
        ([one], Some(package)) => Ok(ReturnLabel {
            package,
            carrier: carrier.clone(),
            tracking_number: one.tracking_number.clone(),
            label: one.label.clone(),
            carrier_reference: reference.to_owned(),
        }),
        _ => Err(DomainError::Invalid {
            field: "labels",
            reason: format!(
                "a return ships in one package with its quoted size: {} labels bought",
                labels.len()
            ),
        }),
    }
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

/// Rates of a shipment whose carrier ships one parcel at a time: each package quoted on its
/// own, and a service offered for every package priced as the sum of theirs (delivery: the
/// slowest); a service missing for any package is not offered.
async fn per_package_rates(
    carrier: &dyn Carrier,
    req: &ShipmentRequest,
) -> AppResult<(Vec<Priced>, Vec<crate::ports::carrier::RateError>)> {
    let mut combined: Vec<Priced> = Vec::new();
    let mut errors = Vec::new();
    for (i, parcel) in req.parcels.iter().enumerate() {
        let one = ShipmentRequest {
            parcels: vec![*parcel],
            ..req.clone()
        };
        let rates = carrier.rates(&one).await.map_err(carrier_error)?;
        errors.extend(rates.errors);
        if i == 0 {
            combined = rates
                .rates
                .into_iter()
                .map(|r| Priced {
                    pieces: vec![r.rate.clone()],
                    rate: r,
                })
                .collect();
            continue;
        }
        combined.retain_mut(|c| {
            let Some(same) = rates
                .rates
                .iter()
                .find(|r| r.carrier == c.rate.carrier && r.service == c.rate.service)
            else {
                return false;
            };
            let Ok(sum) = c.rate.amount.checked_add(&same.amount) else {
                return false;
            };
            c.rate.amount = sum;
            c.rate.delivery_days = c.rate.delivery_days.max(same.delivery_days);
            c.pieces.push(same.rate.clone());
            true
        });
    }
    Ok((combined, errors))
}

impl App {
    fn connector(&self) -> AppResult<&Arc<dyn CarrierConnector>> {
        self.connector
            .as_ref()
            .ok_or_else(|| AppError::internal("no carrier connector is configured"))
    }

    /// The carrier of an account (the tenant's own, or a platform account), with the credentials
    /// in force now. New business (a quote, a purchase) needs a platform account still offered
    /// to the tenant's plan; what follows a purchase (its lookup, its void, tracking) uses the
    /// account that bought the label, offered or not (a withdrawn offer strands no label).
    async fn carrier_for(
        &self,
        rc: &RequestCtx,
        op: Operation,
        gateway: &CarrierCode,
        account: &AccountRef,
    ) -> AppResult<Box<dyn Carrier>> {
        let use_ = match op {
            Operation::GetRates
            | Operation::BuyLabel
            | Operation::ReturnShippingRates
            | Operation::BuyReturnLabel => CarrierUse::NewBusiness,
            _ => CarrierUse::FollowUp,
        };
        self.carrier_of(rc, op, gateway, account, use_).await
    }

    /// `carrier_for` for what follows a purchase (a lookup, an orphan's void) whatever the op.
    async fn carrier_of(
        &self,
        rc: &RequestCtx,
        op: Operation,
        gateway: &CarrierCode,
        account: &AccountRef,
        use_: CarrierUse,
    ) -> AppResult<Box<dyn Carrier>> {
        let credentials = self
            .effective_credentials(rc, op, gateway, account, self.now(), use_)
            .await?;
        self.connector()?
            .connect(&credentials)
            .map_err(carrier_error)
    }

    /// An address checked by a gateway account's carrier (the account named, else the tenant's
    /// own account of the gateway, else the platform account offered to its plan): deliverable
    /// or not, corrected, residential or not, the carrier's remarks.
    pub async fn validate_address(
        &self,
        rc: &RequestCtx,
        a: &domain::contact::Address,
        gateway: &CarrierCode,
        account: Option<&AccountRef>,
    ) -> AppResult<AddressCheck> {
        let op = Operation::ValidateAddress;
        self.enter(rc, op).await?;
        let account = match account {
            Some(a) => a.clone(),
            None => self.default_account(rc, op, gateway).await?,
        };
        let carrier = self.carrier_for(rc, op, gateway, &account).await?;
        carrier
            .verify_address(&address(a, None))
            .await
            .map_err(carrier_error)
    }

    /// `createShipment` with its destination checked by a carrier first: STRICT refuses one the
    /// carrier cannot deliver to with `ADDRESS_INVALID` (naming the field) and writes nothing;
    /// WARN keeps the carrier's remarks on the shipment; NONE checks nothing.
    pub async fn create_shipment_verified(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        mut new: domain::order::NewShipment,
        verify: Option<Verify>,
    ) -> AppResult<(Order, ShipmentId)> {
        if let Some(v) = verify.filter(|v| v.mode != VerifyMode::None) {
            let (stored, _) = self
                .load_for(rc, Operation::CreateShipment, order.id, false)
                .await?;
            let destination = new
                .destination
                .clone()
                .unwrap_or_else(|| stored.order.destination().clone());
            let check = self
                .validate_address(rc, &destination, &v.gateway, v.account.as_ref())
                .await?;
            if !check.deliverable && v.mode == VerifyMode::Strict {
                let first = check.messages.first();
                return Err(AppError::Rule(DomainError::AddressInvalid {
                    field: destination_field(first.and_then(|m| m.field.as_deref())),
                    reason: first.map_or_else(
                        || "the carrier found no deliverable address".to_owned(),
                        |m| format!("{}: {}", m.code, m.message),
                    ),
                }));
            }
            new.address_messages = address_remarks(&check, &address(&destination, None));
        }
        self.create_shipment(rc, uow, order, new).await
    }

    /// Rates for a confirmed shipment from one gateway account: the one named, else the
    /// tenant's own account of the gateway, else the platform account offered to its plan.
    pub async fn shipping_rates(
        &self,
        rc: &RequestCtx,
        order: OrderId,
        shipment: ShipmentId,
        gateway: &CarrierCode,
        account: Option<&AccountRef>,
    ) -> AppResult<Quote> {
        let op = Operation::GetRates;
        let (stored, _) = self.load_for(rc, op, order, false).await?;
        let identity = rc.identity(op)?;
        own_shipment(identity, op, &stored.order, shipment)?;
        let s = shipment_of(&stored.order, shipment)?;
        let req = request(&stored.order, s)?;
        self.quote(
            rc,
            op,
            (order, shipment.into()),
            req,
            gateway,
            account,
            None,
        )
        .await
    }

    /// Rates for a return's label (`returnShippingRates`): from where the customer received the
    /// items back to the tenant's return address or the shipment's pickup address, for the
    /// package given (else the shipment's first), with the carrier's return flag. The return
    /// must be APPROVED without a label.
    pub async fn return_shipping_rates(
        &self,
        rc: &RequestCtx,
        order: OrderId,
        id: ReturnId,
        package: Option<Package>,
        gateway: &CarrierCode,
        account: Option<&AccountRef>,
    ) -> AppResult<Quote> {
        let op = Operation::ReturnShippingRates;
        let (stored, config) = self.load_for(rc, op, order, true).await?;
        let r = return_of(&stored.order, id)?;
        if r.status != ReturnStatus::Approved || r.label.is_some() {
            return Err(AppError::Invalid {
                field: "returnId".into(),
                message: format!(
                    "a return label is bought for an APPROVED return without one; it is {}{}",
                    r.status.as_str(),
                    if r.label.is_some() {
                        " with its label"
                    } else {
                        ""
                    }
                ),
            });
        }
        let package = return_package(&stored.order, id, package)?;
        let warehouse = config.return_address();
        let req = return_request(&stored.order, id, package, warehouse)?;
        self.quote(
            rc,
            op,
            (order, id.into()),
            req,
            gateway,
            account,
            Some(package),
        )
        .await
    }

    /// The rates of `req` from one gateway account (the one named, else the tenant's own
    /// account of the gateway, else the platform account offered to its plan), each sealed
    /// into a rate id for this very tenant, order and target.
    #[allow(clippy::too_many_arguments)]
    async fn quote(
        &self,
        rc: &RequestCtx,
        op: Operation,
        (order, target): (OrderId, CarrierTarget),
        req: ShipmentRequest,
        gateway: &CarrierCode,
        account: Option<&AccountRef>,
        package: Option<Package>,
    ) -> AppResult<Quote> {
        let identity = rc.identity(op)?;
        let account = match account {
            Some(a) => a.clone(),
            None => self.default_account(rc, op, gateway).await?,
        };
        let carrier = self.carrier_for(rc, op, gateway, &account).await?;
        let (priced, errors) = if req.parcels.len() > 1 && !carrier.multi_piece() {
            per_package_rates(carrier.as_ref(), &req).await?
        } else {
            let rates = carrier.rates(&req).await.map_err(carrier_error)?;
            let priced = rates
                .rates
                .into_iter()
                .map(|rate| Priced {
                    rate,
                    pieces: Vec::new(),
                })
                .collect();
            (priced, rates.errors)
        };
        let purpose = rate_purpose(identity, order, target);
        let quoted = priced
            .into_iter()
            .map(|Priced { rate: r, pieces }| {
                let token = RateToken {
                    g: gateway.clone(),
                    a: account.account().clone(),
                    p: matches!(account, AccountRef::Platform(_)),
                    s: r.rate.carrier_shipment.clone(),
                    r: r.rate.rate_id.clone(),
                    m: Some(r.amount),
                    c: r.rate.carrier.clone(),
                    k: pieces
                        .into_iter()
                        .map(|p| PieceRate {
                            s: p.carrier_shipment,
                            r: p.rate_id,
                        })
                        .collect(),
                    pk: package,
                };
                let body = serde_json::to_vec(&token)
                    .map_err(|_| AppError::internal("cannot encode a rate"))?;
                Ok(QuotedRate {
                    id: self
                        .signer
                        .seal(&purpose, &body)
                        .map_err(|_| AppError::internal("cannot sign a rate id"))?,
                    carrier: r.carrier,
                    service: r.service,
                    amount: r.amount,
                    delivery_days: r.delivery_days,
                })
            })
            .collect::<AppResult<_>>()?;
        Ok(Quote {
            rates: quoted,
            errors: errors.into_iter().map(|e| (e.carrier, e.message)).collect(),
        })
    }

    /// Buys the label of a quoted rate, exactly once: the purchase is recorded as an intent on
    /// the shipment (committed at once) before the carrier is called, and the label committed
    /// against it. A second buy, whatever its key, finds the intent and answers
    /// `PURCHASE_IN_PROGRESS` — or, for the same key, the first buy's answer — without calling
    /// the carrier. A purchase whose answer was lost is looked up at the carrier, never re-bought.
    pub async fn buy_shipping_label(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        shipment: ShipmentId,
        rate_id: &str,
    ) -> AppResult<Order> {
        self.buy_label(rc, uow, order, shipment.into(), rate_id)
            .await
    }

    /// Buys a return's label of a rate `returnShippingRates` quoted, exactly once (the rules of
    /// `buy_shipping_label`, the intent on the return). The return keeps the label, and its
    /// number is claimed for the return in both tracking indexes.
    pub async fn buy_return_label(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        id: ReturnId,
        rate_id: &str,
    ) -> AppResult<Order> {
        self.buy_label(rc, uow, order, id.into(), rate_id).await
    }

    /// The carrier's view of what a purchase is for, as it stands now.
    async fn request_of(
        &self,
        identity: &Identity,
        order: &Order,
        target: CarrierTarget,
        token: &RateToken,
    ) -> AppResult<ShipmentRequest> {
        match target {
            CarrierTarget::Shipment(id) => request(order, shipment_of(order, id)?),
            CarrierTarget::Return(id) => {
                let package = token
                    .pk
                    .ok_or_else(|| AppError::internal("a return's rate without its package"))?;
                let config = self.configs.current(identity.scope()).await?;
                return_request(order, id, package, config.return_address())
            }
        }
    }

    async fn buy_label(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        target: CarrierTarget,
        rate_id: &str,
    ) -> AppResult<Order> {
        let op = intent_operation(target, CarrierAction::Purchase);
        let identity = rc.identity(op)?.clone();
        for _ in 0..RETRIES {
            let stored = match self
                .start_call(
                    rc,
                    uow,
                    &identity,
                    order.id,
                    target,
                    CarrierAction::Purchase,
                )
                .await?
            {
                Start::Answer(o) => return Ok(*o),
                Start::Again => continue,
                Start::Go(stored) => *stored,
            };
            // After the shipment's own checks (a border crossed without customs is refused
            // whatever rate is named).
            let token = self.open_rate(&identity, order.id, target, rate_id)?;
            let carrier = self.carrier_for(rc, op, &token.g, &token.account()).await?;
            let parcel = self
                .request_of(&identity, &stored.order, target, &token)
                .await?;
            let Some(intent) = self
                .open_intent(
                    rc,
                    &identity,
                    stored,
                    target,
                    CarrierAction::Purchase,
                    &encode(&token)?,
                    uow.key(),
                )
                .await?
            else {
                continue;
            };
            if let (false, CarrierTarget::Shipment(shipment)) = (token.k.is_empty(), target) {
                return self
                    .buy_per_package(
                        rc, uow, &identity, order.id, shipment, &intent, &token, &*carrier, &parcel,
                    )
                    .await;
            }
            // The intent's id (a 26-character ULID) is this attempt's reference at the carrier:
            // the lookup of a lost answer asks for it, and finds this attempt's label only.
            let purchase = Purchase {
                rate: token.rate_ref(),
                shipment: parcel,
                reference: intent.clone(),
            };
            let bought = match attempt(&*carrier, &purchase, target).await? {
                Attempt::Bought(label) => label,
                Attempt::Queued(carrier_ref) => {
                    // Taken, not yet made: the intent stays open under the carrier's id of it,
                    // and whoever comes next looks that up (never a second purchase).
                    tracing::info!(order = %order.id, %target, "label purchase queued by the carrier");
                    self.leave_open(
                        rc,
                        order.id,
                        target,
                        &intent,
                        CarrierAction::Purchase,
                        Some(&carrier_ref),
                    )
                    .await?;
                    return Err(in_progress());
                }
                Attempt::Refused(e) => {
                    tracing::info!(order = %order.id, %target, code = e.code(), "label purchase refused by the carrier");
                    self.void_and_refuse(rc, &identity, (order.id, target), &intent, &token, &[])
                        .await?;
                    return Err(carrier_error(e));
                }
            };
            self.outcomes.put(&intent, Outcome::Bought(bought.clone()));
            return self
                .complete_purchase(
                    rc, uow, &identity, order.id, target, &intent, &token, bought,
                )
                .await;
        }
        Err(AppError::Conflict("the order kept changing; retry".into()))
    }

    /// Buys a label per package, one by one, under the shipment's one purchase intent, all or
    /// none: a refusal of package k voids packages 1..k-1's labels at the carrier (each void
    /// audited) and closes the intent; an answer lost is looked up, and when it cannot be, the
    /// intent stays for the lookup (`settle`), which records the labels only when every package
    /// has one.
    #[allow(clippy::too_many_arguments)]
    async fn buy_per_package(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        identity: &Identity,
        order: OrderId,
        shipment: ShipmentId,
        intent: &str,
        token: &RateToken,
        carrier: &dyn Carrier,
        req: &ShipmentRequest,
    ) -> AppResult<Order> {
        let mut bought = Vec::new();
        for (i, (rate, parcel)) in token.piece_refs().into_iter().zip(&req.parcels).enumerate() {
            let purchase = Purchase {
                rate,
                shipment: ShipmentRequest {
                    parcels: vec![*parcel],
                    ..req.clone()
                },
                reference: piece_reference(intent, i),
            };
            match attempt(carrier, &purchase, shipment.into()).await? {
                Attempt::Bought(label) => bought.push(label),
                Attempt::Refused(e) => {
                    tracing::info!(%order, %shipment, package = i + 1, code = e.code(), "a package's label was refused: the others are voided");
                    let target = shipment.into();
                    self.void_and_refuse(rc, identity, (order, target), intent, token, &bought)
                        .await?;
                    return Err(carrier_error(e));
                }
                // Still being made: the intent stays open, and the lookup of each package
                // (`settle`) completes or voids the whole purchase.
                Attempt::Queued(_) => return Err(in_progress()),
            }
        }
        let label =
            combine(bought).ok_or_else(|| AppError::internal("a purchase of no package"))?;
        self.outcomes.put(intent, Outcome::Bought(label.clone()));
        self.complete_purchase(
            rc,
            uow,
            identity,
            order,
            shipment.into(),
            intent,
            token,
            label,
        )
        .await
    }

    /// A purchase that cannot stand on its shipment or return: the labels it did buy voided at
    /// the carrier (each audited) and its intent closed as refused, so a later buy may try again.
    async fn void_and_refuse(
        &self,
        rc: &RequestCtx,
        identity: &Identity,
        (order, target): (OrderId, CarrierTarget),
        intent: &str,
        token: &RateToken,
        labels: &[PurchasedLabel],
    ) -> AppResult<()> {
        for label in labels {
            self.void_orphan(rc, identity, order, target, token, label)
                .await;
        }
        self.close_intent(
            rc,
            order,
            target,
            intent,
            CarrierAction::Purchase,
            IntentOutcome::Refused,
        )
        .await
    }

    /// What became of a purchase made package by package whose answer was lost: every package
    /// bought (the labels), none (`NotBought`), or some — then, once no call can still land,
    /// the bought ones are voided and it is `NotBought`; before that, `Pending`.
    #[allow(clippy::too_many_arguments)]
    async fn find_pieces(
        &self,
        rc: &RequestCtx,
        identity: &Identity,
        order: OrderId,
        shipment: ShipmentId,
        intent: &str,
        token: &RateToken,
        carrier: &dyn Carrier,
        stale: bool,
    ) -> Result<PurchaseLookup, CarrierError> {
        let mut bought = Vec::new();
        let pieces = token.piece_refs();
        for (i, rate) in pieces.iter().enumerate() {
            match carrier
                .find_purchase(rate, &piece_reference(intent, i))
                .await?
            {
                PurchaseLookup::Bought(label) => bought.push(label),
                PurchaseLookup::Pending => return Ok(PurchaseLookup::Pending),
                PurchaseLookup::NotBought => {}
            }
        }
        if bought.len() == pieces.len() {
            return Ok(combine(bought).map_or(PurchaseLookup::NotBought, PurchaseLookup::Bought));
        }
        if bought.is_empty() {
            return Ok(PurchaseLookup::NotBought);
        }
        if !stale {
            return Ok(PurchaseLookup::Pending);
        }
        for label in &bought {
            self.void_orphan(rc, identity, order, shipment.into(), token, label)
                .await;
        }
        Ok(PurchaseLookup::NotBought)
    }

    /// Voids the label at the carrier, exactly once, then cancels the shipment (its quantities
    /// are free again): intent, carrier call, commit, as for a purchase. A carrier that refuses
    /// the void leaves everything as it was.
    pub async fn void_shipping_label(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        shipment: ShipmentId,
    ) -> AppResult<Order> {
        self.void_label(rc, uow, order, shipment.into()).await
    }

    /// Voids a return's label at the carrier, exactly once (the rules of
    /// `void_shipping_label`): the return keeps its status and has no label (another may be
    /// bought).
    pub async fn void_return_label(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        id: ReturnId,
    ) -> AppResult<Order> {
        self.void_label(rc, uow, order, id.into()).await
    }

    async fn void_label(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        target: CarrierTarget,
    ) -> AppResult<Order> {
        let op = intent_operation(target, CarrierAction::Void);
        let identity = rc.identity(op)?.clone();
        for _ in 0..RETRIES {
            let stored = match self
                .start_call(rc, uow, &identity, order.id, target, CarrierAction::Void)
                .await?
            {
                Start::Answer(o) => return Ok(*o),
                Start::Again => continue,
                Start::Go(stored) => *stored,
            };
            let reference = Self::label_of(&stored.order, target)?;
            let label: LabelRef = decode(target_field(target), &reference)?;
            let carrier = self.carrier_for(rc, op, &label.g, &label.account()).await?;
            let Some(intent) = self
                .open_intent(
                    rc,
                    &identity,
                    stored,
                    target,
                    CarrierAction::Void,
                    &reference,
                    uow.key(),
                )
                .await?
            else {
                continue;
            };
            let refusal = match carrier.void_label(&label.r).await {
                Ok(VoidOutcome::Submitted | VoidOutcome::Refunded) => None,
                Ok(VoidOutcome::Rejected(why)) => Some(CarrierError::Rejected(why)),
                Err(e) if e.is_refusal() => Some(e),
                Err(e) => match carrier.find_void(&label.r).await {
                    Ok(VoidLookup::Voided(_)) => None,
                    _ => return Err(outcome_unknown(&e, "void", target)),
                },
            };
            if let Some(e) = refusal {
                self.close_intent(
                    rc,
                    order.id,
                    target,
                    &intent,
                    CarrierAction::Void,
                    IntentOutcome::Refused,
                )
                .await?;
                return Err(carrier_error(e));
            }
            self.void_others(rc, &identity, order.id, target, &label, &*carrier)
                .await;
            self.outcomes.put(&intent, Outcome::Voided);
            return self
                .complete_void(rc, uow, &identity, order.id, target, &intent)
                .await;
        }
        Err(AppError::Conflict("the order kept changing; retry".into()))
    }

    /// Where a purchase or void stands before it starts: the order loaded for the caller; an
    /// intent already on the shipment (or return) settled first (`Again`: reload and look
    /// again; in flight: `PURCHASE_IN_PROGRESS` or `VOID_IN_PROGRESS`); this very request's
    /// call, completed by whoever settled it, answered as it would have been (`Answer`); a
    /// shipment or return in the wrong state refused; otherwise `Go` with the order as loaded.
    async fn start_call(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        identity: &Identity,
        order: OrderId,
        target: CarrierTarget,
        action: CarrierAction,
    ) -> AppResult<Start> {
        let op = intent_operation(target, action);
        let (stored, _) = self.load_for(rc, op, order, false).await?;
        own_target(identity, op, &stored.order, target)?;
        if let Some(intent) = stored.order.intent_of(target).cloned() {
            let ours = intent.key.is_some() && intent.key.as_deref() == uow.key();
            return match self
                .settle(rc, uow, identity, order, target, &intent, ours)
                .await?
            {
                Settled::Completed(o) if ours => Ok(Start::Answer(o)),
                Settled::Completed(_) | Settled::Closed => Ok(Start::Again),
                Settled::InFlight => Err(AppError::Rule(DomainError::CarrierCallInProgress {
                    action: intent.action,
                })),
            };
        }
        let (ready, done_key, refusal) = match target {
            CarrierTarget::Shipment(id) => {
                let s = shipment_of(&stored.order, id)?;
                match action {
                    CarrierAction::Purchase => (
                        s.status == ShipmentStatus::Confirmed,
                        &s.label_key,
                        "a label is bought for a CONFIRMED shipment".to_owned(),
                    ),
                    CarrierAction::Void => (
                        s.status == ShipmentStatus::LabelPurchased,
                        &s.void_key,
                        "only a label not yet in transit can be voided".to_owned(),
                    ),
                }
            }
            CarrierTarget::Return(id) => {
                let r = return_of(&stored.order, id)?;
                let approved = r.status == ReturnStatus::Approved;
                match action {
                    CarrierAction::Purchase => (
                        approved && r.label.is_none(),
                        &r.label_key,
                        "a return label is bought for an APPROVED return without one".to_owned(),
                    ),
                    CarrierAction::Void => (
                        approved && r.label.is_some(),
                        &r.void_key,
                        "a return label is voided while the return is APPROVED".to_owned(),
                    ),
                }
            }
        };
        if ready {
            // What the carrier will be asked for must stand first: a pickup, packages, and the
            // customs of a shipment that crosses a border.
            if let (CarrierTarget::Shipment(id), CarrierAction::Purchase) = (target, action) {
                request(&stored.order, shipment_of(&stored.order, id)?)?;
            }
            return Ok(Start::Go(Box::new(stored)));
        }
        if uow.key().is_some() && done_key.as_deref() == uow.key() {
            return Ok(Start::Answer(Box::new(stored.order)));
        }
        Err(AppError::Invalid {
            field: target_field(target).into(),
            message: format!("{refusal}; {}", where_it_is(&stored.order, target, action)),
        })
    }

    /// Records a carrier intent on the shipment (or return) and commits it at once (not in the
    /// request's deferred unit of work: the intent must stand before the carrier is called).
    /// `None` when another command changed the order meanwhile (the caller reloads and looks
    /// again).
    #[allow(clippy::too_many_arguments)]
    async fn open_intent(
        &self,
        rc: &RequestCtx,
        identity: &Identity,
        stored: StoredOrder,
        target: CarrierTarget,
        action: CarrierAction,
        reference: &str,
        key: Option<&str>,
    ) -> AppResult<Option<String>> {
        let now = self.now();
        let mut after = stored.order.clone();
        let (intent, events) = self.with_ctx(now, |ctx| {
            after
                .open_carrier_intent(ctx, target, action, reference, key)
                .map_err(AppError::from)
        })?;
        let op = intent_operation(target, action);
        let audit = self.audit(
            rc,
            identity,
            op,
            ("order", after.id().to_string()),
            Some(after.version()),
            now,
        )?;
        let intents = crate::commit_items::intent_items(&stored.order, &after);
        let pending = Pending::Update {
            identity: identity.clone(),
            before: Box::new(stored),
            after: Box::new(after),
            events,
            audit,
            tracking: Vec::new(),
            numbers: crate::context::NumberSource::of(op),
            intents,
            usage: Vec::new(),
        };
        match self.commit(&pending, None).await {
            Ok(()) => Ok(Some(intent)),
            Err(AppError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Closes an intent whose call did not happen (refused, or abandoned), committed at once.
    #[allow(clippy::too_many_arguments)]
    async fn close_intent(
        &self,
        rc: &RequestCtx,
        order: OrderId,
        target: CarrierTarget,
        intent: &str,
        action: CarrierAction,
        outcome: IntentOutcome,
    ) -> AppResult<()> {
        let spec = CommandSpec::new(intent_operation(target, action), OrderRef::new(order, None));
        let result = self
            .order_command(rc, &UnitOfWork::immediate(), spec, |o, env| {
                own_target(env.identity, env.op, o, target)?;
                Ok(Change::events(o.close_carrier_intent(
                    env.ctx, target, intent, action, outcome,
                )?))
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            // Closed meanwhile (a concurrent settle): nothing left to close.
            Err(AppError::Rule(DomainError::IntentClosed { .. })) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Commits a bought label against its purchase intent (in the request's unit of work: a
    /// keyed request stores its answer with it). If the intent is gone and the shipment (or
    /// return) does not hold this label, nothing can take it any more: it is voided at the
    /// carrier and audited.
    #[allow(clippy::too_many_arguments)]
    async fn complete_purchase(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        identity: &Identity,
        order: OrderId,
        target: CarrierTarget,
        intent: &str,
        token: &RateToken,
        label: PurchasedLabel,
    ) -> AppResult<Order> {
        // The same code a carrier's webhook names it by, so both find the label.
        let carrier_code =
            domain::webhook::carrier_code_of(&label.carrier).map_err(AppError::from)?;
        let labels = label
            .packages
            .iter()
            .map(|p| {
                Ok(PackageLabel {
                    tracking_number: TrackingNumber::parse(&p.tracking_number)?,
                    label: Label {
                        url: p.label_url.clone(),
                        format: label.label_format.clone(),
                    },
                })
            })
            .collect::<Result<Vec<_>, DomainError>>()
            .map_err(AppError::from)?;
        let reference = encode(&LabelRef {
            g: token.g.clone(),
            a: token.a.clone(),
            p: token.p,
            r: label.carrier_reference.clone(),
            m: token.m,
            k: other_references(&label),
        })?;
        let spec = CommandSpec::new(
            intent_operation(target, CarrierAction::Purchase),
            OrderRef::new(order, None),
        );
        let result = self
            .order_command(rc, uow, spec, |o, env| {
                own_target(env.identity, env.op, o, target)?;
                Ok(Change::events(match target {
                    CarrierTarget::Shipment(id) => o.record_purchase(
                        env.ctx,
                        id,
                        intent,
                        Bought {
                            carrier: carrier_code.clone(),
                            labels: labels.clone(),
                            carrier_reference: &reference,
                            customs_form_url: label.customs_form_url.clone(),
                            insurance_charge: label.insurance_fee,
                        },
                    )?,
                    CarrierTarget::Return(id) => {
                        let label = return_label(token, &carrier_code, &labels, &reference)?;
                        o.record_return_label(env.ctx, id, intent, label)?
                    }
                }))
            })
            .await;
        match result {
            Ok((o, ())) => {
                tracing::info!(order = %order, %target, carrier = %carrier_code, "label bought");
                if label.label_url.is_empty() {
                    // Found again by a lookup at a carrier that returns the document only with
                    // the purchase (FedEx): the label stands, its document is reprinted there.
                    tracing::warn!(order = %order, %target, carrier = %carrier_code, "label recorded without its document: reprint it at the carrier");
                }
                Ok(o)
            }
            Err(AppError::Rule(DomainError::IntentClosed { .. })) => {
                let stored = self.orders.load(identity.scope(), order).await?;
                let holds = stored
                    .as_ref()
                    .and_then(|s| Self::label_of(&s.order, target).ok())
                    .is_some_and(|r| r == reference);
                match stored {
                    Some(s) if holds => Ok(s.order),
                    _ => {
                        self.void_orphan(rc, identity, order, target, token, &label)
                            .await;
                        Err(AppError::Conflict(format!(
                            "the {} can no longer take this label: it was voided",
                            target.kind()
                        )))
                    }
                }
            }
            // Not a label per package: the purchase cannot stand on the shipment. Voided at
            // the carrier and the intent closed, so a later buy may try again.
            Err(AppError::Rule(DomainError::Invalid {
                field: "labels",
                reason,
            })) => {
                self.void_and_refuse(
                    rc,
                    identity,
                    (order, target),
                    intent,
                    token,
                    std::slice::from_ref(&label),
                )
                .await?;
                Err(AppError::Carrier {
                    code: "carrier_rejected",
                    message: format!("{reason}; the labels were voided at the carrier"),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Commits a void against its intent: the shipment is cancelled; a return has no label.
    async fn complete_void(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        identity: &Identity,
        order: OrderId,
        target: CarrierTarget,
        intent: &str,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(
            intent_operation(target, CarrierAction::Void),
            OrderRef::new(order, None),
        );
        let result = self
            .order_command(rc, uow, spec, |o, env| {
                own_target(env.identity, env.op, o, target)?;
                Ok(Change::events(match target {
                    CarrierTarget::Shipment(id) => o.record_void(env.ctx, id, intent)?,
                    CarrierTarget::Return(id) => o.record_return_void(env.ctx, id, intent)?,
                }))
            })
            .await;
        match result {
            Ok((o, ())) => Ok(o),
            // Completed meanwhile by a concurrent settle.
            Err(AppError::Rule(DomainError::IntentClosed { .. })) => self
                .orders
                .load(identity.scope(), order)
                .await?
                .map(|s| s.order)
                .ok_or(AppError::NotFound { what: "order" }),
            Err(e) => Err(e),
        }
    }

    /// A label bought for a shipment that can no longer take it: voided at the carrier, and the
    /// tenant's audit says so (a void that fails is audited as failed, for a person).
    async fn void_orphan(
        &self,
        rc: &RequestCtx,
        identity: &Identity,
        order: OrderId,
        target: CarrierTarget,
        token: &RateToken,
        label: &PurchasedLabel,
    ) {
        let voided = match self
            .carrier_of(
                rc,
                Operation::BuyLabel,
                &token.g,
                &token.account(),
                CarrierUse::FollowUp,
            )
            .await
        {
            Ok(carrier) => carrier
                .void_label(&label.carrier_reference)
                .await
                .map_err(carrier_error),
            Err(e) => Err(e),
        };
        let outcome = match &voided {
            Ok(VoidOutcome::Submitted | VoidOutcome::Refunded) => AuditOutcome::Success,
            Ok(VoidOutcome::Rejected(why)) => AuditOutcome::Failed {
                reason: format!(
                    "the orphaned label {} could not be voided: {why}",
                    label.tracking_number
                ),
            },
            Err(e) => AuditOutcome::Failed {
                reason: format!(
                    "the orphaned label {} could not be voided: {}",
                    label.tracking_number,
                    e.code()
                ),
            },
        };
        tracing::warn!(%order, %target, ok = matches!(outcome, AuditOutcome::Success), "orphaned label voided");
        self.audit_void(rc, identity, order, target, outcome).await;
    }

    /// The tenant audit's record of a void made on no one's request (an orphaned label, the
    /// other packages of a voided shipment), so a failed one reaches a person.
    async fn audit_void(
        &self,
        rc: &RequestCtx,
        identity: &Identity,
        order: OrderId,
        target: CarrierTarget,
        outcome: AuditOutcome,
    ) {
        let what = Audited {
            op: intent_operation(target, CarrierAction::Void),
            target: AuditTarget {
                kind: target.kind().into(),
                id: format!("{order}/{target}"),
            },
            outcome,
            version: None,
        };
        let record = match self.next_id() {
            Ok(id) => user_audit(
                AuditId::from_ulid(id),
                identity,
                what,
                self.now(),
                &rc.request_id,
            ),
            Err(_) => return,
        };
        if let Err(e) = self.tenant_audit.append(identity.scope(), &record).await {
            tracing::error!(error = %e, %order, %target, "a void's audit record was not written");
        }
    }

    /// The other packages' labels of a shipment whose first label was voided (labels bought
    /// one by one, or a Shippo parcel's transaction each): each voided; one that will not be is
    /// audited as failed, for a person. The shipment is cancelled all the same.
    async fn void_others(
        &self,
        rc: &RequestCtx,
        identity: &Identity,
        order: OrderId,
        target: CarrierTarget,
        label: &LabelRef,
        carrier: &dyn Carrier,
    ) {
        for r in &label.k {
            let voided = match carrier.void_label(r).await {
                Ok(VoidOutcome::Submitted | VoidOutcome::Refunded) => true,
                Ok(VoidOutcome::Rejected(_)) => false,
                Err(e) if e.is_refusal() => false,
                Err(_) => matches!(carrier.find_void(r).await, Ok(VoidLookup::Voided(_))),
            };
            if !voided {
                let reason = format!("the label {r} of another package could not be voided");
                self.audit_void(rc, identity, order, target, AuditOutcome::Failed { reason })
                    .await;
            }
        }
    }

    /// Settles an intent found on a shipment or return: its outcome from this process's memory or the
    /// carrier's lookup, committed; or closed when the carrier never did it and no call can
    /// still be in flight; or left in flight.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn settle(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        identity: &Identity,
        order: OrderId,
        target: CarrierTarget,
        intent: &CarrierIntent,
        ours: bool,
    ) -> AppResult<Settled> {
        let stale =
            self.now().unix_seconds() - intent.opened_at.unix_seconds() >= INTENT_SETTLE_SECS;
        // Another request's call still within its window is in flight: that request commits
        // its own outcome. Only its own retries, or anyone once the window is past, settle it —
        // or anyone at all once the carrier queued it (no call of ours is in flight any more).
        let queued = intent.state == IntentState::Queued;
        if intent.state == IntentState::Unknown || !(ours || stale || queued) {
            return Ok(Settled::InFlight);
        }
        // Only the request that opened it commits in its own unit of work (its answer is stored
        // with it); anyone else's settlement commits at once.
        let immediate = UnitOfWork::immediate();
        let commit_in = if ours { uow } else { &immediate };
        match intent.action {
            CarrierAction::Purchase => {
                let token: RateToken = decode("intent", &intent.reference)?;
                let found = match self.outcomes.get(&intent.id) {
                    Some(Outcome::Bought(label)) => Ok(PurchaseLookup::Bought(label)),
                    _ => match self
                        .carrier_of(
                            rc,
                            intent_operation(target, CarrierAction::Purchase),
                            &token.g,
                            &token.account(),
                            CarrierUse::FollowUp,
                        )
                        .await
                    {
                        Ok(c) => match &intent.carrier_ref {
                            Some(queued) => c.find_queued(&token.rate_ref(), queued).await,
                            None if !token.k.is_empty() => {
                                let CarrierTarget::Shipment(shipment) = target else {
                                    return Err(AppError::internal(
                                        "a return's purchase made package by package",
                                    ));
                                };
                                self.find_pieces(
                                    rc, identity, order, shipment, &intent.id, &token, &*c, stale,
                                )
                                .await
                            }
                            None => c.find_purchase(&token.rate_ref(), &intent.id).await,
                        },
                        Err(e) => return Err(e),
                    },
                };
                match found {
                    Ok(PurchaseLookup::Bought(label)) => Ok(Settled::Completed(Box::new(
                        self.complete_purchase(
                            rc, commit_in, identity, order, target, &intent.id, &token, label,
                        )
                        .await?,
                    ))),
                    // A queued purchase the carrier then failed was refused; any other not
                    // found once no call can still land was abandoned.
                    Ok(PurchaseLookup::NotBought) if stale || queued => {
                        self.close_intent(
                            rc,
                            order,
                            target,
                            &intent.id,
                            CarrierAction::Purchase,
                            if queued {
                                IntentOutcome::Refused
                            } else {
                                IntentOutcome::Abandoned
                            },
                        )
                        .await?;
                        Ok(Settled::Closed)
                    }
                    Ok(PurchaseLookup::NotBought | PurchaseLookup::Pending) => {
                        Ok(Settled::InFlight)
                    }
                    Err(CarrierError::NotSupported(_)) => {
                        self.leave_open(
                            rc,
                            order,
                            target,
                            &intent.id,
                            CarrierAction::Purchase,
                            None,
                        )
                        .await?;
                        Ok(Settled::InFlight)
                    }
                    Err(e) => {
                        tracing::warn!(%order, %target, code = e.code(), "purchase lookup failed");
                        Ok(Settled::InFlight)
                    }
                }
            }
            CarrierAction::Void => {
                let void_op = intent_operation(target, CarrierAction::Void);
                let label: LabelRef = decode("intent", &intent.reference)?;
                let found = match self.outcomes.get(&intent.id) {
                    Some(Outcome::Voided) => Ok(VoidLookup::Voided(VoidOutcome::Submitted)),
                    _ => match self
                        .carrier_for(rc, void_op, &label.g, &label.account())
                        .await
                    {
                        Ok(c) => c.find_void(&label.r).await,
                        Err(e) => return Err(e),
                    },
                };
                match found {
                    Ok(VoidLookup::Voided(_)) => {
                        if !label.k.is_empty()
                            && let Ok(c) = self
                                .carrier_for(rc, void_op, &label.g, &label.account())
                                .await
                        {
                            self.void_others(rc, identity, order, target, &label, &*c)
                                .await;
                        }
                        Ok(Settled::Completed(Box::new(
                            self.complete_void(rc, commit_in, identity, order, target, &intent.id)
                                .await?,
                        )))
                    }
                    Ok(VoidLookup::NotVoided) if stale => {
                        self.close_intent(
                            rc,
                            order,
                            target,
                            &intent.id,
                            CarrierAction::Void,
                            IntentOutcome::Abandoned,
                        )
                        .await?;
                        Ok(Settled::Closed)
                    }
                    Ok(VoidLookup::NotVoided) => Ok(Settled::InFlight),
                    Err(CarrierError::NotSupported(_)) => {
                        self.leave_open(rc, order, target, &intent.id, CarrierAction::Void, None)
                            .await?;
                        Ok(Settled::InFlight)
                    }
                    Err(e) => {
                        tracing::warn!(%order, %target, code = e.code(), "void lookup failed");
                        Ok(Settled::InFlight)
                    }
                }
            }
        }
    }

    /// The tenant's open carrier intents (label purchases and voids whose outcome is not
    /// committed), each looked up at the carrier and settled when `lookup` is set: completed
    /// when the carrier did it, closed when it did not (and no call can still land), left for a
    /// person when the carrier cannot tell (`UNKNOWN`).
    pub async fn reconcile_labels(
        &self,
        rc: &RequestCtx,
        lookup: bool,
    ) -> AppResult<Vec<IntentReport>> {
        let op = Operation::ReconcileLabels;
        let identity = rc.identity(op)?.clone();
        let mut out = Vec::new();
        for (order, target) in self.orders.open_intents(identity.scope()).await? {
            let Some(stored) = self.orders.load(identity.scope(), order).await? else {
                continue;
            };
            let Some(intent) = stored.order.intent_of(target).cloned() else {
                continue;
            };
            let mut report = IntentReport {
                order,
                target,
                intent: intent.clone(),
                settled: None,
            };
            if lookup {
                let settled = self
                    .settle(
                        rc,
                        &UnitOfWork::immediate(),
                        &identity,
                        order,
                        target,
                        &intent,
                        true,
                    )
                    .await;
                report.settled = Some(match settled {
                    Ok(Settled::Completed(_)) => "completed".to_owned(),
                    Ok(Settled::Closed) => "closed: the carrier never did it".to_owned(),
                    Ok(Settled::InFlight) if intent.state == IntentState::Unknown => {
                        "unknown: the carrier offers no lookup; a person decides".to_owned()
                    }
                    Ok(Settled::InFlight) if intent.state == IntentState::Queued => format!(
                        "queued: the carrier is still making it ({})",
                        intent.carrier_ref.as_deref().unwrap_or("-")
                    ),
                    Ok(Settled::InFlight) => "in flight: the carrier has no outcome yet".to_owned(),
                    Err(e) => format!("not settled: {}: {e}", e.code()),
                });
            }
            out.push(report);
        }
        Ok(out)
    }

    /// An intent left open, committed at once: QUEUED under the carrier's id of the call
    /// (`queued`), else UNKNOWN — the carrier cannot tell, and a person decides.
    async fn leave_open(
        &self,
        rc: &RequestCtx,
        order: OrderId,
        target: CarrierTarget,
        intent: &str,
        action: CarrierAction,
        queued: Option<&str>,
    ) -> AppResult<()> {
        let spec = CommandSpec::new(intent_operation(target, action), OrderRef::new(order, None));
        match self
            .order_command(rc, &UnitOfWork::immediate(), spec, |o, env| {
                Ok(Change::events(match queued {
                    Some(r) => o.mark_intent_queued(env.ctx, target, intent, action, r)?,
                    None => o.mark_intent_unknown(env.ctx, target, intent, action)?,
                }))
            })
            .await
        {
            Ok(_) | Err(AppError::Rule(DomainError::IntentClosed { .. })) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The gateway account and carrier reference of a label bought here.
    fn label_ref(s: &Shipment) -> AppResult<LabelRef> {
        let reference = Self::label_of_shipment(s)?;
        decode("shipmentId", reference)
    }

    fn label_of_shipment(s: &Shipment) -> AppResult<&str> {
        s.carrier_reference
            .as_deref()
            .ok_or_else(|| AppError::Invalid {
                field: "shipmentId".into(),
                message: "the shipment has no label bought through the gateway".into(),
            })
    }

    /// The stored reference of a shipment's or return's label bought here.
    fn label_of(order: &Order, target: CarrierTarget) -> AppResult<String> {
        match target {
            CarrierTarget::Shipment(id) => {
                Self::label_of_shipment(shipment_of(order, id)?).map(str::to_owned)
            }
            CarrierTarget::Return(id) => return_of(order, id)?
                .label
                .as_ref()
                .map(|l| l.carrier_reference.clone())
                .ok_or_else(|| AppError::Invalid {
                    field: "returnId".into(),
                    message: "the return has no label".into(),
                }),
        }
    }

    /// A rate id as `shippingRates` (or `returnShippingRates`) issued it for this very tenant,
    /// order and shipment (or return).
    fn open_rate(
        &self,
        identity: &Identity,
        order: OrderId,
        target: CarrierTarget,
        rate_id: &str,
    ) -> AppResult<RateToken> {
        let invalid = || AppError::Invalid {
            field: "rateId".into(),
            message: format!("not a rate quoted for this {}", target.kind()),
        };
        let body = self
            .signer
            .open(&rate_purpose(identity, order, target), rate_id)
            .ok_or_else(invalid)?;
        serde_json::from_slice(&body).map_err(|_| invalid())
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
        let carrier = self.carrier_for(rc, op, &label.g, &label.account()).await?;
        // A label recorded before its carrier was known (under the aggregator's name) is
        // looked up by its carrier reference; the update below records the carrier it names.
        let carrier_code = match carrier
            .carrier_of_label(carrier_code.as_str(), &label.r)
            .await
            .map_err(carrier_error)?
        {
            Some(name) => domain::webhook::carrier_code_of(&name).map_err(AppError::from)?,
            None => carrier_code,
        };
        // Every package's number (one call each); the shipment's own when it has no packages
        // bought through the gateway.
        let mut numbers: Vec<TrackingNumber> = s
            .packages
            .iter()
            .filter(|p| p.status.is_some())
            .filter_map(|p| p.tracking_number.clone())
            .collect();
        if numbers.is_empty() {
            numbers.push(number);
        }
        let mut updates = Vec::new();
        for number in numbers {
            let tracking = carrier
                .track(carrier_code.as_str(), number.as_str())
                .await
                .map_err(carrier_error)?;
            if let Some(status) = tracking_status(tracking.status) {
                updates.push(TrackingUpdate {
                    carrier: Some(carrier_code.clone()),
                    tracking_number: Some(number),
                    status,
                    carrier_status: Some(tracking.raw_status),
                });
            }
        }
        if updates.is_empty() {
            return Ok(Tracked {
                order: stored.order,
                ignored: true,
            });
        }
        let spec = CommandSpec::new(op, order);
        let (order, ignored) = self
            .order_command(rc, uow, spec, |o, env| {
                Ok(match o.update_tracking_all(env.ctx, shipment, &updates)? {
                    domain::order::TrackingOutcome::Applied(events) => Change {
                        events,
                        value: false,
                    },
                    domain::order::TrackingOutcome::Ignored { .. } => Change {
                        events: Vec::new(),
                        value: true,
                    },
                })
            })
            .await?;
        Ok(Tracked { order, ignored })
    }
}
