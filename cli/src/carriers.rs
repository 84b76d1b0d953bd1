//! `oms gateway …` (the SaaS provider's catalogue) and `oms carrier credentials …` (a tenant's
//! credential versions, acting as the tenant's admin on a tenant the operator names).

use std::path::Path;
use std::sync::Arc;

use app::credentials::{CredentialSecrets, NewCredentials};
use app::{AppError, RequestCtx};
use auth::Caller;
use auth::service::{Channel, service_identity};
use boot::StoreConfig;
use clap::Subcommand;
use domain::Timestamp;
use domain::gateway::{CarrierKind, GatewayAuthType, GatewayConfig, GatewayMode};
use domain::ids::{AccountId, CarrierCode, CredentialId, TenantId};
use domain::outbound::OutboundPolicy;
use domain::{Clock, SystemClock};
use secrecy::SecretString;
use store::cursor::{CursorKey, Cursors};

use crate::admin::open_platform;
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum GatewayCmd {
    /// Add or replace a gateway of the catalogue.
    Set {
        #[arg(long)]
        id: String,
        /// easypost, shippo or fedex.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        /// The kind's documented sandbox host by default.
        #[arg(long)]
        sandbox_url: Option<String>,
        /// The kind's documented production host by default.
        #[arg(long)]
        production_url: Option<String>,
        /// api-key, basic or oauth2-client-credentials; by default what the kind uses
        /// (fedex: oauth2-client-credentials, the others: api-key).
        #[arg(long)]
        auth_type: Option<String>,
    },
    /// List the catalogue.
    List,
    /// Offer a platform account of a gateway to the tenants of the named plans (none:
    /// withdraw it). Its credentials: `oms carrier credentials add --platform`.
    Offer {
        #[arg(long)]
        id: String,
        #[arg(long)]
        account: String,
        /// A plan whose tenants may use the account (repeat for several).
        #[arg(long)]
        plan: Vec<String>,
    },
}

/// Whose credentials: a tenant's, or (`--platform`) the platform's own accounts.
#[derive(Debug, clap::Args)]
pub struct OwnerArgs {
    #[arg(long, required_unless_present = "platform")]
    tenant: Option<String>,
    /// The platform's own carrier account (used on behalf of tenants whose plan it is offered
    /// to: `oms gateway offer`).
    #[arg(long, conflicts_with = "tenant")]
    platform: bool,
}

