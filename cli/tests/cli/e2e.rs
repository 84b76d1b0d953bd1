//! End to end over real HTTP against a spawned `oms serve`, with `oms token` tokens.

use serde_json::{Value, json};

use crate::server::{ORDER_FIELDS, Reply, Server, create, create_order_mutation, order_input};

/// Runs `field(args) { order { … } userErrors { … } }` and returns the order, failing on errors.
async fn run(s: &Server, token: &str, call: &str) -> Value {
    let r = try_run(s, token, call, "order").await;
    assert!(r.body["errors"].is_null(), "{call}: {}", r.raw);
    let field = call.split('(').next().unwrap();
    let payload = &r.data()[field];
    assert_eq!(payload["userErrors"], json!([]), "{call}: {}", r.raw);
    payload["order"].clone()
}

async fn try_run(s: &Server, token: &str, call: &str, extra: &str) -> Reply {
    let selection = match extra {
        "shipment" => format!("order {{ {ORDER_FIELDS} }} shipment {{ id status }}"),
        "return" => format!("order {{ {ORDER_FIELDS} }} return {{ id status }}"),
        "tracking" => format!("order {{ {ORDER_FIELDS} }} ignored"),
        _ => format!("order {{ {ORDER_FIELDS} }}"),
    };
    s.gql(
        token,
        &format!("mutation {{ {call} {{ {selection} userErrors {{ code field message }} }} }}"),
        json!({}),
    )
    .await
}

fn line<'a>(order: &'a Value, sku: &str) -> &'a Value {
    order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sku"] == sku)
        .unwrap()
}

