//! Signed webhooks, the other edge over the same use cases: `POST /webhooks/add-order/{tenant}`
//! (order intake) and `POST /webhooks/shipment-tracker/{tenant}` (carrier tracking updates).
//!
//! Nothing is trusted before the signature verifies; the path's tenant only picks the secret.
//! Refusals are `application/problem+json` and write nothing: 401 for a missing, bad, stale or
//! future signature; 400 for a body that is not the documented JSON or fails validation (naming
//! the field); 413 over 256 KiB (refused before the body is read whole); 415 for another
//! content type; 404 for a tenant or hook that does not exist (a tenant's system should stop
//! retrying a URL that is wrong); 403 for a suspended tenant or a plan without the operation.
//! A delivery (`X-OMS-Delivery`, or the body's SHA-256 when absent) is taken once: a repeat is
//! answered 200 with the first answer, byte for byte.

use std::sync::Arc;

use app::{
    AddedOrder, App, AppError, GatewayLabel, Keyed, KeyedOutcome, RequestCtx, StoredResponse,
    TrackingApplied, TrackingReport, UnitOfWork,
};
use auth::Caller;
use auth::webhook::{Delivery, WebhookRefusal, read_tracking};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::access::Operation;
use domain::ids::{IdempotencyKey, TenantId, TrackingNumber};
use domain::order::CarrierTarget;
use domain::webhook::{WebhookHook, WebhookProvider, carrier_code_of, normalize_tracking_status};
use sha2::{Digest, Sha256};

use crate::errors::{rest_status, with_request_id};
use graphql::errors::public;

use graphql::state::ApiState;

/// The largest body a webhook accepts.
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

/// The delivery id header (optional; the body's hash stands in).
pub const DELIVERY_HEADER: &str = "x-oms-delivery";

/// The route's query: the per-tenant token of the `shippo` scheme.
#[derive(Debug, Default, serde::Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// A webhook's answer: its status and JSON body (stored with a delivery, replayed for a repeat).
pub struct Answer {
    status: StatusCode,
    body: String,
    problem: bool,
}

impl StoredResponse for Answer {
    fn stored(&self) -> &str {
        &self.body
    }
}

impl Answer {
    fn problem(status: StatusCode, detail: &str, field: Option<&str>) -> Self {
        Self::problem_coded(status, None, detail, field)
    }

    fn problem_coded(
        status: StatusCode,
        code: Option<&str>,
        detail: &str,
        field: Option<&str>,
    ) -> Self {
        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        if let Some(f) = field {
            body["field"] = serde_json::Value::from(f);
        }
        if let Some(c) = code {
            body["code"] = serde_json::Value::from(c);
        }
        Self {
            status,
            body: body.to_string(),
            problem: true,
        }
    }

    fn of_app_error(e: &AppError) -> Self {
        let (code, message) = public(e);
        Self::problem_coded(rest_status(e), Some(code), &message, e.field().as_deref())
    }

    fn into_response(self, request_id: &str, replayed: bool) -> Response {
        let kind = if self.problem {
            "application/problem+json"
        } else {
            "application/json"
        };
        let mut r = (self.status, self.body).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        if replayed {
            r.headers_mut()
                .insert("x-oms-replayed", HeaderValue::from_static("true"));
        }
        with_request_id(r, request_id)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Content type, size and tenant: checked before the body is read whole.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, Answer> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(Answer::problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/json",
            None,
        ));
    }
    let too_large = || {
        Answer::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is over {MAX_WEBHOOK_BYTES} bytes"),
            None,
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_WEBHOOK_BYTES) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_WEBHOOK_BYTES)
        .await
        .map_err(|_| too_large())
}

fn refusal(r: &WebhookRefusal) -> Answer {
    match r {
        WebhookRefusal::UnknownHook => {
            Answer::problem(StatusCode::NOT_FOUND, "no such webhook", None)
        }
        WebhookRefusal::Signature(e) => {
            tracing::info!(reason = %e, "webhook signature refused");
            Answer::problem(
                StatusCode::UNAUTHORIZED,
                "signature missing or invalid",
                None,
            )
        }
        WebhookRefusal::Suspended => {
            Answer::problem(StatusCode::FORBIDDEN, "the tenant is suspended", None)
        }
        WebhookRefusal::Unavailable(e) => {
            tracing::error!(error = %e, "webhook verification unavailable");
            Answer::problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily unavailable; retry",
                None,
            )
        }
    }
}

