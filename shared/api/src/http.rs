//! The HTTP side: one axum router (POST /graphql, GraphiQL, /healthz, the dev JWKS) used by the
//! graphql Lambda and `oms serve`. Limits are applied before any authentication or store access;
//! idempotency keys are honoured here (DESIGN.md §5).

use std::sync::Arc;
use std::time::Instant;

use app::{AppError, RequestCtx, UnitOfWork};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use auth::Caller;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::access::Operation;
use domain::ids::{IdempotencyKey, OperationName};
use sha2::{Digest, Sha256};
use store::repo::IdempotencyRecord;

use crate::schema::{ApiState, Limits, OmsSchema, RequestState, build_schema};

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub limits: Limits,
    /// Serve GraphiQL on GET /graphql (dev).
    pub graphiql: bool,
    /// The JWKS document to serve at /.well-known/jwks.json (the dev IdP's).
    pub jwks: Option<serde_json::Value>,
}

struct Shared {
    schema: OmsSchema,
    api: Arc<ApiState>,
    config: HttpConfig,
}

/// The router, built once.
pub fn router(api: Arc<ApiState>, config: HttpConfig) -> Router {
    let schema = build_schema(api.clone(), &config.limits);
    let shared = Arc::new(Shared {
        schema,
        api,
        config,
    });
    Router::new()
        .route("/graphql", post(graphql).get(graphiql))
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(shared)
        // The body limit is checked in the handler, with a GraphQL-shaped error.
        .layer(axum::extract::DefaultBodyLimit::disable())
}

async fn graphiql(State(s): State<Arc<Shared>>) -> Response {
    if s.config.graphiql {
        Html(
            async_graphql::http::GraphiQLSource::build()
                .endpoint("/graphql")
                .finish(),
        )
        .into_response()
    } else {
        error_response(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "GraphiQL is off; POST GraphQL requests to /graphql",
            &new_request_id(),
        )
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

fn error_response(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{"message": message, "extensions": {"code": code}}],
        "extensions": {"requestId": request_id},
    });
    with_request_id((status, Json(body)).into_response(), request_id)
}

fn with_request_id(mut r: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

/// Counts the aliases of a selection set (fragments are counted once, where defined).
fn aliases_in(set: &SelectionSet, depth: usize) -> usize {
    if depth > 64 {
        return 0;
    }
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some())
                    + aliases_in(&f.node.selection_set.node, depth + 1)
            }
            Selection::InlineFragment(i) => aliases_in(&i.node.selection_set.node, depth + 1),
            Selection::FragmentSpread(_) => 0,
        })
        .sum::<usize>()
}

fn count_aliases(doc: &ExecutableDocument) -> usize {
    let ops: usize = match &doc.operations {
        DocumentOperations::Single(op) => aliases_in(&op.node.selection_set.node, 0),
        DocumentOperations::Multiple(map) => map
            .values()
            .map(|op| aliases_in(&op.node.selection_set.node, 0))
            .sum(),
    };
    ops + doc
        .fragments
        .values()
        .map(|f| aliases_in(&f.node.selection_set.node, 0))
        .sum::<usize>()
}

/// The root fields of the mutation a request runs, if it is a mutation.
fn mutation_fields(doc: &ExecutableDocument, operation_name: Option<&str>) -> Option<Vec<String>> {
    let op = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(map), Some(name)) => map.get(name)?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    if op.node.ty != OperationType::Mutation {
        return None;
    }
    Some(
        op.node
            .selection_set
            .node
            .items
            .iter()
            .map(|s| match &s.node {
                Selection::Field(f) => f.node.name.node.to_string(),
                _ => "…".to_owned(),
            })
            .collect(),
    )
}

/// The request's fingerprint: query, operation name and variables.
fn request_hash(req: &async_graphql::Request) -> String {
    let mut h = Sha256::new();
    h.update(req.query.as_bytes());
    h.update([0]);
    h.update(req.operation_name.as_deref().unwrap_or_default().as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(&req.variables).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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

fn status_of(errors: &[async_graphql::ServerError]) -> StatusCode {
    let code = error_code;
    if errors
        .iter()
        .any(|e| code(e).as_deref() == Some("UNAUTHENTICATED"))
    {
        StatusCode::UNAUTHORIZED
    } else if errors
        .iter()
        .any(|e| code(e).as_deref() == Some("TENANT_SUSPENDED"))
    {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    }
}

fn json_response(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    with_request_id(r, request_id)
}

async fn graphql(State(s): State<Arc<Shared>>, headers: HeaderMap, body_stream: Body) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    let limits = &s.config.limits;
    let Ok(bytes) = axum::body::to_bytes(body_stream, limits.body_bytes).await else {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            &format!("request body over {} bytes", limits.body_bytes),
            &request_id,
        );
    };
    let response = handle(&s, &headers, bytes, &request_id).await;
    tracing::info!(
        request_id = %request_id,
        status = response.status().as_u16(),
        latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "graphql request"
    );
    response
}

