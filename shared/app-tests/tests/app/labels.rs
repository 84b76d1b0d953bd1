//! The money path under faults, on both store backends (the embedded store and DynamoDB
//! Local), against the stateful fake EasyPost, which counts what it sells and refunds:
//!
//! (a) the commit after a successful buy fails once; the client retries with the same key
//!     (in the same process, which remembers the answer, and in a fresh one, which looks the
//!     purchase up at the carrier);
//! (b) two buys with different keys and rate ids from two `shippingRates` calls race (100 runs);
//! (c) the request is aborted between the carrier's sale and the commit; a fresh `App` over the
//!     same table retries the same key;
//! (d) the carrier sells and never answers;
//! (e) the carrier refuses (4xx); a buy with another key then succeeds;
//! (f) (a)–(d) for voids.
//!
//! Every run checks: the carrier sold exactly one label (voided at most once), the shipment
//! holds it, and no sold label is held by no shipment.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::shipping::INTENT_SETTLE_SECS;
use app::{
    App, AppError, Keyed, KeyedOutcome, OrderRef, RequestCtx, StoredResponse, SystemIds, UnitOfWork,
};
use async_trait::async_trait;
use auth::{Caller, Identity};
use carriers::HttpConnector;
use carriers::fake::{FakeCarrier, Fault};
use domain::access::{Operation, Plan, Role};
use domain::contact::Address;
use domain::gateway::{CarrierKind, GatewayAuthType, GatewayConfig, GatewayMode};
use domain::ids::{AccountId, CarrierCode, IdempotencyKey, OrderId, PlanName, ShipmentId, Subject};
use domain::order::{
    LineQuantity, NewShipment, Order, Package, Pickup, ShipmentStatus, ShippingMode,
};
use domain::{Clock, IdSource, ManualClock, Timestamp};
use store::cursor::{CursorKey, Cursors};
use store::dynamo::{DynamoStore, local_config};
use store::{FixedShards, ItemStore, Key, Page, Query, StoreError, StoreResult, WriteAction};

use crate::double_apply::{endpoint, new_order};

const KEY: &str = "EZTK-fault-suite-key-0000000001";

#[derive(Debug, Clone, Copy)]
enum Backend {
    Embedded,
    Dynamo,
}

/// Passes everything through, but fails the transaction that comes after `skip` more have
/// passed, once (a commit that fails: the backend is unreachable at that moment).
struct FaultyStore {
    inner: Arc<dyn ItemStore>,
    fail_after: Mutex<Option<usize>>,
    failed: AtomicUsize,
}

impl FaultyStore {
    fn fail_write_after(&self, skip: usize) {
        *self.fail_after.lock().unwrap() = Some(skip);
    }
}

#[async_trait]
impl ItemStore for FaultyStore {
    fn needs_outbox_pointers(&self) -> bool {
        self.inner.needs_outbox_pointers()
    }
    async fn get(&self, key: &Key) -> StoreResult<Option<store::Item>> {
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<store::Item>>> {
        self.inner.batch_get(keys).await
    }
    async fn query(&self, query: &Query) -> StoreResult<Page> {
        self.inner.query(query).await
    }
    async fn transact_write(&self, actions: Vec<WriteAction>) -> StoreResult<()> {
        let fail = {
            let mut slot = self.fail_after.lock().unwrap();
            match *slot {
                Some(0) => {
                    *slot = None;
                    true
                }
                Some(n) => {
                    *slot = Some(n - 1);
                    false
                }
                None => false,
            }
        };
        if fail {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Backend("injected: the commit failed".into()));
        }
        self.inner.transact_write(actions).await
    }
}

/// One tenant with EasyPost credentials against a fake, and a confirmed shipment.
struct Harness {
    store: Arc<FaultyStore>,
    clock: ManualClock,
    secrets: Arc<dyn domain::ports::SecretStore>,
    app: Arc<App>,
    rc: RequestCtx,
    fake: FakeCarrier,
    gateway: CarrierCode,
    account: AccountId,
    /// The account is the platform's (`platform:<account>`), offered to the tenant's plan.
    platform: bool,
    order: OrderId,
    shipment: ShipmentId,
    _dir: tempfile::TempDir,
}

static TABLES: AtomicUsize = AtomicUsize::new(0);

async fn inner_store(backend: Backend, clock: &ManualClock) -> Arc<dyn ItemStore> {
    match backend {
        Backend::Embedded => {
            Arc::new(store::embedded::EmbeddedStore::in_memory(Arc::new(clock.clone())).unwrap())
        }
        Backend::Dynamo => {
            let conf = local_config(&endpoint()).build();
            let table = format!(
                "oms-labels-{}-{}",
                std::process::id(),
                TABLES.fetch_add(1, Ordering::SeqCst)
            );
            let dynamo = DynamoStore::new(
                aws_sdk_dynamodb::Client::from_conf(conf),
                table,
                Arc::new(clock.clone()),
            );
            dynamo.create_table().await.unwrap();
            Arc::new(dynamo)
        }
    }
}

