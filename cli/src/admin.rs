//! The admin CLI's side of the platform use cases (`app::platform`): opening them over the
//! configured store, and dev tokens.

use std::path::Path;
use std::sync::Arc;

use app::platform::{DevSetup, Platform, PlatformError};
use auth::dev::DevIdp;
use boot::{BootError, StoreConfig};
use domain::access::Role;
use domain::ids::{Subject, TenantId, VendorId};
use domain::{Clock, SystemClock};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Boot(#[from] BootError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("{0}")]
    Dev(#[from] auth::dev::DevIdpError),
    #[error("invalid input: {0}")]
    Invalid(#[from] domain::DomainError),
}

/// The platform admin's use cases over the configured store, acting as `cli:$USER`. In dev mode
/// new tenants get the dev IdP whose key lives in `data_dir`.
pub async fn open_platform(
    config: &StoreConfig,
    dev_mode: bool,
    data_dir: &Path,
) -> Result<Platform, CliError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = boot::open_store(config, clock.clone()).await?;
    platform_over(store, clock, dev_mode, data_dir)
}

/// The platform use cases over an already open store (`oms serve` holds the embedded file).
pub fn platform_over(
    store: Arc<dyn store::ItemStore>,
    clock: Arc<dyn Clock>,
    dev_mode: bool,
    data_dir: &Path,
) -> Result<Platform, CliError> {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let actor = Subject::parse(&format!("cli:{user}"))?;
    let dev = dev_mode.then(|| DevSetup {
        data_dir: data_dir.to_path_buf(),
    });
    Ok(Platform::new(store, clock, actor, dev))
}

/// The secret store that goes with the configured store: the local encrypted file beside the
/// embedded store, Secrets Manager beside a DynamoDB table (`OMS_SECRETS_PREFIX`, default
/// `tenantoms`; `OMS_SECRETS_ENDPOINT` for an emulator).
pub async fn open_secrets(
    config: &StoreConfig,
    data_dir: &Path,
) -> Result<Arc<dyn domain::ports::SecretStore>, CliError> {
    match config {
        StoreConfig::Embedded { .. } => Ok(boot::open_local_secrets(data_dir)?),
        StoreConfig::Dynamo { .. } => {
            let get = |k: &str| std::env::var(k).ok();
            let config = boot::lambda::SecretsManagerConfig {
                prefix: get(boot::lambda::env::SECRETS_PREFIX)
                    .unwrap_or_else(|| "tenantoms".into()),
                endpoint: get(boot::lambda::env::SECRETS_ENDPOINT),
            };
            Ok(boot::lambda::open_secrets_manager(&config, Arc::new(SystemClock)).await)
        }
    }
}

/// Mints a dev token (dev mode only; needs no store, so it works while `oms serve` runs).
pub fn mint_token(
    data_dir: &Path,
    tenant: &TenantId,
    role: Role,
    vendor: Option<&VendorId>,
    subject: Option<&Subject>,
    ttl: i64,
) -> Result<String, CliError> {
    let idp = DevIdp::load_or_generate(data_dir)?;
    let secs = SystemClock.now_secs();
    if role == Role::PlatformAdmin {
        return Ok(idp.mint_platform(
            subject.map_or("dev-platform-admin", |s| s.as_str()),
            secs,
            ttl,
        )?);
    }
    Ok(idp.mint(tenant, role, vendor, subject, secs, ttl)?)
}
