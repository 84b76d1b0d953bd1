//! Stateful fakes of EasyPost and Shippo (FedEx's is `fake_fedex`) on 127.0.0.1, for this crate's tests and other
//! crates' end-to-end tests. They keep what the real APIs keep — quoted rates, bought
//! labels, tracking — so a wrong id, a double purchase or a wrong key fails as it would for
//! real, with each carrier's documented error bodies. Faults can be queued to test retries,
//! and every request is recorded (auth header included: these are test keys).
//!
//! Where the real API's behaviour is undocumented the fake picks one and says so: an unknown
//! tracking number is a 404; buying a Shippo rate twice answers a transaction with status
//! `ERROR`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

/// How long a `Timeout` fault holds its request: longer than the client's default timeout.
const TIMEOUT_FAULT_SLEEP: Duration = Duration::from_secs(30);

/// Something the next request gets instead of its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// No answer for longer than the client waits.
    Timeout,
    /// 500.
    ServerError,
    /// 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// 200 with a body that is not JSON.
    Malformed,
    /// 401 with the carrier's error body, whatever the key.
    Unauthorized,
    /// The request is carried out (a label sold, a refund taken), then no answer for longer
    /// than the client waits: the outcome is known only to the carrier.
    DoThenStall,
    /// The request waits this long before the carrier carries it out and answers (a slow
    /// carrier: meanwhile, a lookup finds nothing).
    DelayThenDo(Duration),
    /// Answered as usual: a place in the queue, so a later request gets the next fault.
    Pass,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// The path with its query string.
    pub path: String,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    /// The JSON body, or `Null` when there was none (or it was not JSON).
    pub body: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    EasyPost,
    Shippo,
}

/// One running fake carrier; stops when dropped.
pub struct FakeCarrier {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCarrier {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeCarrier {
    /// A fake EasyPost accepting `api_key` as the Basic-auth user name.
    pub async fn easypost(api_key: &str) -> Self {
        Self::start(Flavour::EasyPost, api_key).await
    }

    /// A fake Shippo accepting `Authorization: ShippoToken <api_key>`.
    pub async fn shippo(api_key: &str) -> Self {
        Self::start(Flavour::Shippo, api_key).await
    }

    // A fixture that cannot listen must fail the test using it, loudly.
    #[allow(clippy::expect_used)]
    async fn start(flavour: Flavour, api_key: &str) -> Self {
        let shared = Arc::new(Shared::new(flavour, api_key));
        let (addr, server) = serve(Router::new().fallback(handle).with_state(shared.clone())).await;
        lock(&shared.books).base = format!("http://{addr}");
        Self {
            addr,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`, for `Credentials::base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Accepts another key too (key rotation).
    pub fn accept_key(&self, key: &str) {
        lock(&self.shared.keys).insert(key.to_owned());
    }

    /// Queues a fault; each request takes the oldest one, before auth is checked.
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.shared.faults).push_back(fault);
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// The raw status tracking reports for `tracking_number` from now on (and makes the number
    /// known if it was not).
    pub fn set_tracking(&self, tracking_number: &str, raw_status: &str) {
        lock(&self.shared.books)
            .tracking
            .insert(tracking_number.to_owned(), raw_status.to_owned());
    }

    /// How many labels were sold (each purchase the carrier carried out, refunded or not).
    pub fn labels_sold(&self) -> usize {
        lock(&self.shared.books).labels.len()
    }

    /// How many labels were refunded (voided).
    pub fn labels_refunded(&self) -> usize {
        lock(&self.shared.books)
            .labels
            .values()
            .filter(|l| l.refunded)
            .count()
    }

    /// The tracking numbers of the labels sold, in no particular order.
    pub fn sold_tracking_numbers(&self) -> Vec<String> {
        lock(&self.shared.books)
            .labels
            .values()
            .map(|l| l.tracking_number.clone())
            .collect()
    }

    /// Shippo flavour: purchases from now on answer `QUEUED`, as Shippo's asynchronous ones
    /// do, and stay so for `lookups` lookups (`GET /transactions/{id}`), done at the next;
    /// `None`: purchases are done at once again.
    pub fn queue_labels(&self, lookups: Option<u32>) {
        lock(&self.shared.books).queue_for = lookups;
    }

    /// The `nth` purchase from now (1: the next) is refused as the carrier refuses postage
    /// (EasyPost 422 `SHIPMENT.POSTAGE.FAILURE`, Shippo a transaction in `ERROR`).
    pub fn refuse_buy(&self, nth: usize) {
        lock(&self.shared.books).refuse_buy_in = Some(nth);
    }

    /// Labels sold and not refunded.
    pub fn live_labels(&self) -> usize {
        lock(&self.shared.books)
            .labels
            .values()
            .filter(|l| !l.refunded)
            .count()
    }

    /// Shippo flavour: every queued purchase is done now (its next lookup answers `SUCCESS`).
    pub fn finish_queued(&self) {
        for label in lock(&self.shared.books).labels.values_mut() {
            label.queued = None;
        }
    }

    /// The next label bought carries this tracking number (then numbering goes on as before):
    /// how a test makes two carriers answer the same number.
    pub fn set_next_tracking_number(&self, tracking_number: &str) {
        lock(&self.shared.books).next_tracking_number = Some(tracking_number.to_owned());
    }
}

/// Serves `app` on 127.0.0.1 (a free port) until the handle is aborted: the address and the
/// server task. Every fake carrier runs on this.
// A fixture that cannot listen must fail the test using it, loudly.
#[allow(clippy::expect_used)]
pub(crate) async fn serve(app: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a fake carrier binds 127.0.0.1:0");
    let addr = listener
        .local_addr()
        .expect("a fake carrier has a local address");
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "fake carrier stopped");
        }
    });
    (addr, server)
}

