//! Where errors meet GraphQL: application and authentication errors become GraphQL errors (with a
//! stable `extensions.code`) or payload `userErrors`. Internal causes are logged whole here and
//! never sent: the client reads `INTERNAL`. Their HTTP statuses are `http::errors`'.

use app::AppError;
use async_graphql::ErrorExtensions;
use auth::AuthError;

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

/// The `extensions.code` of a GraphQL error, if it has one.
pub fn error_code(e: &async_graphql::ServerError) -> Option<String> {
    e.extensions
        .as_ref()
        .and_then(|x| x.get("code"))
        .map(|v| v.to_string().trim_matches('"').to_owned())
}
