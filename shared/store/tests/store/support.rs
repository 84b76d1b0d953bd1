//! Backends for the conformance suite: the embedded store (file or memory) and DynamoDB Local.

use app::ports::OrderStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use store::dynamo::{DynamoStore, local_config};
use store::embedded::EmbeddedStore;
use store::{ItemStore, ManualClock};

/// A fixed "now" for TTL (2026-11-24T00:00:00Z).
pub const NOW: i64 = 1_795_478_400;

pub struct Backend {
    pub store: Arc<dyn ItemStore>,
    pub clock: ManualClock,
    pub requests: Option<RequestCounter>,
    pub _dir: Option<tempfile::TempDir>,
}

/// Where DynamoDB Local listens: `OMS_DYNAMODB_ENDPOINT`, or the `.services/env` that
/// `scripts/services.sh start dynamodb` writes. Missing means failing loudly, never skipping.
pub fn dynamodb_endpoint() -> String {
    if let Ok(e) = std::env::var("OMS_DYNAMODB_ENDPOINT") {
        return e;
    }
    let env_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.services/env");
    if let Ok(text) = std::fs::read_to_string(env_file)
        && let Some(v) = text
            .lines()
            .find_map(|l| l.strip_prefix("OMS_DYNAMODB_ENDPOINT="))
    {
        return v.trim().to_owned();
    }
    panic!(
        "DynamoDB Local is not running: OMS_DYNAMODB_ENDPOINT is unset. Run `make test`, or \
         `scripts/services.sh start dynamodb` before `cargo test`."
    );
}

/// Counts requests by operation name (retries are off, so one per call).
#[derive(Debug, Default, Clone)]
pub struct RequestCounter(Arc<std::sync::Mutex<Vec<String>>>);

impl RequestCounter {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _ctx: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let name = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map_or("?".to_owned(), |m| m.name().to_owned());
        self.0.lock().unwrap().push(name);
        Ok(())
    }
}

static TABLES: AtomicUsize = AtomicUsize::new(0);

impl Backend {
    /// A file-backed embedded store in a fresh temporary directory.
    pub fn embedded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at(NOW);
        let store =
            EmbeddedStore::open(&dir.path().join("store.redb"), Arc::new(clock.clone())).unwrap();
        Self {
            store: Arc::new(store),
            clock,
            requests: None,
            _dir: Some(dir),
        }
    }

    /// An in-memory embedded store (fast property tests).
    pub fn embedded_in_memory() -> Self {
        let clock = ManualClock::at(NOW);
        let store = EmbeddedStore::in_memory(Arc::new(clock.clone())).unwrap();
        Self {
            store: Arc::new(store),
            clock,
            requests: None,
            _dir: None,
        }
    }

    /// A fresh table on DynamoDB Local, with a request counter.
    pub async fn dynamodb() -> Self {
        let counter = RequestCounter::default();
        let conf = local_config(&dynamodb_endpoint())
            .interceptor(counter.clone())
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(conf);
        let clock = ManualClock::at(NOW);
        let n = TABLES.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let table = format!("oms-{}-{nanos}-{n}", std::process::id());
        let store = DynamoStore::new(client, table, Arc::new(clock.clone()));
        store.create_table().await.unwrap();
        counter.take();
        Self {
            store: Arc::new(store),
            clock,
            requests: Some(counter),
            _dir: None,
        }
    }
}

// ----- repositories over a backend -----

use app::ports::CommandWrite;
use domain::audit::{Actor, ActorKind, AuditOutcome, AuditRecord, AuditTarget};
use domain::clock::{Ctx, SeqIds};
use domain::contact::{Address, Customer, Email};
use domain::events::DomainEvent;
use domain::ids::{AuditId, ExternalRef, OrderId, Quantity, Sku, Subject, VendorId};
use domain::order::{NewLine, NewOrder, Order};
use domain::{Currency, IdSource, Money, Timestamp};
use store::cursor::{CursorKey, Cursors};
use store::repo::{
    IdempotencyRepository, OrderRepository, TenantAuditRepository, TenantConfigRepository,
};
use store::{FixedShards, TenantScope};

pub struct Repos {
    pub orders: OrderRepository,
    pub configs: TenantConfigRepository,
    pub idempotency: IdempotencyRepository,
    pub audit: TenantAuditRepository,
    pub shards: FixedShards,
}

