//! Secret store adapters for `app::ports::SecretStore`.
//!
//! - [`local`]: a file in the data directory, each secret sealed with AES-256-GCM under its own
//!   data key, the data key wrapped by a master key (kept beside the file, or given in config).
//!   The additional authenticated data binds tenant, purpose and id: a ciphertext moved to
//!   another record does not open.
//! - [`aws`]: AWS Secrets Manager, one secret per value under the tenant's and purpose's path.

pub mod aws;
pub mod local;

pub use aws::SecretsManagerStore;
pub use local::LocalSecretStore;