/// What a fake carrier shares with its handler.
struct Shared {
    flavour: Flavour,
    keys: Mutex<HashSet<String>>,
    faults: Mutex<VecDeque<Fault>>,
    requests: Mutex<Vec<Recorded>>,
    books: Mutex<Books>,
}

/// Poisoning only means another test thread panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn new(flavour: Flavour, api_key: &str) -> Self {
        Self {
            flavour,
            keys: Mutex::new(HashSet::from([api_key.to_owned()])),
            faults: Mutex::default(),
            requests: Mutex::default(),
            books: Mutex::default(),
        }
    }

    /// The key an `Authorization` header carries, in this carrier's scheme.
    fn key_of(&self, authorization: &str) -> Option<String> {
        match self.flavour {
            Flavour::EasyPost => {
                let encoded = authorization.strip_prefix("Basic ")?;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()?;
                let text = String::from_utf8(decoded).ok()?;
                text.split_once(':').map(|(user, _)| user.to_owned())
            }
            Flavour::Shippo => authorization
                .strip_prefix("ShippoToken ")
                .map(|k| k.trim().to_owned()),
        }
    }

    fn authorized(&self, authorization: Option<&str>) -> bool {
        authorization
            .and_then(|a| self.key_of(a))
            .is_some_and(|key| lock(&self.keys).contains(&key))
    }

    fn unauthorized(&self, header_missing: bool) -> Response {
        match self.flavour {
            Flavour::EasyPost => easypost_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "The API key provided is invalid or missing.",
            ),
            Flavour::Shippo => {
                let detail = if header_missing {
                    "Authentication credentials were not provided."
                } else {
                    "Token does not exist"
                };
                (StatusCode::UNAUTHORIZED, Json(json!({ "detail": detail }))).into_response()
            }
        }
    }

    async fn fault(&self, fault: Fault) -> Response {
        match fault {
            Fault::Timeout => {
                tokio::time::sleep(TIMEOUT_FAULT_SLEEP).await;
                self.server_error()
            }
            Fault::ServerError => self.server_error(),
            Fault::RateLimited { retry_after_secs } => {
                let body = match self.flavour {
                    Flavour::EasyPost => json!({"error": {"code": "RATE_LIMITED",
                        "message": "You have exceeded the rate limit.", "errors": []}}),
                    Flavour::Shippo => json!({"detail": "Request was throttled."}),
                };
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, retry_after_secs.to_string())],
                    Json(body),
                )
                    .into_response()
            }
            Fault::Malformed => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>upstream hiccup</body></html>",
            )
                .into_response(),
            Fault::Unauthorized => self.unauthorized(false),
            Fault::DoThenStall | Fault::DelayThenDo(_) | Fault::Pass => self.server_error(),
        }
    }

    fn server_error(&self) -> Response {
        match self.flavour {
            Flavour::EasyPost => easypost_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "We're sorry, something went wrong.",
            ),
            Flavour::Shippo => {
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
            }
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    lock(&shared.requests).push(Recorded {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
        authorization: authorization.clone(),
        body: body.clone(),
    });
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    // Label and form files are public, as EasyPost's are (no key, no fault).
    if let ["files", kind, name] = segments.as_slice() {
        return lock(&shared.books).file(kind, name);
    }
    let fault = lock(&shared.faults)
        .pop_front()
        .filter(|f| *f != Fault::Pass);
    let stall = fault == Some(Fault::DoThenStall);
    if let Some(Fault::DelayThenDo(delay)) = fault {
        tokio::time::sleep(delay).await;
    } else if let Some(fault) = fault.filter(|f| *f != Fault::DoThenStall) {
        return shared.fault(fault).await;
    }
    if !shared.authorized(authorization.as_deref()) {
        return shared.unauthorized(authorization.is_none());
    }
    let response = {
        let mut books = lock(&shared.books);
        match shared.flavour {
            Flavour::EasyPost => books.easypost(&method, &segments, &body),
            Flavour::Shippo => books.shippo(&method, &segments, uri.query(), &body),
        }
    };
    if stall {
        tokio::time::sleep(TIMEOUT_FAULT_SLEEP).await;
        return shared.server_error();
    }
    response
}

