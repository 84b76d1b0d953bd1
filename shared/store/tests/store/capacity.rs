//! Write units per command on DynamoDB Local (`ReturnConsumedCapacity=INDEXES`): the indexes
//! project only what a listing shows and changes with it, so a command that changes no listed
//! field writes only the change index (GSI3, whose key is the update time).

use app::ports::OrderStore;
use std::sync::Arc;

use app::ports::CommandWrite;
use domain::ids::Subject;
use store::TenantScope;
use store::dynamo::{CapacityLog, DynamoStore, WriteCapacity, local_config};

use crate::support::{Backend, Gen, dynamodb_endpoint, repos};

async fn backend(log: CapacityLog) -> Backend {
    let client = aws_sdk_dynamodb::Client::from_conf(local_config(&dynamodb_endpoint()).build());
    let clock = store::ManualClock::at(crate::support::NOW);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let table = format!("oms-wcu-{}-{nanos}", std::process::id());
    let store = DynamoStore::new(client, table, Arc::new(clock.clone())).with_capacity_log(log);
    store.create_table().await.unwrap();
    Backend {
        store: Arc::new(store),
        clock,
        requests: None,
        _dir: None,
    }
}

fn indexes(c: &WriteCapacity) -> Vec<&str> {
    c.indexes.iter().map(|(n, _)| n.as_str()).collect()
}

#[tokio::test]
async fn a_command_that_changes_no_listed_field_writes_only_the_change_index() {
    let log: CapacityLog = Arc::default();
    let b = backend(log.clone()).await;
    let r = repos(&b, 1);
    let scope = TenantScope::for_tests("wcu");
    let mut g = Gen::new();
    let created = g.saved(&r, &scope, None).await;
    let create = log.lock().unwrap().last().cloned().unwrap();

    // assignOrderReviewer: the order stays PENDING, its total and customer unchanged.
    let mut after = created.order.clone();
    let events = after
        .assign_reviewer(
            &mut g.tick(),
            &Subject::parse("staff-1").unwrap(),
            Subject::parse("rev-1").unwrap(),
            None,
        )
        .unwrap();
    let audit = g.audit(&scope, "assignOrderReviewer", &after.id().to_string(), 2);
    let write = CommandWrite {
        events: &events,
        audit: Some(&audit),
        ..Default::default()
    };
    r.orders
        .update(&scope, &created, &after, write)
        .await
        .unwrap();
    let updated = crate::support::updated(&created, &after, Some(&audit));
    let assign = log.lock().unwrap().last().cloned().unwrap();

    // approveOrder: the status changes, which every listing shows: all three are written.
    let mut approved = updated.order.clone();
    let events = approved
        .approve(&mut g.tick(), &Subject::parse("rev-1").unwrap(), None)
        .unwrap();
    let audit = g.audit(&scope, "approveOrder", &approved.id().to_string(), 3);
    let write = CommandWrite {
        events: &events,
        audit: Some(&audit),
        ..Default::default()
    };
    r.orders
        .update(&scope, &updated, &approved, write)
        .await
        .unwrap();
    let approve = log.lock().unwrap().last().cloned().unwrap();

    eprintln!("write units: create {create:?}\n  assign {assign:?}\n  approve {approve:?}");
    assert_eq!(indexes(&create), ["gsi1", "gsi2", "gsi3"], "{create:?}");
    assert_eq!(indexes(&assign), ["gsi3"], "{assign:?}");
    assert_eq!(indexes(&approve), ["gsi1", "gsi2", "gsi3"], "{approve:?}");
}
