//! Shippo: `Authorization: ShippoToken <key>`, unwrapped bodies, metric units as strings,
//! money as decimal strings, and `"async": false` so rates and labels come back in the answer.
//! A purchase that fails is a 2xx with `status: "ERROR"`, not an HTTP error.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::http::{Auth, Call, Flavour, Http};
use crate::lenient::{self, field};
use crate::wire::{Answered, Credentials, address_json, checked, parse_amount, shippo_status};
use app::ports::carrier::{
    Address, AddressCheck, AddressMessage, Carrier, CarrierError, Customs, LabelFormat,
    LabelOptions, PackageLabel, Parcel, Purchase, PurchaseLookup, PurchasedLabel, Rate, RateError,
    RateRef, Rates, ShipmentRequest, TrackEvent, Tracking, VoidLookup, VoidOutcome,
};
use domain::order::{ContentsType, NonDelivery};

const NAME: &str = "Shippo";
/// The API version the response shapes here were read from; pinned so an account's default
/// version cannot change them.
const API_VERSION: &str = "2018-02-08";
/// The label format asked for; the carrier may answer with a sized variant ("PDF_4x6").
const LABEL_FILE_TYPE: &str = "PDF";

/// How long a queued purchase is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LabelPoll {
    attempts: u32,
    interval: Duration,
}

/// Shippo behind [`Carrier`].
#[derive(Debug)]
pub struct Shippo {
    http: Http,
    poll: LabelPoll,
}

impl Shippo {
    pub fn new(credentials: Credentials) -> Self {
        let auth = Auth::Token("ShippoToken", credentials.api_key.clone());
        let flavour = Flavour {
            name: NAME,
            error_text,
            headers: &[("SHIPPO-API-VERSION", API_VERSION)],
        };
        Self {
            http: Http::new(flavour, &credentials, auth),
            poll: LabelPoll {
                attempts: 10,
                interval: Duration::from_millis(500),
            },
        }
    }

    /// How often, and how far apart, a purchase Shippo queued is looked up again
    /// (default 10 × 500 ms).
    pub fn with_label_poll(mut self, attempts: u32, interval: Duration) -> Self {
        self.poll = LabelPoll { attempts, interval };
        self
    }

    /// Looks a queued transaction up until it is done or the polls run out.
    async fn settle(&self, mut tx: Transaction) -> Result<Transaction, CarrierError> {
        let mut polls = 0;
        while tx.is_pending() && polls < self.poll.attempts {
            let id = tx
                .object_id
                .clone()
                .ok_or_else(|| malformed("a queued transaction has no object_id"))?;
            tokio::time::sleep(self.poll.interval).await;
            polls += 1;
            tx = self.http.get(&["transactions", &id], None).await?;
        }
        Ok(tx)
    }

    /// The carrier token of a transaction's carrier: from its rate when expanded, else the
    /// quote's (`quoted`), else the rate looked up (`GET /rates/{id}`; a transaction names its
    /// rate by id only).
    async fn provider_of(
        &self,
        tx: &Transaction,
        quoted: Option<&str>,
    ) -> Result<String, CarrierError> {
        if let Some(p) = tx.provider().or_else(|| quoted.map(str::to_owned)) {
            return Ok(carrier_token(&p));
        }
        let rate_id = match &tx.rate {
            Value::String(id) => Some(id.clone()),
            other => field(other, "object_id"),
        }
        .ok_or_else(|| malformed("a transaction names no rate"))?;
        let rate: ShRate = self.http.get(&["rates", &rate_id], None).await?;
        rate.provider
            .map(|p| carrier_token(&p))
            .ok_or_else(|| malformed(&format!("rate {rate_id} names no carrier")))
    }

