//! `oms serve`: the whole API on one port. Dev mode: embedded store, dev IdP, demo tenant,
//! GraphiQL. Production mode (`production`): the configured platform issuer, keys and TLS, none
//! of dev's conveniences. Both serve the admin commands on an owner-only Unix socket.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use auth::VerifierConfig;
use auth::dev::DevIdp;
use boot::StoreConfig;
use domain::outbound::OutboundPolicy;
use domain::{Clock, SystemClock};
use events::local::LocalBus;
use graphql::Limits;
use http_edge::HttpConfig;
use store::cursor::{CursorKey, Cursors};

use crate::error::CliError;
use crate::production::Production;

/// How `oms serve` runs.
pub enum Mode {
    /// The local product: dev IdP, `oms token`, demo tenant, GraphiQL, generated local keys.
    Dev,
    /// A real service: its configuration checked whole (`production::Production`).
    Production(Box<Production>),
}

/// What `oms serve` runs over.
pub struct Serve<'a> {
    pub data_dir: &'a Path,
    /// The embedded store in `data_dir`, or (production, relay off) a DynamoDB table.
    pub store: StoreConfig,
    pub listen: String,
    pub bus: LocalBus,
    /// Where `/status` and `/metrics` are served without a credential (an operator network).
    pub admin_listen: Option<String>,
    /// Whether this process publishes the store's outbox (off over a table whose stream the
    /// AWS deployment's relay already publishes).
    pub relay: bool,
    pub mode: Mode,
}

