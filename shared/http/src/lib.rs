//! The HTTP edge: the axum routers (POST /graphql, GraphiQL, /healthz, the dev JWKS, the signed
//! webhooks, and `oms serve`'s admin socket, where the transport vouches for the caller) used by
//! the HTTP Lambda functions and `oms serve`, the HTTP half of error mapping
//! (`errors`) and the functions' Lambda edge (`lambda`). Limits are applied before any
//! authentication or store access (`graphql::limits`); an `Idempotency-Key` header hands the
//! request to the keyed path (`idempotency`).

mod documents;
pub mod errors;
mod idempotency;
pub mod lambda;
pub mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use app::UnitOfWork;
use auth::Caller;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::errors::{error_response, status_of, with_request_id};
use documents::{Documents, Parsed};
use graphql::errors::error_code;
use graphql::limits::Limits;
use graphql::schema::{OmsSchema, build_fast_schema, build_schema, build_validator};
use graphql::state::{ApiState, RequestState};

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub limits: Limits,
    /// Serve GraphiQL on GET /graphql (dev).
    pub graphiql: bool,
    /// The JWKS document to serve at /.well-known/jwks.json (the dev IdP's).
    pub jwks: Option<serde_json::Value>,
}

impl HttpConfig {
    /// The `graphql` Lambda function's: production limits, introspection as configured, no
    /// GraphiQL, no JWKS document.
    pub fn lambda(introspection: bool) -> Self {
        HttpConfig {
            limits: Limits {
                introspection,
                ..Limits::production()
            },
            graphiql: false,
            jwks: None,
        }
    }
}

struct Shared {
    schema: OmsSchema,
    /// The schema for documents that already passed full validation once (`Parsed::validated`).
    fast: OmsSchema,
    /// Parsed documents, reused across requests.
    documents: Documents,
    /// Validation only (no resolver runs): keyed requests are checked with it first.
    validator: OmsSchema,
    api: Arc<ApiState>,
    config: HttpConfig,
    /// How callers are known: by their tokens, or vouched for by the admin socket.
    callers: Callers,
}

/// How a router knows who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Callers {
    /// From the bearer token or API key, verified when a resolver needs it.
    Tokens,
    /// From the transport: `oms serve`'s owner-only admin socket, whose requests name their
    /// actor ([`ACTOR_HEADER`]) and, to act as a tenant's admin, the tenant ([`TENANT_HEADER`]).
    AdminSocket,
}

/// On the admin socket: whom the audit names (`cli:$USER`).
pub const ACTOR_HEADER: &str = "x-oms-actor";
/// On the admin socket: act as this tenant's admin (within its plan), not as the platform.
pub const TENANT_HEADER: &str = "x-oms-tenant";

/// The GraphQL endpoint.
pub const GRAPHQL_PATH: &str = "/graphql";
/// A tenant's signed order intake.
pub const ADD_ORDER_PATH: &str = "/webhooks/add-order/{tenant}";
/// A carrier's tracking update for a tenant.
pub const TENANT_TRACKER_PATH: &str = "/webhooks/shipment-tracker/{tenant}";
/// A carrier's tracking update signed with the SaaS provider's own secret.
pub const SAAS_TRACKER_PATH: &str = "/webhooks/shipment-tracker";

/// The routes a deployment serves (method, path): what the HTTP API of `template.yaml` must
/// route (a test holds it to this list). `/healthz` and the dev JWKS are `oms serve`'s own.
pub const PUBLIC_ROUTES: [(&str, &str); 4] = [
    ("POST", GRAPHQL_PATH),
    ("POST", ADD_ORDER_PATH),
    ("POST", TENANT_TRACKER_PATH),
    ("POST", SAAS_TRACKER_PATH),
];

/// How many parsed documents a process keeps.
const DOCUMENT_CACHE: std::num::NonZeroUsize = std::num::NonZeroUsize::new(512).unwrap();

/// The router, built once: GraphQL and the signed webhooks (`oms serve`).
pub fn router(api: Arc<ApiState>, config: HttpConfig) -> Router {
    let hooks = webhook_router(api.clone());
    graphql_router(api, config).merge(hooks)
}

