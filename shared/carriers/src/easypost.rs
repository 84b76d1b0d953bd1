//! EasyPost v2: HTTP Basic with the key as user name, bodies wrapped in the object name
//! (`{"shipment": {...}}`), imperial units, money as decimal strings, errors as
//! `{"error": {"code", "message", "errors"}}`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::http::{Auth, Call, Flavour, Http};
use crate::lenient::{self, field};
use crate::wire::{
    Answered, Credentials, address_json, checked, easypost_status, parse_amount, parse_fee,
};
use app::ports::carrier::{
    Address, AddressCheck, AddressMessage, Carrier, CarrierError, Customs, LabelFormat, Parcel,
    Purchase, PurchaseLookup, PurchasedLabel, Rate, RateError, RateRef, Rates, ShipmentRequest,
    Signature, TrackEvent, Tracking, VoidLookup, VoidOutcome,
};
use domain::order::{ContentsType, NonDelivery};

const NAME: &str = "EasyPost";
/// Grams in an ounce, ×10⁹ so the conversion stays in integers: 28.349523125 g.
const NANOGRAMS_PER_OUNCE: u128 = 28_349_523_125;

/// EasyPost behind [`Carrier`].
#[derive(Debug)]
pub struct EasyPost {
    http: Http,
}

impl EasyPost {
    pub fn new(credentials: Credentials) -> Self {
        let auth = Auth::Basic(credentials.api_key.clone());
        let flavour = Flavour {
            name: NAME,
            error_text,
            headers: &[],
        };
        Self {
            http: Http::new(flavour, &credentials, auth),
        }
    }
}

crate::http::http_options!(EasyPost);

#[async_trait::async_trait]
impl Carrier for EasyPost {
    async fn rates(&self, shipment: &ShipmentRequest) -> Result<Rates, CarrierError> {
        let parcel = match shipment.checked_parcels()? {
            [one] => one,
            _ => {
                return Err(CarrierError::NotSupported(
                    "an EasyPost shipment holds one parcel: its packages are bought one by one"
                        .into(),
                ));
            }
        };
        let body = shipment_body(shipment, parcel)?;
        let created: Shipment = self
            .http
            .post(&["v2", "shipments"], Some(&body), Call::Idempotent)
            .await?;
        rates(created)
    }

    async fn buy_label(&self, purchase: &Purchase) -> Result<PurchasedLabel, CarrierError> {
        let rate = &purchase.rate;
        let shipment_id = shipment_id_of(rate)?;
        let mut body = json!({ "rate": { "id": rate.rate_id } });
        // Insurance is bought with the label (its premium comes back as an `InsuranceFee`).
        if let Some(insured) = purchase.shipment.options.insurance {
            body["insurance"] = insured.to_decimal_string().into();
        }
        let bought: Shipment = self
            .http
            .post(
                &["v2", "shipments", shipment_id, "buy"],
                Some(&body),
                Call::NonIdempotent,
            )
            .await?;
        label(shipment_id, bought)
    }

    async fn void_label(&self, carrier_reference: &str) -> Result<VoidOutcome, CarrierError> {
        non_empty(carrier_reference, "shipment id")?;
        // An empty JSON object, as EasyPost's own clients send.
        let refunded: Shipment = self
            .http
            .post(
                &["v2", "shipments", carrier_reference, "refund"],
                Some(&json!({})),
                Call::NonIdempotent,
            )
            .await?;
        void_outcome(refunded.refund_status.as_deref())
    }

    /// `GET /v2/shipments/{id}`: a shipment is bought once it has a tracking code (EasyPost
    /// buys a shipment at most once, so its id names the purchase).
    async fn find_purchase(
        &self,
        rate: &RateRef,
        _reference: &str,
    ) -> Result<PurchaseLookup, CarrierError> {
        let shipment_id = shipment_id_of(rate)?;
        let shipment: Shipment = self
            .http
            .get(&["v2", "shipments", shipment_id], None)
            .await?;
        if shipment.tracking_code.as_deref().is_none_or(str::is_empty) {
            return Ok(PurchaseLookup::NotBought);
        }
        label(shipment_id, shipment).map(PurchaseLookup::Bought)
    }