/// Builds everything `oms serve` runs over one open store, and serves until SIGTERM or Ctrl-C.
pub async fn serve(s: Serve<'_>) -> Result<(), CliError> {
    let data_dir = s.data_dir;
    let metrics = install_metrics()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = boot::open_store(&s.store, clock.clone()).await?;
    let prod = match &s.mode {
        Mode::Dev => None,
        Mode::Production(p) => Some(p.as_ref()),
    };
    let secrets = match (&s.store, prod) {
        (StoreConfig::Embedded { .. }, Some(p)) => {
            boot::open_local_secrets_with(data_dir, Some(&p.master_key))?
        }
        (StoreConfig::Embedded { .. }, None) => boot::open_local_secrets(data_dir)?,
        (StoreConfig::Dynamo { .. }, _) => crate::api::open_secrets(&s.store, data_dir).await?,
    };
    let relay_store = store.clone();
    let outbound = match prod {
        Some(p) => OutboundPolicy::production().allowing(p.allow.iter().cloned()),
        None => OutboundPolicy::dev(),
    };
    let (cursor_key, verifier, idp) = match prod {
        Some(p) => (
            CursorKey::from_bytes(&p.cursor_key).map_err(|e| CliError::Usage(e.to_string()))?,
            VerifierConfig {
                dev_mode: false,
                platform: Some(p.platform.clone()),
                outbound_allow: p.allow.clone(),
                ..VerifierConfig::default()
            },
            None,
        ),
        None => {
            let idp = DevIdp::load_or_generate(data_dir)?;
            (
                CursorKey::load_or_generate(&data_dir.join("cursor.key"))
                    .map_err(|e| CliError::Usage(e.to_string()))?,
                VerifierConfig {
                    dev_mode: true,
                    platform: Some(idp.platform_registration()?),
                    ..VerifierConfig::default()
                },
                Some(idp),
            )
        }
    };
    let mut services = boot::services_with_outbound(
        store,
        clock,
        verifier,
        Cursors::new(cursor_key),
        Some(secrets.clone()),
        outbound.clone(),
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    if prod.is_none() {
        // Tenants created through the platform API get the dev IdP, as with `oms tenant create`.
        services.platform = services.platform.clone().with_dev(app::platform::DevSetup {
            data_dir: data_dir.to_path_buf(),
        });
        // First start: the demo plan and the demo tenant, with the dev IdP registered.
        crate::api::ensure_demo_tenant(&services).await?;
    }
    let events = if s.relay {
        // Notifications to tenants' URLs under the outbound policy (dev: loopback allowed).
        let sender =
            outbound_http::HttpSender::with_policy(std::time::Duration::from_secs(10), outbound)
                .map_err(|e| {
                    CliError::Usage(format!("cannot build the notification client: {e}"))
                })?;
        let notifier = events::notify::Notifier::of(&services, secrets, Arc::new(sender));
        let notifications = Arc::new(events::notify::NotificationDispatcher::new(Arc::new(
            notifier,
        )));
        Some(
            events::local::start(&s.bus, relay_store, &services, notifications)
                .await
                .map_err(CliError::Usage)?,
        )
    } else {
        None
    };
    let state = graphql::api_state(services);
    let config = match prod {
        Some(p) => HttpConfig {
            limits: Limits {
                introspection: p.introspection,
                ..Limits::production()
            },
            graphiql: false,
            jwks: None,
        },
        None => HttpConfig {
            limits: Limits::dev(),
            graphiql: true,
            jwks: idp.as_ref().map(DevIdp::jwks),
        },
    };
    let admin = http_edge::admin_socket_router(state.clone(), config.clone());
    let trust_proxy = prod.is_some_and(|p| p.trust_proxy);
    let status = crate::status::Status::new(metrics.clone());
    spawn_upkeep(metrics.clone(), status.clone());
    let operator = operator_router(metrics, status);
    let router = http_edge::router(state.clone(), config)
        .merge(
            operator
                .clone()
                .route_layer(axum::middleware::from_fn_with_state(state, platform_only)),
        )
        .layer(axum::middleware::from_fn_with_state(
            trust_proxy,
            client_span,
        ));

    let listener = tokio::net::TcpListener::bind(&s.listen)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", s.listen)))?;
    let addr: SocketAddr = listener
        .local_addr()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let tls = match prod.and_then(|p| p.tls.as_ref()) {
        Some(t) => Some(crate::listen::server_config(&t.cert, &t.key)?),
        None => None,
    };
    // The admin commands run meanwhile reach the API through the owner-only admin socket.
    let socket = AdminSocket::bind(data_dir)?;
    // The operator's page and metrics on an address of their own, without a credential.
    let operator_listener = match &s.admin_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| CliError::Usage(format!("cannot listen on {addr}: {e}")))?,
        ),
        None => None,
    };
    let operator_addr = operator_listener
        .as_ref()
        .map(tokio::net::TcpListener::local_addr)
        .transpose()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    banner(&s, addr, scheme, operator_addr);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let admin_served = tokio::spawn(
        axum::serve(socket.listener, admin)
            .with_graceful_shutdown(until_stopped(stopped.clone()))
            .into_future(),
    );
    let operator_served = operator_listener.map(|listener| {
        tokio::spawn(
            axum::serve(listener, operator)
                .with_graceful_shutdown(until_stopped(stopped.clone()))
                .into_future(),
        )
    });
    let app = router.into_make_service_with_connect_info::<crate::listen::Peer>();
    let served = match tls {
        Some(config) => {
            let listener = crate::listen::TlsListener::new(listener, config)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown())
                .await
        }
        None => {
            axum::serve(crate::listen::PlainListener(listener), app)
                .with_graceful_shutdown(shutdown())
                .await
        }
    }
    .map_err(|e| CliError::Usage(format!("server error: {e}")));
    let _ = stop.send(true);
    let _ = admin_served.await;
    if let Some(o) = operator_served {
        let _ = o.await;
    }
    drop(socket.path);
    if let Some(events) = events {
        events.stop().await;
    }
    served?;
    println!("stopped.");
    Ok(())
}

/// The process's Prometheus recorder.
fn install_metrics() -> Result<telemetry::prometheus::PrometheusHandle, CliError> {
    telemetry::prometheus::install().map_err(CliError::Usage)
}

/// Every 5 s: the recorder's upkeep (its histograms stay bounded) and a sample of the counters
/// for the status page's recent figures.
fn spawn_upkeep(handle: telemetry::prometheus::PrometheusHandle, status: crate::status::Status) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            handle.run_upkeep();
            status.sample();
        }
    });
}

/// `/metrics` and `/status`: on the API's address behind the platform role, or on
/// `--admin-listen` as they are.
fn operator_router(
    metrics: telemetry::prometheus::PrometheusHandle,
    status: crate::status::Status,
) -> axum::Router {
    axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || metrics_text(metrics.clone())),
        )
        .route(
            "/status",
            axum::routing::get(move || {
                let status = status.clone();
                async move { axum::response::Html(status.render()) }
            }),
        )
}

/// Lets through the platform role's requests only (a bearer token of the platform issuer):
/// the operator's pages show every tenant's activity in aggregate.
async fn platform_only(
    axum::extract::State(api): axum::extract::State<Arc<graphql::ApiState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let authorization = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match api.verifier.verify(authorization).await {
        Ok(auth::Caller::Platform(_)) => next.run(request).await,
        Ok(auth::Caller::Tenant(_)) => (
            axum::http::StatusCode::FORBIDDEN,
            "the platform role only\n",
        )
            .into_response(),
        Err(_) => (
            axum::http::StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            "a platform token is needed\n",
        )
            .into_response(),
    }
}