/// GraphQL alone, with `/healthz` and the dev JWKS (the graphql Lambda function: the webhooks
/// are other functions, and their code stays out of this binary).
pub fn graphql_router(api: Arc<ApiState>, config: HttpConfig) -> Router {
    let shared = shared(api, config, Callers::Tokens);
    Router::new()
        .route(GRAPHQL_PATH, post(graphql).get(graphiql))
        .route("/graphiql/assets/{name}", get(graphiql_asset))
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(shared)
        // The body limit is checked in the handler, with a GraphQL-shaped error.
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// POST /graphql for `oms serve`'s owner-only admin socket (and the admin CLI's in-process
/// calls): the same schema, limits and use cases, with the caller vouched for by the transport
/// instead of a token (`auth::Verifier::local_admin`). Never mounted on a network listener.
pub fn admin_socket_router(api: Arc<ApiState>, config: HttpConfig) -> Router {
    Router::new()
        .route(GRAPHQL_PATH, post(graphql))
        .with_state(shared(api, config, Callers::AdminSocket))
        .layer(axum::extract::DefaultBodyLimit::disable())
}

fn shared(api: Arc<ApiState>, config: HttpConfig, callers: Callers) -> Arc<Shared> {
    let schema = build_schema(api.clone(), &config.limits);
    let fast = build_fast_schema(api.clone(), &config.limits);
    let validator = build_validator(&config.limits);
    Arc::new(Shared {
        schema,
        fast,
        documents: Documents::new(DOCUMENT_CACHE),
        validator,
        api,
        config,
        callers,
    })
}

/// The signed webhook routes alone (the webhook Lambda functions serve these; `oms serve` and
/// the graphql router mount them too).
pub fn webhook_router(api: Arc<ApiState>) -> Router {
    Router::new()
        .route(ADD_ORDER_PATH, post(crate::webhooks::add_order))
        .route(TENANT_TRACKER_PATH, post(crate::webhooks::shipment_tracker))
        .route(
            SAAS_TRACKER_PATH,
            post(crate::webhooks::saas_shipment_tracker),
        )
        .with_state(api)
}

/// GraphiQL's page and its assets (the npm packages' production builds, pinned and embedded:
/// `scripts/update-graphiql.sh`), so it works without the internet. Only where the `graphiql`
/// feature is built in (`oms`, not the Lambda binaries) and the router serves it (dev).
#[cfg(feature = "graphiql")]
const GRAPHIQL_ASSETS: [(&str, &str, &[u8]); 5] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../assets/graphiql/index.html"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    ),
];

/// One embedded GraphiQL file, when GraphiQL is on.
fn graphiql_file(s: &Shared, name: &str) -> Option<Response> {
    #[cfg(feature = "graphiql")]
    if s.config.graphiql {
        return GRAPHIQL_ASSETS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, mime, bytes)| {
                (
                    [
                        (axum::http::header::CONTENT_TYPE, *mime),
                        (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
                    ],
                    *bytes,
                )
                    .into_response()
            });
    }
    let _ = (s, name);
    None
}

fn graphiql_off() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "GraphiQL is off; POST GraphQL requests to /graphql",
        &new_request_id(),
    )
}

async fn graphiql(State(s): State<Arc<Shared>>) -> Response {
    graphiql_file(&s, "index.html").unwrap_or_else(graphiql_off)
}

async fn graphiql_asset(
    State(s): State<Arc<Shared>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    match graphiql_file(&s, &name) {
        Some(r) => r,
        None if s.config.graphiql => StatusCode::NOT_FOUND.into_response(),
        None => graphiql_off(),
    }
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    match &s.config.jwks {
        Some(doc) => Json(doc.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn new_request_id() -> String {
    ulid::Ulid::new().to_string()
}

/// The response body with `data` given as raw JSON text (so a replay is byte for byte).
fn body(
    data: &str,
    errors: &[async_graphql::ServerError],
    request_id: &str,
    replayed: bool,
) -> String {
    let errors = if errors.is_empty() {
        String::new()
    } else {
        format!(
            ",\"errors\":{}",
            serde_json::to_string(errors).unwrap_or_else(|_| "[]".into())
        )
    };
    let replay = if replayed { ",\"replayed\":true" } else { "" };
    format!("{{\"data\":{data}{errors},\"extensions\":{{\"requestId\":\"{request_id}\"{replay}}}}}")
}

fn json_response(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    with_request_id(r, request_id)
}

/// Whether the request says its body is JSON (`application/json`, any parameters). GraphQL over
/// HTTP takes nothing else: a `text/plain` or form body is what a cross-site "simple request"
/// can send without a preflight, so it is refused before it is read.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

async fn graphql(State(s): State<Arc<Shared>>, headers: HeaderMap, body_stream: Body) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    let limits = &s.config.limits;
    if !is_json(&headers) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST GraphQL requests as Content-Type: application/json",
            &request_id,
        );
    }
    let Ok(bytes) = axum::body::to_bytes(body_stream, limits.body_bytes).await else {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            &format!("request body over {} bytes", limits.body_bytes),
            &request_id,
        );
    };
    // The request's span: everything it does (the use case, the store, carriers) is beneath it.
    let span =
        tracing::debug_span!("request", otel.name = "POST /graphql", request_id = %request_id);
    let response =
        tracing::Instrument::instrument(handle(&s, &headers, bytes, &request_id), span).await;
    tracing::info!(
        request_id = %request_id,
        status = response.status().as_u16(),
        latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "graphql request"
    );
    response
}