/// A service the fakes quote.
struct Offer {
    carrier: &'static str,
    service: &'static str,
    token: &'static str,
    /// EasyPost pads to five decimals in places; one offer does so to exercise the parsing.
    easypost_amount: &'static str,
    shippo_amount: &'static str,
    days: u32,
}

const OFFERS: [Offer; 2] = [
    Offer {
        carrier: "USPS",
        service: "Priority",
        token: "usps_priority",
        easypost_amount: "7.58",
        shippo_amount: "7.58",
        days: 2,
    },
    Offer {
        carrier: "UPS",
        service: "Ground",
        token: "ups_ground",
        easypost_amount: "9.21000",
        shippo_amount: "9.21",
        days: 5,
    },
];

/// The carrier that never rates: its failure comes back as a rate message.
const FAILING_CARRIER: &str = "FedEx";

struct FakeRate {
    id: String,
    shipment: String,
    offer: &'static Offer,
}

/// A bought label, by its void reference (EasyPost shipment id, Shippo transaction id).
struct Label {
    tracking_number: String,
    rate_id: String,
    /// Shippo: still being made, for this many more lookups.
    queued: Option<u32>,
    refunded: bool,
    /// Shippo: the purchase's `metadata`.
    metadata: Option<String>,
    /// Shippo: the parcel this transaction labels.
    parcel: Option<String>,
}

/// What the fake remembers.
#[derive(Default)]
struct Books {
    next: u64,
    /// Created shipments (EasyPost: their label once bought lives in `labels` under this id).
    shipments: HashSet<String>,
    rates: HashMap<String, FakeRate>,
    labels: HashMap<String, Label>,
    /// Shippo rates already bought.
    bought_rates: HashSet<String>,
    /// Tracking number → raw status.
    tracking: HashMap<String, String>,
    /// The number the next bought label gets, when a test set one.
    next_tracking_number: Option<String>,
    /// Shippo: purchases answer `QUEUED` and stay so for this many lookups.
    queue_for: Option<u32>,
    /// Shippo: a shipment's parcels (their object ids, in the order sent).
    parcels: HashMap<String, Vec<Value>>,
    /// Purchases until one is refused (1: the next).
    refuse_buy_in: Option<usize>,
    /// Where this fake listens (its label and form files are served under `/files/`).
    base: String,
    /// Each shipment as created (its customs and options), by id.
    created: HashMap<String, Value>,
    /// Shippo: the `label_file_type` each transaction was bought with.
    file_types: HashMap<String, String>,
    /// EasyPost: the insured amount a purchase asked for, by shipment.
    ep_insured: HashMap<String, String>,
}