    /// `GET /v2/shipments/{id}`: its `refund_status` once a refund was asked for.
    async fn find_void(&self, carrier_reference: &str) -> Result<VoidLookup, CarrierError> {
        non_empty(carrier_reference, "shipment id")?;
        let shipment: Shipment = self
            .http
            .get(&["v2", "shipments", carrier_reference], None)
            .await?;
        Ok(match shipment.refund_status.as_deref() {
            None | Some("") => VoidLookup::NotVoided,
            Some(status) => match void_outcome(Some(status))? {
                VoidOutcome::Rejected(_) => VoidLookup::NotVoided,
                done => VoidLookup::Voided(done),
            },
        })
    }

    async fn track(&self, carrier: &str, tracking_number: &str) -> Result<Tracking, CarrierError> {
        non_empty(tracking_number, "tracking number")?;
        let mut tracker = Map::new();
        tracker.insert("tracking_code".into(), tracking_number.into());
        // Left out, EasyPost detects the carrier from the number.
        if !carrier.trim().is_empty() {
            tracker.insert("carrier".into(), carrier.into());
        }
        let body = json!({ "tracker": tracker });
        let tracker: Tracker = self
            .http
            .post(&["v2", "trackers"], Some(&body), Call::Idempotent)
            .await?;
        Ok(tracking(tracker))
    }

    /// `POST /v2/addresses` with `verify`: the address as EasyPost corrected it,
    /// `verifications.delivery` saying whether it can be delivered to.
    async fn verify_address(&self, address: &Address) -> Result<AddressCheck, CarrierError> {
        let body = json!({ "address": address_json(address), "verify": true });
        let checked: EpAddress = self
            .http
            .post(&["v2", "addresses"], Some(&body), Call::Idempotent)
            .await?;
        Ok(address_check(address, checked))
    }

    async fn verify_credentials(&self) -> Result<(), CarrierError> {
        // Works with test and production keys alike (the Users API takes production keys only).
        let _: Value = self
            .http
            .get(&["v2", "addresses"], Some("page_size=1"))
            .await?;
        Ok(())
    }
}

/// The EasyPost shipment a rate belongs to: what buys it, and what names the purchase.
fn shipment_id_of(rate: &RateRef) -> Result<&str, CarrierError> {
    rate.carrier_shipment
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            CarrierError::Rejected(
                "an EasyPost rate is bought through its shipment id, which is missing".into(),
            )
        })
}

fn non_empty(value: &str, what: &str) -> Result<(), CarrierError> {
    if value.trim().is_empty() {
        Err(CarrierError::Rejected(format!("the {what} is empty")))
    } else {
        Ok(())
    }
}

/// `{"shipment": {...}}` with its one parcel in ounces and inches, its customs and options.
fn shipment_body(s: &ShipmentRequest, parcel: &Parcel) -> Result<Value, CarrierError> {
    let mut shipment = Map::new();
    if s.is_return {
        // EasyPost takes a return's outbound addresses and swaps them for the label.
        shipment.insert("to_address".into(), address_json(&s.from));
        shipment.insert("from_address".into(), address_json(&s.to));
        shipment.insert("is_return".into(), true.into());
    } else {
        shipment.insert("to_address".into(), address_json(&s.to));
        shipment.insert("from_address".into(), address_json(&s.from));
    }
    shipment.insert("parcel".into(), parcel_json(parcel));
    if let Some(reference) = &s.reference {
        shipment.insert("reference".into(), reference.as_str().into());
    }
    if let Some(customs) = &s.customs {
        shipment.insert("customs_info".into(), customs_json(customs));
    }
    let options = options_json(s)?;
    if !options.is_empty() {
        shipment.insert("options".into(), options.into());
    }
    Ok(json!({ "shipment": shipment }))
}

/// `customs_info`: values and weights are each item's total (EasyPost's rule), in ounces.
fn customs_json(c: &Customs) -> Value {
    let items: Vec<Value> = c
        .items
        .iter()
        .map(|i| {
            let mut item = json!({
                "description": i.description,
                "quantity": i.quantity,
                "value": i.value.to_decimal_string(),
                "currency": i.value.currency().code(),
                "weight": one_decimal(ounce_tenths(i.weight_grams)),
                "origin_country": i.origin_country,
                "code": i.sku.to_string(),
            });
            if let Some(hs) = &i.hs_tariff_number {
                item["hs_tariff_number"] = hs.as_str().into();
            }
            item
        })
        .collect();
    let mut info = json!({
        "contents_type": match c.contents_type {
            ContentsType::Merchandise => "merchandise",
            ContentsType::Gift => "gift",
            ContentsType::Documents => "documents",
            ContentsType::ReturnedGoods => "returned_goods",
            ContentsType::Sample => "sample",
            ContentsType::Other => "other",
        },
        "non_delivery_option": match c.non_delivery {
            NonDelivery::Return => "return",
            NonDelivery::Abandon => "abandon",
        },
        "customs_certify": true,
        "customs_signer": c.signer,
        "restriction_type": "none",
        "customs_items": items,
    });
    if let Some(explanation) = &c.contents_explanation {
        info["contents_explanation"] = explanation.as_str().into();
    }
    if let Some(eel_pfc) = &c.eel_pfc {
        info["eel_pfc"] = eel_pfc.as_str().into();
    }
    info
}