async fn shipment(s: &Server, token: &str, order: &str, lines: &str) -> String {
    let r = try_run(
        s,
        token,
        &format!("createShipment(orderId: \"{order}\", input: {{lines: [{lines}]}})"),
        "shipment",
    )
    .await;
    let id = r.data()["createShipment"]["shipment"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .to_owned();
    run(
        s,
        token,
        &format!("confirmShipment(orderId: \"{order}\", shipmentId: \"{id}\")"),
    )
    .await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_life_cycle() {
    let s = Server::start(&[]);
    let admin = s.token("demo", "tenant-admin", None);
    let staff = s.token("demo", "staff", None);

    // Tenant rules: 2.5 % restocking fee, refunds capped at 30.00 USD.
    let cfg = s.gql(&admin, "mutation { updateTenantConfig(input: {restockingFeeBps: 250, maxRefunds: [{amount: \"30.00\", currency: \"USD\"}]}) { tenantConfig { version restockingFeeBps } userErrors { code } } }", json!({})).await;
    assert_eq!(
        cfg.data()["updateTenantConfig"]["tenantConfig"]["version"],
        1,
        "{}",
        cfg.raw
    );

    let o = create(
        &s,
        &staff,
        Some("WEB-1001"),
        &[("A", "v1", 3, "11.00"), ("B", "v2", 2, "22.00")],
    )
    .await;
    let id = o["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (o["status"].as_str(), o["version"].as_u64()),
        (Some("PENDING"), Some(1))
    );
    assert_eq!(o["total"]["amount"], "83.00");

    let o = run(&s, &staff, &format!("approveOrder(orderId: \"{id}\")")).await;
    assert_eq!(o["status"], "CONFIRMED");
    let o = run(
        &s,
        &staff,
        &format!("markOrderPaid(orderId: \"{id}\", paymentReference: \"pi_123\")"),
    )
    .await;
    assert_eq!(
        (
            o["payment"]["status"].as_str(),
            o["payment"]["paid"]["amount"].as_str()
        ),
        (Some("PAID"), Some("83.00"))
    );

    // Two partial shipments.
    let s1 = shipment(&s, &staff, &id, "{sku: \"A\", quantity: 2}").await;
    let o = run(&s, &staff, &format!("dispatchShipment(orderId: \"{id}\", shipmentId: \"{s1}\", carrier: \"ups\", trackingNumber: \"1Z001\")")).await;
    assert_eq!(o["status"], "PARTIALLY_SHIPPED");
    assert_eq!(line(&o, "A")["dispatched"], 2);
    let s2 = shipment(
        &s,
        &staff,
        &id,
        "{sku: \"A\", quantity: 1}, {sku: \"B\", quantity: 2}",
    )
    .await;
    let r = try_run(&s, &staff, &format!("updateShipmentTracking(orderId: \"{id}\", shipmentId: \"{s2}\", status: IN_TRANSIT, carrier: \"ups\", trackingNumber: \"1Z002\")"), "tracking").await;
    assert_eq!(
        r.data()["updateShipmentTracking"]["order"]["status"],
        "SHIPPED",
        "{}",
        r.raw
    );

    // The second comes back to the sender and is re-shipped.
    let r = try_run(
        &s,
        &staff,
        &format!(
            "updateShipmentTracking(orderId: \"{id}\", shipmentId: \"{s2}\", status: RETURNED)"
        ),
        "tracking",
    )
    .await;
    let o = r.data()["updateShipmentTracking"]["order"].clone();
    assert_eq!(o["status"], "PARTIALLY_SHIPPED");
    assert_eq!(
        (
            line(&o, "B")["allocated"].as_u64(),
            line(&o, "B")["dispatched"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let s3 = shipment(
        &s,
        &staff,
        &id,
        "{sku: \"A\", quantity: 1}, {sku: \"B\", quantity: 2}",
    )
    .await;
    let o = run(
        &s,
        &staff,
        &format!("dispatchShipment(orderId: \"{id}\", shipmentId: \"{s3}\")"),
    )
    .await;
    assert_eq!(o["status"], "SHIPPED");

    // Delivered: one by tracking, one by hand; a late backwards update is ignored.
    let r = try_run(
        &s,
        &staff,
        &format!(
            "updateShipmentTracking(orderId: \"{id}\", shipmentId: \"{s1}\", status: DELIVERED)"
        ),
        "tracking",
    )
    .await;
    assert_eq!(
        r.data()["updateShipmentTracking"]["order"]["status"],
        "PARTIALLY_DELIVERED"
    );
    let o = run(
        &s,
        &staff,
        &format!("markShipmentDelivered(orderId: \"{id}\", shipmentId: \"{s3}\")"),
    )
    .await;
    assert_eq!(o["status"], "DELIVERED");
    assert_eq!(
        (
            line(&o, "A")["delivered"].as_u64(),
            line(&o, "B")["delivered"].as_u64()
        ),
        (Some(3), Some(2))
    );
    let version = o["version"].as_u64().unwrap();
    let r = try_run(
        &s,
        &staff,
        &format!(
            "updateShipmentTracking(orderId: \"{id}\", shipmentId: \"{s1}\", status: IN_TRANSIT)"
        ),
        "tracking",
    )
    .await;
    assert_eq!(r.data()["updateShipmentTracking"]["ignored"], true);
    assert_eq!(
        r.data()["updateShipmentTracking"]["order"]["version"].as_u64(),
        Some(version)
    );

    // Return, receive, refund: 33.00 gross, 0.82 fee (half-even), capped at 30.00.
    let r = try_run(&s, &staff, &format!("requestReturn(orderId: \"{id}\", lines: [{{sku: \"A\", quantity: 1}}, {{sku: \"B\", quantity: 1}}], reason: \"wrong colour\")"), "return").await;
    let ret = r.data()["requestReturn"]["return"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .to_owned();
    run(
        &s,
        &staff,
        &format!("approveReturn(orderId: \"{id}\", returnId: \"{ret}\")"),
    )
    .await;
    let o = run(
        &s,
        &staff,
        &format!("receiveReturn(orderId: \"{id}\", returnId: \"{ret}\")"),
    )
    .await;
    assert_eq!(line(&o, "A")["returned"], 1);
    let o = run(
        &s,
        &staff,
        &format!("refundReturn(orderId: \"{id}\", returnId: \"{ret}\")"),
    )
    .await;
    let refund = &o["refunds"][0];
    assert_eq!(
        (
            refund["gross"]["amount"].as_str(),
            refund["fee"]["amount"].as_str(),
            refund["amount"]["amount"].as_str()
        ),
        (Some("33.00"), Some("0.82"), Some("30.00"))
    );
    assert_eq!(refund["configVersion"], 1);
    assert_eq!(
        (
            o["payment"]["status"].as_str(),
            o["payment"]["refunded"]["amount"].as_str()
        ),
        (Some("PARTIALLY_REFUNDED"), Some("30.00"))
    );

    let o = run(&s, &staff, &format!("completeOrder(orderId: \"{id}\")")).await;
    assert_eq!(o["status"], "COMPLETED");

    // The audit log tells the same story, one record per command, versions rising by one.
    let log = s.gql(&staff, &format!("{{ orderAuditLog(orderId: \"{id}\", first: 100) {{ nodes {{ action version actor outcome }} }} }}"), json!({})).await;
    let nodes = log.data()["orderAuditLog"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let actions: Vec<&str> = nodes
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"createOrder"));
    assert_eq!(actions.last(), Some(&"completeOrder"));
    assert!(actions.contains(&"refundReturn") && actions.contains(&"updateShipmentTracking"));
    let versions: Vec<u64> = nodes
        .iter()
        .map(|n| n["version"].as_u64().unwrap())
        .collect();
    assert_eq!(
        versions,
        (1..=versions.len() as u64).collect::<Vec<_>>(),
        "one audit record per version"
    );
    assert!(
        nodes
            .iter()
            .all(|n| n["outcome"] == "SUCCESS" && n["actor"] == "dev-staff")
    );
    // And the order can be found by its external reference.
    let by_ref = s
        .gql(
            &staff,
            "{ orderByExternalRef(externalRef: \"WEB-1001\") { id status } }",
            json!({}),
        )
        .await;
    assert_eq!(by_ref.data()["orderByExternalRef"]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_roles_and_plans_are_enforced() {
    let s = Server::start(&[
        &["tenant", "create", "other"],
        &[
            "plan",
            "set",
            "noreturns",
            "--operations",
            "viewer,order,orders,createOrder,approveOrder,markOrderPaid,createShipment,confirmShipment,dispatchShipment,markShipmentDelivered",
        ],
        &["tenant", "create", "limited", "--plan", "noreturns"],
    ]);
    let staff = s.token("demo", "staff", None);
    let two = create(
        &s,
        &staff,
        Some("EXT-2V"),
        &[("A", "v1", 1, "10.00"), ("B", "v2", 1, "20.00")],
    )
    .await;
    let only_a = create(&s, &staff, Some("EXT-A"), &[("A", "v1", 1, "10.00")]).await;
    let (two_id, a_id) = (two["id"].as_str().unwrap(), only_a["id"].as_str().unwrap());

    // Vendor B cannot read or change vendor A's order: NOT_FOUND, not FORBIDDEN.
    let vb = s.token("demo", "vendor", Some("v2"));
    let r = s
        .gql(
            &vb,
            &format!("{{ order(id: \"{a_id}\") {{ id }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("NOT_FOUND"), "{}", r.raw);
    run(&s, &staff, &format!("approveOrder(orderId: \"{a_id}\")")).await;
    let r = try_run(
        &s,
        &vb,
        &format!(
            "createShipment(orderId: \"{a_id}\", input: {{lines: [{{sku: \"A\", quantity: 1}}]}})"
        ),
        "shipment",
    )
    .await;
    assert_eq!(r.code(), Some("NOT_FOUND"), "{}", r.raw);

    // A vendor on a two-vendor order sees only its lines, and no totals over the others'.
    let r = s.gql(&vb, &format!("{{ order(id: \"{two_id}\") {{ lines {{ sku vendor }} total {{ amount }} customer {{ name }} destination {{ city }} }} }}"), json!({})).await;
    let o = &r.data()["order"];
    assert_eq!(
        o["lines"],
        json!([{"sku": "B", "vendor": "v2"}]),
        "{}",
        r.raw
    );
    assert!(o["total"].is_null());
    assert_eq!(
        (
            o["customer"]["name"].as_str(),
            o["destination"]["city"].as_str()
        ),
        (Some("Ana Díaz"), Some("Springfield"))
    );
    // Its listing holds only orders with its lines.
    let r = s
        .gql(&vb, "{ orders(first: 10) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(
        r.data()["orders"]["nodes"],
        json!([{"id": two_id}]),
        "{}",
        r.raw
    );

    // Tenant B never sees tenant A's orders: not by id, not by external ref, not by cursor.
    let other = s.token("other", "tenant-admin", None);
    let r = s
        .gql(
            &other,
            &format!("{{ order(id: \"{two_id}\") {{ id }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("NOT_FOUND"));
    let r = s
        .gql(
            &other,
            "{ orderByExternalRef(externalRef: \"EXT-2V\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("NOT_FOUND"));
    let page = s
        .gql(
            &staff,
            "{ orders(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let cursor = page.data()["orders"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .gql(
            &other,
            "query($c: String) { orders(first: 1, after: $c) { nodes { id } } }",
            json!({"c": cursor}),
        )
        .await;
    assert_eq!(r.code(), Some("INVALID_INPUT"), "{}", r.raw);
    let r = s
        .gql(&other, "{ orders(first: 50) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(r.data()["orders"]["nodes"], json!([]));

    // Read-only cannot mutate: FORBIDDEN naming the operation, and the denial is audited.
    let ro = s.token("demo", "read-only", None);
    let r = try_run(
        &s,
        &ro,
        &format!("approveOrder(orderId: \"{two_id}\")"),
        "order",
    )
    .await;
    assert_eq!(r.code(), Some("FORBIDDEN"), "{}", r.raw);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("approveOrder")
    );
    let admin = s.token("demo", "tenant-admin", None);
    let audit = s
        .gql(
            &admin,
            "{ auditLog(first: 50) { nodes { action outcome reason actor } } }",
            json!({}),
        )
        .await;
    let denied = audit.data()["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| {
            n["action"] == "approveOrder" && n["outcome"] == "DENIED" && n["reason"] == "FORBIDDEN"
        });
    assert!(denied, "{}", audit.raw);

    // The audit log filters by actor and time window.
    let window = json!({"from": time_at(-3600), "to": time_at(60)});
    let q = "query($from: String, $to: String) { auditLog(actor: \"dev-read-only\", from: $from, to: $to) { nodes { action actor } } }";
    let by_actor = s.gql(&admin, q, window).await;
    assert_eq!(
        by_actor.data()["auditLog"]["nodes"],
        json!([{"action": "approveOrder", "actor": "dev-read-only"}]),
        "{}",
        by_actor.raw
    );
    let future = json!({"from": time_at(3600), "to": time_at(7200)});
    let none = s.gql(&admin, "query($from: String, $to: String) { auditLog(from: $from, to: $to) { nodes { action } } }", future).await;
    assert_eq!(none.data()["auditLog"]["nodes"], json!([]), "{}", none.raw);

    // A plan without returns cannot request one.
    let limited = s.token("limited", "staff", None);
    let o = create(&s, &limited, None, &[("A", "v1", 1, "10.00")]).await;
    let lid = o["id"].as_str().unwrap();
    run(&s, &limited, &format!("approveOrder(orderId: \"{lid}\")")).await;
    let r = try_run(
        &s,
        &limited,
        &format!(
            "requestReturn(orderId: \"{lid}\", lines: [{{sku: \"A\", quantity: 1}}], reason: \"x\")"
        ),
        "return",
    )
    .await;
    assert_eq!(r.code(), Some("FORBIDDEN"), "{}", r.raw);

    // Only the assigned reviewer can approve.
    let o = create(&s, &staff, None, &[("A", "v1", 1, "10.00")]).await;
    let rid = o["id"].as_str().unwrap();
    run(
        &s,
        &staff,
        &format!("assignOrderReviewer(orderId: \"{rid}\", reviewer: \"reviewer-1\")"),
    )
    .await;
    let r = try_run(
        &s,
        &staff,
        &format!("approveOrder(orderId: \"{rid}\")"),
        "order",
    )
    .await;
    assert_eq!(
        r.data()["approveOrder"]["userErrors"][0]["code"],
        "NOT_ASSIGNED_REVIEWER",
        "{}",
        r.raw
    );
    // No token at all: 401.
    let r = s
        .post(
            None,
            None,
            json!({"query": "{ viewer { tenant } }"}).to_string(),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, Some("UNAUTHENTICATED")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys() {
    let s = Server::start(&[]);
    let staff = s.token("demo", "staff", None);
    let q = create_order_mutation();
    let vars = order_input(None, &[("A", "v1", 1, "10.00")]);
    let first = s.gql_keyed(&staff, "key-1", &q, vars.clone()).await;
    let replay = s.gql_keyed(&staff, "key-1", &q, vars.clone()).await;
    assert_eq!(first.status, 200, "{}", first.raw);
    // The same data, byte for byte, with a fresh request id.
    let data = |raw: &str| raw.split(",\"extensions\"").next().unwrap().to_owned();
    assert_eq!(data(&first.raw), data(&replay.raw));
    assert_ne!(
        first.body["extensions"]["requestId"],
        replay.body["extensions"]["requestId"]
    );
    assert_eq!(replay.body["extensions"]["replayed"], true);
    let id = first.data()["createOrder"]["order"]["id"].as_str().unwrap();
    let log = s
        .gql(
            &staff,
            &format!("{{ orderAuditLog(orderId: \"{id}\") {{ nodes {{ action }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        log.data()["orderAuditLog"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "a replay wrote a second audit record"
    );

    // The same key with another body: conflict.
    let changed = s
        .gql_keyed(
            &staff,
            "key-1",
            &q,
            order_input(None, &[("A", "v1", 2, "10.00")]),
        )
        .await;
    assert_eq!(
        (changed.status, changed.code()),
        (409, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    // Another user's identical key and body is not a replay of the first user's response.
    let other = s.token("demo", "staff", None);
    let other = {
        let out = crate::server::oms(
            s.dir.path(),
            &[
                "token",
                "--tenant",
                "demo",
                "--role",
                "staff",
                "--subject",
                "someone-else",
            ],
        );
        let _ = other;
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let theirs = s.gql_keyed(&other, "key-1", &q, vars.clone()).await;
    assert!(
        theirs.body["extensions"]["replayed"].is_null(),
        "{}",
        theirs.raw
    );
    assert_ne!(
        theirs.data()["createOrder"]["order"]["id"],
        first.data()["createOrder"]["order"]["id"]
    );

    // Two concurrent identical requests: applied once; the other is a replay or a conflict.
    let (a, b) = tokio::join!(
        s.gql_keyed(&staff, "key-2", &q, vars.clone()),
        s.gql_keyed(&staff, "key-2", &q, vars.clone())
    );
    let ids: Vec<&Value> = [&a, &b]
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| &r.data()["createOrder"]["order"]["id"])
        .collect();
    assert!(!ids.is_empty());
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "two orders created: {} / {}",
        a.raw,
        b.raw
    );
    for r in [&a, &b] {
        assert!(r.status == 200 || r.code() == Some("CONFLICT"), "{}", r.raw);
    }
    // A keyed request with two mutation fields is refused.
    let two = "mutation { a: cancelOrder(orderId: \"x\") { order { id } } b: cancelOrder(orderId: \"y\") { order { id } } }";
    let r = s
        .post(
            Some(&staff),
            Some("key-3"),
            json!({"query": two}).to_string(),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, Some("IDEMPOTENCY_SINGLE_MUTATION"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_with_clear_errors() {
    let s = Server::start(&[]);
    let staff = s.token("demo", "staff", None);
    // Depth (introspection is on in dev mode; its types nest without end).
    let deep = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }";
    let r = s.gql(&staff, deep, json!({})).await;
    assert!(r.raw.contains("nested too deep"), "{}", r.raw);
    // Complexity: a page's weight is its size times what each row asks for. A full page of
    // summaries fits the bound (issue 10); three of them in one request do not.
    let page = "orders(first: 250) { nodes { id status createdAt updatedAt total { amount currency } customerName } }";
    let heavy = format!("{{ a: {page} b: {page} c: {page} }}");
    let heavy = heavy.as_str();
    let r = s.gql(&staff, heavy, json!({})).await;
    assert!(r.raw.contains("too complex"), "{}", r.raw);
    assert!(
        s.gql(
            &staff,
            "{ orders(first: 50) { nodes { id status } } }",
            json!({})
        )
        .await
        .body["errors"]
            .is_null()
    );
    // Aliases.
    let aliases = format!(
        "{{ {} }}",
        (0..31)
            .map(|i| format!("v{i}: viewer {{ tenant }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let r = s.gql(&staff, &aliases, json!({})).await;
    assert_eq!((r.status, r.code()), (400, Some("TOO_MANY_ALIASES")));
    // Batch size.
    let batch: Vec<Value> = (0..11)
        .map(|_| json!({"query": "{ viewer { tenant } }"}))
        .collect();
    let r = s
        .post(Some(&staff), None, Value::Array(batch).to_string())
        .await;
    assert_eq!((r.status, r.code()), (400, Some("BATCH_TOO_LARGE")));
    let ok_batch: Vec<Value> = (0..2)
        .map(|_| json!({"query": "{ viewer { tenant } }"}))
        .collect();
    let r = s
        .post(Some(&staff), None, Value::Array(ok_batch).to_string())
        .await;
    assert_eq!(r.body[1]["data"]["viewer"]["tenant"], "demo", "{}", r.raw);
    // Page size.
    let r = s
        .gql(&staff, "{ orders(first: 251) { nodes { id } } }", json!({}))
        .await;
    assert!(
        r.code() == Some("INVALID_INPUT") || r.raw.contains("too complex"),
        "{}",
        r.raw
    );
    // Body size.
    let big =
        json!({"query": format!("{{ viewer {{ tenant }} }} # {}", "x".repeat(70_000))}).to_string();
    let r = s.post(Some(&staff), None, big).await;
    assert_eq!((r.status, r.code()), (413, Some("BODY_TOO_LARGE")));
    // An oversized token is refused unread.
    let r = s
        .post(
            Some(&"x".repeat(9_000)),
            None,
            json!({"query": "{ viewer { tenant } }"}).to_string(),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, Some("UNAUTHENTICATED")));
    // Limits are checked before authentication: a limit error even with no token at all.
    let r = s
        .post(None, None, json!({"query": aliases}).to_string())
        .await;
    assert_eq!(r.code(), Some("TOO_MANY_ALIASES"));
    let r = s
        .post(None, None, json!({"query": heavy}).to_string())
        .await;
    assert!(r.raw.contains("too complex"), "{}", r.raw);
    // The same document again (now parsed once and cached) meets the same limits.
    let r = s.gql(&staff, &aliases, json!({})).await;
    assert_eq!((r.status, r.code()), (400, Some("TOO_MANY_ALIASES")));
    let r = s.gql(&staff, heavy, json!({})).await;
    assert!(r.raw.contains("too complex"), "{}", r.raw);
    // Directives on one field are bounded: 500 `@include(if: true)` is refused unrun.
    let directives = format!(
        "{{ viewer {} {{ tenant }} }}",
        "@include(if: true) ".repeat(500)
    );
    let r = s.gql(&staff, &directives, json!({})).await;
    assert!(r.body["data"].is_null(), "{}", r.raw);
    assert!(r.raw.contains("directives"), "{}", r.raw);
    // Tokens per document are bounded before parsing: 15,000 one-letter fields fit the body
    // limit (30 KB) and are refused unparsed.
    let tokens = format!("{{ {} }}", "a ".repeat(15_000));
    let r = s.gql(&staff, &tokens, json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (400, Some("TOO_MANY_TOKENS")),
        "{}",
        r.raw
    );
    let two = "{ viewer @include(if: true) @skip(if: false) { tenant } }";
    let r = s.gql(&staff, two, json!({})).await;
    assert_eq!(r.data()["viewer"]["tenant"], "demo", "{}", r.raw);
    // Only JSON bodies: a text/plain body (a cross-site "simple request") is refused unread.
    let query = json!({"query": "{ viewer { tenant } }"})
        .to_string()
        .into_bytes();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let (status, body) = s
            .post_raw(
                "/graphql",
                &[
                    ("authorization", format!("Bearer {staff}")),
                    ("content-type", content_type.to_owned()),
                ],
                query.clone(),
            )
            .await;
        assert_eq!(status, 415, "{content_type}: {body}");
        assert!(body.contains("UNSUPPORTED_MEDIA_TYPE"), "{body}");
    }
    let (status, _) = s
        .post_raw(
            "/graphql",
            &[("authorization", format!("Bearer {staff}"))],
            query.clone(),
        )
        .await;
    assert_eq!(status, 415, "no content type");
    let (status, body) = s
        .post_raw(
            "/graphql",
            &[
                ("authorization", format!("Bearer {staff}")),
                ("content-type", "application/json; charset=utf-8".to_owned()),
            ],
            query,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_shipments_never_over_allocate() {
    let s = Server::start(&[]);
    let staff = s.token("demo", "staff", None);
    let o = create(&s, &staff, None, &[("A", "v1", 40, "1.00")]).await;
    let id = o["id"].as_str().unwrap().to_owned();
    run(&s, &staff, &format!("approveOrder(orderId: \"{id}\")")).await;
    let mut tasks = Vec::new();
    let s = std::sync::Arc::new(s);
    for _ in 0..100 {
        let (s, staff, id) = (s.clone(), staff.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            try_run(&s, &staff, &format!("createShipment(orderId: \"{id}\", input: {{lines: [{{sku: \"A\", quantity: 1}}]}})"), "shipment").await
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        assert!(r.status < 500, "{}", r.raw);
        let errors = &r.data()["createShipment"]["userErrors"];
        if r.data()["createShipment"]["shipment"].is_object() {
            ok += 1;
        } else {
            let code = errors[0]["code"]
                .as_str()
                .or(r.code())
                .unwrap_or_default()
                .to_owned();
            assert!(
                matches!(
                    code.as_str(),
                    "QUANTITY_EXCEEDED" | "LIMIT_EXCEEDED" | "CONFLICT"
                ),
                "{}",
                r.raw
            );
            refused += 1;
        }
    }
    assert_eq!(ok + refused, 100);
    let r = s.gql(&staff, &format!("{{ order(id: \"{id}\") {{ lines {{ allocated due }} shipments {{ id }} version }} }}"), json!({})).await;
    let o = &r.data()["order"];
    let allocated = o["lines"][0]["allocated"].as_u64().unwrap();
    assert!(allocated <= 40);
    assert_eq!(
        allocated, ok,
        "every success allocated exactly one unit: no lost update"
    );
    assert_eq!(o["shipments"].as_array().unwrap().len() as u64, ok);
    assert_eq!(o["version"].as_u64().unwrap(), 2 + ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updated_after_returns_exactly_the_changed_orders_across_shards() {
    let s = Server::start(&[&["tenant", "create", "sharded", "--shards", "4"]]);
    let staff = s.token("sharded", "staff", None);
    let mut ids = Vec::new();
    for n in 0..8 {
        ids.push(
            create(
                &s,
                &staff,
                Some(&format!("S-{n}")),
                &[("A", "v1", 1, "1.00")],
            )
            .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let since = time_now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let changed: Vec<String> = ids.iter().step_by(3).cloned().collect();
    for id in &changed {
        run(&s, &staff, &format!("approveOrder(orderId: \"{id}\")")).await;
    }
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let r = s.gql(&staff, "query($t: String, $a: String) { orders(first: 2, updatedAfter: $t, after: $a) { nodes { id status } pageInfo { hasNextPage endCursor } } }", json!({"t": since, "a": after})).await;
        let c = &r.data()["orders"];
        got.extend(
            c["nodes"]
                .as_array()
                .unwrap_or_else(|| panic!("{}", r.raw))
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned()),
        );
        if c["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = c["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let mut want = changed.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

fn time_now() -> String {
    time_at(0)
}

/// RFC 3339 UTC for now plus `offset` seconds.
fn time_at(offset: i64) -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let secs = d.as_secs() as i64 + offset;
    let ms = d.subsec_millis();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_loses_nothing() {
    let mut s = Server::start(&[]);
    let staff = s.token("demo", "staff", None);
    let o = create(&s, &staff, Some("KEEP-1"), &[("A", "v1", 1, "1.00")]).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        s.wait().success(),
        "oms serve did not exit cleanly on SIGTERM"
    );
    // The store was closed cleanly (the admin CLI can open it) and the order is there after a
    // restart on the same data dir.
    let out = crate::server::oms(s.dir.path(), &["tenant", "show", "demo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = Server::restart(s);
    let staff = again.token("demo", "staff", None);
    let r = again
        .gql(
            &staff,
            "{ orderByExternalRef(externalRef: \"KEEP-1\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["orderByExternalRef"]["id"], o["id"], "{}", r.raw);
}
