//! TenantOMS API: the GraphQL schema and the HTTP router, shared by the graphql Lambda function
//! and `oms serve`. Resolvers parse, call one use case of `app`, and render views; errors meet the
//! wire in `errors` only.

pub mod connection;
pub mod errors;
pub mod gateway;
pub mod http;
pub mod inputs;
pub mod limits;
pub mod mutation;
pub mod platform;
pub mod query;
pub mod schema;
pub mod views;
pub mod webhooks;

pub use http::{HttpConfig, graphql_router, router, webhook_router};
pub use limits::Limits;
pub use schema::{ApiState, api_state, build_schema, sdl};
