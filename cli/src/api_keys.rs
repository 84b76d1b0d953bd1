//! `oms api-key`: a tenant's API keys from the admin CLI (acting as the tenant's admin, like
//! `oms carrier`). The key's text is printed once, on standard output, when it is created.

use std::path::Path;

use app::AppError;
use app::api_keys::NewApiKey;
use app::ports::StoredApiKey;
use boot::StoreConfig;
use clap::Subcommand;
use domain::Timestamp;
use domain::access::Role;
use domain::ids::{ApiKeyId, VendorId};
use domain::outbound::OutboundPolicy;
use secrecy::ExposeSecret;

use crate::carriers::as_tenant_admin_in;
use crate::error::CliError;

#[derive(Subcommand, Debug)]
pub enum ApiKeyCmd {
    /// Create a key for a tenant's own systems; its text is printed once (store it now).
    Create {
        #[arg(long)]
        tenant: String,
        /// What the key is for (`ERP`, `storefront`).
        #[arg(long)]
        name: String,
        /// tenant-admin, staff, vendor or read-only.
        #[arg(long, default_value = "staff")]
        role: String,
        /// The vendor of a vendor key.
        #[arg(long)]
        vendor: Option<String>,
        /// RFC 3339 (default: now).
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339 (default: never).
        #[arg(long)]
        thru: Option<String>,
    },
    /// List a tenant's keys (never their text).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a key now, or at `--at` (rotation: a new key first, the old one revoked at the
    /// time the new one is in use).
    Revoke {
        #[arg(long)]
        tenant: String,
        /// The key's id (the ULID after `oms_live_` / `oms_test_`).
        #[arg(long)]
        id: String,
        /// RFC 3339, not in the past (default: now).
        #[arg(long)]
        at: Option<String>,
    },
}

fn app_error(e: AppError) -> CliError {
    CliError::Usage(e.to_string())
}

fn time(s: Option<&str>) -> Result<Option<Timestamp>, CliError> {
    Ok(s.map(Timestamp::parse_rfc3339).transpose()?)
}

fn show(k: &StoredApiKey, now: Timestamp) -> String {
    let key = &k.key;
    format!(
        "{}\t{}\t{}\trole={}\tvendor={}\tfrom={}\tthru={}\t{}\tlast_used={}",
        key.id,
        key.shown_prefix(),
        key.name,
        key.role.as_str(),
        key.vendor
            .as_ref()
            .map_or("-".to_owned(), ToString::to_string),
        key.from,
        key.thru.map_or("-".to_owned(), |t| t.to_string()),
        if key.in_force_at(now) {
            "in force"
        } else {
            "not in force"
        },
        k.last_used_at.map_or("never".to_owned(), |t| t.to_string()),
    )
}

/// `oms api-key …`.
pub async fn api_key(
    cmd: ApiKeyCmd,
    store: &StoreConfig,
    dev_mode: bool,
    outbound: &OutboundPolicy,
    dir: &Path,
) -> Result<(), CliError> {
    match cmd {
        ApiKeyCmd::Create {
            tenant,
            name,
            role,
            vendor,
            from,
            thru,
        } => {
            let (app, rc) = as_tenant_admin_in(store, outbound, dir, &tenant, dev_mode).await?;
            let new = NewApiKey {
                name,
                role: Role::parse(&role)?,
                vendor: vendor.as_deref().map(VendorId::parse).transpose()?,
                from: time(from.as_deref())?,
                thru: time(thru.as_deref())?,
            };
            let uow = app::UnitOfWork::immediate();
            let created = app
                .create_api_key(&rc, &uow, new)
                .await
                .map_err(app_error)?;
            eprintln!(
                "created API key {} for tenant {tenant}; its text follows, shown this once: store it now",
                created.key.key.id
            );
            println!("{}", created.text.expose_secret());
        }
        ApiKeyCmd::List { tenant } => {
            let (app, rc) = as_tenant_admin_in(store, outbound, dir, &tenant, dev_mode).await?;
            let now = app.now();
            for k in app.api_keys(&rc).await.map_err(app_error)? {
                println!("{}", show(&k, now));
            }
        }
        ApiKeyCmd::Revoke { tenant, id, at } => {
            let (app, rc) = as_tenant_admin_in(store, outbound, dir, &tenant, dev_mode).await?;
            let id = ApiKeyId::parse(&id)?;
            let at = time(at.as_deref())?;
            let k = app.revoke_api_key(&rc, id, at).await.map_err(app_error)?;
            println!("{}", show(&k, app.now()));
        }
    }
    Ok(())
}