fn build_app(
    h_store: Arc<FaultyStore>,
    clock: &ManualClock,
    secrets: Arc<dyn domain::ports::SecretStore>,
) -> Arc<App> {
    let ids: Arc<Mutex<dyn IdSource + Send>> = Arc::new(Mutex::new(SystemIds));
    // The fake carrier listens on 127.0.0.1 over http: dev mode's policy lets it in.
    let policy = domain::outbound::OutboundPolicy::dev();
    let connector = HttpConnector::new(reqwest::Client::new(), policy.clone())
        .with_timeout(Duration::from_millis(800));
    Arc::new(
        App::new(
            store::repo::repositories(
                h_store,
                Arc::new(FixedShards::new(1)),
                Cursors::new(CursorKey::from_bytes(&[7; 32]).unwrap()),
            ),
            ids,
            Arc::new(clock.clone()),
        )
        .with_secrets(secrets)
        .with_outbound(policy)
        .with_connector(Arc::new(connector)),
    )
}

fn ctx(roles: &[Role]) -> RequestCtx {
    let plan = Plan::everything(PlanName::parse("gold").unwrap());
    RequestCtx {
        caller: Caller::Tenant(Identity::for_tests("acme", "staff-1", roles, None, plan)),
        request_id: "r-1".into(),
    }
}

impl Harness {
    async fn new(backend: Backend) -> Self {
        Self::with_account(backend, false).await
    }

    /// The same, buying through the platform's account `shared` (offered to plan `gold`).
    async fn platform(backend: Backend) -> Self {
        Self::with_account(backend, true).await
    }

    async fn with_account(backend: Backend, on_platform: bool) -> Self {
        let clock = ManualClock::at(1_795_478_400);
        let store = Arc::new(FaultyStore {
            inner: inner_store(backend, &clock).await,
            fail_after: Mutex::new(None),
            failed: AtomicUsize::new(0),
        });
        let dir = tempfile::tempdir().unwrap();
        let secrets: Arc<dyn domain::ports::SecretStore> =
            Arc::new(secrets::local::LocalSecretStore::open(dir.path(), Some(&[3; 32])).unwrap());
        let app = build_app(store.clone(), &clock, secrets.clone());
        let fake = FakeCarrier::easypost(KEY).await;
        let gateway = CarrierCode::parse("easypost").unwrap();
        let account = AccountId::parse("main").unwrap();
        let platform = app::platform::Platform::new(
            store::repo::platform_repositories(store.clone()),
            Arc::new(clock.clone()),
            Subject::parse("ops").unwrap(),
            None,
        )
        .with_outbound(domain::outbound::OutboundPolicy::dev());
        platform
            .set_gateway(GatewayConfig {
                id: gateway.clone(),
                name: "EasyPost (fake)".into(),
                kind: CarrierKind::Easypost,
                sandbox_url: fake.base_url(),
                production_url: fake.base_url(),
                auth_type: GatewayAuthType::ApiKey,
                offers: Vec::new(),
            })
            .await
            .unwrap();
        let new = app::credentials::NewCredentials {
            gateway: gateway.clone(),
            account: account.clone(),
            mode: GatewayMode::Sandbox,
            base_url: None,
            username: None,
            client_id: None,
            token_url: None,
            account_number: None,
            track_client_id: None,
            description: None,
            from: None,
            thru: None,
            secrets: app::credentials::CredentialSecrets {
                api_key: Some(KEY.to_owned().into()),
                ..Default::default()
            },
        };
        if on_platform {
            let platform = platform.with_secrets(secrets.clone());
            let gold = PlanName::parse("gold").unwrap();
            platform
                .set_plan(
                    &gold,
                    Plan::requested_operations(true, &[] as &[&str]).unwrap(),
                )
                .await
                .unwrap_or_else(|e| panic!("plan: {e}"));
            platform.add_platform_credentials(new).await.unwrap();
            platform
                .offer_platform_account(&gateway, account.clone(), vec![gold])
                .await
                .unwrap();
        } else {
            app.add_carrier_credentials(&ctx(&[Role::TenantAdmin]), new)
                .await
                .unwrap();
        }
        let mut h = Self {
            store,
            clock,
            secrets,
            app,
            rc: ctx(&[Role::Staff]),
            fake,
            gateway,
            account,
            platform: on_platform,
            order: OrderId::from_ulid(ulid::Ulid::nil()),
            shipment: ShipmentId::from_ulid(ulid::Ulid::nil()),
            _dir: dir,
        };
        h.next_shipment(0).await;
        h
    }

    /// A new order with a confirmed, packed shipment; the harness works on it from now on.
    async fn next_shipment(&mut self, n: usize) {
        self.next_shipment_of(n, 1).await;
    }

