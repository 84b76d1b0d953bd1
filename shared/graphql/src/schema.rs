//! The GraphQL schema: the query and mutation roots over the use cases, and what every resolver
//! shares (the request's caller and unit of work). Built once, served by the graphql Lambda and
//! by `oms serve` alike.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{EmptySubscription, Schema};

use crate::limits::Limits;
use crate::mutation::MutationRoot;
use crate::query::QueryRoot;
use crate::state::ApiState;

pub type OmsSchema = Schema<Query, Mutation, EmptySubscription>;

/// The root of reads: the tenants' users' and, for platform tokens only, the platform admin's.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(
    QueryRoot,
    crate::platform::PlatformQuery,
    crate::platform_setup::PlatformSetupQuery,
);

/// The root of changes: the tenants' users' and, for platform tokens only, the platform
/// admin's.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(
    MutationRoot,
    crate::labels::LabelsMutation,
    crate::platform::PlatformMutation,
    crate::platform_setup::PlatformSetupMutation,
);

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