    /// The purchase whose (master) transaction `tx` of `rate` finished, carried by the carrier
    /// the quote named. With several parcels (`parcels`; `None` in a lookup, where the count is
    /// not known) Shippo made a transaction per parcel: every parcel's label is gathered from
    /// the rate's transactions, in the shipment's parcel order; one still being made leaves the
    /// whole purchase queued under the master's id.
    async fn label(
        &self,
        tx: Transaction,
        rate: &RateRef,
        parcels: Option<usize>,
    ) -> Result<PurchasedLabel, CarrierError> {
        if tx.status() != "SUCCESS" {
            return label(tx, String::new());
        }
        let carrier = self.provider_of(&tx, rate.carrier.as_deref()).await?;
        let master = tx.object_id.clone().unwrap_or_default();
        let mut bought = label(tx, carrier)?;
        if parcels == Some(1) {
            return Ok(bought);
        }
        let listed = self.rate_transactions(rate).await?;
        let per_parcel = listed.iter().filter(|t| t.parcel.is_some()).count();
        if parcels.is_none() && per_parcel <= 1 {
            return Ok(bought);
        }
        let shipment_id = rate
            .carrier_shipment
            .as_deref()
            .ok_or_else(|| malformed("a multi-piece rate names no shipment"))?;
        let shipment: ShShipment = self.http.get(&["shipments", shipment_id], None).await?;
        let mut packages = Vec::new();
        for parcel in shipment
            .parcels
            .iter()
            .filter_map(|p| field(p, "object_id"))
        {
            let of_parcel = listed
                .iter()
                .filter(|t| t.parcel.as_deref() == Some(parcel.as_str()));
            let made = of_parcel.clone().find(|t| t.status() == "SUCCESS");
            let parts = made.and_then(|t| {
                Some((
                    t.tracking_number.clone()?,
                    t.label_url.clone()?,
                    t.object_id.clone()?,
                ))
            });
            match parts {
                Some((tracking_number, label_url, carrier_reference)) => {
                    packages.push(PackageLabel {
                        tracking_number,
                        label_url,
                        carrier_reference,
                    });
                }
                None if of_parcel.clone().any(Transaction::is_pending) => {
                    return Err(CarrierError::Queued {
                        carrier_ref: master,
                    });
                }
                None => {
                    return Err(malformed(&format!(
                        "parcel {parcel} of a bought shipment has no label"
                    )));
                }
            }
        }
        if packages.is_empty() {
            return Err(malformed("a multi-piece shipment names no parcels"));
        }
        bought.packages = packages;
        Ok(bought)
    }

    /// `GET /transactions?rate={rate}&results=100`: the recent transactions whose rate is this
    /// one (Shippo's filter by rate is not relied on: each is checked).
    async fn rate_transactions(&self, rate: &RateRef) -> Result<Vec<Transaction>, CarrierError> {
        // Form-encoded by the URL library (a rate id is the carrier's text, not ours).
        let query = reqwest::Url::parse_with_params(
            "http://q.invalid/",
            [("rate", rate.rate_id.as_str()), ("results", "100")],
        )
        .ok()
        .and_then(|u| u.query().map(str::to_owned))
        .ok_or_else(|| malformed("a rate id that cannot be sent"))?;
        let page: TransactionPage = self.http.get(&["transactions"], Some(&query)).await?;
        Ok(page.results)
    }
}

/// The aggregator's own name, under which labels were stored before the quote's carrier was
/// kept.
const AGGREGATOR: &str = "shippo";

crate::http::http_options!(Shippo);

#[async_trait::async_trait]
impl Carrier for Shippo {
    async fn rates(&self, shipment: &ShipmentRequest) -> Result<Rates, CarrierError> {
        label_file_type(&shipment.options)?;
        let body = shipment_body(shipment, shipment.checked_parcels()?);
        let created: ShShipment = self
            .http
            .post(&["shipments"], Some(&body), Call::Idempotent)
            .await?;
        rates(created)
    }

    async fn buy_label(&self, purchase: &Purchase) -> Result<PurchasedLabel, CarrierError> {
        let rate = &purchase.rate;
        non_empty(&rate.rate_id, "rate id")?;
        // `metadata` keeps our reference of this attempt with the transaction, for a person and
        // for the lookup of a lost answer.
        let body = json!({
            "rate": rate.rate_id,
            "label_file_type": label_file_type(&purchase.shipment.options)?,
            "async": false,
            "metadata": purchase.reference,
        });
        let tx: Transaction = self
            .http
            .post(&["transactions"], Some(&body), Call::NonIdempotent)
            .await?;
        let tx = self.settle(tx).await?;
        if tx.is_pending() {
            // Taken and still being made: never bought again, looked up by its id instead.
            let carrier_ref = tx
                .object_id
                .clone()
                .ok_or_else(|| malformed("a queued transaction has no object_id"))?;
            return Err(CarrierError::Queued { carrier_ref });
        }
        self.label(tx, rate, Some(purchase.shipment.parcels.len()))
            .await
    }

    async fn void_label(&self, carrier_reference: &str) -> Result<VoidOutcome, CarrierError> {
        non_empty(carrier_reference, "transaction id")?;
        let body = json!({ "transaction": carrier_reference, "async": false });
        let refund: Refund = self
            .http
            .post(&["refunds"], Some(&body), Call::NonIdempotent)
            .await?;
        void_outcome(refund)
    }