    /// The same with `packages` packages.
    async fn next_shipment_of(&mut self, n: usize, packages: usize) {
        let uow = UnitOfWork::immediate();
        let order = self
            .app
            .create_order(&self.rc, &uow, new_order(&format!("ext-{n}")))
            .await
            .unwrap();
        let on = OrderRef::new(order.id(), None);
        self.app
            .approve_order(&self.rc, &uow, on, None)
            .await
            .unwrap();
        let from = Address::new(
            "Warehouse",
            "417 Montgomery St",
            None,
            "San Francisco",
            Some("CA"),
            "94104",
            "US",
            None,
        )
        .unwrap();
        let new = NewShipment {
            lines: vec![LineQuantity::new(
                domain::ids::Sku::parse("A").unwrap(),
                domain::ids::Quantity::new(1).unwrap(),
            )],
            destination: None,
            packages: vec![
                domain::order::NewPackage {
                    package: Package::new(500, 200, 150, 100).unwrap(),
                    reference: None,
                };
                packages
            ],
            mode: ShippingMode::Ground,
            carrier: None,
            pickup: Some(
                Pickup::new(
                    from,
                    Timestamp::parse_rfc3339("2030-01-01T09:00:00Z").unwrap(),
                    Timestamp::parse_rfc3339("2030-01-01T17:00:00Z").unwrap(),
                )
                .unwrap(),
            ),
            instructions: None,
            customs: None,
            label_options: Default::default(),
            address_messages: Vec::new(),
        };
        let (_, shipment) = self
            .app
            .create_shipment(&self.rc, &uow, on, new)
            .await
            .unwrap();
        self.app
            .move_shipment(&self.rc, &uow, on, shipment, app::ShipmentStep::Confirm)
            .await
            .unwrap();
        self.order = order.id();
        self.shipment = shipment;
    }

    /// A fresh `App` over the same table (another process, or this one restarted).
    fn restart(&mut self) {
        self.app = build_app(self.store.clone(), &self.clock, self.secrets.clone());
    }

    async fn rate(&self) -> String {
        let quote = self
            .app
            .shipping_rates(
                &self.rc,
                self.order,
                self.shipment,
                &self.gateway,
                Some(&if self.platform {
                    domain::gateway::AccountRef::Platform(self.account.clone())
                } else {
                    domain::gateway::AccountRef::Own(self.account.clone())
                }),
            )
            .await
            .unwrap();
        quote.rates[0].id.clone()
    }

    async fn order(&self) -> Order {
        self.app.order(&self.rc, self.order).await.unwrap()
    }

    async fn shipment_status(&self) -> ShipmentStatus {
        self.order().await.shipment(self.shipment).unwrap().status
    }

    /// The carrier sold `sold` labels so far, voided `voided`; every sold label that is not
    /// voided is held by exactly one shipment of the tenant's (the current one last).
    async fn assert_books(&self, sold: usize, voided: usize) {
        assert_eq!(self.fake.labels_sold(), sold, "labels sold");
        assert_eq!(self.fake.labels_refunded(), voided, "labels voided");
        let order = self.order().await;
        let s = order.shipment(self.shipment).unwrap();
        assert!(s.intent.is_none(), "no intent is left open: {:?}", s.intent);
        if voided == 0 {
            let held = s.tracking_number.as_ref().map(|n| n.as_str().to_owned());
            assert!(
                held.as_ref()
                    .is_some_and(|n| self.fake.sold_tracking_numbers().contains(n)),
                "the shipment holds a label the carrier sold: {held:?}"
            );
        }
    }
}

/// A response for the keyed path: the order's tracking number, or the error's code.
struct Answer(Result<Order, AppError>, String);

impl StoredResponse for Answer {
    fn stored(&self) -> &str {
        &self.1
    }
}

fn answer(r: Result<Order, AppError>) -> Answer {
    let text = match &r {
        Ok(o) => format!("ok v{}", o.version()),
        Err(e) => format!("error {}", e.code()),
    };
    Answer(r, text)
}

/// What a keyed call came to: `Ok` (ran or replayed), or the error's code.
fn code(out: &Result<KeyedOutcome<Answer>, AppError>) -> String {
    match out {
        Ok(KeyedOutcome::Ran(Answer(Ok(_), _))) => "ok".into(),
        Ok(KeyedOutcome::Replayed(text)) if text.starts_with("ok") => "ok".into(),
        Ok(KeyedOutcome::Replayed(text)) => text.clone(),
        Ok(KeyedOutcome::Ran(Answer(Err(e), _))) | Err(e) => e.code().into(),
    }
}

/// One keyed call of a label use case (`op` under `key`, the request identified by `hash`).
async fn keyed_call<F, Fut>(
    app: &App,
    rc: &RequestCtx,
    (op, key, hash): (Operation, &str, String),
    run: F,
) -> Result<KeyedOutcome<Answer>, AppError>
where
    F: Fn(Arc<UnitOfWork>) -> Fut,
    Fut: std::future::Future<Output = Result<Order, AppError>>,
{
    let keyed = Keyed {
        key: IdempotencyKey::parse(key).unwrap(),
        operation: op,
        request_hash: hash,
    };
    app.keyed(rc, &keyed, |uow| {
        let call = run(uow);
        async move { answer(call.await) }
    })
    .await
}

