//! A stateful fake of FedEx's REST API on 127.0.0.1, token endpoint included, for this crate's
//! tests and other crates' end-to-end tests. It keeps what FedEx keeps — the tokens it issued
//! and when they expire, the labels it made under which customer reference, their tracking —
//! and answers in FedEx's shapes (docs/carriers/fedex-api.md), so an expired token, an unknown
//! service, a wrong account or a double cancel fails as it would for real. Faults can be queued
//! for the token endpoint and for the API, and every request is recorded.
//!
//! Where FedEx's behaviour is undocumented the fake picks one and says so: cancelling an
//! unknown or already cancelled shipment is a 400 `SHIPMENT.CANCEL.NOTALLOWED`; a reference
//! nothing was shipped under answers a result whose `error` is `TRACKING.REFERENCENUMBER.NOTFOUND`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// How long a stalled request is held: longer than any client waits.
const STALL: Duration = Duration::from_secs(30);
/// The lifetime of the tokens it issues, as FedEx's (3600 s; karrio recorded 3599).
pub const TOKEN_LIFETIME_SECS: u64 = 3599;

/// Something the next token request gets instead of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFault {
    /// 503 `SERVICE.UNAVAILABLE.ERROR`: the token endpoint is down.
    Down,
    /// 200 with a body that is not a token.
    Malformed,
}

/// Something the next API request (not a token request) gets instead of its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 401 `NOT.AUTHORIZED.ERROR`, whatever the token (a valid-looking token refused).
    Unauthorized,
    /// 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// 500 before anything is done.
    ServerError,
    /// The request is carried out (a label made, a shipment cancelled), then 500.
    DoThenServerError,
    /// The request is carried out, then no answer for longer than any client waits.
    DoThenStall,
    /// 200 with a body that is not JSON.
    Malformed,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The client id the call's bearer token was issued to (`None`: no valid token; for token
    /// requests, the client id in the form).
    pub client_id: Option<String>,
    /// The JSON body (`Null` for the form of a token request, which holds the secret).
    pub body: Value,
}

/// One label the fake made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    pub tracking_number: String,
    /// The shipment's master number (a piece of a multi-piece shipment; its own number else).
    pub master: String,
    pub reference: Option<String>,
    pub service: String,
    pub cancelled: bool,
}

/// The fake's services and what it charges for them (account rate, list rate), and transit.
const SERVICES: [(&str, &str, f64, f64, &str); 2] = [
    ("FEDEX_GROUND", "FedEx Ground", 12.34, 14.1, "THREE_DAYS"),
    ("FEDEX_2_DAY", "FedEx 2Day", 23.45, 27.05, "TWO_DAYS"),
];

#[derive(Default)]
struct Books {
    /// client id → secret.
    clients: HashMap<String, String>,
    /// token → (client id, expires at, in the fake's seconds).
    tokens: HashMap<String, (String, u64)>,
    /// The fake's clock, in seconds: tests move it to expire tokens.
    now: u64,
    next: u64,
    token_requests: usize,
    labels: Vec<Made>,
    /// tracking number → movement code set by a test.
    tracking: HashMap<String, String>,
    token_faults: VecDeque<TokenFault>,
    faults: VecDeque<Fault>,
    requests: Vec<Recorded>,
}

struct Shared {
    account_number: String,
    books: Mutex<Books>,
}

