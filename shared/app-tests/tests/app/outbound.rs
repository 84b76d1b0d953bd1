//! Issue 22, point 3: carrier URLs never reach internal hosts. Outside dev mode a carrier
//! credential's `baseUrl`/`tokenUrl`, the catalogue's URLs and a notification URL must be
//! public https — refused when set, naming the field — and a URL that is in the store anyway
//! (written without the use case) is refused again before any connection: an IP-literal host
//! by the request's URL check, a name by the connect-time check of every address it resolves
//! to (here through an injected resolver). Measured: the client's connector calls and the
//! connections two listeners, on 127.0.0.1 and [::1], accept.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use app::ports::carrier::CarrierConnector;
use app::{AppError, UnitOfWork};
use carriers::HttpConnector;
use domain::access::Operation;
use domain::config::{NotificationUrl, TenantConfig};
use domain::gateway::{CarrierKind, GatewayAuthType, GatewayConfig};
use domain::ids::{AccountId, CarrierCode, Subject};
use domain::outbound::{NO_PUBLIC_ADDRESS, OutboundPolicy};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::gateway_env::{GatewayEnv, credentials, gateway};

/// What the internal host answers: a page that must never reach a caller.
const INTERNAL_PAGE: &str = "<html><title>Jenkins</title>internal-admin-token=abc123</html>";

fn local_secrets() -> (tempfile::TempDir, Arc<secrets::LocalSecretStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(secrets::LocalSecretStore::open(dir.path(), None).unwrap());
    (dir, store)
}

fn invalid_field(e: &AppError) -> &str {
    match e {
        AppError::Invalid { field, .. } => field,
        other => panic!("expected INVALID_INPUT, got {other:?}"),
    }
}

// ---- set time ----------------------------------------------------------------------------

#[tokio::test]
async fn carrier_urls_to_internal_hosts_are_refused_when_set() {
    let (_dir, secrets) = local_secrets();
    let env = GatewayEnv::new(OutboundPolicy::production(), secrets.clone(), None).await;
    let internal = [
        "http://127.0.0.1:9001",
        "https://10.0.0.1",
        "https://169.254.169.254",
        "https://[::1]:9001",
        "https://[::ffff:127.0.0.1]",
        "https://[fd00:ec2::254]",
        "https://localhost:8443",
        "http://api.easypost.com",
    ];
    for url in internal {
        let e = env
            .app
            .add_carrier_credentials(&env.rc, credentials("main", Some(url)))
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&e), "baseUrl", "{url}: {e}");
        assert_eq!(e.code(), "INVALID_INPUT");
        let mut with_token = credentials("main", None);
        with_token.token_url = Some(url.to_owned());
        let e = env
            .app
            .add_carrier_credentials(&env.rc, with_token)
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&e), "tokenUrl", "{url}: {e}");
    }
    let e = env
        .app
        .add_carrier_credentials(&env.rc, credentials("main", Some("https://10.0.0.1")))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid baseUrl: must name a public host: 10.0.0.1 is a private address"
    );
    // Rotation checks the same.
    let first = env
        .app
        .add_carrier_credentials(&env.rc, credentials("main", None))
        .await
        .unwrap();
    assert_eq!(first.base_url, "https://api.easypost.com");
    for url in internal {
        let e = env
            .app
            .rotate_carrier_credentials(&env.rc, credentials("main", Some(url)))
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&e), "baseUrl", "{url}: {e}");
    }
    let versions = env.app.carrier_credentials(&env.rc, None).await.unwrap();
    assert_eq!(
        versions,
        [first],
        "nothing of the refused changes was written"
    );
    assert_eq!(secrets.len().await, 1, "nor any secret of theirs stored");
}

