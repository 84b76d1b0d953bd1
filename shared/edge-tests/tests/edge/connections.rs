//! Every list is a Relay connection: paging forward by edge cursors through three pages returns
//! every row exactly once, each edge's cursor resumes right after its node, and `pageInfo` is
//! whole. The demo tenant's listings are spread over 4 shards, so cursors carry merged positions.

use std::sync::Arc;

use domain::access::Role;
use serde_json::{Value, json};

const CREATE: &str = r#"mutation { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 1, unitPrice: "10.00"}]}) { order { id } } }"#;

struct Env {
    router: axum::Router,
    idp: auth::dev::DevIdp,
    clock: Arc<dyn domain::Clock>,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock: Arc<dyn domain::Clock> = Arc::new(domain::SystemClock);
        let store: Arc<dyn store::ItemStore> =
            Arc::new(store::embedded::EmbeddedStore::in_memory(clock.clone()).unwrap());
        let idp = auth::dev::DevIdp::load_or_generate(dir.path()).unwrap();
        let router =
            testkit::demo_router_sharded(store, clock.clone(), &idp, testkit::production_http(), 4)
                .await;
        Self {
            router,
            idp,
            clock,
            _dir: dir,
        }
    }

    async fn post(&self, role: Role, query: &str, variables: Value) -> Value {
        let token = testkit::demo_token(&self.idp, self.clock.as_ref(), role);
        let (_, body, text) = testkit::post_graphql(
            &self.router,
            &token,
            &[],
            json!({ "query": query, "variables": variables }),
        )
        .await;
        assert!(body.get("errors").is_none(), "{text}");
        body
    }
}

/// Pages through `field` (`pointer` leads from `data` to the connection) `first` at a time by
/// the last edge's cursor; returns the pages' node ids and checks `pageInfo` on each page.
async fn page_through(
    env: &Env,
    role: Role,
    query: &str,
    vars: Value,
    pointer: &str,
    first: usize,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut v = vars.clone();
        v["first"] = json!(first);
        v["after"] = json!(after);
        let body = env.post(role, query, v).await;
        let conn = body["data"]
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{body}"));
        let edges = conn["edges"].as_array().unwrap();
        let ids: Vec<String> = edges
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        let nodes: Vec<String> = conn["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, nodes, "nodes are the edges' nodes");
        let info = &conn["pageInfo"];
        let cursors: Vec<&str> = edges
            .iter()
            .map(|e| e["cursor"].as_str().expect("every edge has a cursor"))
            .collect();
        assert_eq!(info["startCursor"].as_str(), cursors.first().copied());
        assert_eq!(info["endCursor"].as_str(), cursors.last().copied());
        assert_eq!(info["hasPreviousPage"], json!(after.is_some()), "{conn}");
        pages.push(ids);
        if info["hasNextPage"] == json!(true) {
            after = Some(info["endCursor"].as_str().unwrap().to_owned());
        } else {
            break;
        }
        assert!(pages.len() < 20, "paging does not end");
    }
    pages
}

fn assert_each_once(pages: &[Vec<String>], expected: &[String]) {
    let all: Vec<String> = pages.concat();
    assert_eq!(all, expected, "every item exactly once, in order");
    assert!(pages.len() >= 3, "{} pages", pages.len());
}