async fn buy(
    app: &App,
    rc: &RequestCtx,
    order: OrderId,
    shipment: ShipmentId,
    rate: &str,
    key: &str,
) -> Result<KeyedOutcome<Answer>, AppError> {
    let hash = format!("buy:{order}:{shipment}:{rate}");
    keyed_call(
        app,
        rc,
        (Operation::BuyLabel, key, hash),
        |uow| async move {
            app.buy_shipping_label(rc, &uow, OrderRef::new(order, None), shipment, rate)
                .await
        },
    )
    .await
}

async fn void(
    app: &App,
    rc: &RequestCtx,
    order: OrderId,
    shipment: ShipmentId,
    key: &str,
) -> Result<KeyedOutcome<Answer>, AppError> {
    let hash = format!("void:{order}:{shipment}");
    keyed_call(
        app,
        rc,
        (Operation::VoidLabel, key, hash),
        |uow| async move {
            app.void_shipping_label(rc, &uow, OrderRef::new(order, None), shipment)
                .await
        },
    )
    .await
}

impl Harness {
    async fn buy(&self, rate: &str, key: &str) -> String {
        code(&buy(&self.app, &self.rc, self.order, self.shipment, rate, key).await)
    }

    async fn void(&self, key: &str) -> String {
        code(&void(&self.app, &self.rc, self.order, self.shipment, key).await)
    }
}

impl Harness {
    /// Buys with `rate` (or voids, without one) under `key`: the carrier does it and holds its
    /// answer, the request is aborted meanwhile, and a fresh `App` takes over the same table.
    async fn abort_mid_call(&mut self, rate: Option<&str>, key: &str) {
        self.fake.fail_next(Fault::DoThenStall);
        let (app, rc, order, shipment) =
            (self.app.clone(), self.rc.clone(), self.order, self.shipment);
        let (rate, key) = (rate.map(str::to_owned), key.to_owned());
        let books = |f: &FakeCarrier| (f.labels_sold(), f.labels_refunded());
        let before = books(&self.fake);
        let task = tokio::spawn(async move {
            match rate {
                Some(r) => buy(&app, &rc, order, shipment, &r, &key).await.map(|_| ()),
                None => void(&app, &rc, order, shipment, &key).await.map(|_| ()),
            }
        });
        while books(&self.fake) == before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        self.restart();
    }
}

// ---- (a) the commit after a successful buy fails once, the same key is retried ------------

async fn commit_fails_once_then_the_same_key(backend: Backend, restart: bool) {
    let mut h = Harness::new(backend).await;
    let rate = h.rate().await;
    // The intent's commit passes, the label's commit fails.
    h.store.fail_write_after(1);
    assert_eq!(h.buy(&rate, "buy-1").await, "INTERNAL");
    assert_eq!(h.store.failed.load(Ordering::SeqCst), 1);
    assert_eq!(h.fake.labels_sold(), 1, "the carrier sold it");
    assert_eq!(h.shipment_status().await, ShipmentStatus::Confirmed);
    if restart {
        h.restart();
    }
    assert_eq!(h.buy(&rate, "buy-1").await, "ok");
    assert_eq!(h.shipment_status().await, ShipmentStatus::LabelPurchased);
    // Once committed, the key replays.
    assert_eq!(h.buy(&rate, "buy-1").await, "ok");
    let buys = h
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/buy"))
        .count();
    assert_eq!(buys, 1, "the carrier's buy endpoint was called once");
    h.assert_books(1, 0).await;
}

/// Exactly one of two racing calls succeeded; the other's code.
fn one_ok(codes: &[String; 2], run: usize) -> &str {
    assert_eq!(
        codes.iter().filter(|c| *c == "ok").count(),
        1,
        "run {run}: exactly one call succeeds: {codes:?}"
    );
    codes
        .iter()
        .find(|c| *c != "ok")
        .map(String::as_str)
        .unwrap()
}

// ---- (b) two buys with different keys and rate ids race --------------------------------

async fn racing_buys(backend: Backend, runs: usize) {
    let mut h = Harness::new(backend).await;
    for run in 0..runs {
        if run > 0 {
            h.next_shipment(run).await;
        }
        let (r1, r2) = (h.rate().await, h.rate().await);
        let (ka, kb) = (format!("race-{run}-a"), format!("race-{run}-b"));
        assert_ne!(r1, r2);
        let (a, b) = tokio::join!(
            buy(&h.app, &h.rc, h.order, h.shipment, &r1, &ka),
            buy(&h.app, &h.rc, h.order, h.shipment, &r2, &kb),
        );
        let codes = [code(&a), code(&b)];
        let other = one_ok(&codes, run);
        assert!(
            ["PURCHASE_IN_PROGRESS", "INVALID_INPUT"].contains(&other),
            "run {run}: the other is refused before the carrier: {codes:?}"
        );
        h.assert_books(run + 1, 0).await;
    }
}

