//! TenantOMS's GraphQL schema: queries, mutations, the platform's, views, inputs, limits and the
//! GraphQL half of error mapping. Resolvers parse, call one use case of `app`, and render views.
//! No HTTP here: the `http` crate serves the schema (and the webhooks) over axum.

pub mod api_keys;
pub mod connection;
pub mod credentials;
pub mod errors;
pub mod inputs;
pub mod labels;
pub mod limits;
pub mod mutation;
pub mod platform;
pub mod platform_setup;
pub mod query;
pub mod schema;
pub mod state;
pub mod usage;
pub mod views;

pub use limits::Limits;
pub use schema::{build_schema, sdl};
pub use state::{ApiState, api_state};
