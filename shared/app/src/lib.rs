//! TenantOMS application layer: use cases over the domain, the repositories and authorization.

pub mod authz;
pub mod error;
pub mod services;

pub use authz::{Authorizer, AuthzError, Target, authorize};
pub use error::{AppError, AppResult};
pub use services::{
    App, CommandSpec, Listed, Now, Pending, RequestCtx, SystemIds, SystemNow, UnitOfWork,
};
