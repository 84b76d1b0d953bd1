//! `oms`: the TenantOMS command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// TenantOMS: multi-tenant order, shipment and shipping-gateway API.
#[derive(Debug, Parser)]
#[command(name = "oms", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the whole API on one machine: embedded store, local event bus, dev identity provider.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "OMS_LISTEN")]
        listen: String,
        /// Where the embedded store, keys and local secrets live.
        #[arg(long, default_value = ".oms", env = "OMS_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Mint a token from the local development identity provider.
    Token {
        #[arg(long, default_value = "demo")]
        tenant: String,
        #[arg(long, default_value = "staff")]
        role: String,
        #[arg(long)]
        vendor: Option<String>,
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
    /// Print the version of this build.
    Version,
}

#[derive(Debug, Subcommand)]
enum TenantCmd {
    /// Onboard a tenant.
    Create { id: String },
    /// List tenants.
    List,
    /// Show one tenant's profile.
    Show { id: String },
    /// Suspend a tenant: every request of its users is refused.
    Suspend { id: String },
}

#[derive(Debug, Subcommand)]
enum PlanCmd {
    /// Create or replace a plan and its permitted operations.
    Set { name: String },
}

#[derive(Debug, Subcommand)]
enum IdpCmd {
    /// Register or replace a tenant's identity provider.
    Set { tenant: String },
}

/// Exit status of commands whose issue has not landed yet.
const NOT_YET: u8 = 3;

fn not_yet(what: &str, plan: &[&str]) -> ExitCode {
    eprintln!("oms {what}: not available yet in this build.");
    if !plan.is_empty() {
        eprintln!("When it lands it will:");
        for step in plan {
            eprintln!("  - {step}");
        }
    }
    ExitCode::from(NOT_YET)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Version => {
            println!("oms {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Cmd::Serve { listen, data_dir } => {
            let store = data_dir.join("store.redb");
            let store = store.display().to_string();
            not_yet(
                "serve",
                &[
                    &format!("open (or create) the embedded store at {store}"),
                    "create the demo tenant on the demo plan and the dev identity provider on first start",
                    &format!(
                        "serve GraphQL and GraphiQL at http://{listen}/graphql, JWKS at /.well-known/jwks.json, health at /healthz"
                    ),
                    "print the `oms token` command that mints a token for the demo tenant",
                ],
            )
        }
        Cmd::Token { .. } => not_yet("token", &["print a token signed by the local dev issuer"]),
        Cmd::Schema => not_yet("schema", &["print the GraphQL SDL"]),
        Cmd::Tenant(_) => not_yet("tenant", &[]),
        Cmd::Plan(_) => not_yet("plan", &[]),
        Cmd::Idp(_) => not_yet("idp", &[]),
    }
}