#[tokio::test]
async fn catalogue_and_notification_urls_are_held_to_the_same_policy() {
    let (_dir, secrets) = local_secrets();
    let env = GatewayEnv::new(OutboundPolicy::production(), secrets, None).await;
    let clock: Arc<dyn domain::Clock> = Arc::new(env.clock.clone());
    let platform = app::platform::Platform::new(
        store::repo::platform_repositories(env.store.clone()),
        clock,
        Subject::parse("cli:test").unwrap(),
        None,
    );
    let catalogue = |sandbox: &str, production: &str| GatewayConfig {
        id: CarrierCode::parse("shippo").unwrap(),
        name: "Shippo".into(),
        kind: CarrierKind::Shippo,
        sandbox_url: sandbox.into(),
        production_url: production.into(),
        auth_type: GatewayAuthType::ApiKey,
        offers: Vec::new(),
    };
    let refused = |e: app::platform::PlatformError| match e {
        app::platform::PlatformError::Invalid(domain::DomainError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let e = platform
        .set_gateway(catalogue(
            "http://127.0.0.1:9001",
            "https://api.goshippo.com",
        ))
        .await
        .unwrap_err();
    assert_eq!(refused(e), "sandboxUrl");
    let e = platform
        .set_gateway(catalogue(
            "https://api.goshippo.com",
            "https://169.254.169.254",
        ))
        .await
        .unwrap_err();
    assert_eq!(refused(e), "productionUrl");
    platform
        .set_gateway(catalogue(
            "https://api.goshippo.com",
            "https://api.goshippo.com",
        ))
        .await
        .unwrap();
    // The allow-list opens its target, and only that one.
    let allowing = platform.with_outbound(
        OutboundPolicy::production()
            .allowing(OutboundPolicy::parse_allow_list("127.0.0.1:9001").unwrap()),
    );
    allowing
        .set_gateway(catalogue(
            "http://127.0.0.1:9001",
            "https://api.goshippo.com",
        ))
        .await
        .unwrap();
    let e = allowing
        .set_gateway(catalogue(
            "http://127.0.0.1:9002",
            "https://api.goshippo.com",
        ))
        .await
        .unwrap_err();
    assert_eq!(refused(e), "sandboxUrl");

    for url in ["https://10.0.0.1/hook", "http://hooks.example.com/oms"] {
        let config =
            TenantConfig::new(0, Vec::new(), Some(NotificationUrl::parse(url).unwrap())).unwrap();
        let e = env
            .app
            .update_tenant_config(&env.rc, &UnitOfWork::immediate(), config)
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&e), "notificationUrl", "{url}: {e}");
    }
    let config = TenantConfig::new(
        0,
        Vec::new(),
        Some(NotificationUrl::parse("https://hooks.example.com/oms").unwrap()),
    )
    .unwrap();
    env.app
        .update_tenant_config(&env.rc, &UnitOfWork::immediate(), config)
        .await
        .unwrap();
}

#[tokio::test]
async fn dev_mode_and_the_allow_list_let_local_carriers_in() {
    let (_dir, secrets) = local_secrets();
    let dev = GatewayEnv::new(OutboundPolicy::dev(), secrets.clone(), None).await;
    dev.app
        .add_carrier_credentials(&dev.rc, credentials("main", Some("http://127.0.0.1:9001")))
        .await
        .unwrap();
    let allow = OutboundPolicy::parse_allow_list("127.0.0.1:9001").unwrap();
    let listed = GatewayEnv::new(
        OutboundPolicy::production().allowing(allow),
        secrets.clone(),
        None,
    )
    .await;
    listed
        .app
        .add_carrier_credentials(
            &listed.rc,
            credentials("main", Some("http://127.0.0.1:9001")),
        )
        .await
        .unwrap();
    let e = listed
        .app
        .add_carrier_credentials(
            &listed.rc,
            credentials("other", Some("http://127.0.0.1:9002")),
        )
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "baseUrl");
}

// ---- connect time ------------------------------------------------------------------------