/// `GET /metrics`: the Prometheus text format (no tenant id in any label).
async fn metrics_text(handle: telemetry::prometheus::PrometheusHandle) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// What `oms serve` prints when it listens.
fn banner(s: &Serve<'_>, addr: SocketAddr, scheme: &str, operator: Option<SocketAddr>) {
    let data_dir = s.data_dir.display();
    let store = match &s.store {
        StoreConfig::Embedded { .. } => format!("embedded store in {data_dir}"),
        StoreConfig::Dynamo { table, .. } => format!("DynamoDB table {table}"),
    };
    match s.mode {
        Mode::Dev => {
            println!("TenantOMS is running ({store}).");
            println!("  GraphQL + GraphiQL  {scheme}://{addr}/graphql");
            println!("  health              {scheme}://{addr}/healthz");
            println!("  dev JWKS            {scheme}://{addr}/.well-known/jwks.json");
            println!(
                "  a token:            oms --data-dir {data_dir} token --tenant {} --role staff",
                crate::api::DEMO_TENANT
            );
        }
        Mode::Production(_) => {
            println!("TenantOMS is running in production mode ({store}).");
            println!("  GraphQL             {scheme}://{addr}/graphql");
            println!("  health              {scheme}://{addr}/healthz");
        }
    }
    println!(
        "  admin socket        {} (owner only: oms --data-dir {data_dir} …)",
        crate::api::admin_socket(s.data_dir).display()
    );
    match (&s.bus, s.relay) {
        (_, false) => println!(
            "  events              not published here (the AWS deployment's relay publishes the table's stream)"
        ),
        (LocalBus::InProcess, true) => {
            println!("  events              in-process bus (notifications to tenants' URLs)")
        }
        (LocalBus::Redis { url, prefix }, true) => println!(
            "  events              Redis Streams at {url}: {} out, {} in",
            LocalBus::events_stream(prefix),
            LocalBus::tenant_events_stream(prefix)
        ),
    }
    if let Some(o) = operator {
        println!(
            "  status and metrics  http://{o}/status  http://{o}/metrics (no credential: keep this address private)"
        );
    }
    println!("Ctrl-C or SIGTERM stops it; requests in flight finish first.");
}

/// The target of the request spans that name the client: logged, never exported as a trace
/// (an address is the client's, not ours to send elsewhere).
const ACCESS: &str = boot::ACCESS_LOG;

/// Each request in a span naming its client: the peer, or behind a trusted proxy the last
/// `X-Forwarded-For` hop (the one that proxy added; earlier hops are the client's own word).
async fn client_span(
    axum::extract::State(trust_proxy): axum::extract::State<bool>,
    axum::extract::ConnectInfo(crate::listen::Peer(peer)): axum::extract::ConnectInfo<
        crate::listen::Peer,
    >,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let forwarded = trust_proxy
        .then(|| {
            request
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(|v| v.trim().to_owned())
        })
        .flatten();
    let client = forwarded.unwrap_or_else(|| peer.ip().to_string());
    next.run(request)
        .instrument(tracing::info_span!(target: ACCESS, "request", client = %client))
        .await
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

/// The owner-only admin socket in the data directory (removed when dropped).
struct AdminSocket {
    listener: tokio::net::UnixListener,
    path: SocketFile,
}

/// The socket's file, removed when the server stops.
struct SocketFile(std::path::PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl AdminSocket {
    /// Binds `admin.sock` with mode 0600: whoever can open it acts as the platform admin (or as
    /// a tenant's admin), as whoever can read the data directory could open the store itself.
    /// The store's lock is already held, so a socket file left there is a stopped server's.
    fn bind(data_dir: &Path) -> Result<Self, CliError> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let path = crate::api::admin_socket(data_dir);
        let failed =
            |e: std::io::Error| CliError::Usage(format!("cannot bind {}: {e}", path.display()));
        // In a directory only the owner may enter, so the socket is never open to others, not
        // even before its own mode is set.
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(failed)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(failed)?;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(e)),
        }
        let listener = tokio::net::UnixListener::bind(&path).map_err(failed)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
        Ok(Self {
            listener,
            path: SocketFile(path),
        })
    }
}
