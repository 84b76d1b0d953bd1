//! Scale model (`make bench`): which DynamoDB partition keys a busy tenant's writes land on, and
//! how many listing shards keep every key under DynamoDB's 1,000 write units a second per
//! partition. Nothing here is a hand-written key: a sample of real operations runs through the
//! router, use cases and repositories over an in-memory store that records, for every item each
//! transaction wrote, its table key and its index keys with the write units they cost
//! (transactional table writes 2 per KB, index writes 1 per KB of the projected attributes).
//!
//! Workload: 1,000 tenants with Zipf(1) sizes, the largest at 10,000 order writes a second; a
//! write is a create (20 %) or one of the life-cycle commands (80 %: approve, pay, ship,
//! dispatch), orders spread over 8 vendors. The largest tenant is simulated at each shard count;
//! the others scale down with their share.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use auth::dev::DevIdp;
use domain::access::Role;
use serde_json::{Value, json};
use store::error::StoreResult;
use store::item::{Item, Key};
use store::port::{Page, Query, WriteAction};
use store::schema::{Index, projected};
use store::{Clock, ItemStore, SystemClock};

const LARGEST_TENANT_WRITES: f64 = 10_000.0;
const PARTITION_LIMIT: f64 = 1_000.0;
const TENANTS: usize = 1_000;
const SAMPLE_ORDERS: usize = 200;

/// A partition key ("table" or an index name, and the key).
type Partition = (String, String);

/// Write units by partition key, and which sample orders wrote to it.
#[derive(Default)]
struct Recorded {
    units: HashMap<Partition, (f64, HashSet<usize>)>,
    transactions: usize,
}

struct Recorder {
    inner: Arc<dyn ItemStore>,
    recorded: Mutex<Recorded>,
    /// The sample order the operations running now are about.
    current: AtomicUsize,
}

fn kb_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

#[async_trait]
impl ItemStore for Recorder {
    fn needs_outbox_pointers(&self) -> bool {
        // As on DynamoDB: the stream carries the outbox, no pending pointers are written.
        false
    }

    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.inner.get(key).await
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        self.inner.batch_get(keys).await
    }

    async fn query(&self, query: &Query) -> StoreResult<Page> {
        self.inner.query(query).await
    }

    async fn transact_write(&self, actions: Vec<WriteAction>) -> StoreResult<()> {
        let keys: Vec<Key> = actions
            .iter()
            .filter(|a| !matches!(a, WriteAction::Check { .. }))
            .map(|a| a.key())
            .collect::<StoreResult<_>>()?;
        self.inner.transact_write(actions).await?;
        let mut items = Vec::with_capacity(keys.len());
        for key in keys {
            items.push((self.inner.get(&key).await?, key));
        }
        let order = self.current.load(Ordering::SeqCst);
        let mut r = self.recorded.lock().unwrap();
        r.transactions += 1;
        let mut add = |partition: Partition, units: f64| {
            let e = r.units.entry(partition).or_default();
            e.0 += units;
            e.1.insert(order);
        };
        for (item, key) in items {
            let Some(item) = item else {
                add(("table".into(), key.pk.clone()), 2.0);
                continue;
            };
            add(
                ("table".into(), key.pk.clone()),
                2.0 * kb_units(item.size()),
            );
            for ix in Index::ALL {
                if let Some(ipk) = item.s(ix.pk_attr()) {
                    let bytes: usize = item
                        .0
                        .iter()
                        .filter(|(name, _)| projected(ix, name))
                        .map(|(name, v)| name.len() + v.size())
                        .sum();
                    add((ix.name().into(), ipk.to_owned()), kb_units(bytes));
                }
            }
        }
        Ok(())
    }
}

