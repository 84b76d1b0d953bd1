//! The outbox relay under fault injection: a process killed between commit and publish loses
//! nothing, and a bus that fails every third call still gets every event, in order per order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use app::{App, OrderRef, RequestCtx, SystemIds, UnitOfWork};
use auth::{Caller, Identity};
use domain::access::{Plan, Role};
use domain::events::DomainEvent;
use domain::ids::PlanName;
use domain::{IdSource, ManualClock};
use events::relay::OutboxRelay;
use events::{FlakyBus, InProcessBus};
use store::cursor::{CursorKey, Cursors};
use store::embedded::EmbeddedStore;
use store::{FixedShards, ItemStore};

use domain::sample::new_order;

/// Commits 3 orders and approves 2 of them: 5 commands, 5 outbox items.
async fn commit_commands(store: Arc<dyn ItemStore>, clock: &ManualClock) -> usize {
    let ids: Arc<Mutex<dyn IdSource + Send>> = Arc::new(Mutex::new(SystemIds));
    let app = App::new(
        store::repo::repositories(
            store,
            Arc::new(FixedShards::new(1)),
            Cursors::new(CursorKey::from_bytes(&[6; 32]).unwrap()),
        ),
        ids,
        Arc::new(clock.clone()),
    );
    let plan = Plan::everything(PlanName::parse("gold").unwrap());
    let rc = RequestCtx {
        caller: Caller::Tenant(Identity::for_tests(
            "acme",
            "staff-1",
            &[Role::Staff],
            None,
            plan,
        )),
        request_id: "r".into(),
    };
    let uow = UnitOfWork::immediate();
    for i in 0..3 {
        let o = app
            .create_order(&rc, &uow, new_order(&format!("R-{i}")))
            .await
            .unwrap();
        if i < 2 {
            app.approve_order(&rc, &uow, OrderRef::new(o.id(), None), None)
                .await
                .unwrap();
        }
    }
    5
}

/// Every order's aggregate versions, as first seen on the bus, and how many distinct events.
fn seen(events: &[DomainEvent]) -> (BTreeMap<String, Vec<u64>>, usize) {
    let mut ids = BTreeSet::new();
    let mut per_order: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in events {
        if ids.insert(e.event_id.to_string()) {
            let versions = per_order.entry(e.order_id.to_string()).or_default();
            if versions.last() != Some(&e.aggregate_version) {
                versions.push(e.aggregate_version);
            }
        }
    }
    (per_order, ids.len())
}

fn assert_in_order(per_order: &BTreeMap<String, Vec<u64>>) {
    assert_eq!(per_order.len(), 3, "{per_order:?}");
    let mut shapes: Vec<Vec<u64>> = per_order.values().cloned().collect();
    shapes.sort();
    assert_eq!(
        shapes,
        [vec![1], vec![1, 2], vec![1, 2]],
        "versions in order, none missing"
    );
}

#[tokio::test]
async fn a_kill_between_commit_and_publish_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let clock = ManualClock::at(1_795_478_400);
    {
        // Commits, then the process "dies": no relay ever ran.
        let store: Arc<dyn ItemStore> =
            Arc::new(EmbeddedStore::open(&path, Arc::new(clock.clone())).unwrap());
        commit_commands(store, &clock).await;
    }
    // Restart: a new store over the same file, and the relay.
    let store: Arc<dyn ItemStore> =
        Arc::new(EmbeddedStore::open(&path, Arc::new(clock.clone())).unwrap());
    let bus = Arc::new(InProcessBus::default());
    let relay = OutboxRelay::new(store, bus.clone());
    let first = relay.pass(100).await.unwrap();
    assert_eq!(first.published, 5);
    assert_eq!(relay.pass(100).await.unwrap().published, 0, "nothing left");
    let published = bus.published();
    let (per_order, distinct) = seen(&published);
    assert_eq!(
        distinct,
        published.len(),
        "each event once when nothing fails"
    );
    assert_in_order(&per_order);
}

#[tokio::test]
async fn a_bus_failing_every_third_call_still_gets_every_event_in_order() {
    let clock = ManualClock::at(1_795_478_400);
    let store: Arc<dyn ItemStore> =
        Arc::new(EmbeddedStore::in_memory(Arc::new(clock.clone())).unwrap());
    let commands = commit_commands(store.clone(), &clock).await;
    // Every third publish call is refused.
    let bus = Arc::new(FlakyBus::new(|n| n % 3 == 2));
    let relay = OutboxRelay::new(store, bus.clone());
    let mut published = 0;
    for _ in 0..50 {
        let pass = relay.pass(100).await.unwrap();
        published += pass.published;
        if pass.published == 0 && !pass.blocked {
            break;
        }
    }
    assert_eq!(published, commands, "every outbox item went out");
    assert!(bus.calls() > commands, "failures were injected");
    // The consumer dedupes by event id: each applied once, every order's versions in order.
    let (per_order, _) = seen(&bus.inner.published());
    assert_in_order(&per_order);
}