/// The label sizes EasyPost prints (inches).
const LABEL_SIZES: [&str; 6] = ["4x6", "4x7", "4x8", "4x5", "6x4", "8.5x11"];

/// `options`: the label's format and size, the signature at delivery. Insurance goes with the
/// purchase. A size EasyPost does not print is refused before any call.
fn options_json(s: &ShipmentRequest) -> Result<Map<String, Value>, CarrierError> {
    let o = &s.options;
    let mut options = Map::new();
    if let Some(format) = o.format {
        let name = match format {
            LabelFormat::Pdf => "PDF",
            LabelFormat::Png => "PNG",
            LabelFormat::Zpl => "ZPL",
            LabelFormat::Epl2 => "EPL2",
        };
        options.insert("label_format".into(), name.into());
    }
    if let Some(size) = &o.size {
        if !LABEL_SIZES.contains(&size.as_str()) {
            return Err(CarrierError::NotSupported(format!(
                "EasyPost prints labels of {} inches, not {size}",
                LABEL_SIZES.join(", ")
            )));
        }
        options.insert("label_size".into(), size.as_str().into());
    }
    if let Some(signature) = o.signature {
        let name = match signature {
            Signature::Standard => "SIGNATURE",
            Signature::Adult => "ADULT_SIGNATURE",
        };
        options.insert("delivery_confirmation".into(), name.into());
    }
    Ok(options)
}

/// Weight in ounces and dimensions in inches, each rounded up to a tenth: a label must never
/// declare less than the parcel is. Dimensions are all-or-none, so a parcel without any is
/// sent by weight alone.
fn parcel_json(p: &Parcel) -> Value {
    let mut parcel = Map::new();
    parcel.insert("weight".into(), one_decimal(ounce_tenths(p.weight_grams)));
    if [p.length_mm, p.width_mm, p.height_mm] != [0, 0, 0] {
        parcel.insert("length".into(), one_decimal(inch_tenths(p.length_mm)));
        parcel.insert("width".into(), one_decimal(inch_tenths(p.width_mm)));
        parcel.insert("height".into(), one_decimal(inch_tenths(p.height_mm)));
    }
    parcel.into()
}

/// Tenths of an ounce in `grams`, rounded up.
fn ounce_tenths(grams: u32) -> u64 {
    let tenths = (u128::from(grams) * 10 * 1_000_000_000).div_ceil(NANOGRAMS_PER_OUNCE);
    // u32::MAX grams is about 1.5e9 tenths of an ounce.
    u64::try_from(tenths).unwrap_or(u64::MAX)
}

/// Tenths of an inch in `mm`, rounded up (25.4 mm an inch).
fn inch_tenths(mm: u32) -> u64 {
    (u64::from(mm) * 100).div_ceil(254)
}

/// A JSON number with one decimal (exact: the tenths stay far below 2⁵³).
fn one_decimal(tenths: u64) -> Value {
    json!(tenths as f64 / 10.0)
}

/// An address as `POST /v2/addresses` answers it with `verify`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct EpAddress {
    #[serde(deserialize_with = "lenient::string")]
    street1: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    street2: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    city: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    state: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    zip: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    country: Option<String>,
    residential: Option<bool>,
    verifications: Value,
}

