//! Where errors meet HTTP: the status of a GraphQL response from its errors' codes, request-level
//! failures as GraphQL-shaped JSON, application errors on the plain HTTP edge (the webhooks).
//! What a client may read of an error is `graphql::errors::public`'s.

use app::AppError;
use auth::{AuthError, Refusal};
use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use graphql::errors::{error_code, public};

/// The HTTP status a response with these error codes is sent with: authentication refusals and
/// a few request-level failures have their own; GraphQL field errors ride on 200.
pub fn status_for_code(code: &str) -> StatusCode {
    match code {
        "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "TENANT_SUSPENDED" => StatusCode::FORBIDDEN,
        "SERVICE_UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
        "IDEMPOTENCY_KEY_REUSED" => StatusCode::CONFLICT,
        "TIMEOUT" => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::OK,
    }
}

/// The status of an application error on a plain HTTP edge (the webhooks; GraphQL answers
/// field errors with 200).
pub fn rest_status(e: &AppError) -> StatusCode {
    match e {
        AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
        AppError::NotFound { .. } => StatusCode::NOT_FOUND,
        AppError::Rule(_) | AppError::Invalid { .. } | AppError::ExternalRefTaken(_) => {
            StatusCode::BAD_REQUEST
        }
        AppError::TrackingNumberTaken { .. } => StatusCode::CONFLICT,
        AppError::Conflict(_) | AppError::IdempotencyMismatch | AppError::IdempotencyRace => {
            StatusCode::CONFLICT
        }
        AppError::Carrier { code, .. } => match *code {
            "connection_not_effective" | "carrier_rejected" | "not_supported" => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_GATEWAY,
        },
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The status of an authentication refusal.
pub fn auth_status(e: &AuthError) -> StatusCode {
    match e.refusal() {
        Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
        Refusal::Suspended => StatusCode::FORBIDDEN,
        Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The status of a GraphQL response: the first error code with a status of its own wins.
pub fn status_of(errors: &[async_graphql::ServerError]) -> StatusCode {
    errors
        .iter()
        .filter_map(error_code)
        .map(|c| status_for_code(&c))
        .find(|s| *s != StatusCode::OK)
        .unwrap_or(StatusCode::OK)
}

/// A request-level failure as a GraphQL-shaped JSON response.
pub fn error_response(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{"message": message, "extensions": {"code": code}}],
        "extensions": {"requestId": request_id},
    });
    with_request_id((status, Json(body)).into_response(), request_id)
}

/// An application error of a request-level step (the keyed path) as a response.
pub fn app_response(e: &AppError, request_id: &str) -> Response {
    let (code, message) = public(e);
    let status = match e {
        AppError::Conflict(_) | AppError::IdempotencyRace => StatusCode::CONFLICT,
        _ => status_for_code(code),
    };
    error_response(status, code, &message, request_id)
}

/// An authentication refusal as a response.
pub fn auth_response(e: &AuthError, request_id: &str) -> Response {
    tracing::info!(reason = %e, "authentication refused");
    error_response(auth_status(e), e.code(), e.public_message(), request_id)
}

pub fn with_request_id(mut r: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}