    async fn track(&self, carrier: &str, tracking_number: &str) -> Result<Tracking, CarrierError> {
        non_empty(tracking_number, "tracking number")?;
        let token = carrier_token(carrier);
        non_empty(&token, "carrier")?;
        let track: Track = self
            .http
            .get(&["tracks", &token, tracking_number], None)
            .await?;
        Ok(tracking(track))
    }

    /// `POST /addresses` with `validate`: `validation_results.is_valid`, its messages, the
    /// address as Shippo cleaned it, `is_residential`.
    async fn verify_address(&self, address: &Address) -> Result<AddressCheck, CarrierError> {
        let mut body = address_json(address);
        body["validate"] = true.into();
        let checked: Value = self
            .http
            .post(&["addresses"], Some(&body), Call::Idempotent)
            .await?;
        Ok(address_check(address, &checked))
    }

    async fn verify_credentials(&self) -> Result<(), CarrierError> {
        let _: Value = self.http.get(&["addresses"], Some("results=1")).await?;
        Ok(())
    }

    /// Several `parcels` on one shipment: its rates are for all of them, and one purchase
    /// makes a transaction (a label) per parcel.
    fn multi_piece(&self) -> bool {
        true
    }

    /// `GET /transactions?rate={rate}`: the recent transactions (the carrier's filter by rate is
    /// not relied on), ours being the one of this rate or with our reference as its metadata; a
    /// successful one is the label, a queued one is still being made (a rate is bought at most
    /// once).
    async fn find_purchase(
        &self,
        rate: &RateRef,
        reference: &str,
    ) -> Result<PurchaseLookup, CarrierError> {
        non_empty(&rate.rate_id, "rate id")?;
        let mut pending = false;
        for tx in self.rate_transactions(rate).await? {
            let of_rate = match &tx.rate {
                Value::String(id) => id == &rate.rate_id,
                other => field(other, "object_id").is_some_and(|id| id == rate.rate_id),
            };
            let ours = tx.metadata.as_deref() == Some(reference);
            if !(of_rate || ours) {
                continue;
            }
            match tx.status().as_str() {
                "SUCCESS" => {
                    return self.label(tx, rate, None).await.map(PurchaseLookup::Bought);
                }
                "QUEUED" | "WAITING" => pending = true,
                _ => {}
            }
        }
        Ok(if pending {
            PurchaseLookup::Pending
        } else {
            PurchaseLookup::NotBought
        })
    }

    /// `GET /transactions/{id}` of a purchase left queued: made, still queued, or failed.
    async fn find_queued(
        &self,
        rate: &RateRef,
        carrier_ref: &str,
    ) -> Result<PurchaseLookup, CarrierError> {
        non_empty(carrier_ref, "transaction id")?;
        let tx: Transaction = self.http.get(&["transactions", carrier_ref], None).await?;
        match tx.status().as_str() {
            "SUCCESS" => self.label(tx, rate, None).await.map(PurchaseLookup::Bought),
            "QUEUED" | "WAITING" => Ok(PurchaseLookup::Pending),
            _ => Ok(PurchaseLookup::NotBought),
        }
    }

    /// A label stored under `shippo` (before the quote's carrier was kept): its transaction's
    /// rate names the carrier.
    async fn carrier_of_label(
        &self,
        carrier: &str,
        carrier_reference: &str,
    ) -> Result<Option<String>, CarrierError> {
        if carrier_token(carrier) != AGGREGATOR {
            return Ok(None);
        }
        non_empty(carrier_reference, "transaction id")?;
        let tx: Transaction = self
            .http
            .get(&["transactions", carrier_reference], None)
            .await?;
        self.provider_of(&tx, None).await.map(Some)
    }

    /// `GET /transactions/{id}`: its status says whether a refund was asked for.
    async fn find_void(&self, carrier_reference: &str) -> Result<VoidLookup, CarrierError> {
        non_empty(carrier_reference, "transaction id")?;
        let tx: Transaction = self
            .http
            .get(&["transactions", carrier_reference], None)
            .await?;
        Ok(match tx.status().as_str() {
            "REFUNDED" => VoidLookup::Voided(VoidOutcome::Refunded),
            "REFUNDPENDING" => VoidLookup::Voided(VoidOutcome::Submitted),
            _ => VoidLookup::NotVoided,
        })
    }
}

