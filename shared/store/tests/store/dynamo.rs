//! DynamoDB-only behaviour: error mapping from recorded responses, and request counts.

use app::ports::OrderStore;
use std::sync::Arc;

use store::dynamo::{DynamoStore, local_config};
use store::{CancelReason, Item, ItemStore, Key, ManualClock, Query, StoreError, WriteAction};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Backend, NOW};

/// A response DynamoDB sends when another transaction holds one of the items. DynamoDB Local
/// never sends it, so it is replayed from this recording.
const TRANSACTION_CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]","CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#;

const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;

/// Serves one recorded HTTP response to every request on a loopback port.
async fn replay(status: &'static str, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the headers and the body the Content-Length announces.
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: REPLAY\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

fn store_at(endpoint: &str) -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::from_conf(local_config(endpoint).build());
    DynamoStore::new(client, "replayed", Arc::new(ManualClock::at(NOW)))
}

fn put(sk: &str) -> WriteAction {
    WriteAction::put(Item::with_key(&Key {
        pk: "P#".into(),
        sk: sk.into(),
    }))
}

#[tokio::test]
async fn transaction_conflict_is_mapped_per_action() {
    let store = store_at(&replay("400 Bad Request", TRANSACTION_CONFLICT).await);
    let err = store
        .transact_write(vec![put("a"), put("b")])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Cancelled {
            index: 1,
            reason: CancelReason::Conflict
        }
    );
}

#[tokio::test]
async fn throttling_is_its_own_error() {
    let store = store_at(&replay("400 Bad Request", THROTTLED).await);
    assert_eq!(
        store
            .get(&Key {
                pk: "P#".into(),
                sk: "a".into()
            })
            .await
            .unwrap_err(),
        StoreError::Throttled
    );
}

#[test]
fn cancellation_reasons_map_to_the_first_failing_action() {
    use store::dynamo::cancellation;
    let r = |c: &str| (Some(c.to_owned()), None);
    assert_eq!(
        cancellation(&[
            r("None"),
            r("ConditionalCheckFailed"),
            r("TransactionConflict")
        ]),
        StoreError::Cancelled {
            index: 1,
            reason: CancelReason::ConditionFailed
        }
    );
    assert!(matches!(
        cancellation(&[r("ValidationError")]),
        StoreError::Cancelled {
            index: 0,
            reason: CancelReason::Other(_)
        }
    ));
    assert!(matches!(cancellation(&[r("None")]), StoreError::Backend(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_port_call_is_one_request() {
    let b = Backend::dynamodb().await;
    let counter = b.requests.clone().unwrap();
    b.store
        .transact_write(vec![put("a"), put("b")])
        .await
        .unwrap();
    b.store
        .get(&Key {
            pk: "P#".into(),
            sk: "a".into(),
        })
        .await
        .unwrap();
    b.store
        .batch_get(&[
            Key {
                pk: "P#".into(),
                sk: "a".into(),
            },
            Key {
                pk: "P#".into(),
                sk: "b".into(),
            },
        ])
        .await
        .unwrap();
    b.store.query(&Query::partition("P#", 10)).await.unwrap();
    assert_eq!(
        counter.take(),
        ["TransactWriteItems", "GetItem", "BatchGetItem", "Query"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_commands_and_queries_cost_one_request_each() {
    use app::ports::{CommandWrite, OrderListing, PageRequest};
    use store::TenantScope;

    let b = Backend::dynamodb().await;
    let counter = b.requests.clone().unwrap();
    let r = crate::support::repos(&b, 4);
    let scope = TenantScope::for_tests("acme");
    let mut g = crate::support::Gen::new();

    let (order, events) = g.order(&scope, Some("EXT-1"));
    let audit = g.audit(&scope, "createOrder", "o", 1);
    r.orders
        .create(
            &scope,
            &order,
            CommandWrite {
                events: &events,
                audit: Some(&audit),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let stored = r.created(&order, Some(&audit));
    assert_eq!(counter.take(), ["TransactWriteItems"], "save new order");

    let loaded = r.orders.load(&scope, order.id()).await.unwrap().unwrap();
    assert_eq!(counter.take(), ["GetItem"], "load");
    assert_eq!(loaded, stored);

    let (with_cfg, _) = r.orders.load_with_config(&scope, order.id()).await.unwrap();
    assert!(with_cfg.is_some());
    assert_eq!(counter.take(), ["BatchGetItem"], "load with config");

    let mut after = loaded.order.clone();
    let events = after
        .approve(
            &mut g.tick(),
            &domain::ids::Subject::parse("staff-1").unwrap(),
            None,
        )
        .unwrap();
    let audit = g.audit(&scope, "approveOrder", "o", 2);
    r.orders
        .update(
            &scope,
            &loaded,
            &after,
            CommandWrite {
                events: &events,
                audit: Some(&audit),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(counter.take(), ["TransactWriteItems"], "update");

    r.orders
        .list(
            &scope,
            &OrderListing::ByCreated {
                from: None,
                to: None,
            },
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(counter.take(), ["Query"; 4], "list over 4 shards");
    r.orders
        .list_by_vendor(
            &scope,
            &domain::ids::VendorId::parse("v1").unwrap(),
            &app::ports::OrderListing::ByCreated {
                from: None,
                to: None,
            },
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(counter.take(), ["Query"; 4], "vendor list over 4 shards");
}

/// `oms table create`: a missing table is created with its indexes, stream and TTL; the same
/// again changes nothing; a table with another definition is left untouched and its
/// differences named.
#[tokio::test]
async fn ensure_table_creates_checks_and_never_alters() {
    use store::dynamo::{DynamoStore, TableOutcome, local_config};
    let client = aws_sdk_dynamodb::Client::from_conf(
        local_config(&crate::support::dynamodb_endpoint()).build(),
    );
    let clock = std::sync::Arc::new(store::ManualClock::at(crate::support::NOW));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("oms-ensure-{}-{nanos}", std::process::id());
    let store = DynamoStore::new(client.clone(), name.clone(), clock.clone());
    assert_eq!(store.ensure_table().await.unwrap(), TableOutcome::Created);
    assert_eq!(
        store.ensure_table().await.unwrap(),
        TableOutcome::AlreadyMatches
    );

    // A table made by hand with the keys only.
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let other = format!("oms-other-{}-{nanos}", std::process::id());
    let mut req = client
        .create_table()
        .table_name(&other)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, kind) in [("pk", KeyType::Hash), ("sk", KeyType::Range)] {
        req = req
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .unwrap(),
            );
    }
    req.send().await.unwrap();
    let hand_made = DynamoStore::new(client.clone(), other.clone(), clock);
    let err = hand_made.ensure_table().await.unwrap_err().to_string();
    for expected in [
        "index gsi1 is missing",
        "index gsi3 is missing",
        "NEW_IMAGE",
        "TTL",
    ] {
        assert!(err.contains(expected), "{expected} not in: {err}");
    }
    let after = client
        .describe_table()
        .table_name(&other)
        .send()
        .await
        .unwrap();
    assert!(
        after.table().unwrap().global_secondary_indexes().is_empty(),
        "left untouched"
    );
}