impl Books {
    /// Whether this purchase is the one a test asked to be refused.
    fn refuse_this_buy(&mut self) -> bool {
        match self.refuse_buy_in {
            Some(1) => {
                self.refuse_buy_in = None;
                true
            }
            Some(n) => {
                self.refuse_buy_in = Some(n.saturating_sub(1));
                false
            }
            None => false,
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// A label or form file, in the format its name's extension says: ZPL `^XA…^XZ`, EPL2,
    /// PDF `%PDF-…%%EOF`, PNG; the label's tracking number inside the printable ones.
    fn file(&self, kind: &str, name: &str) -> Response {
        let Some((stem, ext)) = name.rsplit_once('.') else {
            return ep_not_found();
        };
        let Some(label) = self.labels.get(stem) else {
            return ep_not_found();
        };
        let n = &label.tracking_number;
        let (mime, bytes): (&str, Vec<u8>) = match (kind, ext) {
            ("postage_label", "zpl") => (
                "application/zpl",
                format!("^XA\n^CF0,40\n^FO50,50^FD{n}^FS\n^BY3^FO50,120^BCN,120,Y,N,N^FD{n}^FS\n^XZ")
                    .into_bytes(),
            ),
            ("postage_label", "epl2") => (
                "application/epl2",
                format!("N\nA50,50,0,4,1,1,N,\"{n}\"\nB50,120,0,1,3,7,120,B,\"{n}\"\nP1\n").into_bytes(),
            ),
            ("postage_label", "png") => (
                "image/png",
                b"\x89PNG\r\n\x1a\n".iter().copied().chain(n.bytes()).collect(),
            ),
            (_, "pdf") => (
                "application/pdf",
                format!("%PDF-1.4\n% {kind} {n}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
                    .into_bytes(),
            ),
            _ => return ep_not_found(),
        };
        ([(header::CONTENT_TYPE, mime)], bytes).into_response()
    }

    /// Quotes every offer for a new shipment; the new shipment id and its rates.
    fn quote(&mut self, shipment_prefix: &str, rate_prefix: &str) -> (String, Vec<String>) {
        let shipment = format!("{shipment_prefix}{:032x}", self.next_id());
        self.shipments.insert(shipment.clone());
        let mut rate_ids = Vec::new();
        for offer in &OFFERS {
            let id = format!("{rate_prefix}{:032x}", self.next_id());
            self.rates.insert(
                id.clone(),
                FakeRate {
                    id: id.clone(),
                    shipment: shipment.clone(),
                    offer,
                },
            );
            rate_ids.push(id);
        }
        (shipment, rate_ids)
    }

    fn rate_json(&self, id: &str, flavour: Flavour) -> Value {
        let Some(r) = self.rates.get(id) else {
            return Value::Null;
        };
        match flavour {
            Flavour::EasyPost => json!({
                "id": r.id, "object": "Rate", "mode": "test",
                "service": r.offer.service, "carrier": r.offer.carrier,
                "rate": r.offer.easypost_amount, "currency": "USD",
                "retail_rate": r.offer.easypost_amount, "retail_currency": "USD",
                "list_rate": r.offer.easypost_amount, "list_currency": "USD",
                "billing_type": "easypost", "delivery_days": r.offer.days,
                "delivery_date": null, "delivery_date_guaranteed": false,
                "est_delivery_days": r.offer.days, "shipment_id": r.shipment,
                "carrier_account_id": format!("ca_{}", r.offer.token),
            }),
            Flavour::Shippo => json!({
                "object_id": r.id, "amount": r.offer.shippo_amount,
                "amount_local": r.offer.shippo_amount, "currency": "USD",
                "currency_local": "USD", "provider": r.offer.carrier,
                "carrier_account": r.offer.token, "shipment": r.shipment,
                "servicelevel": {"name": r.offer.service, "token": r.offer.token, "terms": ""},
                "estimated_days": r.offer.days, "duration_terms": "",
                "attributes": [], "messages": [], "zone": "1", "test": true,
            }),
        }
    }

    // ---- EasyPost ------------------------------------------------------------------------

    fn easypost(&mut self, method: &Method, segments: &[&str], body: &Value) -> Response {
        match (method.as_str(), segments) {
            ("POST", ["v2", "shipments"]) => self.ep_create(body),
            ("POST", ["v2", "shipments", id, "buy"]) => self.ep_buy(id, body),
            ("POST", ["v2", "shipments", id, "refund"]) => self.ep_refund(id),
            ("GET", ["v2", "shipments", id]) => self.ep_shipment_get(id),
            ("POST", ["v2", "trackers"]) => self.ep_track(body),
            ("POST", ["v2", "addresses"]) => ep_address(body),
            ("GET", ["v2", "addresses"]) => (
                StatusCode::OK,
                Json(json!({"addresses": [], "has_more": false})),
            )
                .into_response(),
            _ => ep_not_found(),
        }
    }

    fn ep_create(&mut self, body: &Value) -> Response {
        let shipment = &body["shipment"];
        let weight = shipment["parcel"]["weight"].as_f64().unwrap_or(0.0);
        if !shipment["to_address"].is_object()
            || !shipment["from_address"].is_object()
            || weight <= 0.0
        {
            return easypost_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "PARAMETER.REQUIRED",
                "shipment.to_address, shipment.from_address and shipment.parcel.weight are required",
            );
        }
        let (id, rate_ids) = self.quote("shp_", "rate_");
        self.created.insert(id.clone(), shipment.clone());
        let rates: Vec<Value> = rate_ids
            .iter()
            .map(|r| self.rate_json(r, Flavour::EasyPost))
            .collect();
        let mut out = ep_shipment(&id, shipment);
        out["rates"] = rates.into();
        out["messages"] = json!([{
            "carrier": FAILING_CARRIER, "carrier_account_id": "ca_fedex",
            "type": "rate_error", "message": "Shipment cannot weigh less than 16oz",
        }]);
        (StatusCode::CREATED, Json(out)).into_response()
    }

    fn ep_buy(&mut self, shipment: &str, body: &Value) -> Response {
        if !self.shipments.contains(shipment) {
            return ep_not_found();
        }
        let rate_id = body["rate"]["id"].as_str().unwrap_or_default().to_owned();
        let belongs = self
            .rates
            .get(&rate_id)
            .is_some_and(|r| r.shipment == shipment);
        if !belongs {
            return easypost_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "SHIPMENT.POSTAGE.FAILURE",
                &format!("Rate {rate_id:?} is not a rate of shipment {shipment}."),
            );
        }
        if self.labels.contains_key(shipment) {
            return easypost_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "SHIPMENT.POSTAGE.EXISTS",
                "Postage already exists for this shipment.",
            );
        }
        if self.refuse_this_buy() {
            return easypost_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "SHIPMENT.POSTAGE.FAILURE",
                "The carrier refused to create the label.",
            );
        }
        let tracking_number = match self.next_tracking_number.take() {
            Some(n) => n,
            None => format!("EZ{}", 4_000_000_000 + self.next_id()),
        };
        self.tracking
            .insert(tracking_number.clone(), "pre_transit".into());
        if let Some(insured) = body["insurance"].as_str() {
            self.ep_insured
                .insert(shipment.to_owned(), insured.to_owned());
        }
        self.labels.insert(
            shipment.to_owned(),
            Label {
                tracking_number,
                rate_id,
                queued: None,
                refunded: false,
                metadata: None,
                parcel: None,
            },
        );
        (StatusCode::OK, Json(self.ep_bought(shipment, None))).into_response()
    }

    fn ep_shipment_get(&self, shipment: &str) -> Response {
        if !self.shipments.contains(shipment) {
            return ep_not_found();
        }
        let out = match self.labels.get(shipment) {
            Some(label) => self.ep_bought(shipment, label.refunded.then_some("submitted")),
            None => ep_shipment(shipment, &Value::Null),
        };
        (StatusCode::OK, Json(out)).into_response()
    }

    fn ep_refund(&mut self, shipment: &str) -> Response {
        if !self.shipments.contains(shipment) {
            return ep_not_found();
        }
        let Some(label) = self.labels.get_mut(shipment) else {
            return easypost_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "SHIPMENT.REFUND.UNAVAILABLE",
                "This shipment has no postage to refund.",
            );
        };
        label.refunded = true;
        (
            StatusCode::OK,
            Json(self.ep_bought(shipment, Some("submitted"))),
        )
            .into_response()
    }

    /// A bought shipment as EasyPost returns it.
    fn ep_bought(&self, shipment: &str, refund_status: Option<&str>) -> Value {
        let Some(label) = self.labels.get(shipment) else {
            return Value::Null;
        };
        let mut out = ep_shipment(shipment, &Value::Null);
        out["tracking_code"] = label.tracking_number.as_str().into();
        out["selected_rate"] = self.rate_json(&label.rate_id, Flavour::EasyPost);
        out["refund_status"] = refund_status.into();
        let created = self.created.get(shipment).cloned().unwrap_or_default();
        let format = created["options"]["label_format"]
            .as_str()
            .unwrap_or("PNG")
            .to_ascii_uppercase();
        let (ext, mime) = match format.as_str() {
            "PDF" => ("pdf", "application/pdf"),
            "ZPL" => ("zpl", "application/zpl"),
            "EPL2" => ("epl2", "application/epl2"),
            _ => ("png", "image/png"),
        };
        let url = format!("{}/files/postage_label/{shipment}.{ext}", self.base);
        let converted = |e: &str| (ext == e).then(|| url.clone());
        out["postage_label"] = json!({
            "object": "PostageLabel", "id": format!("pl_{shipment}"),
            "label_date": "2024-01-01T00:00:00Z", "label_resolution": 300,
            "label_size": created["options"]["label_size"].as_str().unwrap_or("4x6"),
            "label_type": "default", "label_file_type": mime,
            "label_url": url,
            "label_pdf_url": converted("pdf"), "label_zpl_url": converted("zpl"),
            "label_epl2_url": converted("epl2"),
            "label_file": null, "integrated_form": "none", "date_advance": 0,
        });
        out["options"] = created["options"].clone();
        if created["customs_info"].is_object() {
            out["customs_info"] = created["customs_info"].clone();
            out["forms"] = json!([{
                "object": "Form", "id": format!("form_{shipment}"), "mode": "test",
                "form_type": "commercial_invoice",
                "form_url": format!("{}/files/forms/{shipment}.pdf", self.base),
                "submitted_electronically": false,
            }]);
        }
        out["tracker"] = json!({
            "object": "Tracker", "tracking_code": label.tracking_number,
            "status": self.tracking.get(&label.tracking_number),
        });
        let mut fees = vec![
            json!({"object": "Fee", "type": "PostageFee", "amount": "7.58000",
            "charged": true, "refunded": label.refunded}),
        ];
        if let Some(insured) = self.ep_insured.get(shipment) {
            // A premium of 1 % of the insured value, in EasyPost's five decimals.
            let cents = insured
                .split_once('.')
                .map_or(insured.parse::<u64>().unwrap_or(0) * 100, |(w, f)| {
                    w.parse::<u64>().unwrap_or(0) * 100 + f.parse::<u64>().unwrap_or(0)
                });
            fees.push(json!({"object": "Fee", "type": "InsuranceFee",
                "amount": format!("{}.{:02}000", cents / 10_000, (cents / 100) % 100),
                "charged": true, "refunded": label.refunded}));
            out["insurance"] = insured.as_str().into();
        }
        out["fees"] = fees.into();
        out
    }

    fn ep_track(&mut self, body: &Value) -> Response {
        let code = body["tracker"]["tracking_code"]
            .as_str()
            .unwrap_or_default();
        let Some(status) = self.tracking.get(code).cloned() else {
            return easypost_error(
                StatusCode::NOT_FOUND,
                "TRACKER.NOT_FOUND",
                "The requested tracker could not be found.",
            );
        };
        let id = self.next_id();
        let detail = json!({
            "object": "TrackingDetail", "message": format!("Status: {status}"),
            "description": null, "status": status, "status_detail": "status_update",
            "datetime": "2024-01-01T00:00:00Z", "source": body["tracker"]["carrier"],
            "carrier_code": null, "tracking_location": {"object": "TrackingLocation",
                "city": null, "state": null, "country": null, "zip": null},
        });
        let tracker = json!({
            "id": format!("trk_{id:032x}"), "object": "Tracker", "mode": "test",
            "tracking_code": code, "status": status, "status_detail": "status_update",
            "carrier": body["tracker"]["carrier"], "shipment_id": null,
            "est_delivery_date": null, "signed_by": null, "weight": null,
            "public_url": format!("https://track.easypost.example/{code}"),
            "tracking_details": [detail], "carrier_detail": null,
            "fees": [], "finalized": true, "is_return": false,
        });
        (StatusCode::CREATED, Json(tracker)).into_response()
    }

    // ---- Shippo --------------------------------------------------------------------------

    fn shippo(
        &mut self,
        method: &Method,
        segments: &[&str],
        query: Option<&str>,
        body: &Value,
    ) -> Response {
        match (method.as_str(), segments) {
            ("POST", ["shipments"]) => self.sh_create(body),
            ("GET", ["shipments", id]) => match self.parcels.get(*id) {
                Some(parcels) => (
                    StatusCode::OK,
                    Json(json!({"object_id": id, "status": "SUCCESS", "parcels": parcels})),
                )
                    .into_response(),
                None => sh_not_found(),
            },
            ("POST", ["transactions"]) => self.sh_buy(body),
            ("GET", ["transactions"]) => self.sh_transactions(query),
            ("GET", ["transactions", id]) => self.sh_transaction(id),
            ("GET", ["rates", id]) => match self.rates.get(*id) {
                Some(_) => {
                    (StatusCode::OK, Json(self.rate_json(id, Flavour::Shippo))).into_response()
                }
                None => sh_not_found(),
            },
            ("POST", ["refunds"]) => self.sh_refund(body),
            ("GET", ["tracks", carrier, number]) => self.sh_track(carrier, number),
            ("GET", ["addresses"]) => (
                StatusCode::OK,
                Json(json!({"next": null, "previous": null, "results": []})),
            )
                .into_response(),
            ("POST", ["addresses"]) => sh_address(body),
            _ => sh_not_found(),
        }
    }

    fn sh_create(&mut self, body: &Value) -> Response {
        let mut missing = serde_json::Map::new();
        for required in ["address_from", "address_to"] {
            if !body[required].is_object() {
                missing.insert(required.into(), json!(["This field is required."]));
            }
        }
        if body["parcels"].as_array().is_none_or(Vec::is_empty) {
            missing.insert("parcels".into(), json!(["This field is required."]));
        }
        if !missing.is_empty() {
            return (StatusCode::BAD_REQUEST, Json(Value::Object(missing))).into_response();
        }
        let (id, rate_ids) = self.quote("", "");
        let parcels: Vec<Value> = body["parcels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let mut p = p.clone();
                p["object_id"] = format!("p{:031x}", self.next_id()).into();
                p
            })
            .collect();
        self.parcels.insert(id.clone(), parcels.clone());
        self.created.insert(id.clone(), body.clone());
        let rates: Vec<Value> = rate_ids
            .iter()
            .map(|r| self.rate_json(r, Flavour::Shippo))
            .collect();
        let out = json!({
            "object_id": id, "object_state": "VALID", "status": "SUCCESS",
            "address_from": body["address_from"], "address_to": body["address_to"],
            "parcels": parcels, "metadata": body["metadata"],
            "rates": rates,
            "messages": [{"source": FAILING_CARRIER, "code": "rate_error",
                "text": "FedEx could not rate this shipment: weight below the service minimum."}],
            "test": true,
        });
        (StatusCode::CREATED, Json(out)).into_response()
    }

    fn sh_buy(&mut self, body: &Value) -> Response {
        let rate_id = body["rate"]
            .as_str()
            .or_else(|| body["rate"]["object_id"].as_str())
            .unwrap_or_default()
            .to_owned();
        if !self.rates.contains_key(&rate_id) {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"rate": [format!("Rate with object_id {rate_id:?} does not exist.")]})),
            )
                .into_response();
        }
        let refused = self.refuse_this_buy();
        if refused || !self.bought_rates.insert(rate_id.clone()) {
            let text = if refused {
                "The carrier refused to create the label."
            } else {
                "This rate has already been purchased."
            };
            let out = json!({
                "object_id": format!("{:032x}", self.next_id()), "object_state": "INVALID", "status": "ERROR",
                "rate": rate_id, "tracking_number": null, "label_url": null,
                "messages": [{"source": "shippo", "code": "",
                    "text": text}],
                "test": true,
            });
            return (StatusCode::CREATED, Json(out)).into_response();
        }
        // A transaction per parcel (several for a multi-piece shipment); the answer is the
        // first's, the master.
        let parcels: Vec<Option<String>> = self
            .rates
            .get(&rate_id)
            .and_then(|r| self.parcels.get(&r.shipment))
            .filter(|p| p.len() > 1)
            .map(|p| {
                p.iter()
                    .map(|p| p["object_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_else(|| vec![None]);
        let mut id = String::new();
        for parcel in parcels {
            let tx = format!("{:032x}", self.next_id());
            let tracking_number = match self.next_tracking_number.take() {
                Some(n) => n,
                None => format!("9400{:018}", self.next_id()),
            };
            self.tracking
                .insert(tracking_number.clone(), "PRE_TRANSIT".into());
            self.labels.insert(
                tx.clone(),
                Label {
                    tracking_number,
                    rate_id: rate_id.clone(),
                    queued: self.queue_for,
                    refunded: false,
                    metadata: body["metadata"].as_str().map(str::to_owned),
                    parcel,
                },
            );
            if id.is_empty() {
                id = tx;
            }
        }
        let label_file_type = body["label_file_type"].as_str().unwrap_or("PDF_4x6");
        let bought: Vec<String> = self
            .labels
            .iter()
            .filter(|(_, l)| l.rate_id == rate_id)
            .map(|(tx, _)| tx.clone())
            .collect();
        for tx in bought {
            self.file_types.insert(tx, label_file_type.to_owned());
        }
        // As Shippo answers: the rate by its id only (its carrier is on the quote).
        let out = self.sh_transaction_json(&id, label_file_type);
        (StatusCode::CREATED, Json(out)).into_response()
    }

    /// `GET /transactions?rate=…`: the transactions of one rate (all of them without a filter).
    fn sh_transactions(&mut self, query: Option<&str>) -> Response {
        let rate = query
            .unwrap_or_default()
            .split('&')
            .find_map(|pair| pair.strip_prefix("rate="))
            .map(str::to_owned);
        let mut ids: Vec<String> = self
            .labels
            .iter()
            .filter(|(_, l)| rate.as_ref().is_none_or(|r| &l.rate_id == r))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        let results: Vec<Value> = ids
            .iter()
            .map(|id| self.sh_transaction_json(id, "PDF_4x6"))
            .collect();
        let out = json!({"next": null, "previous": null, "results": results});
        (StatusCode::OK, Json(out)).into_response()
    }

    fn sh_transaction(&mut self, id: &str) -> Response {
        let Some(label) = self.labels.get_mut(id) else {
            return sh_not_found();
        };
        label.queued = match label.queued {
            Some(n) if n > 0 => Some(n - 1),
            // Answered QUEUED for its lookups: done now.
            _ => None,
        };
        (
            StatusCode::OK,
            Json(self.sh_transaction_json(id, "PDF_4x6")),
        )
            .into_response()
    }

    fn sh_transaction_json(&self, id: &str, label_file_type: &str) -> Value {
        let Some(label) = self.labels.get(id) else {
            return Value::Null;
        };
        let status = match (label.queued.is_some(), label.refunded) {
            (true, _) => "QUEUED",
            (false, true) => "REFUNDED",
            (false, false) => "SUCCESS",
        };
        let done = label.queued.is_none();
        let label_file_type = self
            .file_types
            .get(id)
            .map_or(label_file_type, String::as_str);
        let ext = match label_file_type {
            "PNG" => "png",
            "ZPLII" => "zpl",
            _ => "pdf",
        };
        let international = self
            .rates
            .get(&label.rate_id)
            .and_then(|r| self.created.get(&r.shipment))
            .is_some_and(|s| s["customs_declaration"].is_object());
        let invoice =
            (done && international).then(|| format!("{}/files/forms/{id}.pdf", self.base));
        json!({
            "object_id": id, "object_state": "VALID", "status": status,
            "rate": label.rate_id, "parcel": label.parcel,
            "tracking_number": done.then_some(&label.tracking_number),
            "tracking_status": "UNKNOWN",
            "tracking_url_provider": done.then(|| format!("https://tools.usps.example/{}", label.tracking_number)),
            "label_url": done.then(|| format!("{}/files/postage_label/{id}.{ext}", self.base)),
            "label_file_type": done.then_some(label_file_type),
            "commercial_invoice_url": invoice, "qr_code_url": null, "eta": null,
            "messages": [], "metadata": label.metadata.as_deref().unwrap_or_default(), "test": true,
        })
    }

    fn sh_refund(&mut self, body: &Value) -> Response {
        let transaction = body["transaction"].as_str().unwrap_or_default().to_owned();
        let Some(label) = self.labels.get_mut(&transaction) else {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"transaction": [
                    format!("Transaction with object_id {transaction:?} does not exist.")
                ]})),
            )
                .into_response();
        };
        label.refunded = true;
        let id = format!("{:032x}", self.next_id());
        let out = json!({
            "object_id": id, "status": "SUCCESS", "transaction": transaction, "test": true,
            "object_created": "2024-01-01T00:00:00Z", "object_updated": "2024-01-01T00:00:00Z",
            "object_owner": "fake@example.com",
        });
        (StatusCode::CREATED, Json(out)).into_response()
    }

    fn sh_track(&self, carrier: &str, number: &str) -> Response {
        let Some(status) = self.tracking.get(number) else {
            return sh_not_found();
        };
        // Shippo tracks by carrier token: a label of ours only under its quote's carrier.
        let carried_by = self
            .labels
            .values()
            .find(|l| l.tracking_number == number)
            .and_then(|l| self.rates.get(&l.rate_id))
            .map(|r| r.offer.carrier.to_ascii_lowercase());
        if carried_by.is_some_and(|c| c != carrier) {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"carrier": [format!("{carrier:?} is not the carrier of {number}.")]})),
            )
                .into_response();
        }
        let event = json!({
            "object_id": format!("{number}-1"), "status": status,
            "status_details": format!("Status: {status}"),
            "status_date": "2024-01-01T00:00:00Z", "substatus": null, "location": null,
        });
        let out = json!({
            "carrier": carrier, "tracking_number": number, "eta": null,
            "servicelevel": {"token": null, "name": null},
            "address_from": null, "address_to": null,
            "tracking_status": event, "tracking_history": [event],
            "transaction": null, "messages": [], "metadata": null, "test": true,
        });
        (StatusCode::OK, Json(out)).into_response()
    }
}