// ---- (c) the request dies between the carrier's sale and the commit ---------------------

async fn aborted_after_the_sale(backend: Backend) {
    let mut h = Harness::new(backend).await;
    let rate = h.rate().await;
    // The carrier sells, then holds its answer; the request is aborted meanwhile.
    h.abort_mid_call(Some(&rate), "buy-c").await;
    assert_eq!(h.buy(&rate, "buy-c").await, "ok");
    h.assert_books(1, 0).await;
}

/// The same abort, settled by `oms labels reconcile` instead of the request's retry: the open
/// intent is listed, a lookup completes it, and the list is empty after.
async fn reconciled_after_an_abort(backend: Backend) {
    let mut h = Harness::new(backend).await;
    let rate = h.rate().await;
    h.abort_mid_call(Some(&rate), "buy-r").await;
    let admin = ctx(&[Role::TenantAdmin]);
    let listed = h.app.reconcile_labels(&admin, false).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].order, listed[0].target),
        (h.order, h.shipment.into())
    );
    assert_eq!(listed[0].intent.key.as_deref(), Some("buy-r"));
    assert!(listed[0].settled.is_none());
    let settled = h.app.reconcile_labels(&admin, true).await.unwrap();
    assert_eq!(settled[0].settled.as_deref(), Some("completed"));
    assert!(
        h.app
            .reconcile_labels(&admin, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.shipment_status().await, ShipmentStatus::LabelPurchased);
    // The request's own retry then answers as the first buy would have.
    assert_eq!(h.buy(&rate, "buy-r").await, "ok");
    h.assert_books(1, 0).await;
}

// ---- (d) the carrier sells and never answers ----------------------------------------------

async fn sold_without_an_answer(backend: Backend) {
    let h = Harness::new(backend).await;
    let rate = h.rate().await;
    h.fake.fail_next(Fault::DoThenStall);
    // The client times out, looks the purchase up, and finds the label.
    assert_eq!(h.buy(&rate, "buy-d").await, "ok");
    assert_eq!(h.shipment_status().await, ShipmentStatus::LabelPurchased);
    h.assert_books(1, 0).await;
}

// ---- (e) a refusal closes the intent; another key then buys --------------------------------

async fn refused_then_another_key(backend: Backend) {
    let h = Harness::new(backend).await;
    let rate = h.rate().await;
    h.fake.fail_next(Fault::Unauthorized);
    assert_eq!(h.buy(&rate, "buy-e1").await, "CARRIER_AUTH_FAILED");
    assert!(
        h.order()
            .await
            .shipment(h.shipment)
            .unwrap()
            .intent
            .is_none()
    );
    assert_eq!(h.fake.labels_sold(), 0);
    assert_eq!(h.buy(&rate, "buy-e2").await, "ok");
    h.assert_books(1, 0).await;
}

// ---- an unknown outcome blocks until the carrier's answer is known, then settles ----------

async fn unknown_outcome_settles_after_the_window(backend: Backend) {
    let h = Harness::new(backend).await;
    let rate = h.rate().await;
    // A 500: maybe sold, maybe not; the lookup says not (yet).
    h.fake.fail_next(Fault::ServerError);
    assert_eq!(h.buy(&rate, "buy-u1").await, "CARRIER_UNAVAILABLE");
    let s = h.order().await.shipment(h.shipment).unwrap().clone();
    assert!(s.intent.is_some(), "the intent stays open");
    // Another buy within the window: in progress, the carrier's buy endpoint is not called.
    assert_eq!(h.buy(&rate, "buy-u2").await, "PURCHASE_IN_PROGRESS");
    // So is a cancellation or a dispatch.
    let uow = UnitOfWork::immediate();
    let on = OrderRef::new(h.order, None);
    let cancel = h
        .app
        .move_shipment(&h.rc, &uow, on, h.shipment, app::ShipmentStep::Cancel)
        .await;
    assert_eq!(cancel.unwrap_err().code(), "PURCHASE_IN_PROGRESS");
    let dispatch = h
        .app
        .dispatch_shipment(&h.rc, &uow, on, h.shipment, None, None)
        .await;
    assert_eq!(dispatch.unwrap_err().code(), "PURCHASE_IN_PROGRESS");
    let buys = |h: &Harness| {
        h.fake
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/buy"))
            .count()
    };
    assert_eq!(buys(&h), 1);
    // Past the window, a lookup that still finds nothing closes it, and the buy goes ahead.
    h.clock.advance(INTENT_SETTLE_SECS);
    assert_eq!(h.buy(&rate, "buy-u3").await, "ok");
    assert_eq!(buys(&h), 2);
    h.assert_books(1, 0).await;
}

// ---- (f) voids: (a)–(d) -------------------------------------------------------------------

