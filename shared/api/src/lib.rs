//! TenantOMS API: the GraphQL schema and the HTTP router, shared by the graphql Lambda function
//! and `oms serve`.

pub mod http;
pub mod inputs;
pub mod schema;
pub mod views;
pub mod wiring;

pub use http::{HttpConfig, router};
pub use schema::{ApiState, Limits, build_schema, sdl};
pub use wiring::api_state;