#[tokio::test]
async fn orders_page_by_edge_cursors_and_each_cursor_resumes_after_its_node() {
    let env = Env::new().await;
    let mut created = Vec::new();
    for _ in 0..7 {
        let body = env.post(Role::Staff, CREATE, json!({})).await;
        created.push(
            body["data"]["createOrder"]["order"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let query = "query($first: Int!, $after: String) { orders(first: $first, after: $after) { edges { cursor node { id } } nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let pages = page_through(&env, Role::Staff, query, json!({}), "/orders", 3).await;
    // Newest first; created within the same millisecond the ids (ULIDs) still order them.
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_each_once(&pages, &newest_first);
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [3, 3, 1],
        "{pages:?}"
    );

    // Any edge's cursor, not only the last, resumes right after its node.
    let body = env
        .post(Role::Staff, query, json!({ "first": 7, "after": null }))
        .await;
    let edges = body["data"]["orders"]["edges"].as_array().unwrap().clone();
    for (i, edge) in edges.iter().enumerate() {
        let next = env
            .post(
                Role::Staff,
                query,
                json!({ "first": 2, "after": edge["cursor"] }),
            )
            .await;
        let ids: Vec<&str> = next["data"]["orders"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = newest_first[i + 1..(i + 3).min(7)]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(ids, want, "after edge {i}");
    }
    // An edge cursor of one listing is refused by another.
    let status =
        "query($after: String) { orders(status: PENDING, after: $after) { nodes { id } } }";
    let token = testkit::demo_token(&env.idp, env.clock.as_ref(), Role::Staff);
    let (_, refused, text) = testkit::post_graphql(
        &env.router,
        &token,
        &[],
        json!({ "query": status, "variables": { "after": edges[0]["cursor"] } }),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "INVALID_INPUT",
        "{text}"
    );
}

#[tokio::test]
async fn an_orders_audit_log_pages_by_edge_cursors() {
    let env = Env::new().await;
    let body = env.post(Role::Staff, CREATE, json!({})).await;
    let id = body["data"]["createOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for reviewer in ["kim", "lee", "max"] {
        let assigned = env
            .post(
                Role::Staff,
                "mutation($id: ID!, $r: String!) { assignOrderReviewer(orderId: $id, reviewer: $r) { userErrors { code } } }",
                json!({ "id": id, "r": reviewer }),
            )
            .await;
        assert_eq!(
            assigned["data"]["assignOrderReviewer"]["userErrors"],
            json!([])
        );
    }
    let paid = env
        .post(
            Role::Staff,
            r#"mutation($id: ID!) { markOrderPaid(orderId: $id, paymentReference: "pay-1") { userErrors { code } } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(paid["data"]["markOrderPaid"]["userErrors"], json!([]));
    let query = "query($id: ID!, $first: Int!, $after: String) { orderAuditLog(orderId: $id, first: $first, after: $after) { edges { cursor node { id action } } nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let all = env
        .post(
            Role::Staff,
            query,
            json!({ "id": id, "first": 50, "after": null }),
        )
        .await;
    let actions: Vec<&str> = all["data"]["orderAuditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "createOrder",
            "assignOrderReviewer",
            "assignOrderReviewer",
            "assignOrderReviewer",
            "markOrderPaid"
        ]
    );
    let expected: Vec<String> = all["data"]["orderAuditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    let pages = page_through(
        &env,
        Role::Staff,
        query,
        json!({ "id": id }),
        "/orderAuditLog",
        2,
    )
    .await;
    assert_each_once(&pages, &expected);
}

#[tokio::test]
async fn the_tenant_audit_log_pages_by_edge_cursors() {
    let env = Env::new().await;
    for bps in 1..=7 {
        let set = env
            .post(
                Role::TenantAdmin,
                "mutation($bps: Int!) { updateTenantConfig(input: { restockingFeeBps: $bps }) { userErrors { code } } }",
                json!({ "bps": bps }),
            )
            .await;
        assert_eq!(set["data"]["updateTenantConfig"]["userErrors"], json!([]));
    }
    let query = "query($first: Int!, $after: String) { auditLog(first: $first, after: $after) { edges { cursor node { id action targetId } } nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let all = env
        .post(
            Role::TenantAdmin,
            query,
            json!({ "first": 50, "after": null }),
        )
        .await;
    let nodes = all["data"]["auditLog"]["edges"].as_array().unwrap();
    let targets: Vec<&str> = nodes
        .iter()
        .map(|e| e["node"]["targetId"].as_str().unwrap())
        .collect();
    // Newest first: the seven config versions written.
    assert_eq!(targets, ["7", "6", "5", "4", "3", "2", "1"], "{all}");
    let expected: Vec<String> = nodes
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    let pages = page_through(&env, Role::TenantAdmin, query, json!({}), "/auditLog", 3).await;
    assert_each_once(&pages, &expected);
}
