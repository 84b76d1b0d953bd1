//! Fixtures the tests and benches of several crates share (a dev-dependency only; panics on
//! set-up failure are the point).
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod lambda_runtime;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use app::ports::Registry;
use async_trait::async_trait;
use auth::VerifierConfig;
use auth::dev::DevIdp;
use domain::access::{Plan, Role};
use domain::audit::{AuditRecord, AuditTarget};
use domain::ids::{AuditId, PlanName, Subject, TenantId};
use domain::tenant::TenantProfile;
use domain::{Clock, Timestamp};
use graphql::Limits;
use http_body_util::BodyExt;
use http_edge::HttpConfig;
use store::cursor::{CursorKey, Cursors};
use store::repo::RegistryRepository;
use store::{Item, ItemStore, Key, Page, Query, StoreError, StoreResult, WriteAction};
use tower::ServiceExt;

/// The tenant the fixtures create.
pub const DEMO: &str = "demo";

/// A platform admin's audit record (the registry's writes need one), numbered `n`.
pub fn platform_audit(n: u128) -> AuditRecord {
    let target = AuditTarget {
        kind: "tenant".into(),
        id: DEMO.into(),
    };
    AuditRecord::platform_action(
        AuditId::from_ulid(ulid::Ulid::from_parts(1, n)),
        Subject::parse("test").unwrap(),
        "createTenant",
        target,
        None,
        Timestamp::from_unix_millis(1_000).unwrap(),
        "t".into(),
    )
}

/// Plan `demo` (every tenant operation) and tenant `demo` signing in with `idp`.
pub async fn seed_demo(store: Arc<dyn ItemStore>, idp: &DevIdp) {
    seed_demo_sharded(store, idp, 1).await;
}

/// As [`seed_demo`], the demo tenant's listings spread over `shards` shards.
pub async fn seed_demo_sharded(store: Arc<dyn ItemStore>, idp: &DevIdp, shards: u32) {
    let registry = RegistryRepository::new(store);
    let plan = PlanName::parse(DEMO).unwrap();
    registry
        .put_plan(&Plan::everything(plan.clone()), &platform_audit(1))
        .await
        .unwrap();
    let now = Timestamp::from_unix_millis(1_000).unwrap();
    let mut profile =
        TenantProfile::new(TenantId::parse(DEMO).unwrap(), "Demo", plan, now).unwrap();
    profile.set_idp(idp.registration().unwrap(), now).unwrap();
    if shards > 1 {
        profile.grow_shards(shards, now).unwrap();
    }
    registry.create(&profile, &platform_audit(2)).await.unwrap();
}

/// As [`demo_router`], the demo tenant's listings spread over `shards` shards.
pub async fn demo_router_sharded(
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    idp: &DevIdp,
    http: HttpConfig,
    shards: u32,
) -> axum::Router {
    seed_demo_sharded(store.clone(), idp, shards).await;
    router_over(store, clock, http, None)
}

/// The API router over `store` as it is (nothing seeded), in dev mode, reading `clock`.
pub fn router_over(
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    http: HttpConfig,
    secrets: Option<Arc<dyn domain::ports::SecretStore>>,
) -> axum::Router {
    let verifier = VerifierConfig {
        dev_mode: true,
        ..VerifierConfig::default()
    };
    let cursors = Cursors::new(CursorKey::from_bytes(&[3; 32]).unwrap());
    let services = boot::services(store, clock, verifier, cursors, secrets).unwrap();
    http_edge::router(graphql::api_state(services), http)
}

/// The API router over `store` (seeded with the demo tenant), in dev mode, with `http`'s limits.
pub async fn demo_router(
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    idp: &DevIdp,
    http: HttpConfig,
) -> axum::Router {
    demo_router_with(store, clock, idp, http, None).await
}

/// As [`demo_router`], with webhooks verified against `secrets`.
pub async fn demo_router_with(
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    idp: &DevIdp,
    http: HttpConfig,
    secrets: Option<Arc<dyn domain::ports::SecretStore>>,
) -> axum::Router {
    seed_demo(store.clone(), idp).await;
    router_over(store, clock, http, secrets)
}

/// Production limits, no GraphiQL, no JWKS route.
pub fn production_http() -> HttpConfig {
    HttpConfig {
        limits: Limits::production(),
        graphiql: false,
        jwks: None,
    }
}

/// A dev token of the demo tenant, valid for an hour from `clock`'s now.
pub fn demo_token(idp: &DevIdp, clock: &dyn Clock, role: Role) -> String {
    vendor_token(idp, clock, role, None)
}