/// A page of `GET /transactions`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct TransactionPage {
    #[serde(deserialize_with = "lenient::list")]
    results: Vec<Transaction>,
}

fn non_empty(value: &str, what: &str) -> Result<(), CarrierError> {
    if value.trim().is_empty() {
        Err(CarrierError::Rejected(format!("the {what} is empty")))
    } else {
        Ok(())
    }
}

/// Shippo's carrier token: lowercase, spaces as underscores ("DHL Express" → "dhl_express").
fn carrier_token(carrier: &str) -> String {
    carrier.trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

/// The unwrapped shipment, its parcels (several: a multi-piece shipment) in exact grams and
/// millimetres (as strings).
fn shipment_body(s: &ShipmentRequest, parcels: &[Parcel]) -> Value {
    let mut body = Map::new();
    let mut extra = Map::new();
    if s.is_return {
        // Shippo takes a return's outbound addresses and swaps them for the label.
        body.insert("address_from".into(), address_json(&s.to));
        body.insert("address_to".into(), address_json(&s.from));
        extra.insert("is_return".into(), true.into());
    } else {
        body.insert("address_from".into(), address_json(&s.from));
        body.insert("address_to".into(), address_json(&s.to));
    }
    let parcels: Vec<Value> = parcels
        .iter()
        .map(|p| {
            json!({
                "length": p.length_mm.to_string(),
                "width": p.width_mm.to_string(),
                "height": p.height_mm.to_string(),
                "distance_unit": "mm",
                "weight": p.weight_grams.to_string(),
                "mass_unit": "g",
            })
        })
        .collect();
    body.insert("parcels".into(), parcels.into());
    if let Some(insured) = s.options.insurance {
        extra.insert(
            "insurance".into(),
            json!({
                "amount": insured.to_decimal_string(),
                "currency": insured.currency().code(),
                "content": "merchandise",
            }),
        );
    }
    if let Some(signature) = s.options.signature {
        extra.insert("signature_confirmation".into(), signature.as_str().into());
    }
    if !extra.is_empty() {
        body.insert("extra".into(), extra.into());
    }
    if let Some(customs) = &s.customs {
        body.insert("customs_declaration".into(), customs_json(customs));
    }
    body.insert("async".into(), false.into());
    if let Some(reference) = &s.reference {
        body.insert("metadata".into(), reference.as_str().into());
    }
    body.into()
}

/// Shippo's `label_file_type` for the options: PDF (letter, or 4x6/4x8), PNG, ZPLII; EPL2 and
/// other sizes are refused before any call.
fn label_file_type(o: &LabelOptions) -> Result<&'static str, CarrierError> {
    let unsupported = |what: String| Err(CarrierError::NotSupported(what));
    match (o.format, o.size.as_deref()) {
        (None | Some(LabelFormat::Pdf), None | Some("8.5x11")) => Ok(LABEL_FILE_TYPE),
        (None | Some(LabelFormat::Pdf), Some("4x6")) => Ok("PDF_4x6"),
        (None | Some(LabelFormat::Pdf), Some("4x8")) => Ok("PDF_4x8"),
        (Some(LabelFormat::Png), None) => Ok("PNG"),
        (Some(LabelFormat::Zpl), None | Some("4x6")) => Ok("ZPLII"),
        (Some(LabelFormat::Epl2), _) => unsupported("Shippo prints no EPL2 labels".into()),
        (format, Some(size)) => unsupported(format!(
            "Shippo prints {} labels in no {size} size",
            format.map_or("PDF", LabelFormat::as_str)
        )),
    }
}

