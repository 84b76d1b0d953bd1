//! The GraphQL schema: the query and mutation roots over the use cases, and what every resolver
//! shares (the request's caller and unit of work). Built once, served by the graphql Lambda and
//! by `oms serve` alike.

use std::future::Future;
use std::sync::Arc;

use app::{App, AppError, AppResult, RequestCtx, Services, UnitOfWork};
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{Context, EmptySubscription, ID, Schema};
use auth::{AuthError, Caller, Verifier};
use domain::access::Operation;
use domain::ids::OrderId;

use crate::errors::auth_error;
use crate::limits::Limits;
use crate::mutation::MutationRoot;
use crate::query::QueryRoot;

pub type OmsSchema = Schema<Query, Mutation, EmptySubscription>;

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

/// The root of reads: the tenants' users' and, for platform tokens only, the platform admin's.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(QueryRoot, crate::platform::PlatformQuery);

/// The root of changes: the tenants' users' and, for platform tokens only, the platform
/// admin's.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(MutationRoot, crate::platform::PlatformMutation);

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
pub(crate) struct Req {
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
pub(crate) fn order_id(id: &ID) -> Result<OrderId, AppError> {
    OrderId::parse(id.as_str()).map_err(|_| AppError::NotFound { what: "order" })
}

/// Builds the schema once.
pub fn build_schema(state: Arc<ApiState>, limits: &Limits) -> OmsSchema {
    limited(
        Schema::build(Query::default(), Mutation::default(), EmptySubscription).data(state),
        limits,
    )
}

/// The same schema for documents that already passed every validation rule: only the checks
/// whose outcome can change between requests run again (depth, complexity, directives,
/// recursion, fragment cycles); variables are still coerced, and refused, as fields read them.
/// Saves the full rule set (about a tenth of a small read's CPU) on every repeated document.
pub fn build_fast_schema(state: Arc<ApiState>, limits: &Limits) -> OmsSchema {
    limited(
        Schema::build(Query::default(), Mutation::default(), EmptySubscription)
            .data(state)
            .validation_mode(async_graphql::ValidationMode::Fast),
        limits,
    )
}

/// The same schema and limits, stopping after validation: parses and validates a request (depth,
/// complexity, fields, variables) and runs no resolver. A keyed request is checked with it before
/// its caller is verified or its record read.
pub fn build_validator(limits: &Limits) -> OmsSchema {
    limited(
        Schema::build(Query::default(), Mutation::default(), EmptySubscription)
            .extension(ValidateOnly),
        limits,
    )
}

struct ValidateOnly;

impl ExtensionFactory for ValidateOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ValidateOnly)
    }
}

#[async_trait::async_trait]
impl Extension for ValidateOnly {
    /// Reached only once validation passed; stops before any resolver.
    async fn execute(
        &self,
        _ctx: &ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: NextExecute<'_>,
    ) -> async_graphql::Response {
        async_graphql::Response::new(async_graphql::Value::Null)
    }
}

fn limited(
    builder: async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription>,
    limits: &Limits,
) -> OmsSchema {
    let mut b = builder
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .limit_directives(limits.directives)
        .limit_recursive_depth(32);
    if !limits.introspection {
        b = b.disable_introspection().disable_suggestions();
    }
    b.finish()
}

/// The SDL (`oms schema`, `schema.graphql`).
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}
