//! `oms serve`: the whole API on one port — embedded store, dev IdP, demo tenant, GraphiQL.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use api::{HttpConfig, Limits};
use auth::VerifierConfig;
use auth::dev::DevIdp;
use domain::ids::{PlanName, TenantId};
use store::cursor::{CursorKey, Cursors};
use store::embedded::EmbeddedStore;
use store::repo::RegistryRepository;
use store::{Clock, ItemStore, SystemClock};

use crate::admin::{Admin, CliError, DEMO_PLAN};

pub const DEMO_TENANT: &str = "demo";

/// Builds everything `oms serve` runs over one open store.
pub async fn serve(data_dir: &Path, listen: &str) -> Result<(), CliError> {
    std::fs::create_dir_all(data_dir).map_err(|e| CliError::OpenStore {
        path: data_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let path = data_dir.join("store.redb");
    let store: Arc<dyn ItemStore> = Arc::new(EmbeddedStore::open(&path, clock.clone()).map_err(
        |e| CliError::OpenStore {
            path: path.display().to_string(),
            reason: e.to_string(),
        },
    )?);
    let idp = DevIdp::load_or_generate(data_dir)?;
    let registry = RegistryRepository::new(store.clone());

    // First start: the demo plan and the demo tenant, with the dev IdP registered.
    let demo = TenantId::parse(DEMO_TENANT)?;
    if registry.get(&demo).await?.is_none() {
        let admin = Admin::with_registry(registry.clone(), true, data_dir.to_path_buf())?;
        admin
            .create_tenant(&demo, "Demo Retail", &PlanName::parse(DEMO_PLAN)?, 1)
            .await?;
        tracing::info!(
            tenant = DEMO_TENANT,
            "created the demo tenant on the demo plan"
        );
    }

    let cursors = Cursors::new(
        CursorKey::load_or_generate(&data_dir.join("cursor.key"))
            .map_err(|e| CliError::Usage(e.to_string()))?,
    );
    let config = VerifierConfig {
        dev_mode: true,
        platform: Some(idp.platform_registration()?),
        ..VerifierConfig::default()
    };
    let state = api::api_state(store, clock, config, cursors)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let router = api::router(
        state,
        HttpConfig {
            limits: Limits::dev(),
            graphiql: true,
            jwks: Some(idp.jwks()),
        },
    );

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {listen}: {e}")))?;
    let addr: SocketAddr = listener
        .local_addr()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    println!(
        "TenantOMS is running (embedded store in {}).",
        data_dir.display()
    );
    println!("  GraphQL + GraphiQL  http://{addr}/graphql");
    println!("  health              http://{addr}/healthz");
    println!("  dev JWKS            http://{addr}/.well-known/jwks.json");
    println!(
        "  a token:            oms --data-dir {} token --tenant {DEMO_TENANT} --role staff",
        data_dir.display()
    );
    println!("Ctrl-C stops it; requests in flight finish first.");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| CliError::Usage(format!("server error: {e}")))?;
    println!("stopped.");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
