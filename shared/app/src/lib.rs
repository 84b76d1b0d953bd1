//! TenantOMS application layer: use cases over the domain, the repositories and authorization.

pub mod authz;

pub use authz::{Authorizer, AuthzError, Target, authorize};