/// A fresh EasyPost shipment object around `request` (the `shipment` of a create body).
fn ep_shipment(id: &str, request: &Value) -> Value {
    json!({
        "id": id, "object": "Shipment", "mode": "test", "status": "unknown",
        "reference": request["reference"], "to_address": request["to_address"],
        "from_address": request["from_address"], "parcel": request["parcel"],
        "tracking_code": null, "rates": [], "messages": [], "selected_rate": null,
        "postage_label": null, "tracker": null, "refund_status": null, "fees": [],
    })
}

/// `POST /v2/addresses` with `verify`: a street with "NOWHERE" in it cannot be delivered to
/// (its house number is invalid); any other address comes back corrected as EasyPost does —
/// upper case, ZIP+4 — residential unless it names a company.
fn ep_address(body: &Value) -> Response {
    let given = &body["address"];
    let text = |k: &str| given[k].as_str().unwrap_or_default().to_owned();
    if !given.is_object() {
        return easypost_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "PARAMETER.REQUIRED",
            "address is required",
        );
    }
    let undeliverable = text("street1").to_ascii_uppercase().contains("NOWHERE");
    let mut out = given.clone();
    out["id"] = "adr_fake".into();
    out["object"] = "Address".into();
    if undeliverable {
        out["residential"] = Value::Null;
        out["verifications"] = json!({"delivery": {"success": false, "errors": [
            {"code": "E.HOUSE_NUMBER.INVALID", "field": "street1",
             "message": "House number is invalid", "suggestion": null},
            {"code": "E.ADDRESS.NOT_FOUND", "field": "address",
             "message": "Address not found", "suggestion": null}], "details": {}}});
    } else {
        correct(&mut out);
        out["residential"] = given["company"].is_null().into();
        out["verifications"] = json!({"delivery": {"success": true, "errors": [],
            "details": {"latitude": 37.79, "longitude": -122.40, "time_zone": "America/Los_Angeles"}}});
    }
    (StatusCode::CREATED, Json(out)).into_response()
}