/// An inline `customs_declaration`: totals per item, weights in grams.
fn customs_json(c: &Customs) -> Value {
    let items: Vec<Value> = c
        .items
        .iter()
        .map(|i| {
            let mut item = json!({
                "description": i.description,
                "quantity": i.quantity,
                "net_weight": i.weight_grams.to_string(),
                "mass_unit": "g",
                "value_amount": i.value.to_decimal_string(),
                "value_currency": i.value.currency().code(),
                "origin_country": i.origin_country,
                "sku_code": i.sku.to_string(),
            });
            if let Some(hs) = &i.hs_tariff_number {
                item["tariff_number"] = hs.as_str().into();
            }
            item
        })
        .collect();
    let mut d = json!({
        "certify": true,
        "certify_signer": c.signer,
        "contents_type": match c.contents_type {
            ContentsType::Merchandise => "MERCHANDISE",
            ContentsType::Gift => "GIFT",
            ContentsType::Documents => "DOCUMENTS",
            ContentsType::ReturnedGoods => "RETURN_MERCHANDISE",
            ContentsType::Sample => "SAMPLE",
            ContentsType::Other => "OTHER",
        },
        "non_delivery_option": match c.non_delivery {
            NonDelivery::Return => "RETURN",
            NonDelivery::Abandon => "ABANDON",
        },
        "items": items,
    });
    if let Some(explanation) = &c.contents_explanation {
        d["contents_explanation"] = explanation.as_str().into();
    }
    // Shippo's names for the exemption; an AES ITN goes as `aes_itn`.
    if let Some(eel) = &c.eel_pfc {
        let compact: String = eel.chars().filter(|c| !c.is_whitespace()).collect();
        match compact.to_ascii_uppercase().as_str() {
            "NOEEI30.37(A)" => d["eel_pfc"] = "NOEEI_30_37_a".into(),
            "NOEEI30.37(H)" => d["eel_pfc"] = "NOEEI_30_37_h".into(),
            "NOEEI30.37(F)" => d["eel_pfc"] = "NOEEI_30_37_f".into(),
            "NOEEI30.36" => d["eel_pfc"] = "NOEEI_30_36".into(),
            _ => {
                d["eel_pfc"] = "AES_ITN".into();
                d["aes_itn"] = eel.trim_start_matches("AES").trim().into();
            }
        }
    }
    d
}

