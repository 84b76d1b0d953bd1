//! `oms serve`: the whole API on one port — embedded store, dev IdP, demo tenant, GraphiQL.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use app::platform::DEMO_PLAN;
use auth::VerifierConfig;
use auth::dev::DevIdp;
use boot::StoreConfig;
use domain::ids::{PlanName, TenantId};
use domain::{Clock, SystemClock};
use events::local::LocalBus;
use graphql::Limits;
use http_edge::HttpConfig;
use store::cursor::{CursorKey, Cursors};

use crate::admin::platform_over;
use crate::error::CliError;

pub const DEMO_TENANT: &str = "demo";

/// Builds everything `oms serve` runs over one open store.
pub async fn serve(data_dir: &Path, listen: &str, bus: &LocalBus) -> Result<(), CliError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = StoreConfig::Embedded {
        data_dir: data_dir.to_path_buf(),
    };
    let store = boot::open_store(&config, clock.clone()).await?;
    let secrets = boot::open_local_secrets(data_dir)?;
    let relay_store = store.clone();
    let idp = DevIdp::load_or_generate(data_dir)?;

    // First start: the demo plan and the demo tenant, with the dev IdP registered.
    let demo = TenantId::parse(DEMO_TENANT)?;
    let platform = platform_over(store.clone(), clock.clone(), true, data_dir)?;
    if !platform.exists(&demo).await? {
        platform
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
    let mut services = boot::services(store, clock, config, cursors, Some(secrets.clone()))
        .map_err(|e| CliError::Usage(e.to_string()))?;
    // Tenants created through the platform API get the dev IdP, as with `oms tenant create`.
    services.platform = services.platform.clone().with_dev(app::platform::DevSetup {
        data_dir: data_dir.to_path_buf(),
    });
    // Notifications to tenants' URLs; dev mode, so loopback receivers are allowed.
    let sender = outbound_http::HttpSender::new(std::time::Duration::from_secs(10), true)
        .map_err(|e| CliError::Usage(format!("cannot build the notification client: {e}")))?;
    let notifier = events::notify::Notifier::of(&services, secrets, Arc::new(sender));
    let notifications = Arc::new(events::notify::NotificationDispatcher::new(Arc::new(
        notifier,
    )));
    let events = events::local::start(bus, relay_store, &services, notifications)
        .await
        .map_err(CliError::Usage)?;
    let state = graphql::api_state(services);
    let router = http_edge::router(
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
    // `oms tenant|plan|idp` run meanwhile reach the platform API through this announcement.
    let announced = crate::remote::announce(data_dir, addr)?;
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
    match bus {
        LocalBus::InProcess => {
            println!("  events             in-process bus (notifications to tenants' URLs)")
        }
        LocalBus::Redis { url, prefix } => println!(
            "  events             Redis Streams at {url}: {} out, {} in",
            LocalBus::events_stream(prefix),
            LocalBus::tenant_events_stream(prefix)
        ),
    }
    println!("Ctrl-C stops it; requests in flight finish first.");
    // Responses go out as soon as they are written: without TCP_NODELAY a response written in
    // two parts waits for the client's delayed ACK (40 ms on Linux) behind Nagle's algorithm.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| CliError::Usage(format!("server error: {e}")));
    drop(announced);
    events.stop().await;
    served?;
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
