//! What resolvers work with: the state every request shares ([`ApiState`]), one request's
//! ([`RequestState`]) and, once its caller is verified, [`Req`].

use std::future::Future;
use std::sync::Arc;

use app::{App, AppError, AppResult, RequestCtx, Services, UnitOfWork};
use async_graphql::{Context, ID};
use auth::{AuthError, Caller, Verifier};
use domain::access::Operation;
use domain::ids::OrderId;

use crate::errors::auth_error;

/// What every request shares: the use cases and the verifier.
pub struct ApiState {
    pub app: Arc<App>,
    pub verifier: Arc<Verifier>,
    /// Signed webhooks (absent without a secret store: the routes answer 503).
    pub webhooks: Option<Arc<auth::webhook::WebhookVerifier>>,
    /// The platform admin's use cases (platform tokens only).
    pub platform: app::platform::PlatformHost,
}

impl From<Services> for ApiState {
    fn from(s: Services) -> Self {
        Self {
            app: s.app,
            verifier: s.verifier,
            webhooks: s.webhooks,
            platform: s.platform,
        }
    }
}

/// The API state over the services the wiring built.
pub fn api_state(services: Services) -> Arc<ApiState> {
    Arc::new(services.into())
}

/// One request: its id, its bearer token, the lazily verified caller and its unit of work.
pub struct RequestState {
    pub request_id: String,
    pub authorization: Option<String>,
    pub caller: tokio::sync::OnceCell<Result<Caller, AuthError>>,
    pub uow: Arc<UnitOfWork>,
}

/// What a resolver works with: the use cases, the verified caller, the request's unit of work.
pub struct Req {
    pub app: Arc<App>,
    pub rc: RequestCtx,
    pub uow: Arc<UnitOfWork>,
}

impl Req {
    /// The caller is verified once per request, and only when a resolver needs it (so limits
    /// refuse a request before any authentication or store access).
    pub async fn of(ctx: &Context<'_>) -> async_graphql::Result<Self> {
        let api = ctx.data::<Arc<ApiState>>()?;
        let state = ctx.data::<Arc<RequestState>>()?;
        let verified = state
            .caller
            .get_or_init(|| async { api.verifier.verify(state.authorization.as_deref()).await })
            .await;
        match verified {
            Ok(caller) => Ok(Req {
                app: api.app.clone(),
                rc: RequestCtx {
                    caller: caller.clone(),
                    request_id: state.request_id.clone(),
                },
                uow: state.uow.clone(),
            }),
            Err(e) => Err(auth_error(e)),
        }
    }

    /// Refuses a mutation that must carry an `Idempotency-Key` (a purchase) when it has none.
    pub fn keyed(&self, field: &str) -> AppResult<()> {
        if self.uow.is_deferred() {
            Ok(())
        } else {
            Err(AppError::Invalid {
                field: "Idempotency-Key".into(),
                message: format!("{field} requires an Idempotency-Key header"),
            })
        }
    }

    /// Runs a use case on parsed input: an input that did not parse is refused only after the
    /// caller's permission for `op` is checked (limits, authentication, permission, input, store).
    pub async fn run<I, T, Fut>(
        &self,
        op: Operation,
        input: AppResult<I>,
        use_case: impl FnOnce(I) -> Fut,
    ) -> AppResult<T>
    where
        Fut: Future<Output = AppResult<T>>,
    {
        let input = self.app.admit(&self.rc, op, input).await?;
        use_case(input).await
    }
}

/// An order id from the API (one that does not parse names no order: NOT_FOUND).
pub fn order_id(id: &ID) -> Result<OrderId, AppError> {
    OrderId::parse(id.as_str()).map_err(|_| AppError::NotFound { what: "order" })
}
