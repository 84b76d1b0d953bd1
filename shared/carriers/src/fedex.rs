//! FedEx's REST API (the facts are in docs/carriers/fedex-api.md): OAuth2 client-credentials tokens
//! ([`crate::oauth`]), JSON bodies under `requestedShipment`, pounds and inches, money as JSON
//! numbers, errors as `{"errors": [{"code", "message"}]}`.
//!
//! FedEx differs from the API-key carriers in three ways the port absorbs:
//! - its quotes carry no rate id: ours is `SERVICE_TYPE:PACKAGING_TYPE`, and a purchase ships
//!   the whole shipment again under that service and packaging;
//! - every call carries a bearer token: one is fetched per credential version and key pair, and
//!   a call the carrier refuses (401/403) gets one new token and one more try;
//! - a purchase is found again by its customer reference (`Purchase::reference`, at most 30
//!   characters) through the Track API's reference lookup. FedEx returns the label document only
//!   with the purchase, so a label found so has no document URL: it is reprinted at FedEx.

use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::http::{Auth, Call, Flavour, Http};
use crate::lenient::{self, field, text};
use crate::oauth::{AccessToken, TokenSource};
use crate::wire::{Answered, checked, parse_amount};
use app::ports::carrier::{
    Address, AddressCheck, AddressMessage, Carrier, CarrierError, LabelFormat, LabelOptions,
    MAX_PURCHASE_REFERENCE, PackageLabel, Parcel, Purchase, PurchaseLookup, PurchasedLabel, Rate,
    RateError, RateRef, Rates, ShipmentRequest, Signature, TrackEvent, TrackStatus, Tracking,
    VoidLookup, VoidOutcome,
};

const NAME: &str = "FedEx";
/// Grams in a pound ×10⁵ (453.59237 g), so conversions stay in integers.
const CENTIGRAMS_PER_POUND_X1000: u128 = 45_359_237;
/// The packaging of a parcel the shipper packs itself (the only one we quote).
const OWN_PACKAGING: &str = "YOUR_PACKAGING";
/// Parcels are dropped off (or picked up on a regular schedule).
const PICKUP_TYPE: &str = "DROPOFF_AT_FEDEX_LOCATION";
/// FedEx's code for a cancelled shipment in tracking.
const CANCELLED: &str = "CA";

/// FedEx behind [`Carrier`].
pub struct Fedex {
    http: Http,
    account_number: String,
    /// The token of the version's key pair (rates, ship, cancel).
    tokens: Arc<TokenSource>,
    /// The token of the tracking key pair, when the version has one; else `tokens`.
    track_tokens: Arc<TokenSource>,
}

impl std::fmt::Debug for Fedex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fedex")
            .field("http", &self.http)
            .field("account_number", &self.account_number)
            .finish_non_exhaustive()
    }
}

impl Fedex {
    /// FedEx at `base_url` for the shipper account `account_number`, its tokens from `tokens`
    /// (and tracking's from `track_tokens` when FedEx issued separate Track API keys).
    pub fn new(
        base_url: impl Into<String>,
        account_number: impl Into<String>,
        tokens: Arc<TokenSource>,
        track_tokens: Option<Arc<TokenSource>>,
    ) -> Self {
        let flavour = Flavour {
            name: NAME,
            error_text,
            headers: &[("x-locale", "en_US")],
        };
        Self {
            http: Http::at(flavour, base_url.into(), Auth::Bearer),
            account_number: account_number.into(),
            track_tokens: track_tokens.unwrap_or_else(|| tokens.clone()),
            tokens,
        }
    }

    /// One call with a token of `tokens`: when FedEx refuses the token, one new token and one
    /// more try (a 401 means FedEx did nothing, so even a purchase may be tried again); a second
    /// refusal is the caller's `AuthFailed`. A token that cannot be had means the request was
    /// never sent (`Unreached`).
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        tokens: &TokenSource,
        method: Method,
        path: &[&str],
        body: &Value,
        call: Call,
    ) -> Result<T, CarrierError> {
        let token = tokens.token().await.map_err(unsent)?;
        match self.send(&token, method.clone(), path, body, call).await {
            Err(CarrierError::AuthFailed(first)) => {
                tracing::debug!(carrier = NAME, path = ?path, "token refused; fetching a new one");
                let fresh = tokens.refresh(&token).await.map_err(unsent)?;
                self.send(&fresh, method, path, body, call)
                    .await
                    .map_err(|e| match e {
                        CarrierError::AuthFailed(second) => CarrierError::AuthFailed(format!(
                            "{second} (a new token was refused too; first: {first})"
                        )),
                        other => other,
                    })
            }
            other => other,
        }
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        token: &AccessToken,
        method: Method,
        path: &[&str],
        body: &Value,
        call: Call,
    ) -> Result<T, CarrierError> {
        self.http
            .call(method, path, Some(body), call, Some(token))
            .await
    }

    fn account(&self) -> Value {
        json!({ "value": self.account_number })
    }

    /// Every track result of a Track API answer, by tracking number; results FedEx reports
    /// as errors (not found) are left out.
    async fn track_results(
        &self,
        path: &[&str],
        body: &Value,
    ) -> Result<Vec<TrackResult>, CarrierError> {
        let answer: TrackAnswer = self
            .call(
                &self.track_tokens,
                Method::POST,
                path,
                body,
                Call::Idempotent,
            )
            .await?;
        Ok(answer
            .output
            .complete_track_results
            .into_iter()
            .flat_map(|c| c.track_results)
            .collect())
    }

    async fn track_number(&self, tracking_number: &str) -> Result<TrackResult, CarrierError> {
        let body = json!({
            "includeDetailedScans": true,
            "trackingInfo": [{ "trackingNumberInfo": { "trackingNumber": tracking_number } }],
        });
        let results = self
            .track_results(&["track", "v1", "trackingnumbers"], &body)
            .await?;
        let result = results.into_iter().next().ok_or_else(|| {
            CarrierError::Malformed("the FedEx tracking answer has no result".into())
        })?;
        if let Some(e) = &result.error {
            return Err(CarrierError::Rejected(format!(
                "FedEx cannot track {tracking_number}: {}",
                e.describe()
            )));
        }
        Ok(result)
    }
}

