//! `oms`: the TenantOMS command line. Parses arguments and hands off: `serve` (and its
//! `production` configuration), the admin commands through `api` (`admin`, `carriers`,
//! `api_keys`), `local` for the Lambda functions on this machine.

mod admin;
mod api;
mod api_keys;
mod carriers;
mod error;
mod listen;
mod local;
mod production;
mod serve;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use domain::access::Role;
use domain::ids::{PlanName, Subject, TenantId, VendorId};
use domain::tenant::TenantStatus;

use app::platform::DEMO_PLAN;
use boot::StoreConfig;

use crate::api::{Api, As, Target};
use crate::error::CliError;

/// mimalloc: a request allocates and frees many small objects (parsed JSON, the GraphQL
/// response tree); glibc's malloc and free were ~12 % of an `order(id)` read (`make bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// TenantOMS: multi-tenant order, shipment and shipping-gateway API.
#[derive(Debug, Parser)]
#[command(name = "oms", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Where the embedded store, keys and local secrets live.
    #[arg(long, global = true, default_value = ".oms", env = "OMS_DATA_DIR")]
    data_dir: PathBuf,
    /// Use this DynamoDB table instead of the embedded store (production).
    #[arg(long, global = true, env = "OMS_DYNAMODB_TABLE")]
    dynamodb_table: Option<String>,
    /// DynamoDB endpoint override (DynamoDB Local).
    #[arg(long, global = true, env = "OMS_DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: Option<String>,
    /// The deployment stage beside the DynamoDB table (the template's `Stage`): its secrets are
    /// under `tenantoms/{stage}/` unless `OMS_SECRETS_PREFIX` names another prefix.
    #[arg(long, global = true, default_value = "dev", env = "OMS_STAGE")]
    stage: String,
    /// dev: the local dev IdP, demo plan and http JWKS are allowed (default with the embedded
    /// store); production: none of them (default with DynamoDB).
    #[arg(long, global = true, value_enum, env = "OMS_MODE")]
    mode: Option<Mode>,
    /// host:port targets (comma-separated) that carrier and catalogue URLs may name although
    /// they are not public https (outside dev mode only public https is allowed otherwise).
    #[arg(long, global = true, env = "OMS_OUTBOUND_ALLOW")]
    outbound_allow: Option<String>,
    /// Whether `--dynamodb-endpoint` was typed (not only inherited from the environment).
    #[arg(skip)]
    endpoint_typed: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Dev,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl From<LogFormat> for boot::LogFormat {
    fn from(f: LogFormat) -> Self {
        match f {
            LogFormat::Text => boot::LogFormat::Text,
            LogFormat::Json => boot::LogFormat::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the whole API on one machine: embedded store, local event bus; in dev mode the dev
    /// identity provider, demo tenant and GraphiQL, in production mode (`--mode production
    /// --config FILE`) the configured issuer, keys and TLS (README: Production on one machine).
    Serve {
        /// Address to listen on (127.0.0.1:8080 unless the config file names one).
        #[arg(long)]
        listen: Option<String>,
        /// Production mode's TOML configuration (README: Production on one machine).
        #[arg(long, env = "OMS_CONFIG")]
        config: Option<PathBuf>,
        /// Also serve `/status` and `/metrics` here, without a credential (keep it private:
        /// loopback or an operator network). On the API's address they need a platform token.
        #[arg(long, env = "OMS_ADMIN_LISTEN")]
        admin_listen: Option<String>,
        /// on: publish the store's outbox from this process; off: leave it to another relay
        /// (required with `--dynamodb-table`, whose stream the AWS deployment publishes).
        #[arg(long, value_enum, default_value = "on", env = "OMS_RELAY")]
        relay: Switch,
        /// Log lines as text or JSON.
        #[arg(long, value_enum, default_value = "text", env = "OMS_LOG_FORMAT")]
        log_format: LogFormat,
        /// The event bus: `in-process`, or Redis Streams at a redis:// URL.
        #[arg(long, default_value = "in-process", env = "OMS_BUS")]
        bus: String,
        /// Redis stream names start with this (`<prefix>:events`, `<prefix>:tenant-events`).
        #[arg(long, default_value = "oms", env = "OMS_REDIS_PREFIX")]
        redis_prefix: String,
    },
    /// Prepare a data directory (dev mode: its keys, the demo plan and tenant), so admin
    /// commands and `oms serve` find it ready. Admin commands do this themselves when needed.
    Init,
    /// Mint a token from the local development identity provider (dev mode only).
    Token {
        #[arg(long, default_value = "demo")]
        tenant: String,
        /// tenant-admin, staff, vendor, read-only, or platform-admin.
        #[arg(long, default_value = "staff")]
        role: String,
        #[arg(long)]
        vendor: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Manage tenants (platform admin).
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage plans (platform admin).
    #[command(subcommand)]
    Plan(PlanCmd),
    /// Manage tenants' identity providers (platform admin).
    #[command(subcommand)]
    Idp(IdpCmd),
    /// Signed webhooks: configure a tenant's hook, or sign a body as a sender would.
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Tenant events: register where a tenant's own events come from.
    #[command(subcommand)]
    Events(EventsCmd),
    /// The DynamoDB table: `oms table create --dynamodb-table T [--dynamodb-endpoint URL]`.
    #[command(subcommand)]
    Table(TableCmd),
    /// The shipping gateway catalogue (platform admin).
    #[command(subcommand)]
    Gateway(carriers::GatewayCmd),
    /// A tenant's carrier credentials: versions with validity windows, secrets from stdin.
    #[command(subcommand)]
    Carrier(carriers::CarrierCmd),
    /// Label purchases and voids whose outcome is not committed: list and settle them.
    #[command(subcommand)]
    Labels(carriers::LabelsCmd),
    /// A tenant's API keys: create (the key printed once), list, revoke.
    #[command(subcommand, name = "api-key")]
    ApiKey(api_keys::ApiKeyCmd),
    /// The outbox relay's dead letters on AWS: publish again what can now be read.
    #[command(subcommand)]
    Outbox(OutboxCmd),
    /// The Lambda functions on this machine (`make lambda-local`), over the local emulators.
    #[command(subcommand)]
    Local(LocalCmd),
    /// Print the version of this build.
    Version,
}

#[derive(Debug, Subcommand)]
enum TenantCmd {
    /// Onboard a tenant (in dev mode: on the demo plan, with the dev IdP registered).
    Create {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = DEMO_PLAN)]
        plan: String,
        /// Write shards of the tenant's listings (may only grow later).
        #[arg(long, default_value_t = 1)]
        shards: u32,
    },
    /// List tenants.
    List,
    /// Show one tenant's profile (JSON).
    Show { id: String },
    /// Suspend a tenant: every request of its users is refused.
    Suspend { id: String },
    /// Lift a suspension.
    Activate { id: String },
}

#[derive(Debug, Subcommand)]
enum PlanCmd {
    /// Create or replace a plan and its permitted operations.
    Set {
        name: String,
        /// Every tenant operation.
        #[arg(long, conflicts_with = "operations")]
        all: bool,
        /// Comma-separated operation names (createOrder,approveOrder,…).
        #[arg(long, value_delimiter = ',')]
        operations: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum IdpCmd {
    /// Register or replace a tenant's identity provider from a JSON file.
    Set {
        tenant: String,
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TableCmd {
    /// Create the table (keys, indexes, stream, TTL) as the code and template.yaml define it;
    /// an existing table is checked and left untouched.
    Create,
}

#[derive(Debug, Subcommand)]
enum EventsCmd {
    /// Event sources (the AWS account and `source` a tenant's events carry).
    #[command(subcommand)]
    Source(EventSourceCmd),
    /// Print the event bus's resource policy for every registered source (JSON): each tenant
    /// account may put only its own sources, nobody ours. Apply it with `aws events
    /// put-permission --event-bus-name NAME --policy "$(oms … events bus-policy --bus-arn ARN)"`.
    BusPolicy {
        /// The bus's ARN (the stack's `EventBusArn` output).
        #[arg(long)]
        bus_arn: String,
    },
}

#[derive(Debug, Subcommand)]
enum LocalCmd {
    /// Set up the local deployment the `events/` files expect (table, tenants, fixture secrets,
    /// queues, bus, a per-checkout token key) and write the functions' environment to
    /// `DIR/env`. Needs OMS_DYNAMODB_ENDPOINT, OMS_SECRETS_ENDPOINT, OMS_SQS_ENDPOINT and
    /// OMS_EVENTBRIDGE_ENDPOINT (the emulators); idempotent.
    Setup {
        #[arg(long, default_value = ".lambda-local")]
        dir: PathBuf,
    },
    /// Print a token of `demo`'s staff that the local functions accept (10 minutes).
    Token {
        #[arg(long, default_value = ".lambda-local")]
        dir: PathBuf,
    },
    /// Print an `events/` file made invokable now: a fresh token in place of `<token>`, an
    /// add-order body signed again at the current time.
    Event {
        file: PathBuf,
        #[arg(long, default_value = ".lambda-local")]
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum OutboxCmd {
    /// Read the relay's dead-letter queue with this build's code: each record that can now be
    /// read and published is published and deleted; the rest stay in the queue, listed with
    /// why. Exits 1 when any stays. Endpoints: `OMS_SQS_ENDPOINT`, `OMS_EVENTBRIDGE_ENDPOINT`.
    Redrive {
        /// The relay's dead-letter queue (the stack's `OutboxRelayDeadLetterQueue` output).
        #[arg(long, env = "OMS_OUTBOX_DLQ_URL")]
        queue_url: String,
        /// The bus to publish to (the stack's `EventBusName` output).
        #[arg(long, env = "OMS_EVENT_BUS")]
        event_bus: String,
    },
}

#[derive(Debug, Subcommand)]
enum EventSourceCmd {
    /// Register an event source for a tenant: its events (OrderSubmitted, OrderCancelled,
    /// ShipmentRequested) are applied to that tenant only. A source belongs to one tenant.
    Set {
        #[arg(long)]
        tenant: String,
        /// The AWS account id (12 digits) that puts the events.
        #[arg(long)]
        account: String,
        /// The events' `source` (e.g. com.acme.orders).
        #[arg(long)]
        source: String,
    },
}

#[derive(Debug, Subcommand)]
enum WebhookCmd {
    /// Configure a tenant's hook (or, with --saas, the SaaS provider's own shipment-tracker
    /// hook); the secret is read from standard input (never an argument).
    Set {
        #[arg(long, required_unless_present = "saas", conflicts_with = "saas")]
        tenant: Option<String>,
        /// The SaaS-level hook (`POST /webhooks/shipment-tracker`), not a tenant's.
        #[arg(long)]
        saas: bool,
        /// add-order or shipment-tracker.
        #[arg(long)]
        hook: String,
        /// oms, easypost or shippo.
        #[arg(long)]
        provider: String,
        /// How old (or how far ahead) a signed timestamp may be, in seconds.
        #[arg(long)]
        max_age: Option<i64>,
        /// JMESPath to the tracking number in a carrier's payload (shipment-tracker).
        #[arg(long)]
        tracking_reference: Option<String>,
    },
    /// Print the header a sender must send with the body read from standard input.
    Sign {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        hook: String,
        /// The signature's time (unix seconds); now by default.
        #[arg(long)]
        at: Option<i64>,
    },
}

fn stdin_text() -> Result<String, CliError> {
    use std::io::Read;
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::Usage(format!("cannot read standard input: {e}")))?;
    Ok(text)
}

fn tenant_id(s: &str) -> Result<TenantId, CliError> {
    Ok(TenantId::parse(s)?)
}

async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let store = match &cli.dynamodb_table {
        Some(table) => StoreConfig::Dynamo {
            table: table.clone(),
            endpoint: cli.dynamodb_endpoint.clone(),
            secrets_prefix: match std::env::var(boot::lambda::env::SECRETS_PREFIX) {
                Ok(prefix) if !prefix.trim().is_empty() => prefix.trim().to_owned(),
                _ => boot::lambda::secrets_prefix(&cli.stage)
                    .map_err(|e| CliError::Usage(format!("--stage {e}")))?,
            },
        },
        None => StoreConfig::Embedded {
            data_dir: cli.data_dir.clone(),
        },
    };
    let dev_mode = match cli.mode {
        Some(m) => m == Mode::Dev,
        None => cli.dynamodb_table.is_none(),
    };
    let outbound = domain::outbound::OutboundPolicy::for_mode(dev_mode).allowing(
        domain::outbound::OutboundPolicy::parse_allow_list(
            cli.outbound_allow.as_deref().unwrap_or_default(),
        )?,
    );
    let target = Target {
        store: &store,
        dev_mode,
        outbound: &outbound,
        data_dir: &cli.data_dir,
    };
    match cli.command {
        Cmd::Version => println!("oms {}", env!("CARGO_PKG_VERSION")),
        Cmd::Serve {
            listen,
            config,
            admin_listen,
            relay,
            log_format,
            bus,
            redis_prefix,
        } => {
            let production = cli.mode == Some(Mode::Production);
            // Flags that would mean something else are refused, never ignored. (An endpoint in
            // the environment alone selects nothing: no table, no DynamoDB.)
            if !production && (cli.dynamodb_table.is_some() || cli.endpoint_typed) {
                return Err(CliError::Usage(
                    "`oms serve` in dev mode runs on the embedded store only; over DynamoDB, \
                     deploy the Lambda functions (README: Deploy to AWS), or run \
                     `oms serve --mode production --relay off` beside them"
                        .into(),
                ));
            }
            if production && cli.dynamodb_table.is_some() && relay == Switch::On {
                return Err(CliError::Usage(
                    "over a DynamoDB table the AWS deployment's stream relay already publishes \
                     the outbox; a second relay here would publish every event twice: add \
                     `--relay off`"
                        .into(),
                ));
            }
            if !production && config.is_some() {
                return Err(CliError::Usage(
                    "--config is production mode's: add `--mode production`".into(),
                ));
            }
            let bus =
                events::local::LocalBus::parse(&bus, &redis_prefix).map_err(CliError::Usage)?;
            let (mode, listen) = if production {
                let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
                let p = production::Production::load(config.as_deref(), listen.as_deref(), &env)?;
                let listen = p.listen.clone();
                (serve::Mode::Production(Box::new(p)), listen)
            } else {
                let listen = listen
                    .or_else(|| std::env::var("OMS_LISTEN").ok())
                    .unwrap_or_else(|| "127.0.0.1:8080".into());
                (serve::Mode::Dev, listen)
            };
            let traces = boot::init_logging(log_format.into());
            let served = serve::serve(serve::Serve {
                data_dir: &cli.data_dir,
                store: store.clone(),
                listen,
                bus,
                relay: relay == Switch::On,
                admin_listen,
                mode,
            })
            .await;
            // The spans batched last go out before the process ends.
            if let Some(t) = traces {
                t.shutdown();
            }
            served?;
        }
        Cmd::Init => {
            let api = Api::open(&target).await?;
            let tenants = admin::tenants(&api).await?;
            println!(
                "{} is ready ({} tenant(s)){}",
                cli.data_dir.display(),
                tenants.len(),
                if dev_mode {
                    "; `oms serve` runs the API, `oms token --tenant demo` mints a token"
                } else {
                    ""
                }
            );
        }
        Cmd::Schema => print!("{}", graphql::sdl()),
        Cmd::Token {
            tenant,
            role,
            vendor,
            subject,
            ttl,
        } => {
            if !dev_mode {
                return Err(CliError::Usage(
                    "`oms token` mints dev tokens and works in dev mode only".into(),
                ));
            }
            if !(60..=86_400).contains(&ttl) {
                return Err(CliError::Usage(
                    "--ttl must be between 60 and 86400 seconds".into(),
                ));
            }
            let role = Role::parse(&role)?;
            let vendor = vendor.as_deref().map(VendorId::parse).transpose()?;
            if role == Role::Vendor && vendor.is_none() {
                return Err(CliError::Usage("a vendor token needs --vendor".into()));
            }
            let subject = subject.as_deref().map(Subject::parse).transpose()?;
            let token = admin::mint_token(
                &cli.data_dir,
                &tenant_id(&tenant)?,
                role,
                vendor.as_ref(),
                subject.as_ref(),
                ttl,
            )?;
            println!("{token}");
        }
        Cmd::Tenant(cmd) => tenant(cmd, &Api::open(&target).await?, dev_mode).await?,
        Cmd::Plan(PlanCmd::Set {
            name,
            all,
            operations,
        }) => {
            let api = Api::open(&target).await?;
            let (name, count) = admin::set_plan(&api, &name, all, &operations).await?;
            println!("plan {name} permits {count} operations");
        }
        Cmd::Idp(IdpCmd::Set { tenant, file }) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
            let registration: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                CliError::Usage(format!("{}: not an IdP registration: {e}", file.display()))
            })?;
            let api = Api::open(&target).await?;
            let t = admin::set_idp(&api, &tenant_id(&tenant)?, registration)
                .await
                .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
            println!(
                "tenant {} now accepts tokens from {} issuer(s)",
                t.id, t.idps
            );
        }
        Cmd::Webhook(cmd) => webhook(cmd, &Api::open(&target).await?).await?,
        Cmd::Table(TableCmd::Create) => {
            let StoreConfig::Dynamo {
                table, endpoint, ..
            } = &store
            else {
                return Err(CliError::Usage(
                    "oms table create needs --dynamodb-table (the embedded store needs no table)"
                        .into(),
                ));
            };
            let clock: std::sync::Arc<dyn domain::Clock> = std::sync::Arc::new(domain::SystemClock);
            let dynamo = boot::open_dynamo(table, endpoint.as_deref(), clock).await;
            match dynamo
                .ensure_table()
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?
            {
                store::dynamo::TableOutcome::Created => {
                    println!("created table {table} (3 indexes, stream NEW_IMAGE, TTL on ttl)")
                }
                store::dynamo::TableOutcome::AlreadyMatches => {
                    println!("table {table} already exists and matches; nothing changed")
                }
            }
        }
        Cmd::Gateway(cmd) => carriers::gateway(cmd, &Api::open(&target).await?).await?,
        Cmd::Carrier(cmd) => carriers::carrier(cmd, &Api::open(&target).await?, stdin_text).await?,
        Cmd::Labels(cmd) => carriers::labels(cmd, &Api::open(&target).await?).await?,
        Cmd::ApiKey(cmd) => api_keys::api_key(cmd, &Api::open(&target).await?).await?,
        Cmd::Events(EventsCmd::Source(EventSourceCmd::Set {
            tenant,
            account,
            source,
        })) => {
            let source = domain::tenant::EventSource::parse(&account, &source)?;
            let api = Api::open(&target).await?;
            let t = admin::tenant_call(
                &api,
                "setEventSource(tenant: $tenant, account: $account, source: $source)",
                "($tenant: ID!, $account: String!, $source: String!)",
                serde_json::json!({ "tenant": tenant_id(&tenant)?.as_str(), "account": source.account, "source": source.source }),
            )
            .await?;
            println!(
                "tenant {} now takes events from {source} ({} source(s) registered)",
                t.id, t.event_sources
            );
        }
        Cmd::Local(LocalCmd::Setup { dir }) => local::setup(&dir).await?,
        Cmd::Local(LocalCmd::Token { dir }) => println!("{}", local::token(&dir)?),
        Cmd::Local(LocalCmd::Event { file, dir }) => {
            println!("{}", local::event(&file, &dir)?);
        }
        Cmd::Outbox(OutboxCmd::Redrive {
            queue_url,
            event_bus,
        }) => {
            eprintln!("redrive: reading {queue_url} …");
            let report = boot::lambda::redrive_queue(
                &queue_url,
                &event_bus,
                boot::lambda::Endpoints::from_process_env(),
            )
            .await
            .map_err(|e| CliError::Usage(format!("redrive stopped: {e}")))?;
            println!(
                "redrive: {} published to {event_bus}, {} left in the queue",
                report.published,
                report.left.len()
            );
            for left in &report.left {
                println!("  {} ({}): {}", left.message_id, left.reason, left.why);
            }
            if !report.left.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        Cmd::Events(EventsCmd::BusPolicy { bus_arn }) => {
            if !bus_arn.starts_with("arn:") || !bus_arn.contains(":event-bus/") {
                return Err(CliError::Usage(format!(
                    "--bus-arn `{bus_arn}` is not an event bus ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME)"
                )));
            }
            let api = Api::open(&target).await?;
            let sources: Vec<domain::tenant::EventSource> = admin::tenant_nodes(&api)
                .await?
                .iter()
                .flat_map(|t| t["eventSources"].as_array().cloned().unwrap_or_default())
                .map(|s| {
                    domain::tenant::EventSource::parse(
                        s["account"].as_str().unwrap_or_default(),
                        s["source"].as_str().unwrap_or_default(),
                    )
                })
                .collect::<Result<_, _>>()?;
            let policy = app::platform::event_bus_policy(&bus_arn, &sources);
            eprintln!(
                "{} source(s) of {} account(s)",
                sources.len(),
                policy["Statement"].as_array().map_or(0, Vec::len)
            );
            println!(
                "{}",
                serde_json::to_string_pretty(&policy)
                    .map_err(|e| CliError::Usage(e.to_string()))?
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `oms tenant …`, over the store or through the running server.
async fn tenant(cmd: TenantCmd, api: &Api, dev_mode: bool) -> Result<(), CliError> {
    match cmd {
        TenantCmd::Create {
            id,
            name,
            plan,
            shards,
        } => {
            let id = tenant_id(&id)?;
            let name = name.unwrap_or_else(|| id.to_string());
            let t = admin::create_tenant(api, &id, &name, &PlanName::parse(&plan)?, shards).await?;
            println!(
                "created tenant {} ({}) on plan {}, {} shard(s)",
                t.id, t.name, t.plan, t.shards
            );
            if dev_mode {
                println!("get a token: oms token --tenant {} --role staff", t.id);
            }
        }
        TenantCmd::List => {
            let all = admin::tenants(api).await?;
            if all.is_empty() {
                println!("no tenants yet; add one with `oms tenant create <id>`");
            }
            for t in all {
                println!(
                    "{}\t{}\tplan={}\tshards={}\t{}",
                    t.id, t.status, t.plan, t.shards, t.name
                );
            }
        }
        TenantCmd::Show { id } => println!("{}", admin::show(api, &tenant_id(&id)?).await?),
        TenantCmd::Suspend { id } => {
            let t = admin::set_status(api, &tenant_id(&id)?, TenantStatus::Suspended).await?;
            println!(
                "suspended tenant {}: its users' requests are refused within a minute",
                t.id
            );
        }
        TenantCmd::Activate { id } => {
            let t = admin::set_status(api, &tenant_id(&id)?, TenantStatus::Active).await?;
            println!("activated tenant {}", t.id);
        }
    }
    Ok(())
}

async fn webhook(cmd: WebhookCmd, api: &Api) -> Result<(), CliError> {
    use serde_json::json;
    match cmd {
        WebhookCmd::Set {
            tenant,
            saas,
            hook,
            provider,
            max_age,
            tracking_reference,
        } => {
            let secret = stdin_text()?.trim_end_matches(['\r', '\n']).to_owned();
            if secret.len() < 16 {
                return Err(CliError::Usage(
                    "give the secret on standard input, at least 16 characters".into(),
                ));
            }
            let tenant = match (saas, tenant) {
                (true, _) => None,
                (false, Some(t)) => Some(tenant_id(&t)?),
                (false, None) => return Err(CliError::Usage("give --tenant or --saas".into())),
            };
            let input = json!({
                "tenant": tenant.as_ref().map(TenantId::as_str), "hook": hook,
                "provider": provider, "secret": secret, "maxAgeSeconds": max_age,
                "trackingReference": tracking_reference,
            });
            let set = api
                .call(
                    As::Platform,
                    "mutation($input: WebhookInput!) { setWebhook(input: $input) { webhook { tenant hook provider } userErrors { code message } } }",
                    json!({ "input": input }),
                    "setWebhook",
                )
                .await?;
            let w = &set["webhook"];
            println!(
                "{}: {} hook signed by {} (the previous secret stays valid until the next rotation)",
                w["tenant"].as_str().unwrap_or("the SaaS provider"),
                w["hook"].as_str().unwrap_or_default(),
                w["provider"].as_str().unwrap_or_default()
            );
        }
        WebhookCmd::Sign { tenant, hook, at } => {
            let body = stdin_text()?;
            let signed = api
                .call(
                    As::Platform,
                    "query($tenant: ID!, $hook: String!, $body: String!, $at: Int) { webhookSignature(tenant: $tenant, hook: $hook, body: $body, at: $at) { header value } }",
                    json!({ "tenant": tenant_id(&tenant)?.as_str(), "hook": hook, "body": body, "at": at }),
                    "webhookSignature",
                )
                .await?;
            println!(
                "{}: {}",
                signed["header"].as_str().unwrap_or_default(),
                signed["value"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    cli.endpoint_typed =
        matches.value_source("dynamodb_endpoint") == Some(clap::parser::ValueSource::CommandLine);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("oms: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("oms: {e}");
            ExitCode::FAILURE
        }
    }
}