/// Names to addresses, as a DNS answer (or a rebinding one) would give them.
struct InjectedResolver(HashMap<&'static str, Vec<IpAddr>>);

impl Resolve for InjectedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let found = self.0.get(name.as_str()).cloned();
        Box::pin(async move {
            let ips = found.ok_or("no such name")?;
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

fn resolver() -> Arc<dyn Resolve> {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    Arc::new(InjectedResolver(HashMap::from([
        ("carrier.test", vec![ip("127.0.0.1"), ip("::1")]),
        ("carrier6.test", vec![ip("::1")]),
        ("metadata.test", vec![ip("169.254.169.254")]),
        ("mixed.test", vec![ip("10.0.0.7"), ip("fd00::1")]),
    ])))
}

/// The client's connector calls: every connection it tries (`attempts`; a name's addresses
/// are resolved and checked inside one) and every one it opens (`established`).
#[derive(Clone, Default)]
struct Connects {
    attempts: Arc<AtomicUsize>,
    established: Arc<AtomicUsize>,
}

impl Connects {
    fn get(&self) -> (usize, usize) {
        (
            self.attempts.load(Ordering::SeqCst),
            self.established.load(Ordering::SeqCst),
        )
    }
}

impl<S> tower::Layer<S> for Connects {
    type Service = Counted<S>;
    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            connects: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Counted<S> {
    inner: S,
    connects: Connects,
}

type Boxed<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, R> tower::Service<R> for Counted<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
    S::Response: 'static,
    S::Error: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Boxed<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.connects.attempts.fetch_add(1, Ordering::SeqCst);
        let established = self.connects.established.clone();
        let connecting = self.inner.call(request);
        Box::pin(async move {
            let conn = connecting.await;
            if conn.is_ok() {
                established.fetch_add(1, Ordering::SeqCst);
            }
            conn
        })
    }
}

/// The outbound client of `policy` as the deployment builds it, names resolved by the
/// injected resolver, connects counted.
fn counted_connector(policy: &OutboundPolicy) -> (Arc<dyn CarrierConnector>, Connects) {
    let connects = Connects::default();
    let client = outbound_http::builder(policy, Some(resolver()))
        .connector_layer(connects.clone())
        .build()
        .unwrap();
    (
        Arc::new(HttpConnector::new(client, policy.clone())),
        connects,
    )
}

/// A TCP listener on 127.0.0.1 and one on [::1], on the same port, counting the connections
/// they accept; each is answered with a 502 HTML page, as an internal host might.
struct Listeners {
    port: u16,
    v4: Arc<AtomicUsize>,
    v6: Arc<AtomicUsize>,
}

impl Listeners {
    async fn start() -> Self {
        for _ in 0..50 {
            let v4 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = v4.local_addr().unwrap().port();
            let Ok(v6) = tokio::net::TcpListener::bind(("::1", port)).await else {
                continue;
            };
            return Self {
                port,
                v4: serve(v4),
                v6: serve(v6),
            };
        }
        panic!("no port free on both 127.0.0.1 and [::1]");
    }

    fn accepted(&self) -> (usize, usize) {
        (
            self.v4.load(Ordering::SeqCst),
            self.v6.load(Ordering::SeqCst),
        )
    }
}

fn serve(listener: tokio::net::TcpListener) -> Arc<AtomicUsize> {
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _read = socket.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{INTERNAL_PAGE}",
                    INTERNAL_PAGE.len()
                );
                let _written = socket.write_all(answer.as_bytes()).await;
                let _closed = socket.shutdown().await;
            });
        }
    });
    accepted
}

/// `verify_credentials` with the version in force for `account`, as every carrier call gets
/// its carrier: the credentials from the store, the connector, one request.
async fn call(
    env: &GatewayEnv,
    connector: &Arc<dyn CarrierConnector>,
    account: &str,
) -> app::ports::carrier::CarrierError {
    let creds = env
        .app
        .effective_credentials(
            &env.rc,
            Operation::GetRates,
            &gateway(),
            &domain::gateway::AccountRef::Own(AccountId::parse(account).unwrap()),
            env.now(),
            app::credentials::CarrierUse::NewBusiness,
        )
        .await
        .unwrap();
    let carrier = connector.connect(&creds).unwrap();
    carrier.verify_credentials().await.unwrap_err()
}