impl Repos {
    /// `order` as the store keeps it once created by `command` (on its write shard).
    pub fn created(
        &self,
        order: &domain::order::Order,
        command: Option<&AuditRecord>,
    ) -> app::ports::StoredOrder {
        let shards = self.shards.0.load(std::sync::atomic::Ordering::SeqCst);
        app::ports::StoredOrder::new(
            order.clone(),
            store::repo::shard_of(order.id(), shards),
            command.map(|a| a.id.to_string()),
        )
    }
}

/// `after` as the store keeps it once `command` updated `before` (the same write shard).
pub fn updated(
    before: &app::ports::StoredOrder,
    after: &domain::order::Order,
    command: Option<&AuditRecord>,
) -> app::ports::StoredOrder {
    app::ports::StoredOrder::new(
        after.clone(),
        before.shard(),
        command.map(|a| a.id.to_string()),
    )
}

pub fn cursors() -> Cursors {
    Cursors::new(CursorKey::from_bytes(&[7; 32]).unwrap())
}

pub fn repos(b: &Backend, shards: u32) -> Repos {
    let fixed = FixedShards::new(shards);
    let counts: Arc<dyn app::ports::ShardCounts> = Arc::new(fixed.clone());
    let audit = TenantAuditRepository::new(b.store.clone(), counts.clone(), cursors());
    Repos {
        orders: OrderRepository::new(b.store.clone(), counts, cursors()),
        configs: TenantConfigRepository::new(b.store.clone(), audit.clone()),
        idempotency: IdempotencyRepository::new(b.store.clone()),
        audit,
        shards: fixed,
    }
}

/// Deterministic time and ids for building orders.
pub struct Gen {
    pub ids: SeqIds,
    pub now: Timestamp,
}

impl Gen {
    pub fn new() -> Self {
        Self {
            ids: SeqIds::default(),
            now: Timestamp::from_unix_millis(NOW * 1000).unwrap(),
        }
    }

    pub fn tick(&mut self) -> Ctx<'_> {
        self.now = self.now.plus_seconds(1);
        Ctx::new(self.now, &mut self.ids)
    }

    pub fn audit(
        &mut self,
        scope: &TenantScope,
        action: &str,
        target: &str,
        version: u64,
    ) -> AuditRecord {
        AuditRecord {
            id: AuditId::from_ulid(self.ids.next_ulid()),
            tenant: Some(scope.tenant().clone()),
            actor: Actor {
                kind: ActorKind::User,
                subject: Subject::parse("staff-1").unwrap(),
            },
            action: action.to_owned(),
            target: AuditTarget {
                kind: "order".into(),
                id: target.to_owned(),
            },
            at: self.now,
            request_id: "req-1".into(),
            outcome: AuditOutcome::Success,
            version: Some(version),
        }
    }

    /// A new order of two vendors' lines.
    pub fn order(
        &mut self,
        scope: &TenantScope,
        external_ref: Option<&str>,
    ) -> (Order, Vec<DomainEvent>) {
        let usd = Currency::parse("USD").unwrap();
        let line = |sku: &str, vendor: &str| NewLine {
            sku: Sku::parse(sku).unwrap(),
            vendor: VendorId::parse(vendor).unwrap(),
            title: None,
            quantity: Quantity::new(2).unwrap(),
            unit_price: Money::parse("9.99", usd).unwrap(),
        };
        let new = NewOrder {
            external_ref: external_ref.map(|r| ExternalRef::parse(r).unwrap()),
            customer: Customer::new("Ana Díaz", Email::parse("ana@example.com").unwrap(), None)
                .unwrap(),
            destination: Address::new(
                "Ana",
                "1 Main St",
                None,
                "Springfield",
                None,
                "62701",
                "US",
                None,
            )
            .unwrap(),
            currency: usd,
            lines: vec![line("A", "v1"), line("B", "v2")],
            shipping: Money::zero(usd),
            tax: Money::zero(usd),
            discount: Money::zero(usd),
        };
        let id = OrderId::from_ulid(self.ids.next_ulid());
        Order::create(
            &mut self.tick(),
            id,
            scope.tenant().clone(),
            Subject::parse("staff-1").unwrap(),
            new,
        )
        .unwrap()
    }

    /// Creates and saves an order, with its audit record and events.
    pub async fn saved(
        &mut self,
        r: &Repos,
        scope: &TenantScope,
        external_ref: Option<&str>,
    ) -> app::ports::StoredOrder {
        let (order, events) = self.order(scope, external_ref);
        let audit = self.audit(scope, "createOrder", &order.id().to_string(), 1);
        r.orders
            .create(
                scope,
                &order,
                CommandWrite {
                    events: &events,
                    audit: Some(&audit),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        r.created(&order, Some(&audit))
    }
}