crate::http::http_options!(Fedex);

#[async_trait::async_trait]
impl Carrier for Fedex {
    async fn rates(&self, shipment: &ShipmentRequest) -> Result<Rates, CarrierError> {
        let parcels = shipment.checked_parcels()?;
        label_specification(&shipment.options)?;
        let mut body = json!({
            "accountNumber": self.account(),
            "rateRequestControlParameters": { "returnTransitTimes": true },
            "requestedShipment": {
                "shipper": { "address": rate_address(&shipment.from) },
                "recipient": { "address": rate_address(&shipment.to) },
                "pickupType": PICKUP_TYPE,
                "packagingType": OWN_PACKAGING,
                "rateRequestType": ["ACCOUNT", "LIST"],
                "totalPackageCount": parcels.len(),
                "requestedPackageLineItems": line_items(parcels, None, &shipment.options),
            },
        });
        mark_return(&mut body, shipment.is_return);
        add_customs(&mut body, shipment, false);
        let answer: RateAnswer = self
            .call(
                &self.tokens,
                Method::POST,
                &["rate", "v1", "rates", "quotes"],
                &body,
                Call::Idempotent,
            )
            .await?;
        rates(answer)
    }

    async fn buy_label(&self, purchase: &Purchase) -> Result<PurchasedLabel, CarrierError> {
        let (service, packaging) = service_of(&purchase.rate)?;
        let reference = reference_of(&purchase.reference)?;
        let s = &purchase.shipment;
        let parcels = s.checked_parcels()?;
        let grams: u64 = parcels.iter().map(|p| u64::from(p.weight_grams)).sum();
        let mut body = json!({
            "labelResponseOptions": "URL_ONLY",
            "accountNumber": self.account(),
            "requestedShipment": {
                "shipper": party(&s.from),
                "recipients": [party(&s.to)],
                "serviceType": service,
                "packagingType": packaging,
                "pickupType": PICKUP_TYPE,
                "shippingChargesPayment": { "paymentType": "SENDER" },
                "labelSpecification": label_specification(&s.options)?,
                "totalWeight": pound_tenths(grams) as f64 / 10.0,
                "totalPackageCount": parcels.len(),
                "requestedPackageLineItems": line_items(parcels, Some(reference), &s.options),
            },
        });
        mark_return(&mut body, s.is_return);
        add_customs(&mut body, s, true);
        let answer: ShipAnswer = self
            .call(
                &self.tokens,
                Method::POST,
                &["ship", "v1", "shipments"],
                &body,
                Call::NonIdempotent,
            )
            .await?;
        label(answer)
    }

    async fn void_label(&self, carrier_reference: &str) -> Result<VoidOutcome, CarrierError> {
        let number = tracking_number_of(carrier_reference)?;
        let body = json!({
            "accountNumber": self.account(),
            "trackingNumber": number,
            "deletionControl": "DELETE_ALL_PACKAGES",
            "emailShipment": false,
        });
        let answer: CancelAnswer = self
            .call(
                &self.tokens,
                Method::PUT,
                &["ship", "v1", "shipments", "cancel"],
                &body,
                Call::NonIdempotent,
            )
            .await?;
        // A cancelled shipment is never billed: nothing is left to refund.
        Ok(if answer.output.cancelled_shipment == Some(true) {
            VoidOutcome::Refunded
        } else {
            VoidOutcome::Rejected(
                answer
                    .output
                    .message()
                    .unwrap_or_else(|| "FedEx did not cancel the shipment".into()),
            )
        })
    }

    async fn track(&self, _carrier: &str, tracking_number: &str) -> Result<Tracking, CarrierError> {
        let number = tracking_number_of(tracking_number)?;
        let result = self.track_number(number).await?;
        Ok(tracking(result))
    }

