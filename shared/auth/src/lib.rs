//! TenantOMS authentication: who is calling, for which tenant.
//!
//! - [`verifier`]: JWT verification against each tenant's registered IdP (RS256/ES256/EdDSA only).
//! - [`jwks`]: JWKS fetching and caching with a cool-down and single-flight refetch.
//! - [`mapping`]: JMESPath claim mapping, compiled once per IdP.
//! - [`directory`]: issuers, tenant profiles and plans, cached.
//! - [`identity`]: the verified [`Identity`] and [`Caller`], built only here.
//! - [`dev`]: the local development IdP.

pub mod apikey;
pub mod cache;
pub mod dev;
pub mod directory;
pub mod error;
pub mod identity;
pub mod jwks;
pub mod mapping;
pub mod service;
pub mod verifier;
pub mod webhook;

pub use error::{AuthError, AuthResult, Refusal};
pub use identity::{Caller, Identity, PlatformAdmin};
pub use verifier::{DEV_ISSUER, Verifier, VerifierConfig, check_registration};