/// The documented order shape, parsed; a refusal names the field.
fn parse_order(bytes: &[u8]) -> Result<domain::order::NewOrder, Answer> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let input: app::intake::OrderIntake = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Answer::problem(
            StatusCode::BAD_REQUEST,
            &format!("not an order: {}", e.inner()),
            (path != ".").then_some(path.as_str()),
        )
    })?;
    input
        .parse()
        .map_err(|e| Answer::of_app_error(&AppError::from(e)))
}

fn added(a: &AddedOrder) -> Answer {
    let o = &a.order;
    let body = serde_json::json!({
        "order": {
            "id": o.id().to_string(),
            "externalRef": o.external_ref().map(ToString::to_string),
            "status": o.status().as_str(),
            "version": o.version(),
        },
        "created": a.created,
    });
    Answer {
        status: if a.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        body: body.to_string(),
        problem: false,
    }
}

/// A verified delivery, its body already parsed: what the keyed run applies.
enum Intake {
    AddOrder(Box<domain::order::NewOrder>),
    Tracking {
        report: TrackingReport,
        /// On the SaaS-level route: the shipment the global index names (the tenant's own
        /// tracking items are not asked).
        label: Option<GatewayLabel>,
    },
}

impl Intake {
    /// Parses a verified delivery's body: a body that does not parse is refused before any use
    /// case runs (and, being refused the same way every time, is not kept under its key).
    fn parse(
        hook: WebhookHook,
        provider: WebhookProvider,
        tracking_reference: Option<&str>,
        bytes: &[u8],
    ) -> Result<Self, Answer> {
        match hook {
            WebhookHook::AddOrder => parse_order(bytes).map(|new| Intake::AddOrder(Box::new(new))),
            WebhookHook::ShipmentTracker => Ok(Intake::Tracking {
                report: parse_tracking(provider, tracking_reference, bytes)?,
                label: None,
            }),
            WebhookHook::Notifications => Err(Answer::problem(
                StatusCode::NOT_FOUND,
                "no such webhook",
                None,
            )),
        }
    }

    fn operation(&self) -> Operation {
        match self {
            Intake::AddOrder(_) => Operation::WebhookAddOrder,
            Intake::Tracking { .. } => Operation::WebhookShipmentTracker,
        }
    }

    /// Runs the use case (inside the delivery's keyed run) and renders its answer.
    async fn run(&self, app: &App, rc: &RequestCtx, uow: &UnitOfWork) -> Answer {
        match self {
            Intake::AddOrder(new) => match app.webhook_add_order(rc, uow, (**new).clone()).await {
                Ok(a) => added(&a),
                Err(e) => Answer::of_app_error(&e),
            },
            Intake::Tracking { report, label } => {
                let applied = match label {
                    Some(label) => app.gateway_tracking(rc, uow, report.clone(), label).await,
                    None => app.webhook_tracking(rc, uow, report.clone()).await,
                };
                match applied {
                    Ok(t) => tracked(&t),
                    Err(e) => Answer::of_app_error(&e),
                }
            }
        }
    }
}

/// A carrier's payload as a tracking report; a refusal names the missing field.
fn parse_tracking(
    provider: WebhookProvider,
    tracking_reference: Option<&str>,
    bytes: &[u8],
) -> Result<TrackingReport, Answer> {
    let bad =
        |detail: &str, field: Option<&str>| Answer::problem(StatusCode::BAD_REQUEST, detail, field);
    let payload: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| bad(&format!("the body is not JSON: {e}"), None))?;
    let fields = read_tracking(provider, tracking_reference, &payload)
        .map_err(|e| bad(&e, Some("trackingReference")))?;
    let number = fields
        .number
        .as_deref()
        .map(TrackingNumber::parse)
        .transpose()
        .map_err(|e| bad(&e.to_string(), Some("trackingNumber")))?
        .ok_or_else(|| bad("no tracking number in the payload", Some("trackingNumber")))?;
    let carrier = fields
        .carrier
        .as_deref()
        .map(carrier_code_of)
        .transpose()
        .map_err(|e| bad(&e.to_string(), Some("carrier")))?
        .ok_or_else(|| bad("no carrier in the payload", Some("carrier")))?;
    let status = fields
        .status
        .as_deref()
        .and_then(|s| normalize_tracking_status(provider, s));
    Ok(TrackingReport {
        carrier,
        number,
        status,
        carrier_status: fields.status,
    })
}