    /// A token proves the client id and secret; FedEx has no cheaper authenticated call.
    /// `POST /address/v1/addresses/resolve`: the resolved address, its classification, and
    /// whether FedEx matched it to a delivery point (advisory, as FedEx says).
    async fn verify_address(&self, address_in: &Address) -> Result<AddressCheck, CarrierError> {
        let body = json!({
            "addressesToValidate": [{ "address": address(address_in) }],
        });
        let answer: Result<Value, CarrierError> = self
            .call(
                &self.tokens,
                Method::POST,
                &["address", "v1", "addresses", "resolve"],
                &body,
                Call::Idempotent,
            )
            .await;
        match answer {
            Ok(v) => Ok(address_check(address_in, &v)),
            // FedEx's "not found" is a 400: an answer about the address, not a failure.
            Err(CarrierError::Rejected(why)) if why.contains("ADDRESS.NOTFOUND") => {
                Ok(AddressCheck {
                    deliverable: false,
                    address: address_in.clone(),
                    residential: None,
                    messages: vec![AddressMessage {
                        code: "STANDARDIZED.ADDRESS.NOTFOUND".into(),
                        field: None,
                        message: why,
                    }],
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn verify_credentials(&self) -> Result<(), CarrierError> {
        self.tokens.token().await.map(|_| ())
    }

    /// Several `requestedPackageLineItems` in one ship request: one master number, a piece
    /// (number and label) per package.
    fn multi_piece(&self) -> bool {
        true
    }

    /// `POST /track/v1/referencenumbers` for our customer reference under the shipper's
    /// account (FedEx searches the last 30 days by default): the label bought under it, if any.
    async fn find_purchase(
        &self,
        rate: &RateRef,
        reference: &str,
    ) -> Result<PurchaseLookup, CarrierError> {
        service_of(rate)?;
        let reference = reference_of(reference)?;
        let body = json!({
            "includeDetailedScans": false,
            "referencesInformation": {
                "type": "CUSTOMER_REFERENCE",
                "value": reference,
                "accountNumber": self.account_number,
            },
        });
        let results = self
            .track_results(&["track", "v1", "referencenumbers"], &body)
            .await?;
        let mut numbers: Vec<String> = results
            .into_iter()
            .filter(|r| r.error.is_none())
            .filter(|r| r.latest_code().as_deref() != Some(CANCELLED))
            .filter_map(|r| r.tracking_number())
            .collect();
        // One reference is one attempt: its numbers are that purchase's pieces (several for a
        // multi-piece shipment, whose first number is the master in FedEx's numbering).
        numbers.sort();
        numbers.dedup();
        let Some(first) = numbers.first().cloned() else {
            return Ok(PurchaseLookup::NotBought);
        };
        let mut label = PurchasedLabel::single(
            first.clone(),
            NAME.into(),
            String::new(),
            "PDF".into(),
            first,
        );
        let master = label.carrier_reference.clone();
        label.packages = numbers
            .into_iter()
            .map(|tracking_number| PackageLabel {
                tracking_number,
                label_url: String::new(),
                carrier_reference: master.clone(),
            })
            .collect();
        Ok(PurchaseLookup::Bought(label))
    }

    /// A cancelled shipment shows as `CA` in tracking.
    async fn find_void(&self, carrier_reference: &str) -> Result<VoidLookup, CarrierError> {
        let number = tracking_number_of(carrier_reference)?;
        let result = self.track_number(number).await?;
        Ok(if result.latest_code().as_deref() == Some(CANCELLED) {
            VoidLookup::Voided(VoidOutcome::Refunded)
        } else {
            VoidLookup::NotVoided
        })
    }
}

/// A token that could not be had: the request was never sent.
fn unsent(e: CarrierError) -> CarrierError {
    match e {
        CarrierError::Unavailable(m) | CarrierError::Malformed(m) => CarrierError::Unreached(m),
        other => other,
    }
}

/// Our rate id: FedEx's service type and packaging type.
pub fn rate_id(service: &str, packaging: &str) -> String {
    format!("{service}:{packaging}")
}

/// The service and packaging a rate id names (both FedEx enum words).
fn service_of(rate: &RateRef) -> Result<(&str, &str), CarrierError> {
    let word = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    };
    match rate.rate_id.split_once(':') {
        Some((service, packaging)) if word(service) && word(packaging) => Ok((service, packaging)),
        _ => Err(CarrierError::Rejected(
            "not a FedEx rate id (SERVICE_TYPE:PACKAGING_TYPE)".into(),
        )),
    }
}

fn reference_of(reference: &str) -> Result<&str, CarrierError> {
    let r = reference.trim();
    if r.is_empty() || r.chars().count() > MAX_PURCHASE_REFERENCE {
        return Err(CarrierError::Rejected(format!(
            "a FedEx customer reference has 1 to {MAX_PURCHASE_REFERENCE} characters"
        )));
    }
    Ok(r)
}

fn tracking_number_of(value: &str) -> Result<&str, CarrierError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 40 || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CarrierError::Rejected("not a FedEx tracking number".into()));
    }
    Ok(v)
}

/// An address in FedEx's shape; absent fields left out.
fn address(a: &Address) -> Value {
    let mut m = Map::new();
    let lines: Vec<&str> = [Some(a.street1.as_str()), a.street2.as_deref()]
        .into_iter()
        .flatten()
        .filter(|l| !l.trim().is_empty())
        .collect();
    m.insert("streetLines".into(), json!(lines));
    m.insert("city".into(), a.city.as_str().into());
    if let Some(state) = &a.state {
        m.insert("stateOrProvinceCode".into(), state.as_str().into());
    }
    m.insert("postalCode".into(), a.zip.as_str().into());
    m.insert("countryCode".into(), a.country.as_str().into());
    m.into()
}

/// An address as the Rate API takes it: no street lines (its schema has none).
fn rate_address(a: &Address) -> Value {
    let mut v = address(a);
    if let Some(m) = v.as_object_mut() {
        m.remove("streetLines");
    }
    v
}

/// A shipper or recipient: contact and address.
fn party(a: &Address) -> Value {
    let mut contact = Map::new();
    contact.insert("personName".into(), a.name.as_str().into());
    for (key, value) in [
        ("companyName", &a.company),
        ("phoneNumber", &a.phone),
        ("emailAddress", &a.email),
    ] {
        if let Some(v) = value {
            contact.insert(key.into(), v.as_str().into());
        }
    }
    json!({ "contact": contact, "address": address(a) })
}

/// One package: pounds to a tenth and whole inches, each rounded up (a label must never
/// declare less than the parcel is); dimensions all-or-none.
/// A return label: FedEx's `RETURN_SHIPMENT` with a printed return label. FedEx does not swap
/// the addresses: the shipper is the customer sending the parcel back (the request's real
/// direction), the recipient where it goes, paid by the account as any shipment.
fn mark_return(body: &mut Value, is_return: bool) {
    if !is_return {
        return;
    }
    if let Some(shipment) = body
        .get_mut("requestedShipment")
        .and_then(Value::as_object_mut)
    {
        shipment.insert(
            "shipmentSpecialServices".into(),
            json!({
                "specialServiceTypes": ["RETURN_SHIPMENT"],
                "returnShipmentDetail": { "returnType": "PRINT_RETURN_LABEL" },
            }),
        );
    }
}

/// One line item per parcel (a multi-piece shipment when several), each with our reference,
/// its declared value (insurance) and the signature asked for.
fn line_items(parcels: &[Parcel], reference: Option<&str>, o: &LabelOptions) -> Vec<Value> {
    parcels
        .iter()
        .map(|p| {
            let mut item = package(p, reference);
            if let Some(insured) = o.insurance {
                item["declaredValue"] = json!({
                    "amount": insured.minor() as f64 / 10f64.powi(insured.currency().exponent() as i32),
                    "currency": insured.currency().code(),
                });
            }
            if let Some(signature) = o.signature {
                item["packageSpecialServices"] = json!({
                    "specialServiceTypes": ["SIGNATURE_OPTION"],
                    "signatureOptionType": match signature {
                        Signature::Standard => "DIRECT",
                        Signature::Adult => "ADULT",
                    },
                });
            }
            item
        })
        .collect()
}

/// `labelSpecification`: the image type and the stock of the size asked for (4x6 unless
/// said; thermal formats print on label stock, PDF and PNG on paper); a size FedEx does not
/// stock is refused before any call.
fn label_specification(o: &LabelOptions) -> Result<Value, CarrierError> {
    let format = o.format.unwrap_or(LabelFormat::Pdf);
    let thermal = matches!(format, LabelFormat::Zpl | LabelFormat::Epl2);
    let stock = match (o.size.as_deref().unwrap_or("4x6"), thermal) {
        ("4x6", false) => "PAPER_4X6",
        ("4x6", true) => "STOCK_4X6",
        ("4x8", false) => "PAPER_4X8",
        ("4x8", true) => "STOCK_4X8",
        ("4x9", false) => "PAPER_4X9",
        ("4x9", true) => "STOCK_4X9",
        ("8.5x11", false) => "PAPER_85X11_TOP_HALF_LABEL",
        (size, _) => {
            return Err(CarrierError::NotSupported(format!(
                "FedEx stocks no {size} {} labels",
                format.as_str()
            )));
        }
    };
    let image = match format {
        LabelFormat::Pdf => "PDF",
        LabelFormat::Png => "PNG",
        LabelFormat::Zpl => "ZPLII",
        LabelFormat::Epl2 => "EPL2",
    };
    Ok(json!({ "imageType": image, "labelStockType": stock }))
}

/// `customsClearanceDetail` (both rating and shipping need the commodities of an international
/// shipment) and, when shipping, the commercial invoice as a document.
fn add_customs(body: &mut Value, s: &ShipmentRequest, shipping: bool) {
    let Some(c) = &s.customs else {
        return;
    };
    let money = |m: &domain::Money| {
        json!({
            "amount": m.minor() as f64 / 10f64.powi(m.currency().exponent() as i32),
            "currency": m.currency().code(),
        })
    };
    let commodities: Vec<Value> = c
        .items
        .iter()
        .map(|i| {
            let mut item = json!({
                "description": i.description,
                "name": i.description,
                "countryOfManufacture": i.origin_country,
                "quantity": i.quantity,
                "quantityUnits": "PCS",
                "numberOfPieces": 1,
                "customsValue": money(&i.value),
                "weight": {"units": "KG", "value": (f64::from(i.weight_grams) / 1000.0)},
                "partNumber": i.sku.to_string(),
            });
            if let Some(hs) = &i.hs_tariff_number {
                item["harmonizedCode"] = hs.as_str().into();
            }
            item
        })
        .collect();
    let purpose = match c.contents_type {
        domain::order::ContentsType::Gift => "GIFT",
        domain::order::ContentsType::Sample => "SAMPLE",
        domain::order::ContentsType::ReturnedGoods => "REPAIR_AND_RETURN",
        _ => "SOLD",
    };
    let total = c.total_value().ok().flatten();
    let mut detail = json!({
        "commercialInvoice": { "shipmentPurpose": purpose },
        "dutiesPayment": { "paymentType": "SENDER" },
        "isDocumentOnly": c.contents_type == domain::order::ContentsType::Documents,
        "commodities": commodities,
    });
    if let Some(total) = total {
        detail["totalCustomsValue"] = money(&total);
    }
    if let Some(eel) = &c.eel_pfc {
        detail["exportDetail"] = json!({ "exportComplianceStatement": eel });
    }
    if let Some(shipment) = body.get_mut("requestedShipment") {
        shipment["customsClearanceDetail"] = detail;
        if shipping {
            shipment["shippingDocumentSpecification"] = json!({
                "shippingDocumentTypes": ["COMMERCIAL_INVOICE"],
                "commercialInvoiceDetail": {
                    "documentFormat": { "docType": "PDF", "stockType": "PAPER_LETTER" },
                },
            });
        }
    }
}

/// What FedEx resolved: deliverable when resolved, standardized and (in the US) a delivery
/// point; the resolved street lines, city, state and postal code; RESIDENTIAL or BUSINESS.
fn address_check(given: &Address, v: &Value) -> AddressCheck {
    let resolved = v
        .pointer("/output/resolvedAddresses/0")
        .cloned()
        .unwrap_or_default();
    // FedEx's attribute flags come as booleans or as "true"/"false".
    let flag = |k: &str| match &resolved["attributes"][k] {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(s.eq_ignore_ascii_case("true")),
        _ => None,
    };
    let standardized = resolved["attributes"]["AddressType"].as_str() == Some("STANDARDIZED");
    let deliverable = flag("Resolved") == Some(true)
        && standardized
        && (given.country != "US" || flag("DPV") == Some(true))
        && flag("SuiteRequiredButMissing") != Some(true)
        && flag("InvalidSuiteNumber") != Some(true)
        && flag("MultipleMatches") != Some(true);
    let messages = resolved["customerMessages"]
        .as_array()
        .or_else(|| resolved["customerMessage"].as_array())
        .map(|ms| {
            ms.iter()
                .map(|m| {
                    let code = text(m).or_else(|| field(m, "code")).unwrap_or_default();
                    AddressMessage {
                        message: field(m, "message").unwrap_or_else(|| code.clone()),
                        code,
                        field: None,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let lines: Vec<String> = resolved["streetLinesToken"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let zip = field(&resolved, "postalCode").or_else(|| {
        resolved
            .pointer("/postalCodeToken/value")
            .and_then(|z| z.as_str().map(str::to_owned))
    });
    let residential = match resolved["classification"].as_str() {
        Some("RESIDENTIAL") => Some(true),
        Some("BUSINESS") => Some(false),
        _ => None,
    };
    let answered = Answered {
        street1: lines.first().cloned(),
        street2: lines.get(1).cloned(),
        city: field(&resolved, "city"),
        state: field(&resolved, "stateOrProvinceCode"),
        zip,
        country: field(&resolved, "countryCode"),
    };
    checked(given, deliverable, answered, residential, messages)
}

fn package(p: &Parcel, reference: Option<&str>) -> Value {
    let mut item = Map::new();
    item.insert(
        "weight".into(),
        json!({ "units": "LB", "value": pound_tenths(u64::from(p.weight_grams)) as f64 / 10.0 }),
    );
    if [p.length_mm, p.width_mm, p.height_mm] != [0, 0, 0] {
        item.insert(
            "dimensions".into(),
            json!({
                "length": inches(p.length_mm),
                "width": inches(p.width_mm),
                "height": inches(p.height_mm),
                "units": "IN",
            }),
        );
    }
    if let Some(r) = reference {
        item.insert(
            "customerReferences".into(),
            json!([{ "customerReferenceType": "CUSTOMER_REFERENCE", "value": r }]),
        );
    }
    item.into()
}

/// Tenths of a pound in `grams`, rounded up (at least one tenth).
fn pound_tenths(grams: u64) -> u64 {
    let tenths = (u128::from(grams) * 10 * 100_000).div_ceil(CENTIGRAMS_PER_POUND_X1000);
    u64::try_from(tenths).unwrap_or(u64::MAX).max(1)
}

/// Whole inches in `mm`, rounded up (25.4 mm an inch; at least one).
fn inches(mm: u32) -> u64 {
    (u64::from(mm) * 10).div_ceil(254).max(1)
}

/// The carrier's own text of an error body: `errors[].code: message`.
fn error_text(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let errors = v.get("errors")?.as_array()?;
    let texts: Vec<String> = errors
        .iter()
        .filter_map(|e| code_message(field(e, "code"), field(e, "message")))
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RateAnswer {
    output: RateOutput,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RateOutput {
    #[serde(deserialize_with = "lenient::list")]
    rate_reply_details: Vec<RateReply>,
    #[serde(deserialize_with = "lenient::list")]
    alerts: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RateReply {
    #[serde(deserialize_with = "lenient::string")]
    service_type: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    service_name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    packaging_type: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    rated_shipment_details: Vec<Value>,
    operational_detail: Option<Value>,
    commit: Option<Value>,
}

/// The rates of a quote; a service without a usable charge is listed as a rating error.
fn rates(answer: RateAnswer) -> Result<Rates, CarrierError> {
    let mut out = Rates::default();
    for reply in answer.output.rate_reply_details {
        let Some(service) = reply.service_type.clone() else {
            continue;
        };
        let name = reply
            .service_name
            .clone()
            .unwrap_or_else(|| service.clone());
        match charge(&reply.rated_shipment_details) {
            Ok(amount) => out.rates.push(Rate {
                rate: RateRef {
                    rate_id: rate_id(
                        &service,
                        reply.packaging_type.as_deref().unwrap_or(OWN_PACKAGING),
                    ),
                    carrier_shipment: None,
                    carrier: None,
                },
                carrier: NAME.into(),
                service: name,
                amount,
                delivery_days: transit_days(&reply),
            }),
            Err(e) => out.errors.push(RateError {
                carrier: NAME.into(),
                message: format!("{name}: {e}"),
            }),
        }
    }
    if out.rates.is_empty() {
        for alert in &answer.output.alerts {
            if let Some(message) = field(alert, "message").or_else(|| field(alert, "code")) {
                out.errors.push(RateError {
                    carrier: NAME.into(),
                    message,
                });
            }
        }
    }
    Ok(out)
}

/// What the shipper pays for one service: the account's rate, else the list rate, else the
/// first one given; `totalNetCharge` in its `currency`, read exactly from the JSON number's text.
fn charge(details: &[Value]) -> Result<domain::Money, CarrierError> {
    let of_type = |t: &str| {
        details
            .iter()
            .find(|d| field(d, "rateType").as_deref() == Some(t))
    };
    let detail = of_type("ACCOUNT")
        .or_else(|| of_type("LIST"))
        .or_else(|| details.first())
        .ok_or_else(|| CarrierError::Malformed("a FedEx rate without a charge".into()))?;
    let amount = detail
        .get("totalNetCharge")
        .and_then(text)
        .ok_or_else(|| CarrierError::Malformed("a FedEx rate without totalNetCharge".into()))?;
    let currency = field(detail, "currency")
        .or_else(|| {
            detail
                .get("shipmentRateDetail")
                .and_then(|d| field(d, "currency"))
        })
        .ok_or_else(|| CarrierError::Malformed("a FedEx rate without a currency".into()))?;
    parse_amount(&amount, &currency)
}

/// Transit days from FedEx's words (`THREE_DAYS`) or a number of days, when given.
fn transit_days(reply: &RateReply) -> Option<u32> {
    const WORDS: [&str; 20] = [
        "ONE",
        "TWO",
        "THREE",
        "FOUR",
        "FIVE",
        "SIX",
        "SEVEN",
        "EIGHT",
        "NINE",
        "TEN",
        "ELEVEN",
        "TWELVE",
        "THIRTEEN",
        "FOURTEEN",
        "FIFTEEN",
        "SIXTEEN",
        "SEVENTEEN",
        "EIGHTEEN",
        "NINETEEN",
        "TWENTY",
    ];
    let from_word = |t: &str| {
        let word = t.strip_suffix("_DAYS").or_else(|| t.strip_suffix("_DAY"))?;
        WORDS
            .iter()
            .position(|w| *w == word)
            .and_then(|i| u32::try_from(i + 1).ok())
    };
    reply
        .operational_detail
        .as_ref()
        .and_then(|d| field(d, "transitTime"))
        .and_then(|t| from_word(&t))
        .or_else(|| {
            reply
                .commit
                .as_ref()
                .and_then(|c| c.get("transitDays"))
                .and_then(|d| field(d, "minimumTransitTime"))
                .and_then(|t| from_word(&t))
        })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ShipAnswer {
    output: ShipOutput,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ShipOutput {
    #[serde(deserialize_with = "lenient::list")]
    transaction_shipments: Vec<TransactionShipment>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TransactionShipment {
    #[serde(deserialize_with = "lenient::string")]
    master_tracking_number: Option<String>,
    /// The shipment's documents (its commercial invoice).
    #[serde(deserialize_with = "lenient::list")]
    shipment_documents: Vec<Value>,
    #[serde(deserialize_with = "lenient::list")]
    piece_responses: Vec<PieceResponse>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PieceResponse {
    #[serde(deserialize_with = "lenient::string")]
    tracking_number: Option<String>,
    #[serde(deserialize_with = "lenient::u32")]
    package_sequence_number: Option<u32>,
    #[serde(deserialize_with = "lenient::list")]
    package_documents: Vec<Value>,
}

/// The bought label: every piece's tracking number and label document in sequence (one piece
/// unless it is a multi-piece shipment), the master's first; the master number is what a void
/// cancels (all pieces with it). A 2xx answer without them is malformed, never a refusal:
/// FedEx may have made the label.
fn label(answer: ShipAnswer) -> Result<PurchasedLabel, CarrierError> {
    let shipment = answer
        .output
        .transaction_shipments
        .into_iter()
        .next()
        .ok_or_else(|| {
            CarrierError::Malformed("the FedEx shipment answer has no shipment".into())
        })?;
    let mut pieces = shipment.piece_responses;
    pieces.sort_by_key(|p| p.package_sequence_number.unwrap_or(u32::MAX));
    let mut packages = Vec::with_capacity(pieces.len());
    let mut format = None;
    for piece in &pieces {
        let number = piece
            .tracking_number
            .clone()
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| {
                CarrierError::Malformed("a FedEx piece has no tracking number".into())
            })?;
        let document = piece
            .package_documents
            .iter()
            .find(|d| field(d, "url").is_some())
            .ok_or_else(|| {
                CarrierError::Malformed(
                    "the FedEx shipment answer has no label document URL".into(),
                )
            })?;
        format = format.or_else(|| {
            field(document, "docType").map(|d| if d == "ZPLII" { "ZPL".into() } else { d })
        });
        packages.push(PackageLabel {
            tracking_number: number,
            label_url: field(document, "url").unwrap_or_default(),
            carrier_reference: String::new(),
        });
    }
    let first = packages.first().cloned().ok_or_else(|| {
        CarrierError::Malformed("the FedEx shipment answer has no tracking number".into())
    })?;
    let master = shipment
        .master_tracking_number
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| first.tracking_number.clone());
    // The master number cancels every piece.
    for p in &mut packages {
        p.carrier_reference.clone_from(&master);
    }
    let customs_form_url = shipment
        .shipment_documents
        .iter()
        .filter(|d| field(d, "contentType").is_some_and(|t| t.contains("INVOICE")))
        .find_map(|d| field(d, "url"));
    Ok(PurchasedLabel {
        carrier_reference: master,
        tracking_number: first.tracking_number,
        carrier: NAME.into(),
        label_url: first.label_url,
        label_format: format.unwrap_or_else(|| "PDF".into()),
        packages,
        customs_form_url,
        // FedEx's declared value is a liability, priced into the rate: not itemised.
        insurance_fee: None,
    })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct CancelAnswer {
    output: CancelOutput,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct CancelOutput {
    cancelled_shipment: Option<bool>,
    /// The spec's `message`; recorded answers also say `successMessage`.
    #[serde(deserialize_with = "lenient::string")]
    message: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    success_message: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    alerts: Vec<Value>,
}

impl CancelOutput {
    fn message(&self) -> Option<String> {
        self.alerts
            .iter()
            .find_map(|a| field(a, "message"))
            .or_else(|| self.message.clone())
            .or_else(|| self.success_message.clone())
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TrackAnswer {
    output: TrackOutput,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TrackOutput {
    #[serde(deserialize_with = "lenient::list")]
    complete_track_results: Vec<CompleteTrackResult>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct CompleteTrackResult {
    #[serde(deserialize_with = "lenient::list")]
    track_results: Vec<TrackResult>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TrackResult {
    tracking_number_info: Option<Value>,
    latest_status_detail: Option<Value>,
    #[serde(deserialize_with = "lenient::list")]
    scan_events: Vec<Value>,
    error: Option<TrackError>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TrackError {
    #[serde(deserialize_with = "lenient::string")]
    code: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    message: Option<String>,
}

impl TrackError {
    fn describe(&self) -> String {
        code_message(self.code.clone(), self.message.clone()).unwrap_or_else(|| "no result".into())
    }
}

/// FedEx's `code: message`, or whichever of the two it gave.
fn code_message(code: Option<String>, message: Option<String>) -> Option<String> {
    match (code, message) {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (Some(t), None) | (None, Some(t)) => Some(t),
        (None, None) => None,
    }
}

impl TrackResult {
    fn tracking_number(&self) -> Option<String> {
        self.tracking_number_info
            .as_ref()
            .and_then(|i| field(i, "trackingNumber"))
    }

    /// The latest status code: `code`, else `derivedCode` (the derived codes fold some
    /// statuses into others: out for delivery reads as `IT`).
    fn latest_code(&self) -> Option<String> {
        let d = self.latest_status_detail.as_ref()?;
        field(d, "code").or_else(|| field(d, "derivedCode"))
    }
}

/// FedEx's status codes onto ours (docs/carriers/fedex-api.md §8): the movement codes of
/// `latestStatusDetail.code`, and the derived `IN` (label created) and `RL` (running late).
fn status(code: &str) -> TrackStatus {
    match code {
        "OC" | "OX" | "MD" | "EP" | "DS" | "PD" | "AP" | "IN" => TrackStatus::PreTransit,
        "PU" | "PX" | "DO" | "IP" | "IT" | "IX" | "Ow" | "AA" | "AC" | "AF" | "AR" | "AX"
        | "DP" | "EA" | "EO" | "FD" | "LO" | "OF" | "PF" | "PL" | "PM" | "SF" | "TR" | "AO"
        | "AE" | "DD" | "DY" | "CH" | "CC" | "CD" | "CP" | "HL" | "HP" | "HA" | "RL" => {
            TrackStatus::InTransit
        }
        "OD" | "ED" | "AD" => TrackStatus::OutForDelivery,
        "DL" => TrackStatus::Delivered,
        "DE" | "SE" | "CA" => TrackStatus::Failure,
        "RS" | "RT" => TrackStatus::Returned,
        _ => TrackStatus::Unknown,
    }
}

/// Tracking from a result: the latest status, and the scans oldest first (FedEx lists the
/// newest first).
fn tracking(result: TrackResult) -> Tracking {
    let raw = result.latest_code().unwrap_or_default();
    let mut events: Vec<TrackEvent> = result
        .scan_events
        .iter()
        .map(|e| TrackEvent {
            status: field(e, "eventType")
                .or_else(|| field(e, "derivedStatusCode"))
                .unwrap_or_default(),
            message: field(e, "eventDescription").unwrap_or_default(),
            at: field(e, "date"),
        })
        .collect();
    events.reverse();
    Tracking {
        status: status(&raw),
        raw_status: raw,
        events,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn units_round_up() {
        assert_eq!(pound_tenths(1), 1);
        assert_eq!(pound_tenths(453), 10, "453 g is just under a pound");
        assert_eq!(pound_tenths(454), 11);
        assert_eq!(pound_tenths(500), 12);
        assert_eq!(inches(254), 10);
        assert_eq!(inches(255), 11);
        assert_eq!(inches(1), 1);
    }

    #[test]
    fn rate_ids_name_service_and_packaging() {
        let r = |id: &str| RateRef {
            rate_id: id.into(),
            carrier_shipment: None,
            carrier: None,
        };
        assert_eq!(
            service_of(&r(&rate_id("FEDEX_GROUND", "YOUR_PACKAGING"))).unwrap(),
            ("FEDEX_GROUND", "YOUR_PACKAGING")
        );
        for bad in [
            "",
            "FEDEX_GROUND",
            ":YOUR_PACKAGING",
            "a:b",
            "X:Y:Z",
            "X Y:Z",
        ] {
            assert!(service_of(&r(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_come_exactly_from_json_numbers() {
        let m = charge(&[
            json!({"rateType": "LIST", "totalNetCharge": 445.54, "currency": "USD"}),
            json!({"rateType": "ACCOUNT", "totalNetCharge": 41.03, "currency": "USD"}),
        ])
        .unwrap();
        assert_eq!(m.to_string(), "41.03 USD");
        let m = charge(&[json!({"totalNetCharge": 22, "shipmentRateDetail": {"currency": "CAD"}})])
            .unwrap();
        assert_eq!(m.to_string(), "22.00 CAD");
    }

    #[test]
    fn statuses_map_from_movement_codes() {
        for (code, want) in [
            ("OC", TrackStatus::PreTransit),
            ("PU", TrackStatus::InTransit),
            ("OD", TrackStatus::OutForDelivery),
            ("DL", TrackStatus::Delivered),
            ("DE", TrackStatus::Failure),
            ("CA", TrackStatus::Failure),
            ("RS", TrackStatus::Returned),
            ("ZZ", TrackStatus::Unknown),
        ] {
            assert_eq!(status(code), want, "{code}");
        }
        let result: TrackResult = serde_json::from_value(json!({
            "latestStatusDetail": {"code": "OD", "derivedCode": "IT"},
            "scanEvents": [
                {"date": "2024-01-02T08:00:00-06:00", "eventType": "OD", "derivedStatusCode": "IT", "eventDescription": "On FedEx vehicle for delivery"},
                {"date": "2024-01-01T17:00:00-06:00", "eventType": "PU", "derivedStatusCode": "PU", "eventDescription": "Picked up"}
            ]
        }))
        .unwrap();
        let t = tracking(result);
        assert_eq!(
            t.status,
            TrackStatus::OutForDelivery,
            "code, not the derived IT"
        );
        assert_eq!(t.events[0].status, "PU", "oldest first");
        assert_eq!(t.events[1].message, "On FedEx vehicle for delivery");
    }

    #[test]
    fn error_text_reads_the_errors_array() {
        let body = br#"{"transactionId":"t","errors":[{"code":"NOT.AUTHORIZED.ERROR","message":"Access token expired."}]}"#;
        assert_eq!(
            error_text(body).unwrap(),
            "NOT.AUTHORIZED.ERROR: Access token expired."
        );
        assert_eq!(error_text(b"<html>"), None);
    }
}