/// How both fakes correct a deliverable address: street and city in upper case, a five-digit
/// ZIP with its +4.
fn correct(a: &mut Value) {
    for key in ["street1", "city"] {
        let upper = a[key].as_str().unwrap_or_default().to_ascii_uppercase();
        a[key] = upper.into();
    }
    let zip = a["zip"].as_str().unwrap_or_default().to_owned();
    if zip.len() == 5 && zip.bytes().all(|b| b.is_ascii_digit()) {
        a["zip"] = format!("{zip}-1234").into();
    }
}

/// Shippo's `POST /addresses` with `validate`: a street with "NOWHERE" in it is not found;
/// any other comes back cleaned (upper case, ZIP+4) with a correction message, residential
/// unless it names a company.
fn sh_address(body: &Value) -> Response {
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let mut out = body.clone();
    if let Some(o) = out.as_object_mut() {
        o.remove("validate");
    }
    out["object_id"] = "adr_fake_shippo".into();
    out["is_complete"] = true.into();
    if text("street1").to_ascii_uppercase().contains("NOWHERE") {
        out["is_residential"] = Value::Null;
        out["validation_results"] = json!({"is_valid": false, "messages": [
            {"source": "USPS", "code": "Address Not Found", "type": "address_error",
             "text": "The address as submitted could not be found."}]});
    } else {
        correct(&mut out);
        out["is_residential"] = body["company"].is_null().into();
        out["validation_results"] = json!({"is_valid": true, "messages": [
            {"source": "Shippo Address Validator", "code": "postal_code_change",
             "type": "address_correction", "text": "The postal code was added or changed."}]});
    }
    (StatusCode::CREATED, Json(out)).into_response()
}

fn easypost_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message, "errors": []}});
    (status, Json(body)).into_response()
}

fn ep_not_found() -> Response {
    easypost_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource could not be found.",
    )
}

fn sh_not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"detail": "Not found."}))).into_response()
}