fn tracked(t: &TrackingApplied) -> Answer {
    let body = match t {
        TrackingApplied::UnknownNumber => serde_json::json!({
            "ignored": true,
            "reason": "no shipment of this tenant has this tracking number",
        }),
        TrackingApplied::Unmapped => serde_json::json!({
            "ignored": true,
            "reason": "the carrier's status is not one we track",
        }),
        TrackingApplied::Tracked {
            order,
            target: CarrierTarget::Shipment(shipment),
            ignored,
        } => serde_json::json!({
            "ignored": ignored,
            "order": {"id": order.id().to_string(), "status": order.status().as_str(), "version": order.version()},
            "shipment": {
                "id": shipment.to_string(),
                "status": order.shipment(*shipment).map(|s| s.status.as_str()),
                "carrierStatus": order.shipment(*shipment).and_then(|s| s.carrier_status.as_deref()),
            },
        }),
        TrackingApplied::Tracked {
            order,
            target: CarrierTarget::Return(id),
            ignored,
        } => serde_json::json!({
            "ignored": ignored,
            "order": {"id": order.id().to_string(), "status": order.status().as_str(), "version": order.version()},
            "return": {
                "id": id.to_string(),
                "status": order.return_(*id).map(|r| r.status.as_str()),
            },
        }),
    };
    Answer {
        status: StatusCode::OK,
        body: body.to_string(),
        problem: false,
    }
}

/// `POST /webhooks/add-order/{tenant}`.
pub async fn add_order(
    State(api): State<Arc<ApiState>>,
    Path(tenant): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    deliver(&api, WebhookHook::AddOrder, &tenant, query, &headers, body).await
}

/// `POST /webhooks/shipment-tracker/{tenant}`: a carrier's tracking update for one tenant.
/// An unknown tracking number is acknowledged (200, `ignored`): carriers retry anything else for
/// days, and the number will not become known by retrying the same event.
pub async fn shipment_tracker(
    State(api): State<Arc<ApiState>>,
    Path(tenant): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    deliver(
        &api,
        WebhookHook::ShipmentTracker,
        &tenant,
        query,
        &headers,
        body,
    )
    .await
}

/// `POST /webhooks/shipment-tracker`: a carrier's update signed with the SaaS provider's own
/// secret; the tenant and the shipment are those the global index of labels bought through the
/// gateway names (its item has one owner; no tenant's own tracking item is asked). A number not
/// in it (one a user typed in) is found only through its tenant's route, and is acknowledged
/// here as ignored.
pub async fn saas_shipment_tracker(
    State(api): State<Arc<ApiState>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = ulid::Ulid::new().to_string();
    let started = std::time::Instant::now();
    let answer = match saas_answer(&api, query, &headers, body, &request_id).await {
        Ok(a) => a,
        Err(a) => (a, false),
    };
    // One structured line per delivery; never a signature, token or body.
    tracing::info!(
        request_id = %request_id,
        operation = Operation::WebhookShipmentTracker.as_str(),
        route = "saas",
        status = answer.0.status.as_u16(),
        replayed = answer.1,
        latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "webhook delivery"
    );
    delivery_metric(
        Operation::WebhookShipmentTracker,
        answer.0.status,
        started.elapsed(),
    );
    answer.0.into_response(&request_id, answer.1)
}

async fn saas_answer(
    api: &ApiState,
    query: TokenQuery,
    headers: &HeaderMap,
    body: Body,
    request_id: &str,
) -> Result<(Answer, bool), Answer> {
    let bytes = read_body(headers, body).await?;
    let verifier = verifier_of(api)?;
    let header = |name: &str| header_of(headers, name);
    let platform = auth::webhook::WebhookVerifier::platform_tenant().map_err(|r| refusal(&r))?;
    let delivery = Delivery {
        tenant: &platform,
        hook: WebhookHook::ShipmentTracker,
        body: &bytes,
        header: &header,
        token: query.token.as_deref(),
    };
    let saas = verifier
        .verify_saas(&delivery)
        .await
        .map_err(|r| refusal(&r))?;
    let report = parse_tracking(saas.provider, None, &bytes)?;
    let label = api
        .app
        .gateway_label(&report.carrier, &report.number)
        .await
        .map_err(|e| Answer::of_app_error(&e))?;
    let Some(label) = label else {
        return Ok((tracked(&TrackingApplied::UnknownNumber), false));
    };
    let identity = saas
        .identity_for(&label.tenant)
        .await
        .map_err(|r| refusal(&r))?;
    let rc = RequestCtx {
        caller: Caller::Tenant(identity),
        request_id: request_id.to_owned(),
    };
    let key = delivery_key(headers, &bytes)?;
    let intake = Intake::Tracking {
        report,
        label: Some(label),
    };
    keyed_run(api, &rc, key, &intake, &bytes).await
}

