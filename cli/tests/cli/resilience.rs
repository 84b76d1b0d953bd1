//! Resilience over real HTTP against `oms serve` (loopback, bounded): many clients on a few hot
//! orders lose no update; a SIGKILL mid-load loses no acknowledged write; a slow client does not
//! hold up the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::server::{Server, create, create_order_mutation, order_input};

const HOT_ORDERS: usize = 4;
const CLIENTS: usize = 200;
const ROUNDS: usize = 4;

/// Every audit record of an order.
async fn audit_count(s: &Server, token: &str, order: &str) -> usize {
    let mut count = 0;
    let mut after: Option<String> = None;
    loop {
        let r = s
            .gql(
                token,
                "query($o: ID!, $a: String) { orderAuditLog(orderId: $o, first: 100, after: $a) { nodes { id } pageInfo { hasNextPage endCursor } } }",
                json!({"o": order, "a": after}),
            )
            .await;
        let c = &r.data()["orderAuditLog"];
        count += c["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.raw))
            .len();
        if c["pageInfo"]["hasNextPage"] != true {
            return count;
        }
        after = c["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

/// 200 clients at once, each reading and cancelling one unit at a time on 4 hot orders: no
/// 5xx, and each order ends with exactly as many units cancelled, versions and audit records as
/// commands that were answered as applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_on_hot_orders_lose_no_update() {
    let s = Arc::new(Server::start(&[]));
    let staff = s.token("demo", "staff", None);
    let mut orders = Vec::new();
    for _ in 0..HOT_ORDERS {
        let order = create(&s, &staff, None, &[("HOT", "v1", 10_000, "1.00")]).await;
        orders.push(order["id"].as_str().unwrap().to_owned());
    }
    let applied: Arc<Vec<AtomicUsize>> =
        Arc::new((0..HOT_ORDERS).map(|_| AtomicUsize::new(0)).collect());
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (s, staff, orders, applied) =
            (s.clone(), staff.clone(), orders.clone(), applied.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let which = (client + round) % HOT_ORDERS;
                let order = &orders[which];
                if (client + round) % 3 == 0 {
                    let r = s
                        .gql(&staff, "query($o: ID!) { order(id: $o) { id version } }", json!({"o": order}))
                        .await;
                    assert_eq!(r.status, 200, "{}", r.raw);
                    assert_eq!(r.data()["order"]["id"], order.as_str(), "{}", r.raw);
                    continue;
                }
                let r = s
                    .gql(
                        &staff,
                        "mutation($o: ID!) { cancelOrderLines(orderId: $o, lines: [{sku: \"HOT\", quantity: 1}], reason: \"load\") { order { id } userErrors { code } } }",
                        json!({"o": order}),
                    )
                    .await;
                assert!(r.status < 500, "{}: {}", r.status, r.raw);
                if r.body["errors"].is_null() {
                    let payload = &r.data()["cancelOrderLines"];
                    assert_eq!(payload["userErrors"], json!([]), "{}", r.raw);
                    applied[which].fetch_add(1, Ordering::SeqCst);
                } else {
                    // A lost race is told as a conflict (the client retries), never half applied.
                    assert_eq!(r.code(), Some("CONFLICT"), "{}", r.raw);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut total = 0;
    for (which, order) in orders.iter().enumerate() {
        let applied = applied[which].load(Ordering::SeqCst);
        total += applied;
        let r = s
            .gql(
                &staff,
                "query($o: ID!) { order(id: $o) { version lines { cancelled due } } }",
                json!({"o": order}),
            )
            .await;
        let o = &r.data()["order"];
        assert_eq!(o["lines"][0]["cancelled"], applied, "{}", r.raw);
        assert_eq!(o["lines"][0]["due"], 10_000 - applied, "{}", r.raw);
        assert_eq!(o["version"], 1 + applied, "{}", r.raw);
        assert_eq!(audit_count(&s, &staff, order).await, 1 + applied, "{order}");
    }
    assert!(total > CLIENTS, "only {total} commands applied");
}

/// Writers creating orders as fast as they can; the server is killed with SIGKILL under them.
/// After a restart on the same data dir every order whose creation was acknowledged is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_load_loses_no_acknowledged_write() {
    let s = Arc::new(Server::start(&[]));
    let staff = s.token("demo", "staff", None);
    let acked: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..32 {
        let (s, staff, acked, stop) = (s.clone(), staff.clone(), acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let xref = format!("KILL-{w}-{n}");
                let Ok(r) = s
                    .try_gql(
                        &staff,
                        &create_order_mutation(),
                        order_input(Some(&xref), &[("A", "v1", 1, "1.00")]),
                    )
                    .await
                else {
                    return; // the server is gone: this write was never acknowledged
                };
                if let Some(id) = r.data()["createOrder"]["order"]["id"].as_str() {
                    acked.lock().unwrap().push((xref, id.to_owned()));
                }
            }
        }));
    }
    // Let the load build up, then kill the server without warning.
    let started = Instant::now();
    while acked.lock().unwrap().len() < 200 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-KILL", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 200,
        "only {} writes acknowledged",
        acked.len()
    );
    let s = Arc::into_inner(s).expect("every writer has finished");
    let again = Server::restart(s);
    let staff = again.token("demo", "staff", None);
    for (xref, id) in &acked {
        let r = again
            .gql(
                &staff,
                "query($x: String!) { orderByExternalRef(externalRef: $x) { id } }",
                json!({"x": xref}),
            )
            .await;
        assert_eq!(
            r.data()["orderByExternalRef"]["id"],
            id.as_str(),
            "{xref}: {}",
            r.raw
        );
    }
}

/// Clients that send headers and half a body, then stall, do not hold up anyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_block_others() {
    let s = Server::start(&[]);
    let staff = s.token("demo", "staff", None);
    let addr = s.base().trim_start_matches("http://").to_owned();
    let mut stalled = Vec::new();
    for _ in 0..50 {
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        conn.write_all(
            format!(
                "POST /graphql HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nauthorization: Bearer {staff}\r\ncontent-length: 1000\r\n\r\n{{\"query\": \"{{ vie"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        stalled.push(conn);
    }
    let started = Instant::now();
    for _ in 0..20 {
        let r = s.gql(&staff, "{ viewer { tenant } }", json!({})).await;
        assert_eq!(r.data()["viewer"]["tenant"], "demo", "{}", r.raw);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "20 requests took {:?} beside 50 stalled clients",
        started.elapsed()
    );
    drop(stalled);
}