#[tokio::test]
async fn urls_in_the_store_reach_no_internal_host_at_connect_time() {
    let listeners = Listeners::start().await;
    let port = listeners.port;
    let (_dir, secrets) = local_secrets();
    let policy = OutboundPolicy::production();
    let (connector, connects) = counted_connector(&policy);
    let env = GatewayEnv::new(policy, secrets, Some(connector.clone())).await;

    // IP-literal hosts, http, local names: refused on the URL, before the client is asked to
    // connect.
    let literals = [
        format!("http://127.0.0.1:{port}"),
        format!("https://127.0.0.1:{port}"),
        "https://10.0.0.1".to_owned(),
        "https://169.254.169.254".to_owned(),
        format!("https://[::1]:{port}"),
        format!("https://[::ffff:127.0.0.1]:{port}"),
        format!("http://carrier.test:{port}"),
        format!("https://localhost:{port}"),
    ];
    for (i, url) in literals.iter().enumerate() {
        let account = format!("literal{i}");
        env.write_raw(&account, url).await;
        let e = call(&env, &connector, &account).await;
        assert_eq!(e.code(), "carrier_rejected", "{url}: {e}");
        assert!(
            e.to_string().contains("base URL is not allowed"),
            "{url}: {e}"
        );
        assert_eq!(
            connects.get(),
            (0, 0),
            "{url}: the client was asked to connect"
        );
    }

    // Names the injected resolver maps to loopback, metadata or private addresses: the
    // connect-time check refuses every address, so no connection is opened (one connector
    // call each, in which the name is resolved and refused), and the refusal is final.
    let names = [
        format!("https://carrier.test:{port}"),
        format!("https://carrier6.test:{port}"),
        "https://metadata.test".to_owned(),
        "https://mixed.test".to_owned(),
    ];
    for (i, url) in names.iter().enumerate() {
        let account = format!("name{i}");
        env.write_raw(&account, url).await;
        let before = connects.get().0;
        let e = call(&env, &connector, &account).await;
        assert_eq!(e.code(), "carrier_rejected", "{url}: {e}");
        assert!(e.to_string().contains(NO_PUBLIC_ADDRESS), "{url}: {e}");
        assert_eq!(
            connects.get().0,
            before + 1,
            "{url}: tried once, not retried"
        );
    }
    assert_eq!(connects.get().1, 0, "no connection was opened");
    // Give a connection that slipped through the time to be accepted.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        listeners.accepted(),
        (0, 0),
        "the listeners saw no connection"
    );
}

/// The measurement's control: the same listeners, resolver and counters see the connection
/// when the policy lets it through (the allow-list; dev mode), and the internal host's answer
/// still reaches the caller only as "unreadable answer (HTTP 502)".
#[tokio::test]
async fn the_allow_list_and_dev_mode_connect_and_never_quote_the_answer() {
    let listeners = Listeners::start().await;
    let port = listeners.port;
    let (_dir, secrets) = local_secrets();

    let allow = OutboundPolicy::parse_allow_list(&format!("127.0.0.1:{port}")).unwrap();
    let policy = OutboundPolicy::production().allowing(allow);
    let (connector, connects) = counted_connector(&policy);
    let env = GatewayEnv::new(policy, secrets.clone(), Some(connector.clone())).await;
    env.write_raw("listed", &format!("http://127.0.0.1:{port}"))
        .await;
    let e = call(&env, &connector, "listed").await;
    assert_eq!(e.code(), "carrier_unavailable", "{e}");
    assert_eq!(
        e.to_string(),
        "carrier unavailable: EasyPost: unreadable answer (HTTP 502)"
    );
    assert!(connects.get().1 >= 1, "connected: {:?}", connects.get());
    assert!(listeners.accepted().0 >= 1, "{:?}", listeners.accepted());

    let (connector, connects) = counted_connector(&OutboundPolicy::dev());
    let env = GatewayEnv::new(OutboundPolicy::dev(), secrets, Some(connector.clone())).await;
    env.write_raw("dev", &format!("http://carrier6.test:{port}"))
        .await;
    let e = call(&env, &connector, "dev").await;
    assert!(!e.to_string().contains("abc123"), "{e}");
    assert!(
        e.to_string().contains("unreadable answer (HTTP 502)"),
        "{e}"
    );
    assert!(connects.get().1 >= 1);
    assert!(listeners.accepted().1 >= 1, "{:?}", listeners.accepted());
}