/// What Shippo's validation said: valid or not, its messages (no field named), the address as
/// it cleaned it.
fn address_check(given: &Address, a: &Value) -> AddressCheck {
    let results = &a["validation_results"];
    let deliverable = results["is_valid"].as_bool().unwrap_or(false);
    let messages = results["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| AddressMessage {
                    code: field(m, "code").unwrap_or_else(|| "address".into()),
                    field: None,
                    message: field(m, "text").unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let answered = Answered {
        street1: field(a, "street1"),
        street2: field(a, "street2"),
        city: field(a, "city"),
        state: field(a, "state"),
        zip: field(a, "zip"),
        country: field(a, "country"),
    };
    let residential = a["is_residential"].as_bool();
    checked(given, deliverable, answered, residential, messages)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShShipment {
    #[serde(deserialize_with = "lenient::string")]
    object_id: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    rates: Vec<ShRate>,
    #[serde(deserialize_with = "lenient::list")]
    messages: Vec<Value>,
    /// The parcels, in the order sent, with their `object_id`s.
    #[serde(deserialize_with = "lenient::list")]
    parcels: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ShRate {
    #[serde(deserialize_with = "lenient::string")]
    object_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    shipment: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    amount: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    currency: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    provider: Option<String>,
    /// `{"name", "token"}`; older shapes put `servicelevel_name`/`service_level_token` beside it.
    servicelevel: Value,
    #[serde(deserialize_with = "lenient::string")]
    servicelevel_name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    service_level_token: Option<String>,
    #[serde(deserialize_with = "lenient::u32")]
    estimated_days: Option<u32>,
}

impl ShRate {
    fn service(&self) -> String {
        field(&self.servicelevel, "name")
            .or_else(|| field(&self.servicelevel, "token"))
            .or_else(|| self.servicelevel_name.clone())
            .or_else(|| self.service_level_token.clone())
            .unwrap_or_default()
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Transaction {
    #[serde(deserialize_with = "lenient::string")]
    object_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    status: Option<String>,
    /// The rate's object_id, or the rate itself.
    rate: Value,
    #[serde(deserialize_with = "lenient::string")]
    tracking_number: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    label_url: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    label_file_type: Option<String>,
    /// An international purchase's commercial invoice (a letter-size PDF).
    #[serde(deserialize_with = "lenient::string")]
    commercial_invoice_url: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    messages: Vec<Value>,
    /// What the purchase sent as `metadata`: our reference of the attempt.
    #[serde(deserialize_with = "lenient::string")]
    metadata: Option<String>,
    /// The parcel this transaction labels (a multi-piece shipment has one per parcel).
    #[serde(deserialize_with = "lenient::string")]
    parcel: Option<String>,
}

impl Transaction {
    fn status(&self) -> String {
        self.status
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase()
    }

    fn is_pending(&self) -> bool {
        matches!(self.status().as_str(), "QUEUED" | "WAITING")
    }

    fn provider(&self) -> Option<String> {
        field(&self.rate, "provider")
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Refund {
    #[serde(deserialize_with = "lenient::string")]
    status: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    messages: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Track {
    /// `{"status", …}`, or just the status string.
    tracking_status: Value,
    #[serde(deserialize_with = "lenient::list")]
    tracking_history: Vec<Value>,
}

fn malformed(what: &str) -> CarrierError {
    CarrierError::Malformed(format!("{NAME}: {what}"))
}

fn rates(shipment: ShShipment) -> Result<Rates, CarrierError> {
    let rates = shipment
        .rates
        .into_iter()
        .map(|r| rate(shipment.object_id.as_deref(), r))
        .collect::<Result<Vec<_>, _>>()?;
    let errors = shipment.messages.iter().map(rate_error).collect();
    Ok(Rates { rates, errors })
}

fn rate(shipment_id: Option<&str>, r: ShRate) -> Result<Rate, CarrierError> {
    let service = r.service();
    let rate_id = r
        .object_id
        .ok_or_else(|| malformed("a rate has no object_id"))?;
    let amount = parse_amount(
        r.amount.as_deref().unwrap_or_default(),
        r.currency.as_deref().unwrap_or_default(),
    )?;
    Ok(Rate {
        rate: RateRef {
            rate_id,
            carrier_shipment: r.shipment.or_else(|| shipment_id.map(str::to_owned)),
            carrier: r.provider.as_deref().map(carrier_token),
        },
        carrier: r.provider.unwrap_or_else(|| NAME.to_owned()),
        service,
        amount,
        delivery_days: r.estimated_days,
    })
}

/// A `messages[]` entry: `{"source", "code", "text"}` or `{"code", "message"}`.
fn rate_error(m: &Value) -> RateError {
    RateError {
        carrier: field(m, "source").unwrap_or_else(|| NAME.to_owned()),
        message: message_text(m),
    }
}

fn message_text(m: &Value) -> String {
    field(m, "text")
        .or_else(|| field(m, "message"))
        .or_else(|| field(m, "code"))
        .or_else(|| lenient::text(m))
        .unwrap_or_else(|| m.to_string())
}

fn messages_text(messages: &[Value]) -> String {
    let texts: Vec<String> = messages.iter().map(message_text).collect();
    if texts.is_empty() {
        "no reason given".into()
    } else {
        texts.join("; ")
    }
}

/// The label of a transaction, carried by `carrier` (a carrier token); its failure otherwise.
fn label(tx: Transaction, carrier: String) -> Result<PurchasedLabel, CarrierError> {
    let id = tx.object_id.clone().unwrap_or_default();
    match tx.status().as_str() {
        "SUCCESS" => {
            let tracking_number =
                tx.tracking_number
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        malformed(&format!(
                            "transaction {id} succeeded without a tracking number"
                        ))
                    })?;
            let label_url = tx
                .label_url
                .filter(|u| !u.is_empty())
                .ok_or_else(|| malformed(&format!("transaction {id} succeeded without a label")))?;
            let mut label = PurchasedLabel::single(
                tracking_number,
                carrier,
                label_url,
                label_format(tx.label_file_type.as_deref()),
                id,
            );
            // Shippo's insurance cost is inside the rate's amount: never itemised here.
            label.customs_form_url = tx.commercial_invoice_url.filter(|u| !u.is_empty());
            Ok(label)
        }
        "ERROR" => Err(CarrierError::Rejected(format!(
            "Shippo could not buy the label: {}",
            messages_text(&tx.messages)
        ))),
        // Not bought yet, but it may still be: the caller must look the transaction up
        // rather than buy again.
        "QUEUED" | "WAITING" => Err(CarrierError::Unavailable(format!(
            "Shippo is still creating the label (transaction {id}); look it up before buying again"
        ))),
        other => Err(malformed(&format!(
            "transaction {id} has unexpected status {other:?}"
        ))),
    }
}

/// "PDF_4x6" → "PDF", "PNG_2.3x7.5" → "PNG", "ZPLII" → "ZPL"; absent → what was asked for.
fn label_format(file_type: Option<&str>) -> String {
    let file_type = file_type.map(str::trim).filter(|t| !t.is_empty());
    let Some(file_type) = file_type else {
        return LABEL_FILE_TYPE.to_owned();
    };
    let base = file_type
        .split('_')
        .next()
        .unwrap_or(file_type)
        .to_ascii_uppercase();
    if base.starts_with("ZPL") {
        "ZPL".to_owned()
    } else {
        base
    }
}

fn void_outcome(refund: Refund) -> Result<VoidOutcome, CarrierError> {
    let status = refund
        .status
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    match status.as_str() {
        "QUEUED" | "PENDING" => Ok(VoidOutcome::Submitted),
        "SUCCESS" => Ok(VoidOutcome::Refunded),
        "ERROR" => Ok(VoidOutcome::Rejected(format!(
            "Shippo refused the refund: {}",
            messages_text(&refund.messages)
        ))),
        other => Err(malformed(&format!(
            "refund has unexpected status {other:?}"
        ))),
    }
}

fn tracking(t: Track) -> Tracking {
    let raw_status = match &t.tracking_status {
        Value::Object(_) => field(&t.tracking_status, "status"),
        other => lenient::text(other),
    }
    .unwrap_or_else(|| "UNKNOWN".into());
    Tracking {
        status: shippo_status(&raw_status),
        raw_status,
        events: t.tracking_history.iter().map(track_event).collect(),
    }
}

fn track_event(e: &Value) -> TrackEvent {
    TrackEvent {
        status: field(e, "status").unwrap_or_default(),
        message: field(e, "status_details").unwrap_or_default(),
        at: field(e, "status_date"),
    }
}

/// `detail` of an error body (401, 404), else its field errors (a 400 is a map of field to a
/// list of messages, nested for nested objects, with no envelope): `field: message; …`.
/// `None` when the body is neither (it is never quoted).
fn error_text(body: &[u8]) -> Option<String> {
    let v = serde_json::from_slice::<Value>(body).ok()?;
    if let Some(detail) = field(&v, "detail") {
        return Some(detail);
    }
    let mut errors = Vec::new();
    field_errors(&v, "", 0, &mut errors);
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// The `field: messages` of a Shippo field-error map: lists of texts, under keys, in objects
/// nested at most three deep. Anything else is not part of one.
fn field_errors(v: &Value, path: &str, depth: usize, out: &mut Vec<String>) {
    let Some(map) = v.as_object() else {
        return;
    };
    for (key, value) in map {
        let name = match (path, key.as_str()) {
            (_, "__all__" | "non_field_errors") => path.to_owned(),
            ("", k) => k.to_owned(),
            (p, k) => format!("{p}.{k}"),
        };
        match value {
            Value::Array(items) => {
                let texts: Vec<String> = items.iter().filter_map(lenient::text).collect();
                if !texts.is_empty() {
                    let texts = texts.join(", ");
                    out.push(if name.is_empty() {
                        texts
                    } else {
                        format!("{name}: {texts}")
                    });
                }
            }
            Value::Object(_) if depth < 3 => field_errors(value, &name, depth + 1, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use app::ports::carrier::TrackStatus;

    #[test]
    fn label_formats() {
        assert_eq!(label_format(Some("PDF_4x6")), "PDF");
        assert_eq!(label_format(Some("PNG_2.3x7.5")), "PNG");
        assert_eq!(label_format(Some("ZPLII")), "ZPL");
        assert_eq!(label_format(Some("PDF")), "PDF");
        assert_eq!(label_format(None), "PDF");
        assert_eq!(label_format(Some(" ")), "PDF");
    }

    #[test]
    fn error_bodies() {
        let text = |v: Value| error_text(v.to_string().as_bytes());
        assert_eq!(
            text(json!({"detail": "Token does not exist"})),
            Some("Token does not exist".into())
        );
        assert_eq!(
            text(json!({"rate": ["This field is required."]})),
            Some("rate: This field is required.".into())
        );
        assert_eq!(
            text(
                json!({"address_to": {"zip": ["Enter a valid zip."]}, "__all__": ["Bad parcel."]})
            ),
            Some("Bad parcel.; address_to.zip: Enter a valid zip.".into())
        );
        assert_eq!(
            text(json!({"parcels": ["This field is required.", "Too heavy."]})),
            Some("parcels: This field is required., Too heavy.".into())
        );
        // Not an error shape: nothing of it is quoted.
        assert_eq!(text(json!({"token": "internal-secret"})), None);
        assert_eq!(text(json!(["a", "b"])), None);
        assert_eq!(error_text(b"<html>internal</html>"), None);
        assert_eq!(error_text(b""), None);
    }

    #[test]
    fn carrier_tokens() {
        assert_eq!(carrier_token("USPS"), "usps");
        assert_eq!(carrier_token(" DHL Express "), "dhl_express");
    }

    #[test]
    fn tracking_status_as_string_or_object() {
        let t: Track = serde_json::from_value(json!({"tracking_status": "TRANSIT"})).unwrap();
        assert_eq!(tracking(t).status, TrackStatus::InTransit);
        let t: Track = serde_json::from_value(json!({
            "tracking_status": {"status": "DELIVERED", "status_details": "x"},
            "tracking_history": [{"status": "TRANSIT", "status_details": "moving",
                "status_date": "2016-12-08T15:19:00Z", "location": null}]
        }))
        .unwrap();
        let t = tracking(t);
        assert_eq!(t.status, TrackStatus::Delivered);
        assert_eq!(t.raw_status, "DELIVERED");
        assert_eq!(
            t.events,
            vec![TrackEvent {
                status: "TRANSIT".into(),
                message: "moving".into(),
                at: Some("2016-12-08T15:19:00Z".into()),
            }]
        );
        let t: Track = serde_json::from_value(json!({"tracking_status": null})).unwrap();
        let t = tracking(t);
        assert_eq!(
            (t.status, t.raw_status.as_str()),
            (TrackStatus::Unknown, "UNKNOWN")
        );
    }

    #[test]
    fn messages_in_both_shapes() {
        let a = rate_error(
            &json!({"source": "UPS", "code": "carrier_timeout", "text": "UPS did not respond"}),
        );
        assert_eq!(
            (a.carrier.as_str(), a.message.as_str()),
            ("UPS", "UPS did not respond")
        );
        let b = rate_error(&json!({"code": "x", "message": "bad address"}));
        assert_eq!(
            (b.carrier.as_str(), b.message.as_str()),
            ("Shippo", "bad address")
        );
        let c = rate_error(&json!("plain"));
        assert_eq!(c.message, "plain");
    }

    #[test]
    fn transaction_rate_as_string_or_object() {
        let tx: Transaction = serde_json::from_value(json!({
            "object_id": "t1", "status": "SUCCESS", "rate": {"object_id": "r1", "provider": "USPS"},
            "tracking_number": "92", "label_url": "https://l", "label_file_type": "PDF_4x6",
            "messages": [], "tracking_status": {"status": "UNKNOWN"}, "metadata": "01JREF"
        }))
        .unwrap();
        assert_eq!(tx.provider().as_deref(), Some("USPS"));
        assert_eq!(tx.metadata.as_deref(), Some("01JREF"));
        let label = label(tx, "usps".into()).unwrap();
        assert_eq!(label.label_format, "PDF");
        assert_eq!(label.carrier_reference, "t1");
        assert_eq!(label.carrier, "usps");
        // As Shippo answers a purchase: the rate by its id only, so no carrier in it.
        let tx: Transaction =
            serde_json::from_value(json!({"object_id": "t1", "status": "SUCCESS", "rate": "r1",
                "tracking_number": "92", "label_url": "https://l"}))
            .unwrap();
        assert_eq!(tx.provider(), None);
    }

    #[test]
    fn a_quote_carries_its_carrier_token() {
        let r: ShRate = serde_json::from_value(json!({
            "object_id": "r1", "amount": "5.50", "currency": "USD", "provider": "DHL Express",
            "servicelevel": {"name": "Express", "token": "dhl_express_worldwide"}
        }))
        .unwrap();
        let rate = rate(Some("s1"), r).unwrap();
        assert_eq!(rate.rate.carrier.as_deref(), Some("dhl_express"));
        assert_eq!(rate.carrier, "DHL Express");
    }

    #[test]
    fn failed_purchases_and_refunds() {
        let tx: Transaction = serde_json::from_value(json!({"object_id": "t1", "status": "ERROR",
            "messages": [{"source": "USPS", "code": "", "text": "Insufficient postage"}]}))
        .unwrap();
        let e = label(tx, String::new()).unwrap_err();
        assert_eq!(e.code(), "carrier_rejected");
        assert!(e.to_string().contains("Insufficient postage"), "{e}");
        let queued: Transaction =
            serde_json::from_value(json!({"object_id": "t1", "status": "QUEUED"})).unwrap();
        assert_eq!(
            label(queued, String::new()).unwrap_err().code(),
            "carrier_unavailable"
        );

        let refund =
            |status: &str| void_outcome(serde_json::from_value(json!({"status": status})).unwrap());
        assert_eq!(refund("QUEUED"), Ok(VoidOutcome::Submitted));
        assert_eq!(refund("PENDING"), Ok(VoidOutcome::Submitted));
        assert_eq!(refund("SUCCESS"), Ok(VoidOutcome::Refunded));
        assert!(matches!(refund("ERROR"), Ok(VoidOutcome::Rejected(_))));
        assert!(refund("ODD").is_err());
    }
}