/// The deployment's webhook verifier (none without a secret store: 503).
fn verifier_of(api: &ApiState) -> Result<&Arc<auth::webhook::WebhookVerifier>, Answer> {
    api.webhooks.as_ref().ok_or_else(|| {
        Answer::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks are not configured on this deployment",
            None,
        )
    })
}

fn header_of(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The delivery's key: `X-OMS-Delivery`, or the body's SHA-256.
fn delivery_key(headers: &HeaderMap, bytes: &[u8]) -> Result<IdempotencyKey, Answer> {
    let id = header_of(headers, DELIVERY_HEADER).unwrap_or_else(|| sha256_hex(bytes));
    IdempotencyKey::parse(&id).map_err(|_| {
        Answer::problem(
            StatusCode::BAD_REQUEST,
            "X-OMS-Delivery must be 1 to 64 printable ASCII characters without '#'",
            Some("X-OMS-Delivery"),
        )
    })
}

/// Runs a verified delivery once per key: its answer now, or the stored one.
async fn keyed_run(
    api: &ApiState,
    rc: &RequestCtx,
    key: IdempotencyKey,
    intake: &Intake,
    bytes: &[u8],
) -> Result<(Answer, bool), Answer> {
    let keyed = Keyed {
        key,
        operation: intake.operation(),
        request_hash: sha256_hex(bytes),
    };
    let run = |uow: Arc<UnitOfWork>| async move { intake.run(&api.app, rc, &uow).await };
    match api.app.keyed(rc, &keyed, run).await {
        Ok(KeyedOutcome::Ran(a)) => Ok((a, false)),
        Ok(KeyedOutcome::Replayed(body)) => Ok((
            Answer {
                status: StatusCode::OK,
                body,
                problem: false,
            },
            true,
        )),
        Err(e) => Err(Answer::of_app_error(&e)),
    }
}

async fn deliver(
    api: &ApiState,
    hook: WebhookHook,
    tenant: &str,
    query: TokenQuery,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let request_id = ulid::Ulid::new().to_string();
    let started = std::time::Instant::now();
    let answer = delivery_answer(api, hook, tenant, query, headers, body, &request_id).await;
    let (answer, replayed) = match answer {
        Ok(a) => a,
        Err(a) => (a, false),
    };
    // One structured line per delivery; never a signature, token or body.
    tracing::info!(
        request_id = %request_id,
        tenant,
        hook = hook.as_str(),
        status = answer.status.as_u16(),
        replayed,
        latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "webhook delivery"
    );
    let operation = match hook {
        WebhookHook::AddOrder => Operation::WebhookAddOrder,
        // Notifications are ours going out: no route delivers them here.
        WebhookHook::ShipmentTracker | WebhookHook::Notifications => {
            Operation::WebhookShipmentTracker
        }
    };
    delivery_metric(operation, answer.status, started.elapsed());
    answer.into_response(&request_id, replayed)
}

/// A delivery as a request of the metrics: `ok` when answered 2xx, else `http_{status}` (a
/// bounded set, like the API's error codes).
fn delivery_metric(operation: Operation, status: StatusCode, took: std::time::Duration) {
    let outcome = if status.is_success() {
        telemetry::OK.to_owned()
    } else {
        format!("http_{}", status.as_u16())
    };
    telemetry::request(operation.as_str(), &outcome, took);
}

async fn delivery_answer(
    api: &ApiState,
    hook: WebhookHook,
    tenant: &str,
    query: TokenQuery,
    headers: &HeaderMap,
    body: Body,
    request_id: &str,
) -> Result<(Answer, bool), Answer> {
    let bytes = read_body(headers, body).await?;
    let unknown = || Answer::problem(StatusCode::NOT_FOUND, "no such webhook", None);
    let tenant = TenantId::parse(tenant).map_err(|_| unknown())?;
    if hook == WebhookHook::Notifications {
        // Our outbound notifications' secret: nothing is delivered to us with it.
        return Err(unknown());
    }
    let verifier = verifier_of(api)?;
    let header = |name: &str| header_of(headers, name);
    let delivery = Delivery {
        tenant: &tenant,
        hook,
        body: &bytes,
        header: &header,
        token: query.token.as_deref(),
    };
    let verified = verifier.verify(&delivery).await.map_err(|r| refusal(&r))?;
    let key = delivery_key(headers, &bytes)?;
    let intake = Intake::parse(
        hook,
        verified.provider,
        verified.tracking_reference.as_deref(),
        &bytes,
    )?;
    let rc = RequestCtx {
        caller: Caller::Tenant(verified.identity),
        request_id: request_id.to_owned(),
    };
    keyed_run(api, &rc, key, &intake, &bytes).await
}