#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    #[command(flatten)]
    owner: OwnerArgs,
    #[arg(long)]
    gateway: String,
    #[arg(long)]
    account: String,
    /// The account's endpoints: sandbox or production (`--mode` is the CLI's own).
    #[arg(long, default_value = "sandbox")]
    gateway_mode: String,
    #[arg(long)]
    base_url: Option<String>,
    #[arg(long)]
    username: Option<String>,
    #[arg(long)]
    client_id: Option<String>,
    /// OAuth2: the token endpoint (FedEx: the base URL's /oauth/token by default).
    #[arg(long)]
    token_url: Option<String>,
    /// The tenant's account number at the carrier (required for FedEx).
    #[arg(long)]
    account_number: Option<String>,
    /// The client id of a separate tracking key pair (its secret: `trackClientSecret`).
    #[arg(long)]
    track_client_id: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// RFC 3339; now by default (a later time schedules the version).
    #[arg(long)]
    from: Option<String>,
    /// RFC 3339; open by default.
    #[arg(long)]
    thru: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCmd {
    /// Add a version. The secrets come on standard input: the API key alone, or JSON
    /// `{"apiKey": …, "password": …, "sharedSecret": …, "clientSecret": …,
    /// "trackClientSecret": …}`.
    Add(VersionArgs),
    /// Rotate: a new version from `--from` (now by default), the open one ends there.
    Rotate(VersionArgs),
    /// End a version's window (once).
    Expire {
        #[command(flatten)]
        owner: OwnerArgs,
        #[arg(long)]
        gateway: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        id: String,
        /// RFC 3339; now by default.
        #[arg(long)]
        at: Option<String>,
    },
    /// List a tenant's (or the platform's) versions (fingerprints, never secrets).
    List {
        #[command(flatten)]
        owner: OwnerArgs,
        #[arg(long)]
        gateway: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CarrierCmd {
    /// A tenant's carrier credentials.
    #[command(subcommand)]
    Credentials(CredentialsCmd),
}

#[derive(Debug, Subcommand)]
pub enum LabelsCmd {
    /// List the label purchases and voids whose outcome is not committed (open carrier
    /// intents), and with `--lookup` ask the carrier what became of each and settle it:
    /// completed onto the shipment, closed when the carrier never did it, or left for a person
    /// when the carrier cannot tell (UNKNOWN).
    Reconcile {
        /// Only these tenants (default: every tenant).
        #[arg(long)]
        tenant: Vec<String>,
        /// Look each intent up at the carrier and settle it.
        #[arg(long)]
        lookup: bool,
    },
}

/// `oms labels reconcile`.
pub async fn labels(
    cmd: LabelsCmd,
    store: &StoreConfig,
    dev_mode: bool,
    outbound: &OutboundPolicy,
    dir: &Path,
) -> Result<(), CliError> {
    let LabelsCmd::Reconcile { tenant, lookup } = cmd;
    let tenants = if tenant.is_empty() {
        let all = crate::admin::admin(store, dev_mode, dir)
            .await?
            .tenants()
            .await?;
        all.into_iter().map(|t| t.id.to_string()).collect()
    } else {
        tenant
    };
    let mut open = 0;
    for t in &tenants {
        let (app, rc) = as_tenant_admin(store, outbound, dir, t).await?;
        let now = app.now();
        for r in app.reconcile_labels(&rc, lookup).await.map_err(app_error)? {
            open += 1;
            let age = now.unix_seconds() - r.intent.opened_at.unix_seconds();
            println!(
                "{t}\torder={}\t{}={}\t{}\t{}\tage={age}s\tkey={}{}",
                r.order,
                r.target.kind(),
                r.target,
                r.intent.action.as_str(),
                r.intent.state.as_str(),
                r.intent.key.as_deref().unwrap_or("-"),
                r.settled.map(|s| format!("\t{s}")).unwrap_or_default(),
            );
        }
    }
    if open == 0 {
        println!(
            "no open label purchases or voids in {} tenant(s)",
            tenants.len()
        );
    } else if !lookup {
        println!("{open} open; `oms labels reconcile --lookup` asks the carriers and settles them");
    }
    Ok(())
}

pub async fn gateway(
    cmd: GatewayCmd,
    store: &StoreConfig,
    dev: bool,
    outbound: &OutboundPolicy,
    dir: &Path,
) -> Result<(), CliError> {
    let admin = open_platform(store, dev, dir)
        .await?
        .with_outbound(outbound.clone());
    match cmd {
        GatewayCmd::Set {
            id,
            kind,
            name,
            sandbox_url,
            production_url,
            auth_type,
        } => {
            let kind = CarrierKind::parse(&kind)?;
            let (sandbox, production) = kind.default_urls();
            let g = admin
                .set_gateway(GatewayConfig {
                    id: CarrierCode::parse(&id)?,
                    name,
                    kind,
                    sandbox_url: sandbox_url.unwrap_or_else(|| sandbox.to_owned()),
                    production_url: production_url.unwrap_or_else(|| production.to_owned()),
                    auth_type: match auth_type {
                        Some(a) => GatewayAuthType::parse(&a)?,
                        None => kind.default_auth(),
                    },
                    // Kept as they are: `oms gateway offer` changes them.
                    offers: Vec::new(),
                })
                .await?;
            println!("gateway {} ({}) is in the catalogue", g.id, g.kind.as_str());
        }
        GatewayCmd::Offer { id, account, plan } => {
            let plans = plan
                .iter()
                .map(|p| domain::ids::PlanName::parse(p))
                .collect::<Result<Vec<_>, _>>()?;
            let g = admin
                .offer_platform_account(
                    &CarrierCode::parse(&id)?,
                    AccountId::parse(&account)?,
                    plans,
                )
                .await?;
            match g.offers.iter().find(|o| o.account.as_str() == account) {
                Some(o) => println!(
                    "{}/platform:{account} is offered to plans {}",
                    g.id,
                    o.plans
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => println!("{}/platform:{account} is offered to no plan", g.id),
            }
        }
        GatewayCmd::List => {
            for g in admin.gateways().await? {
                let offers: String = g
                    .offers
                    .iter()
                    .map(|o| {
                        let plans: Vec<&str> = o.plans.iter().map(|p| p.as_str()).collect();
                        format!("\tplatform:{}={}", o.account, plans.join(","))
                    })
                    .collect();
                println!(
                    "{}\t{}\t{}\tsandbox={}\tproduction={}{offers}",
                    g.id,
                    g.kind.as_str(),
                    g.auth_type.as_str(),
                    g.sandbox_url,
                    g.production_url
                );
            }
        }
    }
    Ok(())
}

/// The use cases over the configured store, acting as the named tenant's admin, outbound URLs
/// under `outbound`.
async fn as_tenant_admin(
    store: &StoreConfig,
    outbound: &OutboundPolicy,
    dir: &Path,
    tenant: &str,
) -> Result<(Arc<app::App>, RequestCtx), CliError> {
    as_tenant_admin_in(store, outbound, dir, tenant, false).await
}

/// As [`as_tenant_admin`], in dev mode when `dev_mode` (the API keys it creates are test keys).
pub(crate) async fn as_tenant_admin_in(
    store: &StoreConfig,
    outbound: &OutboundPolicy,
    dir: &Path,
    tenant: &str,
    dev_mode: bool,
) -> Result<(Arc<app::App>, RequestCtx), CliError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let opened = boot::open_store(store, clock.clone()).await?;
    let secrets = crate::admin::open_secrets(store, dir).await?;
    let key = CursorKey::load_or_generate(&dir.join("cursor.key"))
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let services = boot::services_with_outbound(
        opened,
        clock,
        auth::VerifierConfig {
            dev_mode,
            ..auth::VerifierConfig::default()
        },
        Cursors::new(key),
        Some(secrets),
        outbound.clone(),
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let tenant = TenantId::parse(tenant)?;
    let identity = service_identity(
        services.directory.as_ref(),
        &tenant,
        "cli:admin",
        Channel::AdminCli,
    )
    .await
    .map_err(|e| CliError::Usage(format!("tenant {tenant}: {e}")))?;
    let rc = RequestCtx {
        caller: Caller::Tenant(identity),
        request_id: ulid::Ulid::new().to_string(),
    };
    Ok((services.app, rc))
}

/// The platform use cases with the secret store, for the platform's own credentials.
async fn platform(
    store: &StoreConfig,
    outbound: &OutboundPolicy,
    dir: &Path,
) -> Result<app::platform::Platform, CliError> {
    Ok(open_platform(store, false, dir)
        .await?
        .with_outbound(outbound.clone())
        .with_secrets(crate::admin::open_secrets(store, dir).await?))
}

fn time(s: Option<&str>) -> Result<Option<Timestamp>, CliError> {
    Ok(s.map(Timestamp::parse_rfc3339).transpose()?)
}

/// The secrets from standard input: a bare API key, or a JSON object of the secret fields.
fn secrets_from(text: &str) -> Result<CredentialSecrets, CliError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CliError::Usage(
            "give the secrets on standard input: the API key, or JSON {\"apiKey\": …}".into(),
        ));
    }
    if !text.starts_with('{') {
        return Ok(CredentialSecrets {
            api_key: Some(SecretString::from(text.to_owned())),
            ..CredentialSecrets::default()
        });
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Fields {
        api_key: Option<String>,
        password: Option<String>,
        shared_secret: Option<String>,
        client_secret: Option<String>,
        track_client_secret: Option<String>,
    }
    // The error names the field, never echoes the text.
    let f: Fields = serde_json::from_str(text).map_err(|e| {
        CliError::Usage(format!(
            "the secrets JSON does not parse (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let s = |v: Option<String>| v.map(SecretString::from);
    Ok(CredentialSecrets {
        api_key: s(f.api_key),
        password: s(f.password),
        shared_secret: s(f.shared_secret),
        client_secret: s(f.client_secret),
        track_client_secret: s(f.track_client_secret),
    })
}

fn new_version(a: &VersionArgs, secrets: CredentialSecrets) -> Result<NewCredentials, CliError> {
    Ok(NewCredentials {
        gateway: CarrierCode::parse(&a.gateway)?,
        account: AccountId::parse(&a.account)?,
        mode: GatewayMode::parse(&a.gateway_mode)?,
        base_url: a.base_url.clone(),
        username: a.username.clone(),
        client_id: a.client_id.clone(),
        token_url: a.token_url.clone(),
        account_number: a.account_number.clone(),
        track_client_id: a.track_client_id.clone(),
        description: a.description.clone(),
        from: time(a.from.as_deref())?,
        thru: time(a.thru.as_deref())?,
        secrets,
    })
}

fn app_error(e: AppError) -> CliError {
    CliError::Usage(e.to_string())
}

fn show(v: &domain::gateway::CredentialVersion, now: Timestamp) -> String {
    let extra: String = [
        ("client", &v.client_id),
        ("carrier-account", &v.account_number),
        ("track-client", &v.track_client_id),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.as_ref().map(|v| format!("\t{name}={v}")))
    .collect();
    format!(
        "{}\t{}/{}\t{}\tfrom={}\tthru={}\tkey={}\t{}{extra}",
        v.id,
        v.gateway,
        v.account,
        v.mode.as_str(),
        v.from,
        v.thru.map_or("open".to_owned(), |t| t.to_string()),
        v.fingerprint,
        if v.effective_at(now) {
            "effective"
        } else {
            "-"
        }
    )
}

pub async fn carrier(
    cmd: CarrierCmd,
    store: &StoreConfig,
    outbound: &OutboundPolicy,
    dir: &Path,
    stdin: impl FnOnce() -> Result<String, CliError>,
) -> Result<(), CliError> {
    let CarrierCmd::Credentials(cmd) = cmd;
    match cmd {
        CredentialsCmd::Add(a) => {
            let new = new_version(&a, secrets_from(&stdin()?)?)?;
            let v = match &a.owner.tenant {
                Some(tenant) if !a.owner.platform => {
                    let (app, rc) = as_tenant_admin(store, outbound, dir, tenant).await?;
                    app.add_carrier_credentials(&rc, new)
                        .await
                        .map_err(app_error)?
                }
                _ => {
                    platform(store, outbound, dir)
                        .await?
                        .add_platform_credentials(new)
                        .await?
                }
            };
            println!("added {}", show(&v, SystemClock.now()));
        }
        CredentialsCmd::Rotate(a) => {
            let new = new_version(&a, secrets_from(&stdin()?)?)?;
            let v = match &a.owner.tenant {
                Some(tenant) if !a.owner.platform => {
                    let (app, rc) = as_tenant_admin(store, outbound, dir, tenant).await?;
                    app.rotate_carrier_credentials(&rc, new)
                        .await
                        .map_err(app_error)?
                }
                _ => {
                    platform(store, outbound, dir)
                        .await?
                        .rotate_platform_credentials(new)
                        .await?
                }
            };
            println!("rotated to {}", show(&v, SystemClock.now()));
        }
        CredentialsCmd::Expire {
            owner,
            gateway,
            account,
            id,
            at,
        } => {
            let (gateway, account) = (CarrierCode::parse(&gateway)?, AccountId::parse(&account)?);
            let (id, at) = (CredentialId::parse(&id)?, time(at.as_deref())?);
            let v = match &owner.tenant {
                Some(tenant) if !owner.platform => {
                    let (app, rc) = as_tenant_admin(store, outbound, dir, tenant).await?;
                    app.expire_carrier_credentials(&rc, &gateway, &account, id, at)
                        .await
                        .map_err(app_error)?
                }
                _ => {
                    platform(store, outbound, dir)
                        .await?
                        .expire_platform_credentials(&gateway, &account, id, at)
                        .await?
                }
            };
            println!("expired {}", show(&v, SystemClock.now()));
        }
        CredentialsCmd::List { owner, gateway } => {
            let gateway = gateway.as_deref().map(CarrierCode::parse).transpose()?;
            let versions = match &owner.tenant {
                Some(tenant) if !owner.platform => {
                    let (app, rc) = as_tenant_admin(store, outbound, dir, tenant).await?;
                    app.carrier_credentials(&rc, gateway.as_ref())
                        .await
                        .map_err(app_error)?
                }
                _ => {
                    platform(store, outbound, dir)
                        .await?
                        .platform_credentials(gateway.as_ref())
                        .await?
                }
            };
            let now = SystemClock.now();
            for v in versions {
                println!("{}", show(&v, now));
            }
        }
    }
    Ok(())
}