/// What EasyPost said of an address: deliverable when `verifications.delivery.success` (its
/// errors are remarks all the same); the address as returned, its fields the corrected ones.
fn address_check(given: &Address, a: EpAddress) -> AddressCheck {
    let delivery = &a.verifications["delivery"];
    let deliverable = delivery["success"].as_bool().unwrap_or(false);
    let messages = delivery["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| AddressMessage {
                    code: field(e, "code").unwrap_or_else(|| "E.ADDRESS".into()),
                    field: field(e, "field"),
                    message: field(e, "message")
                        .or_else(|| lenient::text(e))
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let residential = if deliverable { a.residential } else { None };
    let answered = Answered {
        street1: a.street1,
        street2: a.street2,
        city: a.city,
        state: a.state,
        zip: a.zip,
        country: a.country,
    };
    checked(given, deliverable, answered, residential, messages)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Shipment {
    #[serde(deserialize_with = "lenient::string")]
    id: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    rates: Vec<EpRate>,
    #[serde(deserialize_with = "lenient::list")]
    messages: Vec<Value>,
    #[serde(deserialize_with = "lenient::string")]
    tracking_code: Option<String>,
    selected_rate: Option<EpRate>,
    postage_label: Option<PostageLabel>,
    #[serde(deserialize_with = "lenient::string")]
    refund_status: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    forms: Vec<Value>,
    #[serde(deserialize_with = "lenient::list")]
    fees: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EpRate {
    #[serde(deserialize_with = "lenient::string")]
    id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    shipment_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    carrier: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    service: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    rate: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    currency: Option<String>,
    #[serde(deserialize_with = "lenient::u32")]
    delivery_days: Option<u32>,
    #[serde(deserialize_with = "lenient::u32")]
    est_delivery_days: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PostageLabel {
    #[serde(deserialize_with = "lenient::string")]
    label_url: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    label_file_type: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    label_pdf_url: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    label_zpl_url: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    label_epl2_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Tracker {
    #[serde(deserialize_with = "lenient::string")]
    status: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    tracking_details: Vec<Value>,
}

fn malformed(what: &str) -> CarrierError {
    CarrierError::Malformed(format!("{NAME}: {what}"))
}

fn rates(shipment: Shipment) -> Result<Rates, CarrierError> {
    let shipment_id = shipment.id.unwrap_or_default();
    let rates = shipment
        .rates
        .into_iter()
        .map(|r| rate(&shipment_id, r))
        .collect::<Result<Vec<_>, _>>()?;
    let errors = shipment.messages.iter().map(rate_error).collect();
    Ok(Rates { rates, errors })
}

fn rate(shipment_id: &str, r: EpRate) -> Result<Rate, CarrierError> {
    let rate_id = r.id.ok_or_else(|| malformed("a rate has no id"))?;
    let amount = parse_amount(
        r.rate.as_deref().unwrap_or_default(),
        r.currency.as_deref().unwrap_or_default(),
    )?;
    let carrier_shipment = r
        .shipment_id
        .filter(|s| !s.is_empty())
        .or_else(|| Some(shipment_id.to_owned()).filter(|s| !s.is_empty()))
        .ok_or_else(|| malformed("a rate has no shipment id"))?;
    Ok(Rate {
        rate: RateRef {
            rate_id,
            carrier_shipment: Some(carrier_shipment),
            carrier: None,
        },
        carrier: r.carrier.unwrap_or_default(),
        service: r.service.unwrap_or_default(),
        amount,
        delivery_days: r.delivery_days.or(r.est_delivery_days),
    })
}

/// A `messages[]` entry: `{"carrier", "type": "rate_error", "message"}`.
fn rate_error(m: &Value) -> RateError {
    RateError {
        carrier: field(m, "carrier").unwrap_or_else(|| NAME.to_owned()),
        message: field(m, "message")
            .or_else(|| field(m, "type"))
            .unwrap_or_else(|| lenient::text(m).unwrap_or_else(|| m.to_string())),
    }
}

fn label(shipment_id: &str, s: Shipment) -> Result<PurchasedLabel, CarrierError> {
    let tracking_number = s.tracking_code.filter(|t| !t.is_empty()).ok_or_else(|| {
        malformed(&format!(
            "shipment {shipment_id} was bought without a tracking code"
        ))
    })?;
    let postage = s.postage_label.unwrap_or_default();
    let (label_url, label_format) = label_file(postage).ok_or_else(|| {
        malformed(&format!(
            "shipment {shipment_id} was bought without a label"
        ))
    })?;
    // The commercial invoice EasyPost made with the label (a customs form otherwise).
    let form = |kind: &str| {
        s.forms
            .iter()
            .find(|f| field(f, "form_type").as_deref() == Some(kind))
            .and_then(|f| field(f, "form_url"))
    };
    let customs_form_url = form("commercial_invoice").or_else(|| form("cn22"));
    // The insurance premium, as its own fee.
    let insurance_fee = s
        .fees
        .iter()
        .filter(|f| field(f, "type").as_deref() == Some("InsuranceFee"))
        .filter_map(|f| {
            let currency = s
                .selected_rate
                .as_ref()
                .and_then(|r| r.currency.clone())
                .unwrap_or_else(|| "USD".into());
            parse_fee(&field(f, "amount")?, &currency).ok()
        })
        .next();
    let mut label = PurchasedLabel::single(
        tracking_number,
        s.selected_rate
            .and_then(|r| r.carrier)
            .unwrap_or_else(|| NAME.to_owned()),
        label_url,
        label_format,
        s.id.filter(|id| !id.is_empty())
            .unwrap_or_else(|| shipment_id.to_owned()),
    );
    label.customs_form_url = customs_form_url;
    label.insurance_fee = insurance_fee;
    Ok(label)
}

/// The label's URL and format: `label_url` in its `label_file_type` (a MIME type, PNG by
/// default), else whichever converted file EasyPost already has.
fn label_file(p: PostageLabel) -> Option<(String, String)> {
    if let Some(url) = p.label_url.filter(|u| !u.is_empty()) {
        let format = mime_format(p.label_file_type.as_deref().unwrap_or("image/png"));
        return Some((url, format));
    }
    [
        (p.label_pdf_url, "PDF"),
        (p.label_zpl_url, "ZPL"),
        (p.label_epl2_url, "EPL2"),
    ]
    .into_iter()
    .find_map(|(url, format)| {
        url.filter(|u| !u.is_empty())
            .map(|u| (u, format.to_owned()))
    })
}

/// "image/png" → "PNG", "application/pdf" → "PDF", "application/zpl" → "ZPL", …
fn mime_format(mime: &str) -> String {
    let lower = mime.trim().to_ascii_lowercase();
    let known = [
        ("pdf", "PDF"),
        ("zpl", "ZPL"),
        ("epl", "EPL2"),
        ("png", "PNG"),
    ];
    match known.iter().find(|(needle, _)| lower.contains(needle)) {
        Some((_, format)) => (*format).to_owned(),
        None => lower
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase(),
    }
}

fn void_outcome(refund_status: Option<&str>) -> Result<VoidOutcome, CarrierError> {
    let status = refund_status.ok_or_else(|| malformed("no refund_status after a refund"))?;
    match status.to_ascii_lowercase().as_str() {
        "submitted" => Ok(VoidOutcome::Submitted),
        "refunded" => Ok(VoidOutcome::Refunded),
        "rejected" => Ok(VoidOutcome::Rejected(
            "EasyPost rejected the refund (it may be requested again)".into(),
        )),
        // Bill-on-scan carriers: nothing was charged, so there is nothing to refund — but the
        // label is not void either, so this is not reported as refunded.
        "not_applicable" => Ok(VoidOutcome::Rejected(
            "not_applicable: the carrier bills on scan, so there is nothing to refund".into(),
        )),
        other => Err(malformed(&format!("unknown refund_status {other:?}"))),
    }
}

fn tracking(t: Tracker) -> Tracking {
    let raw_status = t.status.unwrap_or_else(|| "unknown".into());
    Tracking {
        status: easypost_status(&raw_status),
        raw_status,
        events: t.tracking_details.iter().map(track_event).collect(),
    }
}

fn track_event(d: &Value) -> TrackEvent {
    TrackEvent {
        status: field(d, "status").unwrap_or_default(),
        message: field(d, "message")
            .or_else(|| field(d, "description"))
            .unwrap_or_default(),
        at: field(d, "datetime"),
    }
}

/// `error.code: error.message (field: message; …)` out of an EasyPost error body; `None` when
/// the body is not one (it is never quoted).
fn error_text(body: &[u8]) -> Option<String> {
    let error = serde_json::from_slice::<Value>(body)
        .ok()?
        .get("error")?
        .clone();
    let head: Vec<String> = [field(&error, "code"), field(&error, "message")]
        .into_iter()
        .flatten()
        .collect();
    let details: Vec<String> = error
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| errors.iter().filter_map(field_error).collect())
        .unwrap_or_default();
    let mut text = head.join(": ");
    if !details.is_empty() {
        text = format!("{text} ({})", details.join("; "));
    }
    (!text.trim().is_empty()).then_some(text)
}

/// One of `error.errors[]`: a `{"field", "message"}` object or a plain string.
fn field_error(e: &Value) -> Option<String> {
    if let Some(text) = lenient::text(e) {
        return Some(text);
    }
    match (field(e, "field"), field(e, "message")) {
        (Some(f), Some(m)) => Some(format!("{f}: {m}")),
        (f, m) => m.or(f),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn units_round_up_to_a_tenth() {
        assert_eq!(ounce_tenths(0), 0);
        assert_eq!(ounce_tenths(1), 1); // 0.035 oz
        assert_eq!(ounce_tenths(1000), 353); // 35.274 oz
        assert_eq!(ounce_tenths(2835), 1001); // 100.0035 oz
        assert_eq!(ounce_tenths(u32::MAX), 1_515_005_130);
        assert_eq!(inch_tenths(254), 100); // exactly 10 in
        assert_eq!(inch_tenths(255), 101);
        assert_eq!(inch_tenths(300), 119); // 11.81 in
        assert_eq!(inch_tenths(1), 1);
        assert_eq!(one_decimal(353).to_string(), "35.3");
        assert_eq!(one_decimal(100).to_string(), "10.0");
    }

    #[test]
    fn weight_only_parcels_send_no_dimensions() {
        let p = parcel_json(&Parcel {
            weight_grams: 100,
            length_mm: 0,
            width_mm: 0,
            height_mm: 0,
        });
        assert_eq!(p, json!({"weight": 3.6}));
    }

    #[test]
    fn label_formats() {
        assert_eq!(mime_format("image/png"), "PNG");
        assert_eq!(mime_format("application/pdf"), "PDF");
        assert_eq!(mime_format("application/zpl"), "ZPL");
        assert_eq!(mime_format("application/epl2"), "EPL2");
        assert_eq!(mime_format("image/gif"), "GIF");
        let only_pdf = PostageLabel {
            label_pdf_url: Some("https://x/l.pdf".into()),
            ..PostageLabel::default()
        };
        assert_eq!(
            label_file(only_pdf),
            Some(("https://x/l.pdf".into(), "PDF".into()))
        );
        assert_eq!(label_file(PostageLabel::default()), None);
    }

    #[test]
    fn refund_statuses() {
        assert_eq!(void_outcome(Some("submitted")), Ok(VoidOutcome::Submitted));
        assert_eq!(void_outcome(Some("refunded")), Ok(VoidOutcome::Refunded));
        assert!(matches!(
            void_outcome(Some("rejected")),
            Ok(VoidOutcome::Rejected(_))
        ));
        assert!(matches!(
            void_outcome(Some("not_applicable")),
            Ok(VoidOutcome::Rejected(m)) if m.starts_with("not_applicable")
        ));
        assert!(void_outcome(Some("weird")).is_err());
        assert!(void_outcome(None).is_err());
    }

    #[test]
    fn error_bodies() {
        let body = br#"{"error":{"code":"ADDRESS.VERIFY.FAILURE","message":"Address not found",
            "errors":[{"field":"street1","message":"House number is missing","suggestion":null},
            "plain string"]}}"#;
        assert_eq!(
            error_text(body).as_deref(),
            Some(
                "ADDRESS.VERIFY.FAILURE: Address not found (street1: House number is missing; plain string)"
            )
        );
        // Not EasyPost's error shape: nothing of it is quoted.
        assert_eq!(error_text(b"Bad Gateway"), None);
        assert_eq!(error_text(b"<html>internal host</html>"), None);
        assert_eq!(error_text(br#"{"error":{}}"#), None);
        assert_eq!(error_text(br#"{"token":"internal"}"#), None);
    }

    #[test]
    fn rates_parse_leniently() {
        let shipment: Shipment = serde_json::from_value(json!({
            "id": "shp_1", "rates": [{"id": "rate_1", "carrier": "USPS", "service": "Priority",
            "rate": "10.07000", "currency": "USD", "delivery_days": null, "est_delivery_days": 2,
            "unknown": {"x": 1}}], "messages": null, "postage_label": null
        }))
        .unwrap();
        let rates = rates(shipment).unwrap();
        assert_eq!(rates.rates.len(), 1);
        let r = &rates.rates[0];
        assert_eq!(r.amount.minor(), 1007);
        assert_eq!(r.delivery_days, Some(2));
        assert_eq!(r.rate.carrier_shipment.as_deref(), Some("shp_1"));
        assert!(rates.errors.is_empty());
    }

    #[test]
    fn a_rate_priced_past_the_currency_is_refused() {
        let shipment: Shipment = serde_json::from_value(json!({
            "id": "shp_1", "rates": [{"id": "rate_1", "rate": "10.075", "currency": "USD"}]
        }))
        .unwrap();
        assert_eq!(rates(shipment).unwrap_err().code(), "carrier_rejected");
    }
}