/// Poisoning only means another test thread panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake FedEx; stops when dropped.
pub struct FakeFedex {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeFedex {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeFedex {
    /// A fake FedEx for the shipper account `account_number`, issuing tokens to `client_id`
    /// with `client_secret`.
    // A fixture that cannot listen must fail the test using it, loudly.
    #[allow(clippy::expect_used)]
    pub async fn start(client_id: &str, client_secret: &str, account_number: &str) -> Self {
        let shared = Arc::new(Shared {
            account_number: account_number.to_owned(),
            books: Mutex::default(),
        });
        lock(&shared.books)
            .clients
            .insert(client_id.to_owned(), client_secret.to_owned());
        let (addr, server) =
            crate::fake::serve(Router::new().fallback(handle).with_state(shared.clone())).await;
        Self {
            addr,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`: the base URL (the token endpoint is `/oauth/token` under it).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Issues tokens to another client too (a tracking key pair, a rotated secret).
    pub fn accept_client(&self, client_id: &str, client_secret: &str) {
        lock(&self.shared.books)
            .clients
            .insert(client_id.to_owned(), client_secret.to_owned());
    }

    /// Every token issued so far expires now (as an hour passing would).
    pub fn expire_tokens(&self) {
        let mut b = lock(&self.shared.books);
        b.now += TOKEN_LIFETIME_SECS + 1;
    }

    /// Queues a fault for the token endpoint.
    pub fn fail_next_token(&self, fault: TokenFault) {
        lock(&self.shared.books).token_faults.push_back(fault);
    }

    /// Queues a fault for the API (each API request takes the oldest one, before its token is
    /// checked).
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.shared.books).faults.push_back(fault);
    }

    /// How many token requests came (answered or not).
    pub fn token_requests(&self) -> usize {
        lock(&self.shared.books).token_requests
    }

    /// Every token issued so far (for tests that search logs and answers for them).
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.shared.books).tokens.keys().cloned().collect()
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.books).requests.clone()
    }

    /// Every label made, cancelled or not, oldest first.
    pub fn labels(&self) -> Vec<Made> {
        lock(&self.shared.books).labels.clone()
    }

    /// The labels made and not cancelled.
    pub fn live_labels(&self) -> Vec<Made> {
        self.labels().into_iter().filter(|l| !l.cancelled).collect()
    }

    /// The movement code tracking reports for `tracking_number` from now on.
    pub fn set_tracking(&self, tracking_number: &str, code: &str) {
        lock(&self.shared.books)
            .tracking
            .insert(tracking_number.to_owned(), code.to_owned());
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({
            "transactionId": "fake-0000",
            "errors": [{ "code": code, "message": message }],
        })),
    )
        .into_response()
}

fn not_authorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "NOT.AUTHORIZED.ERROR",
        "Access token expired. Please modify your request and try again.",
    )
}

fn server_error() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL.SERVER.ERROR",
        "We encountered an unexpected error and are working to resolve the issue.",
    )
}

fn malformed() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html")],
        "<html><body>upstream hiccup</body></html>",
    )
        .into_response()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() == "/oauth/token" {
        return token(&shared, &method, &body);
    }
    // Label and invoice documents (FedEx's URL_ONLY answers point at them).
    if let Some(name) = uri.path().strip_prefix("/document/v1/") {
        return document(name);
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (fault, client) = {
        let mut b = lock(&shared.books);
        let now = b.now;
        let client = bearer
            .as_ref()
            .and_then(|t| b.tokens.get(t))
            .filter(|(_, until)| now < *until)
            .map(|(client, _)| client.clone());
        b.requests.push(Recorded {
            method: method.to_string(),
            path: uri.path().to_owned(),
            client_id: client.clone(),
            body: json.clone(),
        });
        (b.faults.pop_front(), client)
    };
    let after = match fault {
        Some(Fault::Unauthorized) => return not_authorized(),
        Some(Fault::RateLimited { retry_after_secs }) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after_secs.to_string())],
                Json(json!({"transactionId": "fake-0000", "errors": [{
                    "code": "RATE.LIMIT.EXCEEDED",
                    "message": "We have received too many requests in a short duration."}]})),
            )
                .into_response();
        }
        Some(Fault::ServerError) => return server_error(),
        Some(Fault::Malformed) => return malformed(),
        Some(f @ (Fault::DoThenServerError | Fault::DoThenStall)) => Some(f),
        None => None,
    };
    if client.is_none() {
        return not_authorized();
    }
    let response = {
        let mut b = lock(&shared.books);
        b.api(
            &shared,
            &method,
            uri.path(),
            &json,
            &format!("http://{}", host(&headers)),
        )
    };
    match after {
        Some(Fault::DoThenServerError) => server_error(),
        Some(_) => {
            tokio::time::sleep(STALL).await;
            server_error()
        }
        None => response,
    }
}

fn host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned()
}

/// `POST /oauth/token`, form-encoded client credentials.
fn token(shared: &Shared, method: &Method, body: &[u8]) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let mut b = lock(&shared.books);
    b.token_requests += 1;
    b.requests.push(Recorded {
        method: method.to_string(),
        path: "/oauth/token".into(),
        client_id: form.get("client_id").cloned(),
        body: Value::Null,
    });
    match b.token_faults.pop_front() {
        Some(TokenFault::Down) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE.UNAVAILABLE.ERROR",
                "The service is currently unavailable and we are working to resolve the issue.",
            );
        }
        Some(TokenFault::Malformed) => return malformed(),
        None => {}
    }
    let known = match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => b.clients.get(id) == Some(secret),
        _ => false,
    };
    if *method != Method::POST
        || form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || !known
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "NOT.AUTHORIZED.ERROR",
            "The given client credentials were not valid. Please modify your request and try again.",
        );
    }
    b.next += 1;
    let access = format!(
        "eyJhbGciOiJSUzI1NiJ9.fake-{:06}.{:016x}",
        b.next,
        b.next.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    );
    let until = b.now + TOKEN_LIFETIME_SECS;
    let client = form.get("client_id").cloned().unwrap_or_default();
    b.tokens.insert(access.clone(), (client, until));
    Json(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "scope": "CXS",
    }))
    .into_response()
}

impl Books {
    fn api(
        &mut self,
        shared: &Shared,
        method: &Method,
        path: &str,
        body: &Value,
        base: &str,
    ) -> Response {
        let account = body
            .pointer("/accountNumber/value")
            .or_else(|| body.pointer("/referencesInformation/accountNumber"))
            .and_then(Value::as_str);
        let needs_account = !matches!(
            path,
            "/track/v1/trackingnumbers" | "/address/v1/addresses/resolve"
        );
        if needs_account && account != Some(shared.account_number.as_str()) {
            return error(
                StatusCode::BAD_REQUEST,
                "ACCOUNT.NUMBER.MISMATCH",
                "When payment Type is SENDER, ShippingChargesPayment Payor AccountNumber should match the shipper account number.",
            );
        }
        match (method.as_str(), path) {
            ("POST", "/rate/v1/rates/quotes") => rate(body),
            ("POST", "/ship/v1/shipments") => self.ship(body, base),
            ("PUT", "/ship/v1/shipments/cancel") => self.cancel(body),
            ("POST", "/track/v1/trackingnumbers") => self.track(body),
            ("POST", "/track/v1/referencenumbers") => self.by_reference(body),
            ("POST", "/address/v1/addresses/resolve") => resolve(body),
            _ => error(
                StatusCode::NOT_FOUND,
                "NOT.FOUND.ERROR",
                "The resource you requested is no longer available.",
            ),
        }
    }

    fn ship(&mut self, body: &Value, base: &str) -> Response {
        let shipment = &body["requestedShipment"];
        let service = shipment["serviceType"].as_str().unwrap_or_default();
        if !SERVICES.iter().any(|s| s.0 == service) {
            return error(
                StatusCode::BAD_REQUEST,
                "SERVICETYPE.NOT.ALLOWED",
                "This service type is not allowed for the origin/destination pair.",
            );
        }
        if shipment["packagingType"].as_str() != Some("YOUR_PACKAGING")
            || shipment.pointer("/shipper/address/postalCode").is_none()
            || shipment
                .pointer("/recipients/0/address/postalCode")
                .is_none()
            || shipment
                .pointer("/recipients/0/contact/personName")
                .is_none()
            || shipment
                .pointer("/requestedPackageLineItems/0/weight/value")
                .is_none()
        {
            return error(
                StatusCode::BAD_REQUEST,
                "SHIPMENT.REQUEST.INVALID",
                "The shipment is missing its packaging, addresses, contact or weight.",
            );
        }
        let reference = shipment
            .pointer("/requestedPackageLineItems/0/customerReferences/0/value")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if reference.as_ref().is_some_and(|r| r.chars().count() > 30) {
            return error(
                StatusCode::BAD_REQUEST,
                "CUSTOMERREFERENCE.VALUE.INVALID",
                "Customer reference value is too long (30 characters for Ground).",
            );
        }
        let (doc_type, ext) = match shipment
            .pointer("/labelSpecification/imageType")
            .and_then(Value::as_str)
        {
            Some("ZPLII") => ("ZPLII", "zpl"),
            Some("EPL2") => ("EPL2", "epl2"),
            Some("PNG") => ("PNG", "png"),
            _ => ("PDF", "pdf"),
        };
        // A piece per line item, numbered in sequence; the first is the master.
        let items = shipment["requestedPackageLineItems"]
            .as_array()
            .map_or(1, Vec::len);
        let mut master = String::new();
        let mut pieces = Vec::new();
        for sequence in 1..=items {
            self.next += 1;
            let number = format!("7949{:08}", self.next);
            if master.is_empty() {
                master = number.clone();
            }
            self.labels.push(Made {
                tracking_number: number.clone(),
                master: master.clone(),
                reference: reference.clone(),
                service: service.to_owned(),
                cancelled: false,
            });
            pieces.push(json!({
                "masterTrackingNumber": master,
                "trackingNumber": number,
                "packageSequenceNumber": sequence,
                "packageDocuments": [{
                    "contentType": "LABEL",
                    "copiesToPrint": 1,
                    "docType": doc_type,
                    "url": format!("{base}/document/v1/labels/{number}.{ext}"),
                }],
            }));
        }
        // The commercial invoice of an international shipment, when asked for.
        let invoice: Vec<Value> = shipment["customsClearanceDetail"]["commodities"]
            .is_array()
            .then(|| {
                json!({"contentType": "COMMERCIAL_INVOICE", "copiesToPrint": 3, "docType": "PDF",
                    "trackingNumber": master,
                    "url": format!("{base}/document/v1/invoices/{master}.pdf")})
            })
            .into_iter()
            .collect();
        Json(json!({
            "transactionId": "fake-ship",
            "output": { "transactionShipments": [{
                "serviceType": service,
                "masterTrackingNumber": master,
                "pieceResponses": pieces,
                "shipmentDocuments": invoice,
            }]},
        }))
        .into_response()
    }

    fn cancel(&mut self, body: &Value) -> Response {
        let number = body["trackingNumber"].as_str().unwrap_or_default();
        // DELETE_ALL_PACKAGES: every piece of the shipment the number belongs to.
        let master = self
            .labels
            .iter()
            .find(|l| l.tracking_number == number && !l.cancelled)
            .map(|l| l.master.clone());
        match master {
            Some(master) => {
                for piece in self.labels.iter_mut().filter(|l| l.master == master) {
                    piece.cancelled = true;
                }
                Json(json!({
                    "transactionId": "fake-cancel",
                    "output": { "cancelledShipment": true, "cancelledHistory": true, "message": "Shipment is successfully cancelled" },
                }))
                .into_response()
            }
            None => error(
                StatusCode::BAD_REQUEST,
                "SHIPMENT.CANCEL.NOTALLOWED",
                "The shipment cannot be cancelled: it is unknown or already cancelled.",
            ),
        }
    }

    /// The movement code of a label now.
    fn code_of(&self, label: &Made) -> String {
        if label.cancelled {
            return "CA".into();
        }
        self.tracking
            .get(&label.tracking_number)
            .cloned()
            .unwrap_or_else(|| "OC".into())
    }

    fn result(&self, label: &Made) -> Value {
        let code = self.code_of(label);
        // Newest first, as FedEx lists scans.
        let mut events = vec![json!({
            "date": "2030-01-01T09:00:00-06:00",
            "eventType": "OC",
            "derivedStatusCode": "IN",
            "eventDescription": "Shipment information sent to FedEx",
        })];
        if code != "OC" {
            events.insert(
                0,
                json!({
                    "date": "2030-01-02T09:00:00-06:00",
                    "eventType": code,
                    "derivedStatusCode": code,
                    "eventDescription": format!("Status {code}"),
                }),
            );
        }
        json!({
            "trackingNumberInfo": { "trackingNumber": label.tracking_number, "carrierCode": "FDXG" },
            "latestStatusDetail": { "code": code, "derivedCode": code, "description": format!("Status {code}") },
            "scanEvents": events,
        })
    }

    fn track(&self, body: &Value) -> Response {
        let number = body
            .pointer("/trackingInfo/0/trackingNumberInfo/trackingNumber")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let result = match self.labels.iter().find(|l| l.tracking_number == number) {
            Some(label) => self.result(label),
            None => json!({
                "trackingNumberInfo": { "trackingNumber": number },
                "error": { "code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
                    "message": "Tracking number cannot be found. Please correct the tracking number and try again." },
            }),
        };
        track_answer(number, vec![result])
    }

    fn by_reference(&self, body: &Value) -> Response {
        let value = body
            .pointer("/referencesInformation/value")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let results: Vec<Value> = self
            .labels
            .iter()
            .filter(|l| l.reference.as_deref() == Some(value))
            .map(|l| self.result(l))
            .collect();
        if results.is_empty() {
            return track_answer(
                value,
                vec![
                    json!({ "error": { "code": "TRACKING.REFERENCENUMBER.NOTFOUND",
                    "message": "Reference number cannot be found." } }),
                ],
            );
        }
        track_answer(value, results)
    }
}

fn track_answer(key: &str, results: Vec<Value>) -> Response {
    Json(json!({
        "transactionId": "fake-track",
        "output": { "completeTrackResults": [{ "trackingNumber": key, "trackResults": results }] },
    }))
    .into_response()
}

/// A quote of every service, in FedEx's shape (amounts as JSON numbers).
/// A label or invoice document by its name's extension (the tracking number in it).
fn document(name: &str) -> Response {
    let Some((kind, file)) = name.split_once('/') else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some((n, ext)) = file.rsplit_once('.') else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (mime, bytes): (&str, Vec<u8>) = match ext {
        "zpl" => (
            "application/zpl",
            format!("^XA\n^FO50,50^A0N,40,40^FD{n}^FS\n^XZ").into_bytes(),
        ),
        "epl2" => (
            "application/epl2",
            format!("N\nA50,50,0,4,1,1,N,\"{n}\"\nP1\n").into_bytes(),
        ),
        "png" => ("image/png", b"\x89PNG\r\n\x1a\n".to_vec()),
        "pdf" => (
            "application/pdf",
            format!("%PDF-1.4\n% FedEx {kind} {n}\n%%EOF\n").into_bytes(),
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, mime)], bytes).into_response()
}

/// `POST /address/v1/addresses/resolve`: a street with "NOWHERE" in it is not found (400);
/// any other resolves standardized (upper case, ZIP+4 in the US), a delivery point,
/// RESIDENTIAL unless it names a company line.
fn resolve(body: &Value) -> Response {
    let a = &body["addressesToValidate"][0]["address"];
    let lines: Vec<String> = a["streetLines"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.as_str().map(str::to_ascii_uppercase))
                .collect()
        })
        .unwrap_or_default();
    if lines.iter().any(|l| l.contains("NOWHERE")) {
        return error(
            StatusCode::BAD_REQUEST,
            "STANDARDIZED.ADDRESS.NOTFOUND",
            "Standardized address is not found.",
        );
    }
    let zip = a["postalCode"].as_str().unwrap_or_default();
    let us = a["countryCode"].as_str() == Some("US");
    let zip = if us && zip.len() == 5 {
        format!("{zip}-1234")
    } else {
        zip.to_owned()
    };
    Json(json!({
        "transactionId": "fake-resolve",
        "output": { "resolvedAddresses": [{
            "streetLinesToken": lines,
            "city": a["city"].as_str().unwrap_or_default().to_ascii_uppercase(),
            "stateOrProvinceCode": a["stateOrProvinceCode"],
            "countryCode": a["countryCode"],
            "postalCodeToken": {"changed": us, "value": zip},
            "classification": "RESIDENTIAL",
            "customerMessages": [],
            "attributes": {"Resolved": "true", "DPV": "true", "Matched": "true",
                "AddressType": "STANDARDIZED"},
        }]},
    }))
    .into_response()
}

fn rate(body: &Value) -> Response {
    let shipment = &body["requestedShipment"];
    if shipment
        .pointer("/requestedPackageLineItems/0/weight/value")
        .and_then(Value::as_f64)
        .is_none_or(|w| w <= 0.0)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "WEIGHT.VALUE.INVALID",
            "Weight value is invalid.",
        );
    }
    let replies: Vec<Value> = SERVICES
        .iter()
        .map(|(service, name, account, list, transit)| {
            json!({
                "serviceType": service,
                "serviceName": name,
                "packagingType": "YOUR_PACKAGING",
                "ratedShipmentDetails": [
                    { "rateType": "LIST", "totalNetCharge": list, "currency": "USD" },
                    { "rateType": "ACCOUNT", "totalNetCharge": account, "currency": "USD" },
                ],
                "operationalDetail": { "transitTime": transit },
            })
        })
        .collect();
    Json(json!({ "transactionId": "fake-rate", "output": { "rateReplyDetails": replies } }))
        .into_response()
}