async fn post(router: &axum::Router, token: &str, query: &str, variables: Value) -> Value {
    let (status, body, text) = testkit::post_graphql(
        router,
        token,
        &[],
        json!({"query": query, "variables": variables}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(body["errors"].is_null(), "{text}");
    body["data"].clone()
}

/// One partition key, or a family of write-sharded keys (the same key but for its shard
/// number: `…#0003#`, and a vendor's shard 0, which has none), shown as `…#{shard}#`.
#[derive(Default)]
struct Family {
    /// Write units of all its keys in the sample.
    units: f64,
    /// The most any one of its keys took.
    hottest_key: f64,
    /// How many keys share its writes at volume (the shard count, or 1).
    keys: u32,
    /// The sample orders that wrote to it.
    orders: HashSet<usize>,
}

impl Family {
    /// What each of its keys takes at a busy tenant's volume: the shard is a uniform hash of
    /// the order id, so the family's writes spread evenly over its keys.
    fn per_key(&self) -> f64 {
        self.units / f64::from(self.keys)
    }
}

/// The sample's write units by key family; a family written by one order only (an order's own
/// item, say) sees that order's few writes however busy the tenant, and is left out.
fn families(units: &Recorded, shards: u32) -> HashMap<Partition, Family> {
    fn family(key: &str) -> Option<&str> {
        let body = key.strip_suffix('#')?;
        let (head, shard) = body.rsplit_once('#')?;
        (shard.len() == 4 && shard.bytes().all(|b| b.is_ascii_digit()))
            .then(|| &key[..head.len() + 1])
    }
    let sharded: HashSet<(String, String)> = units
        .units
        .keys()
        .filter_map(|(kind, key)| family(key).map(|f| (kind.clone(), f.to_owned())))
        .collect();
    let mut out: HashMap<Partition, Family> = HashMap::new();
    for ((kind, key), (u, orders)) in &units.units {
        let fam = family(key).map(str::to_owned).or_else(|| {
            sharded
                .contains(&(kind.clone(), key.clone()))
                .then(|| key.clone())
        });
        let (name, keys) = match fam {
            Some(f) => (format!("{f}{{shard}}#"), shards),
            None => (key.clone(), 1),
        };
        let e = out.entry((kind.clone(), name)).or_default();
        e.units += u;
        e.hottest_key = e.hottest_key.max(*u);
        e.keys = keys;
        e.orders.extend(orders);
    }
    out.retain(|_, f| f.orders.len() > 1);
    out
}

/// Runs the sample workload for the demo tenant with `shards` listing shards: the write units
/// of every partition key with the orders that wrote them, and the number of writes.
async fn sample(shards: u32) -> Recorded {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let inner: Arc<dyn ItemStore> =
        Arc::new(store::embedded::EmbeddedStore::in_memory(clock.clone()).unwrap());
    let recorder = Arc::new(Recorder {
        inner,
        recorded: Mutex::default(),
        current: AtomicUsize::new(0),
    });
    let dir = tempfile::tempdir().unwrap();
    let idp = DevIdp::load_or_generate(dir.path()).unwrap();
    let router = testkit::demo_router_sharded(
        recorder.clone(),
        clock.clone(),
        &idp,
        testkit::production_http(),
        shards,
    )
    .await;
    let token = testkit::demo_token(&idp, clock.as_ref(), Role::TenantAdmin);
    *recorder.recorded.lock().unwrap() = Recorded::default();
    let create = r#"mutation($v: String!) { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: $v, quantity: 2, unitPrice: "19.99"}, {sku: "B", vendor: $v, quantity: 1, unitPrice: "5.00"}]}) { order { id } userErrors { code message } } }"#;
    for n in 0..SAMPLE_ORDERS {
        recorder.current.store(n, Ordering::SeqCst);
        let vendor = format!("v{}", n % 8);
        let data = post(&router, &token, create, json!({"v": vendor})).await;
        let o = json!({"o": data["createOrder"]["order"]["id"]});
        post(
            &router,
            &token,
            "mutation($o: ID!) { approveOrder(orderId: $o) { userErrors { code } } }",
            o.clone(),
        )
        .await;
        post(&router, &token, "mutation($o: ID!) { markOrderPaid(orderId: $o, paymentReference: \"p\") { userErrors { code } } }", o.clone()).await;
        let data = post(&router, &token, "mutation($o: ID!) { createShipment(orderId: $o, input: {lines: [{sku: \"A\", quantity: 2}, {sku: \"B\", quantity: 1}]}) { shipment { id } userErrors { code } } }", o.clone()).await;
        let os = json!({"o": o["o"], "s": data["createShipment"]["shipment"]["id"]});
        post(&router, &token, "mutation($o: ID!, $s: ID!) { dispatchShipment(orderId: $o, shipmentId: $s, carrier: \"ups\", trackingNumber: \"1Z\") { userErrors { code } } }", os).await;
    }
    std::mem::take(&mut *recorder.recorded.lock().unwrap())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Zipf(1): tenant i writes LARGEST / i; the total is what the whole table takes.
    let total: f64 = (1..=TENANTS)
        .map(|i| LARGEST_TENANT_WRITES / i as f64)
        .sum();
    println!(
        "Scale model: {TENANTS} tenants, Zipf(1) sizes, the largest at {LARGEST_TENANT_WRITES:.0} order writes/s ({total:.0} writes/s in all)"
    );
    println!(
        "  {:>6}  {:>10}  {:<58} {:>9}",
        "shards", "shared WU/w", "hottest shared partition keys of the largest tenant", "WCU/s"
    );
    let mut needed = None;
    let mut rows = Vec::new();
    for shards in [1u32, 2, 4, 8, 16, 32] {
        let recorded = sample(shards).await;
        let writes = recorded.transactions;
        let families = families(&recorded, shards);
        let per_write: f64 = families.values().map(|f| f.units).sum::<f64>() / writes as f64;
        if families.is_empty() {
            println!("  {shards:>6}  no key is shared by two orders");
            rows.push(json!({"shards": shards, "hottest_wcu_per_s": 0.0}));
            needed.get_or_insert(shards);
            continue;
        }
        // Each key at volume; beside it, the sample's own hottest key, which shows the
        // unevenness of a 200-order draw (its hottest shard of 16 came out 950-1,050 WCU/s in
        // runs whose even share is 625).
        let scale = |u: f64| u / writes as f64 * LARGEST_TENANT_WRITES;
        let mut hot: Vec<(&(String, String), f64, f64)> = families
            .iter()
            .map(|(k, f)| (k, scale(f.per_key()), scale(f.hottest_key)))
            .collect();
        hot.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let ((kind, key), rate, sampled) = hot[0];
        let shown = format!("{kind} {key}");
        println!(
            "  {shards:>6}  {per_write:>10.1}  {shown:<58} {rate:>9.0}  (sample's hottest key {sampled:.0})"
        );
        rows.push(
            json!({"shards": shards, "shared_write_units_per_write": per_write,
                         "hottest_key": shown, "hottest_wcu_per_s": rate,
                         "sampled_hottest_key_wcu_per_s": sampled}),
        );
        for ((kind, key), rate, _) in hot.iter().skip(1).take(3) {
            println!(
                "  {:>6}  {:>10}  {:<58} {rate:>9.0}",
                "",
                "",
                format!("{kind} {key}")
            );
        }
        if needed.is_none() && rate <= PARTITION_LIMIT {
            needed = Some(shards);
        }
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("scale.json"),
        serde_json::to_string_pretty(&json!({
            "tenants": TENANTS, "largest_tenant_writes_per_s": LARGEST_TENANT_WRITES,
            "partition_limit_wcu_per_s": PARTITION_LIMIT, "total_writes_per_s": total,
            "by_shards": rows, "shards_needed": needed,
        }))
        .unwrap(),
    )
    .unwrap();
    match needed {
        Some(s) => println!(
            "  the largest tenant needs {s} listing shards to keep every key under {PARTITION_LIMIT:.0} WCU/s"
        ),
        None => println!(
            "  no shard count tried keeps every key under {PARTITION_LIMIT:.0} WCU/s: the hottest key is not a sharded one"
        ),
    }
}