/// A harness whose shipment holds a bought label.
async fn bought(backend: Backend) -> Harness {
    let h = Harness::new(backend).await;
    let rate = h.rate().await;
    assert_eq!(h.buy(&rate, "buy-f").await, "ok");
    h
}

fn refund_calls(h: &Harness) -> usize {
    h.fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/refund"))
        .count()
}

async fn void_commit_fails_once(backend: Backend, restart: bool) {
    let mut h = bought(backend).await;
    h.store.fail_write_after(1);
    assert_eq!(h.void("void-a").await, "INTERNAL");
    assert_eq!(h.fake.labels_refunded(), 1);
    if restart {
        h.restart();
    }
    assert_eq!(h.void("void-a").await, "ok");
    assert_eq!(h.void("void-a").await, "ok");
    assert_eq!(h.shipment_status().await, ShipmentStatus::Cancelled);
    assert_eq!(refund_calls(&h), 1);
    h.assert_books(1, 1).await;
}

async fn racing_voids(backend: Backend, runs: usize) {
    let mut h = Harness::new(backend).await;
    for run in 0..runs {
        if run > 0 {
            h.next_shipment(run).await;
        }
        let rate = h.rate().await;
        assert_eq!(h.buy(&rate, &format!("vbuy-{run}")).await, "ok");
        let (ka, kb) = (format!("vrace-{run}-a"), format!("vrace-{run}-b"));
        let (a, b) = tokio::join!(
            void(&h.app, &h.rc, h.order, h.shipment, &ka),
            void(&h.app, &h.rc, h.order, h.shipment, &kb),
        );
        let codes = [code(&a), code(&b)];
        let other = one_ok(&codes, run);
        assert!(
            ["VOID_IN_PROGRESS", "INVALID_INPUT"].contains(&other),
            "run {run}: {codes:?}"
        );
        assert_eq!(
            refund_calls(&h),
            run + 1,
            "run {run}: one void reached the carrier"
        );
        h.assert_books(run + 1, run + 1).await;
    }
}

async fn void_aborted_after_the_refund(backend: Backend) {
    let mut h = bought(backend).await;
    h.abort_mid_call(None, "void-c").await;
    assert_eq!(h.void("void-c").await, "ok");
    assert_eq!(h.shipment_status().await, ShipmentStatus::Cancelled);
    assert_eq!(refund_calls(&h), 1);
    h.assert_books(1, 1).await;
}

async fn voided_without_an_answer(backend: Backend) {
    let h = bought(backend).await;
    h.fake.fail_next(Fault::DoThenStall);
    assert_eq!(h.void("void-d").await, "ok");
    assert_eq!(h.shipment_status().await, ShipmentStatus::Cancelled);
    assert_eq!(refund_calls(&h), 1);
    h.assert_books(1, 1).await;
}

// ---- a label the shipment can no longer take is voided and audited -----------------------

/// A slow carrier: the first buy's intent is abandoned as stale while its call is still in
/// flight (a lookup then finds nothing), a second buy takes the shipment; when the first call
/// finally sells, its label has no home: it is voided at the carrier and the tenant audit says so.
async fn a_late_label_with_no_home_is_voided(backend: Backend) {
    let h = Harness::new(backend).await;
    let (late_rate, rate) = (h.rate().await, h.rate().await);
    h.fake
        .fail_next(Fault::DelayThenDo(Duration::from_millis(400)));
    let late = buy(&h.app, &h.rc, h.order, h.shipment, &late_rate, "buy-late");
    let other = async {
        // The first buy's intent is open and its call in flight; the clock passes the window.
        while h
            .order()
            .await
            .shipment(h.shipment)
            .unwrap()
            .intent
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        h.clock.advance(INTENT_SETTLE_SECS);
        buy(&h.app, &h.rc, h.order, h.shipment, &rate, "buy-other").await
    };
    let (late, other) = tokio::join!(late, other);
    assert_eq!(code(&other), "ok");
    assert_eq!(
        code(&late),
        "CONFLICT",
        "the late label is not the shipment's"
    );
    assert_eq!(h.fake.labels_sold(), 2);
    assert_eq!(h.fake.labels_refunded(), 1, "the late label was voided");
    let held = h
        .order()
        .await
        .shipment(h.shipment)
        .unwrap()
        .tracking_number
        .clone()
        .unwrap();
    let sold = h.fake.sold_tracking_numbers();
    assert!(sold.contains(&held.as_str().to_owned()));
    let now = h.clock.now();
    let audit = h
        .app
        .tenant_audit_log(
            &ctx(&[Role::TenantAdmin]),
            now.plus_seconds(-86_400),
            now,
            &app::listing::PageRequest::first(50),
        )
        .await
        .unwrap();
    assert!(
        audit.rows.iter().any(|r| r.action == "voidShippingLabel"
            && r.target.id == format!("{}/{}", h.order, h.shipment)
            && matches!(r.outcome, domain::audit::AuditOutcome::Success)),
        "the void of the orphaned label is in the tenant audit: {:?}",
        audit.rows
    );
}

