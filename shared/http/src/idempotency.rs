//! The `Idempotency-Key` header: which requests may carry one (one request, one mutation field),
//! the request's fingerprint, and the answer. Running at most once per key is the application's
//! keyed service (`App::keyed`); this module only adapts it to HTTP.

use std::sync::Arc;

use app::{Keyed, KeyedOutcome, RequestCtx, UnitOfWork};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection,
};
use axum::http::StatusCode;
use axum::response::Response;
use domain::access::Operation;
use domain::ids::IdempotencyKey;
use sha2::{Digest, Sha256};

use crate::documents::Parsed;
use crate::errors::{app_response, auth_response, status_of};
use crate::{BadRequest, Shared, body, execute, json_response};
use graphql::state::RequestState;

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

/// Whether a keyed run of `op` stores its answer with its writes. Every order, shipment, return
/// and tenant-config mutation commits through the request's unit of work and does; carrier
/// credentials (their version chain commits in its own transaction, with its secret), API keys
/// (a stored answer would keep the key's text), label reconciliation (each settlement commits on
/// its own, and a repeat finds nothing left to settle) and the platform's tenant catalogue do not, and
/// refuse a key rather than pretend to honour it.
pub(crate) fn honours_key(op: Operation) -> bool {
    use domain::access::OperationKind;
    !matches!(
        op,
        Operation::RegisterCarrierCredential
            | Operation::RotateCarrierCredential
            | Operation::ExpireCarrierCredential
            | Operation::CreateApiKey
            | Operation::RevokeApiKey
            | Operation::ReconcileLabels
    ) && op.kind() != OperationKind::Platform
}

/// The tenant a log line names (never a token).
fn caller_tenant(caller: &auth::Caller) -> String {
    match caller {
        auth::Caller::Tenant(id) => id.tenant().to_string(),
        auth::Caller::Platform(_) => "(platform)".to_owned(),
    }
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

/// A fresh copy of a request (each run of a keyed request executes anew).
fn rebuild(req: &async_graphql::Request) -> async_graphql::Request {
    let mut copy = async_graphql::Request::new(req.query.clone()).variables(req.variables.clone());
    if let Some(name) = &req.operation_name {
        copy = copy.operation_name(name.clone());
    }
    copy
}

/// What the header and the request say, or the response refusing them.
fn keyed_request(
    requests: Vec<async_graphql::Request>,
    docs: &[Arc<Parsed>],
    key: &str,
) -> Result<(async_graphql::Request, Keyed), BadRequest> {
    let (Ok(req), [doc]) = (<[_; 1]>::try_from(requests), docs) else {
        return Err(BadRequest::new(
            "IDEMPOTENCY_BATCH",
            "an Idempotency-Key request carries exactly one GraphQL request",
        ));
    };
    let [req] = req;
    let fields = mutation_fields(&doc.doc, req.operation_name.as_deref()).unwrap_or_default();
    let [field] = fields.as_slice() else {
        return Err(BadRequest::new(
            "IDEMPOTENCY_SINGLE_MUTATION",
            "an Idempotency-Key applies to a request with exactly one mutation field",
        ));
    };
    let Ok(key) = IdempotencyKey::parse(key) else {
        return Err(BadRequest::new(
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1 to 64 printable ASCII characters without '#'",
        ));
    };
    let Ok(operation) = Operation::parse(field) else {
        return Err(BadRequest::new(
            "BAD_REQUEST",
            format!("unknown mutation {field}"),
        ));
    };
    if !honours_key(operation) {
        return Err(BadRequest::new(
            "IDEMPOTENCY_NOT_SUPPORTED",
            format!(
                "{field} does not take an Idempotency-Key: send it without one (it is safe to \
                 repeat: a repeat is refused or changes nothing twice)"
            ),
        ));
    }
    let request_hash = request_hash(&req);
    Ok((
        req,
        Keyed {
            key,
            operation,
            request_hash,
        },
    ))
}

/// A request with an `Idempotency-Key`: run once; a replay returns the stored `data`.
pub(super) async fn keyed(
    s: &Shared,
    requests: Vec<async_graphql::Request>,
    docs: Vec<Arc<Parsed>>,
    key: &str,
    authorization: Option<String>,
    vouched: Option<auth::Caller>,
    request_id: &str,
) -> Response {
    let (req, keyed) = match keyed_request(requests, &docs, key) {
        Ok(k) => k,
        Err(bad) => return bad.response(request_id),
    };
    let [doc] = docs.as_slice() else {
        return BadRequest::new("IDEMPOTENCY_BATCH", "one request").response(request_id);
    };
    // Limits before authentication: depth, complexity and the rest of validation first.
    let checked = s.validator.execute(doc.attach(rebuild(&req))).await;
    if !checked.errors.is_empty() {
        let data = serde_json::to_string(&checked.data).unwrap_or_else(|_| "null".into());
        return json_response(
            status_of(&checked.errors),
            body(&data, &checked.errors, request_id, false),
            request_id,
        );
    }
    let caller = match vouched {
        Some(c) => c,
        None => match s.api.verifier.verify(authorization.as_deref()).await {
            Ok(c) => c,
            Err(e) => return auth_response(&e, request_id),
        },
    };
    let rc = RequestCtx {
        caller: caller.clone(),
        request_id: request_id.to_owned(),
    };
    let run = |uow: Arc<UnitOfWork>| {
        let state = Arc::new(RequestState {
            request_id: request_id.to_owned(),
            authorization: authorization.clone(),
            caller: tokio::sync::OnceCell::new_with(Some(Ok(caller.clone()))),
            uow,
        });
        execute(s, rebuild(&req), doc, state)
    };
    match s.api.app.keyed(&rc, &keyed, run).await {
        Ok(KeyedOutcome::Ran(e)) => json_response(
            e.status,
            body(&e.data, &e.errors, request_id, false),
            request_id,
        ),
        Ok(KeyedOutcome::Replayed(data)) => {
            tracing::info!(
                request_id = %request_id,
                tenant = caller_tenant(&caller).as_str(),
                operation = keyed.operation.as_str(),
                outcome = %"ok",
                replayed = true,
                "graphql operation"
            );
            json_response(
                StatusCode::OK,
                body(&data, &[], request_id, true),
                request_id,
            )
        }
        Err(e) => app_response(&e, request_id),
    }
}