async fn handle(s: &Shared, headers: &HeaderMap, bytes: Bytes, request_id: &str) -> Response {
    let limits = &s.config.limits;
    let value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("the body is not JSON: {e}"),
                request_id,
            );
        }
    };
    let requests: Vec<async_graphql::Request> = match value {
        serde_json::Value::Array(items) => {
            if items.len() > limits.batch {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "BATCH_TOO_LARGE",
                    &format!("at most {} requests in a batch", limits.batch),
                    request_id,
                );
            }
            match items
                .into_iter()
                .map(serde_json::from_value)
                .collect::<Result<_, _>>()
            {
                Ok(r) => r,
                Err(e) => {
                    return error_response(
                        StatusCode::BAD_REQUEST,
                        "BAD_REQUEST",
                        &format!("not a GraphQL request: {e}"),
                        request_id,
                    );
                }
            }
        }
        other => match serde_json::from_value(other) {
            Ok(r) => vec![r],
            Err(e) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    &format!("not a GraphQL request: {e}"),
                    request_id,
                );
            }
        },
    };
    let mut docs = Vec::with_capacity(requests.len());
    for r in &requests {
        let doc = match async_graphql::parser::parse_query(&r.query) {
            Ok(d) => d,
            Err(e) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "GRAPHQL_PARSE_FAILED",
                    &e.to_string(),
                    request_id,
                );
            }
        };
        let aliases = count_aliases(&doc);
        if aliases > limits.aliases {
            return error_response(
                StatusCode::BAD_REQUEST,
                "TOO_MANY_ALIASES",
                &format!("{aliases} aliases; at most {}", limits.aliases),
                request_id,
            );
        }
        docs.push(doc);
    }
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    match key {
        Some(key) => {
            if requests.len() != 1 {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "IDEMPOTENCY_BATCH",
                    "an Idempotency-Key request carries exactly one GraphQL request",
                    request_id,
                );
            }
            let (req, doc) = (requests.into_iter().next(), docs.into_iter().next());
            let (Some(req), Some(doc)) = (req, doc) else {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "no request",
                    request_id,
                );
            };
            idempotent(s, req, &doc, &key, authorization, request_id).await
        }
        None => {
            let mut out = Vec::with_capacity(requests.len());
            for req in requests {
                let state = Arc::new(RequestState {
                    request_id: request_id.to_owned(),
                    authorization: authorization.clone(),
                    caller: Default::default(),
                    uow: UnitOfWork::immediate(),
                });
                out.push(execute(s, req, state).await);
            }
            match out.as_slice() {
                [(status, data, errors)] => {
                    json_response(*status, body(data, errors, request_id, false), request_id)
                }
                many => {
                    let parts: Vec<String> = many
                        .iter()
                        .map(|(_, d, e)| body(d, e, request_id, false))
                        .collect();
                    json_response(StatusCode::OK, format!("[{}]", parts.join(",")), request_id)
                }
            }
        }
    }
}

/// A fresh copy of a request (for a retry after a lost race).
fn rebuild(req: &async_graphql::Request) -> async_graphql::Request {
    let mut copy = async_graphql::Request::new(req.query.clone()).variables(req.variables.clone());
    if let Some(name) = &req.operation_name {
        copy = copy.operation_name(name.clone());
    }
    copy
}

/// Runs one request under the execution timeout: (status, data as JSON text, errors).
async fn execute(
    s: &Shared,
    req: async_graphql::Request,
    state: Arc<RequestState>,
) -> (StatusCode, String, Vec<async_graphql::ServerError>) {
    let started = Instant::now();
    let operation = req
        .operation_name
        .clone()
        .or_else(|| first_field(&req.query));
    let req = req.data(state.clone());
    let out = match tokio::time::timeout(s.config.limits.timeout, s.schema.execute(req)).await {
        Ok(resp) => {
            let data = serde_json::to_string(&resp.data).unwrap_or_else(|_| "null".into());
            (status_of(&resp.errors), data, resp.errors)
        }
        Err(_) => {
            let mut e = async_graphql::ServerError::new("the request took too long", None);
            let mut ext = async_graphql::ErrorExtensionValues::default();
            ext.set("code", "TIMEOUT");
            e.extensions = Some(ext);
            (StatusCode::GATEWAY_TIMEOUT, "null".into(), vec![e])
        }
    };
    // One structured line per operation: who, what, how it ended, how long. Never a token.
    let tenant = match state.caller.get() {
        Some(Ok(Caller::Tenant(id))) => Some(id.tenant().to_string()),
        Some(Ok(Caller::Platform(_))) => Some("(platform)".to_owned()),
        _ => None,
    };
    let outcome = out
        .2
        .first()
        .and_then(error_code)
        .unwrap_or_else(|| "ok".to_owned());
    tracing::info!(
        request_id = %state.request_id,
        tenant = tenant.as_deref().unwrap_or("-"),
        operation = operation.as_deref().unwrap_or("-"),
        outcome = %outcome,
        latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "graphql operation"
    );
    out
}