/// A request refused before it runs: 400 with a code.
#[derive(Debug)]
pub(crate) struct BadRequest {
    code: &'static str,
    message: String,
}

impl BadRequest {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn response(&self, request_id: &str) -> Response {
        error_response(
            StatusCode::BAD_REQUEST,
            self.code,
            &self.message,
            request_id,
        )
    }
}

/// The body as GraphQL requests (one, or a batch within the limit).
fn parse_requests(
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<async_graphql::Request>, BadRequest> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| BadRequest::new("BAD_REQUEST", format!("the body is not JSON: {e}")))?;
    let not_graphql = |e: serde_json::Error| {
        BadRequest::new("BAD_REQUEST", format!("not a GraphQL request: {e}"))
    };
    match value {
        serde_json::Value::Array(items) => {
            if items.len() > limits.batch {
                return Err(BadRequest::new(
                    "BATCH_TOO_LARGE",
                    format!("at most {} requests in a batch", limits.batch),
                ));
            }
            items
                .into_iter()
                .map(serde_json::from_value)
                .collect::<Result<_, _>>()
                .map_err(not_graphql)
        }
        other => serde_json::from_value(other)
            .map(|r| vec![r])
            .map_err(not_graphql),
    }
}

/// Each request's document, parsed (or found parsed) and within the alias limit.
fn parse_documents(
    documents: &Documents,
    requests: &[async_graphql::Request],
    limits: &Limits,
) -> Result<Vec<Arc<Parsed>>, BadRequest> {
    requests
        .iter()
        .map(|r| documents.parse(&r.query, limits))
        .collect()
}

/// The caller's credentials: the `Authorization` header (a bearer JWT or API key), else an API
/// key in `X-API-Key` (as `Bearer <key>`).
fn authorization_of(headers: &HeaderMap) -> Option<String> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
    };
    text(axum::http::header::AUTHORIZATION.as_str())
        .map(str::to_owned)
        .or_else(|| text("x-api-key").map(|k| format!("Bearer {}", k.trim())))
}

async fn handle(s: &Shared, headers: &HeaderMap, bytes: Bytes, request_id: &str) -> Response {
    let limits = &s.config.limits;
    let requests = match parse_requests(&bytes, limits) {
        Ok(r) => r,
        Err(bad) => return bad.response(request_id),
    };
    let docs = match parse_documents(&s.documents, &requests, limits) {
        Ok(d) => d,
        Err(bad) => return bad.response(request_id),
    };
    let authorization = authorization_of(headers);
    let vouched = match s.callers {
        Callers::Tokens => None,
        Callers::AdminSocket => match admin_socket_caller(s, headers).await {
            Ok(caller) => Some(caller),
            Err(refused) => return refused.response(request_id),
        },
    };
    if let Some(key) = headers.get("idempotency-key") {
        let key = key.to_str().unwrap_or_default();
        return idempotency::keyed(s, requests, docs, key, authorization, vouched, request_id)
            .await;
    }
    let mut out = Vec::with_capacity(requests.len());
    for (req, doc) in requests.into_iter().zip(docs) {
        let state = Arc::new(RequestState {
            request_id: request_id.to_owned(),
            authorization: authorization.clone(),
            caller: tokio::sync::OnceCell::new_with(vouched.clone().map(Ok)),
            uow: Arc::new(UnitOfWork::immediate()),
        });
        out.push(execute(s, req, &doc, state).await);
    }
    match out.as_slice() {
        [one] => json_response(
            one.status,
            body(&one.data, &one.errors, request_id, false),
            request_id,
        ),
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|e| body(&e.data, &e.errors, request_id, false))
                .collect();
            json_response(StatusCode::OK, format!("[{}]", parts.join(",")), request_id)
        }
    }
}

/// The caller an admin-socket request names (the socket vouches for it; no token is read).
/// The operator is told plainly what is wrong: no tenant, a suspended one, a bad actor name.
async fn admin_socket_caller(s: &Shared, headers: &HeaderMap) -> Result<Caller, BadRequest> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let actor = text(ACTOR_HEADER).unwrap_or("cli:unknown");
    let tenant = text(TENANT_HEADER)
        .map(|t| {
            domain::ids::TenantId::parse(t)
                .map_err(|e| BadRequest::new("INVALID_INPUT", format!("tenant {t:?}: {e}")))
        })
        .transpose()?;
    let named = tenant.as_ref().map_or("-".to_owned(), ToString::to_string);
    s.api
        .verifier
        .local_admin(actor, tenant.as_ref())
        .await
        .map_err(|e| match e {
            auth::AuthError::UnknownTenant => {
                BadRequest::new("NOT_FOUND", format!("no tenant {named}"))
            }
            auth::AuthError::TenantSuspended => {
                BadRequest::new("TENANT_SUSPENDED", format!("tenant {named} is suspended"))
            }
            auth::AuthError::Claim(_) => BadRequest::new(
                "INVALID_INPUT",
                format!("{ACTOR_HEADER} {actor:?} is not a subject"),
            ),
            e => BadRequest::new("UNAVAILABLE", e.to_string()),
        })
}