/// A dev token of the demo tenant for a vendor (or none), valid for an hour.
pub fn vendor_token(idp: &DevIdp, clock: &dyn Clock, role: Role, vendor: Option<&str>) -> String {
    let vendor = vendor.map(|v| domain::ids::VendorId::parse(v).unwrap());
    idp.mint(
        &TenantId::parse(DEMO).unwrap(),
        role,
        vendor.as_ref(),
        None,
        clock.now_secs(),
        3_600,
    )
    .unwrap()
}

/// POSTs a GraphQL request through the router: (status, body as JSON, body as text).
pub async fn post_graphql(
    router: &axum::Router,
    token: &str,
    headers: &[(&str, &str)],
    body: serde_json::Value,
) -> (u16, serde_json::Value, String) {
    let mut req = axum::http::Request::post("/graphql")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(axum::body::Body::from(body.to_string())).unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (status, serde_json::from_slice(&bytes).unwrap(), text)
}

/// The demo deployment most API tests start from: the router over an in-memory store that
/// counts writes and fails on demand, the demo tenant signing in with the dev IdP.
pub struct DemoEnv {
    pub router: axum::Router,
    pub store: Arc<FailingStore>,
    pub idp: DevIdp,
    pub clock: Arc<dyn Clock>,
    _dir: tempfile::TempDir,
}

impl DemoEnv {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(domain::SystemClock);
        let inner: Arc<dyn ItemStore> =
            Arc::new(store::embedded::EmbeddedStore::in_memory(clock.clone()).unwrap());
        let store = Arc::new(FailingStore::new(inner));
        let idp = DevIdp::load_or_generate(dir.path()).unwrap();
        let router = demo_router(store.clone(), clock.clone(), &idp, production_http()).await;
        Self {
            router,
            store,
            idp,
            clock,
            _dir: dir,
        }
    }

    /// A token of the demo tenant with `role`.
    pub fn token(&self, role: Role) -> String {
        demo_token(&self.idp, self.clock.as_ref(), role)
    }
}

/// A store that passes everything to `inner` until told to fail; then every call fails with a
/// backend error whose text (`SECRET_DETAIL`) must never reach a client.
pub struct FailingStore {
    inner: Arc<dyn ItemStore>,
    failing: AtomicBool,
    writes: std::sync::atomic::AtomicUsize,
    gets: std::sync::atomic::AtomicUsize,
}

/// What a failing store's errors say: internal detail a response must not carry.
pub const SECRET_DETAIL: &str = "connect to 10.9.8.7:8000 refused (table oms-prod-secret)";