// ---- (h) a platform account's usage row commits with its label, or not at all ---------------

async fn usage(h: &Harness) -> Vec<domain::usage::CarrierUsage> {
    let from = Timestamp::from_unix_millis(0).unwrap();
    let to = Timestamp::from_unix_millis(4_000_000_000_000).unwrap();
    h.app
        .carrier_usage(&ctx(&[Role::TenantAdmin]), from, to)
        .await
        .unwrap()
}

async fn usage_commits_with_the_label(backend: Backend) {
    let h = Harness::platform(backend).await;
    let rate = h.rate().await;
    // The intent's commit passes; the commit of the label and its usage row fails.
    h.store.fail_write_after(1);
    assert_eq!(h.buy(&rate, "buy-u1").await, "INTERNAL");
    assert_eq!(h.fake.labels_sold(), 1, "the carrier sold it");
    assert_eq!(h.shipment_status().await, ShipmentStatus::Confirmed);
    assert_eq!(
        usage(&h).await,
        Vec::new(),
        "no usage row without its label"
    );
    assert_eq!(h.buy(&rate, "buy-u1").await, "ok");
    assert_eq!(h.shipment_status().await, ShipmentStatus::LabelPurchased);
    let rows = usage(&h).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].kind, domain::usage::UsageKind::Purchase);
    assert_eq!(rows[0].amount.to_string(), "7.58 USD");
    assert_eq!((rows[0].order, rows[0].shipment), (h.order, h.shipment));
    assert_eq!(rows[0].account.as_str(), "main");
    // The offer withdrawn: no new quote through it, but the label it bought is still voided
    // through it (no label is stranded).
    let platform = app::platform::Platform::new(
        store::repo::platform_repositories(h.store.clone()),
        Arc::new(h.clock.clone()),
        Subject::parse("ops").unwrap(),
        None,
    );
    platform
        .offer_platform_account(&h.gateway, h.account.clone(), Vec::new())
        .await
        .unwrap();
    let refused = h
        .app
        .shipping_rates(
            &h.rc,
            h.order,
            h.shipment,
            &h.gateway,
            Some(&domain::gateway::AccountRef::Platform(h.account.clone())),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "CONNECTION_NOT_EFFECTIVE");
    // The same for the void: no reversal without the cancellation, then one.
    h.store.fail_write_after(1);
    assert_eq!(h.void("void-u1").await, "INTERNAL");
    assert_eq!(usage(&h).await.len(), 1);
    assert_eq!(h.void("void-u1").await, "ok");
    let rows = usage(&h).await;
    assert_eq!(
        rows.iter().map(|r| r.kind).collect::<Vec<_>>(),
        [
            domain::usage::UsageKind::Purchase,
            domain::usage::UsageKind::Reversal
        ]
    );
    assert_eq!(
        domain::usage::totals(&rows).unwrap()[0].to_string(),
        "0.00 USD"
    );
    h.assert_books(1, 1).await;
}

// ---- (i) three packages bought one by one (EasyPost): all or none -------------------------

/// The live labels (sold, not refunded) the fake holds.
fn live(h: &Harness) -> usize {
    h.fake.live_labels()
}

/// The 2nd package's label is sold and its answer lost, and its lookup fails too: the intent
/// stays. A retry with the same key within the window is still in progress (the purchase is
/// partly bought, and no call of it can be known finished); past the window the lookup finds
/// packages 1 and 2 bought and 3 not: both are voided and the intent closed, nothing is held,
/// and a new purchase of three labels goes through.
async fn packages_partly_bought_are_voided_after_the_window(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.next_shipment_of(1, 3).await;
    let rate = h.rate().await;
    // Buy 1 passes; buy 2 is sold but answers too late; its lookup fails with 5xx (every try).
    h.fake.fail_next(Fault::Pass);
    h.fake.fail_next(Fault::DoThenStall);
    for _ in 0..4 {
        h.fake.fail_next(Fault::ServerError);
    }
    assert_eq!(h.buy(&rate, "pkg-1").await, "CARRIER_UNAVAILABLE");
    assert_eq!(h.fake.labels_sold(), 2);
    assert_eq!(live(&h), 2);
    let s = h.order().await;
    let sh = s.shipment(h.shipment).unwrap();
    assert_eq!(sh.status, ShipmentStatus::Confirmed);
    assert!(sh.intent.is_some(), "left open for the lookup");
    // Within the window: partly bought, still in progress, nothing bought again.
    assert_eq!(h.buy(&rate, "pkg-1").await, "PURCHASE_IN_PROGRESS");
    assert_eq!(h.fake.labels_sold(), 2);
    // Past it: the two sold labels are voided and the intent closed.
    h.clock.advance(INTENT_SETTLE_SECS);
    let reports = h.app.reconcile_labels(&h.rc, true).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].settled.as_deref(),
        Some("closed: the carrier never did it")
    );
    assert_eq!(live(&h), 0, "the partly bought purchase is voided whole");
    let sh = h.order().await.shipment(h.shipment).unwrap().clone();
    assert!(sh.intent.is_none() && sh.tracking_number.is_none());
    // Quoted again, bought whole.
    let rate = h.rate().await;
    assert_eq!(h.buy(&rate, "pkg-2").await, "ok");
    let sh = h.order().await.shipment(h.shipment).unwrap().clone();
    assert_eq!(sh.status, ShipmentStatus::LabelPurchased);
    assert_eq!(
        sh.packages
            .iter()
            .filter(|p| p.tracking_number.is_some())
            .count(),
        3
    );
    assert_eq!(live(&h), 3);
}