/// The code of the first `userErrors` entry of a mutation's payload, if any: a refused command
/// is logged as what refused it, not as `ok`. The data is parsed only when it has one.
fn user_error_code(data: &str) -> Option<String> {
    if !data.contains("\"userErrors\":[{") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(data).ok()?;
    value.as_object()?.values().find_map(|payload| {
        payload
            .get("userErrors")?
            .get(0)?
            .get("code")?
            .as_str()
            .map(str::to_owned)
    })
}

/// One executed GraphQL request.
struct Executed {
    status: StatusCode,
    /// `data`, as JSON text.
    data: String,
    errors: Vec<async_graphql::ServerError>,
}

impl app::StoredResponse for Executed {
    fn stored(&self) -> &str {
        &self.data
    }
}

/// Runs one request (with its parsed document) under the execution timeout.
async fn execute(
    s: &Shared,
    req: async_graphql::Request,
    doc: &Parsed,
    state: Arc<RequestState>,
) -> Executed {
    let started = Instant::now();
    let operation = req
        .operation_name
        .clone()
        .or_else(|| doc.first_field.clone());
    let req = doc.attach(req).data(state.clone());
    let schema = if doc.validated() { &s.fast } else { &s.schema };
    // The metrics' and the trace's name of the operation: the schema's (a bounded set), never
    // the caller's own name.
    let metric_operation = doc
        .first_field
        .as_deref()
        .and_then(|f| domain::access::Operation::parse(f).ok())
        .map_or("other", domain::access::Operation::as_str);
    let use_case = tracing::debug_span!("use_case", otel.name = metric_operation);
    let run = tracing::Instrument::instrument(schema.execute(req), use_case);
    let out = match tokio::time::timeout(s.config.limits.timeout, run).await {
        Ok(resp) => {
            if resp.errors.is_empty() {
                doc.mark_validated();
            }
            Executed {
                status: status_of(&resp.errors),
                data: serde_json::to_string(&resp.data).unwrap_or_else(|_| "null".into()),
                errors: resp.errors,
            }
        }
        Err(_) => {
            let mut e = async_graphql::ServerError::new("the request took too long", None);
            let mut ext = async_graphql::ErrorExtensionValues::default();
            ext.set("code", "TIMEOUT");
            e.extensions = Some(ext);
            Executed {
                status: StatusCode::GATEWAY_TIMEOUT,
                data: "null".into(),
                errors: vec![e],
            }
        }
    };
    // One structured line per operation: who, what, how it ended, how long. Never a token.
    let tenant = match state.caller.get() {
        Some(Ok(Caller::Tenant(id))) => Some(id.tenant().to_string()),
        Some(Ok(Caller::Platform(_))) => Some("(platform)".to_owned()),
        _ => None,
    };
    let outcome = out
        .errors
        .first()
        .and_then(error_code)
        .or_else(|| user_error_code(&out.data))
        .unwrap_or_else(|| "ok".to_owned());
    let took = started.elapsed();
    tracing::info!(
        request_id = %state.request_id,
        tenant = tenant.as_deref().unwrap_or("-"),
        operation = operation.as_deref().unwrap_or("-"),
        outcome = %outcome,
        latency_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        "graphql operation"
    );
    telemetry::request(metric_operation, &outcome, took);
    out
}

#[cfg(test)]
mod outcome_tests {
    use super::user_error_code;

    #[test]
    fn a_user_error_is_the_outcome() {
        let refused = r#"{"buyShippingLabel":{"order":null,"userErrors":[{"code":"PURCHASE_IN_PROGRESS","field":null,"message":"m"}]}}"#;
        assert_eq!(
            user_error_code(refused).as_deref(),
            Some("PURCHASE_IN_PROGRESS")
        );
        let fine = r#"{"createOrder":{"order":{"id":"o"},"userErrors":[]}}"#;
        assert_eq!(user_error_code(fine), None);
        assert_eq!(user_error_code(r#"{"order":{"id":"o"}}"#), None);
        assert_eq!(user_error_code("null"), None);
    }
}