impl FailingStore {
    pub fn new(inner: Arc<dyn ItemStore>) -> Self {
        Self {
            inner,
            failing: AtomicBool::new(false),
            writes: std::sync::atomic::AtomicUsize::new(0),
            gets: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many single-item reads (GetItem) went through this store.
    pub fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }

    /// How many transactions were committed through this store.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    pub fn fail(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }

    fn check(&self) -> StoreResult<()> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Backend(SECRET_DETAIL.into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl ItemStore for FailingStore {
    fn needs_outbox_pointers(&self) -> bool {
        self.inner.needs_outbox_pointers()
    }

    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.check()?;
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        self.check()?;
        self.inner.batch_get(keys).await
    }

    async fn query(&self, query: &Query) -> StoreResult<Page> {
        self.check()?;
        self.inner.query(query).await
    }

    async fn transact_write(&self, actions: Vec<WriteAction>) -> StoreResult<()> {
        self.check()?;
        self.inner.transact_write(actions).await?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A demo deployment with signed webhooks: the router over a counting store, the local secret
/// store, tenant `demo` and tenant `other`, each with an `add-order` hook signed by our scheme.
pub struct WebhookEnv {
    pub router: axum::Router,
    pub platform: app::platform::Platform,
    pub store: Arc<FailingStore>,
    pub idp: DevIdp,
    pub clock: Arc<dyn Clock>,
    pub secret: secrecy::SecretString,
    pub other_secret: secrecy::SecretString,
    pub dir: tempfile::TempDir,
}

/// Checks that `events/{folder}` holds exactly the files `expect` gives an answer for, and
/// returns each file's text with its expected status, in `expect`'s order.
pub fn event_files(folder: &str, expect: &[(&str, u16)]) -> Vec<(String, String, u16)> {
    let dir = format!("{}/../../events/{folder}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = expect.iter().map(|(f, _)| (*f).to_owned()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every event file in {dir} has an expected answer"
    );
    expect
        .iter()
        .map(|(f, status)| {
            let text = std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
            ((*f).to_owned(), text, *status)
        })
        .collect()
}

/// One hook to configure: tenant, hook, provider, secret.
pub type HookSpec<'a> = (
    &'a str,
    domain::webhook::WebhookHook,
    domain::webhook::WebhookProvider,
    &'a secrecy::SecretString,
);

impl WebhookEnv {
    /// A tenant-event consumer over this deployment's store (its own services, as a separate
    /// function has), with its dead letters kept in memory.
    pub fn event_consumer(
        &self,
    ) -> (
        events::tenant::TenantEventConsumer,
        Arc<events::DeadLetterLog>,
    ) {
        let services = self.services();
        let dead = Arc::new(events::DeadLetterLog::default());
        let consumer = events::tenant::TenantEventConsumer::new(
            services.app,
            services.event_sources,
            dead.clone(),
        );
        (consumer, dead)
    }

    /// Services over this deployment's store and secrets (their own caches, as a separate
    /// function or task has).
    pub fn services(&self) -> app::Services {
        boot::services(
            self.store.clone(),
            self.clock.clone(),
            VerifierConfig::default(),
            Cursors::new(CursorKey::from_bytes(&[7; 32]).unwrap()),
            Some(self.secrets()),
        )
        .unwrap()
    }

    /// The deployment's secret store.
    pub fn secrets(&self) -> Arc<dyn domain::ports::SecretStore> {
        Arc::new(secrets::LocalSecretStore::open(self.dir.path(), None).unwrap())
    }

    /// A GraphQL request as a user of `tenant` with `role`.
    pub async fn graphql_as(&self, tenant: &str, role: Role, query: &str) -> serde_json::Value {
        let token = self
            .idp
            .mint(
                &TenantId::parse(tenant).unwrap(),
                role,
                None,
                None,
                self.clock.now_secs(),
                3_600,
            )
            .unwrap();
        post_graphql(
            &self.router,
            &token,
            &[],
            serde_json::json!({ "query": query }),
        )
        .await
        .1
    }

    /// Registers an event source for `tenant`.
    pub async fn register_source(&self, tenant: &str, account: &str, source: &str) {
        let source = domain::tenant::EventSource::parse(account, source).unwrap();
        self.platform
            .set_event_source(&TenantId::parse(tenant).unwrap(), source)
            .await
            .unwrap();
    }

    /// On the system clock: `demo` and `other`, both hooks signed by our scheme.
    pub async fn new() -> Self {
        use domain::webhook::{WebhookHook as H, WebhookProvider as P};
        let secret = secrecy::SecretString::from("whsec-demo-0123456789".to_owned());
        let other = secrecy::SecretString::from("whsec-other-0123456789".to_owned());
        let hooks = [
            (DEMO, H::AddOrder, P::Oms, &secret),
            (DEMO, H::ShipmentTracker, P::Oms, &secret),
            ("other", H::AddOrder, P::Oms, &other),
            ("other", H::ShipmentTracker, P::Oms, &other),
        ];
        let mut env = Self::build(Arc::new(domain::SystemClock), &hooks).await;
        env.secret = secret;
        env.other_secret = other;
        env
    }

    /// A deployment on `clock` with these hooks (tenants other than `demo` are created), over
    /// an in-memory embedded store.
    pub async fn build(clock: Arc<dyn Clock>, hooks: &[HookSpec<'_>]) -> Self {
        let inner: Arc<dyn ItemStore> =
            Arc::new(store::embedded::EmbeddedStore::in_memory(clock.clone()).unwrap());
        Self::build_on(inner, clock, hooks).await
    }

    /// As [`WebhookEnv::build`], over `inner` (a file-backed store for benchmarks).
    pub async fn build_on(
        inner: Arc<dyn ItemStore>,
        clock: Arc<dyn Clock>,
        hooks: &[HookSpec<'_>],
    ) -> Self {
        use app::platform::{Platform, WebhookRequest};
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FailingStore::new(inner));
        let idp = DevIdp::load_or_generate(dir.path()).unwrap();
        let secrets: Arc<dyn domain::ports::SecretStore> =
            Arc::new(secrets::LocalSecretStore::open(dir.path(), None).unwrap());
        let router = demo_router_with(
            store.clone(),
            clock.clone(),
            &idp,
            production_http(),
            Some(secrets.clone()),
        )
        .await;
        let platform = Platform::new(
            store::repo::platform_repositories(store.clone()),
            clock.clone(),
            Subject::parse("cli:test").unwrap(),
            Some(app::platform::DevSetup {
                data_dir: dir.path().to_path_buf(),
            }),
        )
        .with_secrets(secrets);
        for (tenant, hook, provider, secret) in hooks {
            let id = TenantId::parse(tenant).unwrap();
            if !platform.exists(&id).await.unwrap() {
                platform
                    .create_tenant(&id, tenant, &PlanName::parse(DEMO).unwrap(), 1)
                    .await
                    .unwrap();
            }
            let req = WebhookRequest {
                hook: *hook,
                provider: *provider,
                secret: (*secret).clone(),
                max_age_seconds: None,
                tracking_reference: None,
            };
            platform.set_webhook(&id, req).await.unwrap();
        }
        Self {
            router,
            platform,
            store,
            idp,
            clock,
            secret: secrecy::SecretString::from(String::new()),
            other_secret: secrecy::SecretString::from(String::new()),
            dir,
        }
    }

    /// POSTs `body` to `path` with these headers: (status, headers, body text).
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, axum::http::HeaderMap, String) {
        let mut req = axum::http::Request::post(path);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let req = req.body(axum::body::Body::from(body)).unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// A staff token of the demo tenant.
    pub fn staff(&self) -> String {
        demo_token(&self.idp, self.clock.as_ref(), Role::Staff)
    }

    /// A GraphQL request as staff; the response body.
    pub async fn graphql(&self, query: &str) -> serde_json::Value {
        post_graphql(
            &self.router,
            &self.staff(),
            &[],
            serde_json::json!({ "query": query }),
        )
        .await
        .1
    }

    /// A confirmed order of the demo tenant with one dispatched shipment (carrier `fedex`,
    /// tracking number `number`): (order id, shipment id).
    pub async fn dispatched(&self, number: &str) -> (String, String) {
        self.dispatched_by("fedex", number).await
    }

    /// As [`WebhookEnv::dispatched`], with this carrier code.
    pub async fn dispatched_by(&self, carrier: &str, number: &str) -> (String, String) {
        let created = self.graphql(r#"mutation { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 1, unitPrice: "10.00"}]}) { order { id } } }"#).await;
        let id = created["data"]["createOrder"]["order"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_owned();
        self.graphql(&format!(
            r#"mutation {{ approveOrder(orderId: "{id}") {{ order {{ id }} }} }}"#
        ))
        .await;
        let shipped = self
            .graphql(&format!(r#"mutation {{ createShipment(orderId: "{id}", input: {{lines: [{{sku: "A", quantity: 1}}]}}) {{ shipment {{ id }} }} }}"#))
            .await;
        let sid = shipped["data"]["createShipment"]["shipment"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{shipped}"))
            .to_owned();
        self.graphql(&format!(r#"mutation {{ confirmShipment(orderId: "{id}", shipmentId: "{sid}") {{ order {{ id }} }} }}"#))
            .await;
        let dispatched = self
            .graphql(&format!(r#"mutation {{ dispatchShipment(orderId: "{id}", shipmentId: "{sid}", carrier: "{carrier}", trackingNumber: "{number}") {{ order {{ status }} userErrors {{ code }} }} }}"#))
            .await;
        assert_eq!(
            dispatched["data"]["dispatchShipment"]["order"]["status"], "SHIPPED",
            "{dispatched}"
        );
        (id, sid)
    }

    /// Reconfigures a demo hook's provider and secret.
    pub async fn set_hook(
        &self,
        hook: domain::webhook::WebhookHook,
        provider: domain::webhook::WebhookProvider,
        secret: &secrecy::SecretString,
    ) {
        let req = app::platform::WebhookRequest {
            hook,
            provider,
            secret: secret.clone(),
            max_age_seconds: None,
            tracking_reference: None,
        };
        self.platform
            .set_webhook(&TenantId::parse(DEMO).unwrap(), req)
            .await
            .unwrap();
    }

    /// Sends a delivery and checks it was refused with `status`, as problem+json, without one
    /// transaction written; the body text.
    pub async fn refused(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        status: u16,
    ) -> String {
        let before = self.store.writes();
        let (got, h, text) = self.post(path, headers, body).await;
        assert_eq!(got, status, "{text}");
        assert_eq!(
            h.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{text}"
        );
        assert_eq!(
            self.store.writes(),
            before,
            "a refused delivery wrote something: {text}"
        );
        text
    }

    /// Our signature header for `body` at `t`, with `secret`.
    pub fn sign(secret: &secrecy::SecretString, t: i64, body: &[u8]) -> (&'static str, String) {
        (
            "x-oms-signature",
            auth::webhook::oms_signature(secret, t, body),
        )
    }
}
