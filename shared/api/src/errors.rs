//! The one place errors meet the wire: application and authentication errors become GraphQL
//! errors (with a stable `extensions.code`), payload `userErrors`, or HTTP responses with their
//! status. Internal causes are logged whole here and never sent: the client reads `INTERNAL`.

use app::AppError;
use async_graphql::ErrorExtensions;
use auth::{AuthError, Refusal};
use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::views::UserError;

/// A GraphQL error with a stable `extensions.code`.
pub fn coded(code: &str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(|_, e| e.set("code", code))
}

/// What a client may read of an application error: its code and a message that never carries an
/// internal cause (that is logged here, with the request's other log lines).
pub fn public(e: &AppError) -> (&'static str, String) {
    match e {
        AppError::Internal(cause) => {
            tracing::error!(error = %cause.chain(), "internal error");
            ("INTERNAL", "internal error".to_owned())
        }
        _ => (e.code(), e.to_string()),
    }
}

/// An application error as a GraphQL error.
pub fn app_error(e: AppError) -> async_graphql::Error {
    let (code, message) = public(&e);
    coded(code, message)
}

/// An authentication refusal as a GraphQL error (the reason is logged, never sent).
pub fn auth_error(e: &AuthError) -> async_graphql::Error {
    tracing::info!(reason = %e, "authentication refused");
    coded(e.code(), e.public_message())
}

/// Business-rule failures become the payload's `userErrors`; anything else a coded GraphQL error.
pub fn split<T>(r: Result<T, AppError>) -> async_graphql::Result<Result<T, Vec<UserError>>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.is_user_error() => Ok(Err(vec![UserError {
            code: e.code().to_owned(),
            field: e.field().map(|f| vec![f]),
            message: e.to_string(),
        }])),
        Err(e) => Err(app_error(e)),
    }
}

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

pub fn error_code(e: &async_graphql::ServerError) -> Option<String> {
    e.extensions
        .as_ref()
        .and_then(|x| x.get("code"))
        .map(|v| v.to_string().trim_matches('"').to_owned())
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