fn error_code(e: &async_graphql::ServerError) -> Option<String> {
    e.extensions
        .as_ref()
        .and_then(|x| x.get("code"))
        .map(|v| v.to_string().trim_matches('"').to_owned())
}

/// The first root field of a query (for logs).
fn first_field(query: &str) -> Option<String> {
    let doc = async_graphql::parser::parse_query(query).ok()?;
    let op = match &doc.operations {
        DocumentOperations::Single(op) => op,
        DocumentOperations::Multiple(map) => map.values().next()?,
    };
    op.node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|s| match &s.node {
            Selection::Field(f) => Some(f.node.name.node.to_string()),
            _ => None,
        })
}

/// A request with an `Idempotency-Key`: one mutation field; a replay returns the stored `data`.
async fn idempotent(
    s: &Shared,
    req: async_graphql::Request,
    doc: &ExecutableDocument,
    key: &str,
    authorization: Option<String>,
    request_id: &str,
) -> Response {
    let fields = mutation_fields(doc, req.operation_name.as_deref()).unwrap_or_default();
    let [field] = fields.as_slice() else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "IDEMPOTENCY_SINGLE_MUTATION",
            "an Idempotency-Key applies to a request with exactly one mutation field",
            request_id,
        );
    };
    let Ok(key) = IdempotencyKey::parse(key) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1 to 64 printable ASCII characters without '#'",
            request_id,
        );
    };
    let Ok(operation) = Operation::parse(field) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!("unknown mutation {field}"),
            request_id,
        );
    };
    let caller = match s.api.verifier.verify(authorization.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            return error_response(
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED),
                e.code(),
                e.public_message(),
                request_id,
            );
        }
    };
    let Caller::Tenant(identity) = &caller else {
        return error_response(
            StatusCode::OK,
            "FORBIDDEN",
            &format!("not allowed to {field}"),
            request_id,
        );
    };
    let (Ok(op_name), hash) = (OperationName::parse(field), request_hash(&req)) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "bad operation name",
            request_id,
        );
    };
    let app = &s.api.app;
    let rc = RequestCtx {
        caller: caller.clone(),
        request_id: request_id.to_owned(),
    };
    let replay = |rec: IdempotencyRecord| {
        if rec.request_hash != hash {
            return error_response(
                StatusCode::CONFLICT,
                "IDEMPOTENCY_KEY_REUSED",
                "the Idempotency-Key was used for a different request",
                request_id,
            );
        }
        if let Err(e) = app.may_replay(&rc, operation) {
            return error_response(StatusCode::OK, e.code(), &e.to_string(), request_id);
        }
        json_response(
            StatusCode::OK,
            body(&rec.response, &[], request_id, true),
            request_id,
        )
    };
    match app
        .idempotency
        .get(identity.scope(), identity.subject(), &op_name, &key)
        .await
    {
        Ok(Some(rec)) => return replay(rec),
        Ok(None) => {}
        Err(e) => {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                &e.to_string(),
                request_id,
            );
        }
    }
    for _attempt in 0..3 {
        let state = Arc::new(RequestState {
            request_id: request_id.to_owned(),
            authorization: authorization.clone(),
            caller: tokio::sync::OnceCell::new_with(Some(Ok(caller.clone()))),
            uow: UnitOfWork::deferred(),
        });
        let (status, data, errors) = execute(s, rebuild(&req), state.clone()).await;
        let Some(pending) = state.uow.take_pending() else {
            // Nothing to write (a refusal or user errors): answer as is, remember nothing.
            return json_response(status, body(&data, &errors, request_id, false), request_id);
        };
        let record = IdempotencyRecord {
            subject: identity.subject().clone(),
            operation: op_name.clone(),
            key: key.clone(),
            request_hash: hash.clone(),
            response: data.clone(),
            created_at: app.now(),
        };
        match app.commit(&pending, Some(&record)).await {
            Ok(()) => {
                return json_response(status, body(&data, &errors, request_id, false), request_id);
            }
            Err(AppError::Conflict(_)) => continue,
            Err(AppError::IdempotencyRace) => {
                return match app
                    .idempotency
                    .get(identity.scope(), identity.subject(), &op_name, &key)
                    .await
                {
                    Ok(Some(rec)) => replay(rec),
                    _ => error_response(
                        StatusCode::CONFLICT,
                        "CONFLICT",
                        "a request with the same Idempotency-Key is in progress; retry",
                        request_id,
                    ),
                };
            }
            Err(e) => return error_response(StatusCode::OK, e.code(), &e.to_string(), request_id),
        }
    }
    error_response(
        StatusCode::CONFLICT,
        "CONFLICT",
        "the order kept changing; retry",
        request_id,
    )
}
