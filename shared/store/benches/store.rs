//! Store latency (`make bench`): a get and a three-action transaction, on the embedded store (a
//! redb file, fsync per commit) and on DynamoDB Local (HTTP on loopback).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use store::dynamo::{DynamoStore, local_client};
use store::embedded::EmbeddedStore;
use store::{Condition, Item, ItemStore, Key, SystemClock, WriteAction};

fn endpoint() -> String {
    std::env::var("OMS_DYNAMODB_ENDPOINT")
        .expect("OMS_DYNAMODB_ENDPOINT is unset: run `make bench`, which starts DynamoDB Local")
}

fn order_like(pk: &str, version: i64) -> Item {
    let mut item = Item::with_key(&Key {
        pk: pk.into(),
        sk: "ORDER".into(),
    });
    item.set("version", version)
        .set("data", "x".repeat(4_000))
        .set("status", "PENDING");
    item
}

fn bench_store(
    c: &mut Criterion,
    name: &str,
    store: Arc<dyn ItemStore>,
    rt: &tokio::runtime::Runtime,
) {
    rt.block_on(store.transact_write(vec![WriteAction::put(order_like("BENCH#get#", 1))]))
        .unwrap();
    let key = Key {
        pk: "BENCH#get#".into(),
        sk: "ORDER".into(),
    };
    c.bench_function(&format!("{name}/get"), |b| {
        b.iter(|| rt.block_on(store.get(&key)).unwrap())
    });
    let n = AtomicU64::new(0);
    c.bench_function(
        &format!("{name}/transaction (order + audit + outbox)"),
        |b| {
            b.iter(|| {
                let i = n.fetch_add(1, Ordering::SeqCst);
                let pk = format!("BENCH#tx{i}#");
                let mut audit = Item::with_key(&Key {
                    pk: pk.clone(),
                    sk: "AUDIT#1".into(),
                });
                audit.set("data", "a".repeat(300));
                let mut outbox = Item::with_key(&Key {
                    pk: pk.clone(),
                    sk: "EVT#0000000001".into(),
                });
                outbox.set("events", "e".repeat(600));
                rt.block_on(store.transact_write(vec![
                    WriteAction::put_if(order_like(&pk, 1), Condition::Absent),
                    WriteAction::put_if(audit, Condition::Absent),
                    WriteAction::put_if(outbox, Condition::Absent),
                ]))
                .unwrap()
            })
        },
    );
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let embedded =
        EmbeddedStore::open(&dir.path().join("bench.redb"), Arc::new(SystemClock)).unwrap();
    bench_store(c, "embedded", Arc::new(embedded), &rt);

    let dynamo = DynamoStore::new(
        local_client(&endpoint()),
        format!("bench-{}", std::process::id()),
        Arc::new(SystemClock),
    );
    rt.block_on(dynamo.create_table()).unwrap();
    bench_store(c, "dynamodb-local", Arc::new(dynamo), &rt);
}

criterion_group!(store_benches, benches);
criterion_main!(store_benches);