/// The 2nd package's answer is lost but its lookup finds it: the purchase goes on and records
/// three labels in the one request; a restart afterwards changes nothing.
async fn a_lost_package_answer_is_found_and_the_purchase_completes(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.next_shipment_of(1, 3).await;
    let rate = h.rate().await;
    h.fake.fail_next(Fault::Pass);
    h.fake.fail_next(Fault::DoThenStall);
    assert_eq!(h.buy(&rate, "pkg-lost").await, "ok");
    assert_eq!(h.fake.labels_sold(), 3);
    h.restart();
    assert_eq!(h.buy(&rate, "pkg-lost").await, "ok", "the same answer");
    assert_eq!(h.fake.labels_sold(), 3);
    let sh = h.order().await.shipment(h.shipment).unwrap().clone();
    let mut ours: Vec<String> = sh
        .packages
        .iter()
        .filter_map(|p| p.tracking_number.as_ref().map(|n| n.as_str().to_owned()))
        .collect();
    ours.sort();
    let mut sold = h.fake.sold_tracking_numbers();
    sold.sort();
    assert_eq!(ours, sold);
}

/// Every scenario on both backends.
macro_rules! on_both {
    ($($name:ident($b:ident) => $body:expr;)+) => {
        mod embedded {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let $b = Backend::Embedded;
                $body.await;
            })+
        }
        mod dynamodb_local {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let $b = Backend::Dynamo;
                $body.await;
            })+
        }
    };
}

on_both! {
    a_commit_fails_once_then_the_same_key_in_process(b) => commit_fails_once_then_the_same_key(b, false);
    a_commit_fails_once_then_the_same_key_after_a_restart(b) => commit_fails_once_then_the_same_key(b, true);
    b_two_buys_race_100_runs(b) => racing_buys(b, 100);
    c_aborted_between_the_sale_and_the_commit(b) => aborted_after_the_sale(b);
    c_reconciled_after_an_abort(b) => reconciled_after_an_abort(b);
    d_sold_without_an_answer(b) => sold_without_an_answer(b);
    e_refused_then_another_key(b) => refused_then_another_key(b);
    an_unknown_outcome_settles_after_the_window(b) => unknown_outcome_settles_after_the_window(b);
    f_void_commit_fails_once_in_process(b) => void_commit_fails_once(b, false);
    f_void_commit_fails_once_after_a_restart(b) => void_commit_fails_once(b, true);
    f_two_voids_race_100_runs(b) => racing_voids(b, 100);
    f_void_aborted_between_the_refund_and_the_commit(b) => void_aborted_after_the_refund(b);
    f_voided_without_an_answer(b) => voided_without_an_answer(b);
    g_a_late_label_with_no_home_is_voided(b) => a_late_label_with_no_home_is_voided(b);
    h_usage_commits_with_the_label(b) => usage_commits_with_the_label(b);
    i_packages_partly_bought_are_voided_after_the_window(b) => packages_partly_bought_are_voided_after_the_window(b);
    i_a_lost_package_answer_is_found(b) => a_lost_package_answer_is_found_and_the_purchase_completes(b);
}

/// A rate id is what `shippingRates` sealed for one tenant, order and shipment: another
/// shipment's rate id, or one a client made up in the old unsigned shape, is refused before
/// any carrier call.
#[tokio::test]
async fn rate_ids_are_sealed_for_their_shipment() {
    use base64::Engine;
    let mut h = Harness::new(Backend::Embedded).await;
    let first = h.rate().await;
    h.next_shipment(1).await;
    assert_eq!(h.buy(&first, "rate-1").await, "INVALID_INPUT");
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::json!({"g": "easypost", "a": "main", "s": "shp_1", "r": "rate_1"}).to_string(),
    );
    assert_eq!(h.buy(&forged, "rate-2").await, "INVALID_INPUT");
    let (body, tag) = first.split_once('.').unwrap();
    let tampered = format!("{body}x.{tag}");
    assert_eq!(h.buy(&tampered, "rate-3").await, "INVALID_INPUT");
    assert!(
        !h.fake.requests().iter().any(|r| r.path.ends_with("/buy")),
        "no refused rate id reached the carrier"
    );
    // Its own shipment's rate id buys.
    let own = h.rate().await;
    assert_eq!(h.buy(&own, "rate-4").await, "ok");
    h.assert_books(1, 0).await;
}

mod returns;
