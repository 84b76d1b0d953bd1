//! Handler tests: API Gateway HTTP API v2 events from `events/graphql/` through the function's
//! router (the functions' own edge, boot::http_edge), with a fresh dev token in place of `<token>`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use auth::dev::DevIdp;
use boot::lambda::{Function, LambdaConfig};
use domain::access::Role;
use domain::ids::TenantId;
use http_body_util::BodyExt;
use store::embedded::EmbeddedStore;
use store::{Clock, ItemStore, SystemClock};
use tower::ServiceExt;

/// The function's router over an embedded store holding tenant `demo` with the dev IdP.
async fn router(dir: &std::path::Path) -> (axum::Router, DevIdp) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: Arc<dyn ItemStore> = Arc::new(EmbeddedStore::in_memory(clock.clone()).unwrap());
    let idp = DevIdp::load_or_generate(dir).unwrap();
    let config = LambdaConfig::from_env(Function::Graphql, |k| match k {
        "TABLE_NAME" => Some("unused".into()),
        "OMS_CURSOR_KEY" => Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into()),
        _ => None,
    })
    .unwrap();
    let http = http_edge::HttpConfig::lambda(config.introspection);
    let router = testkit::demo_router(store, clock, &idp, http).await;
    (router, idp)
}

/// An event file as the function's edge reads it, with `<token>` replaced by a real one.
fn event(name: &str, token: &str) -> axum::http::Request<axum::body::Body> {
    let path = format!("{}/../../events/graphql/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("<token>", token);
    http_edge::lambda::request(serde_json::from_str(&text).unwrap()).unwrap()
}

async fn call(
    router: axum::Router,
    req: axum::http::Request<axum::body::Body>,
) -> (u16, serde_json::Value) {
    let resp = router.oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn token(idp: &DevIdp, role: Role) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    idp.mint(
        &TenantId::parse("demo").unwrap(),
        role,
        None,
        None,
        now,
        600,
    )
    .unwrap()
}

#[tokio::test]
async fn viewer_event() {
    let dir = tempfile::tempdir().unwrap();
    let (router, idp) = router(dir.path()).await;
    let (status, body) = call(router, event("viewer.json", &token(&idp, Role::Staff))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["viewer"]["tenant"], "demo");
    assert_eq!(
        body["data"]["viewer"]["roles"],
        serde_json::json!(["staff"])
    );
    assert!(
        body["data"]["viewer"]["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "createOrder")
    );
    assert!(body["extensions"]["requestId"].is_string());
}

#[tokio::test]
async fn create_order_event_with_its_idempotency_key() {
    let dir = tempfile::tempdir().unwrap();
    let (router, idp) = router(dir.path()).await;
    let t = token(&idp, Role::Staff);
    let (status, first) = call(router.clone(), event("create-order.json", &t)).await;
    assert_eq!(status, 200, "{first}");
    let order = &first["data"]["createOrder"]["order"];
    assert_eq!(
        first["data"]["createOrder"]["userErrors"],
        serde_json::json!([]),
        "{first}"
    );
    assert_eq!(
        (order["status"].as_str(), order["externalRef"].as_str()),
        (Some("PENDING"), Some("WEB-100045"))
    );
    // 2 × 19.99 + 12.50 + 5.00 + 4.20 − 2.00
    assert_eq!(order["total"]["amount"], "59.68");
    // The same event again is a replay of the same data.
    let (_, again) = call(router, event("create-order.json", &t)).await;
    assert_eq!(again["data"], first["data"]);
    assert_eq!(again["extensions"]["replayed"], true);
}

#[tokio::test]
async fn events_without_a_valid_token_are_401() {
    let dir = tempfile::tempdir().unwrap();
    let (router, _) = router(dir.path()).await;
    let (status, body) = call(router, event("viewer.json", "not-a-token")).await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[test]
fn introspection_is_off_unless_configured() {
    let read = |introspection: Option<&str>| {
        let config = LambdaConfig::from_env(Function::Graphql, |k| match k {
            "TABLE_NAME" => Some("t".into()),
            "OMS_CURSOR_KEY" => Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into()),
            "OMS_INTROSPECTION" => introspection.map(str::to_owned),
            _ => None,
        })
        .unwrap();
        http_edge::HttpConfig::lambda(config.introspection)
    };
    assert!(!read(None).limits.introspection);
    assert!(read(Some("true")).limits.introspection);
    assert!(!read(None).graphiql);
}

/// An invocation's metrics come out as CloudWatch Embedded Metric Format: each line a JSON
/// document whose `_aws` directive names the namespace, the dimension sets and the metrics,
/// each dimension and metric present beside it; the request's names its operation.
#[tokio::test]
async fn an_invocation_leaves_an_emf_line_naming_its_operation() {
    let metrics = telemetry::emf::Emf::install("graphql").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (router, idp) = router(dir.path()).await;
    let (status, body) = call(router, event("viewer.json", &token(&idp, Role::Staff))).await;
    assert_eq!(status, 200, "{body}");
    let mut out = Vec::new();
    metrics.flush_to(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();

    let mut request_docs = 0;
    for line in text.lines() {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].is_u64(), "{line}");
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert!(!directives.is_empty(), "{line}");
        for d in directives {
            assert_eq!(d["Namespace"], "TenantOMS", "{line}");
            for set in d["Dimensions"].as_array().unwrap() {
                for name in set.as_array().unwrap() {
                    assert!(doc[name.as_str().unwrap()].is_string(), "{name} in {line}");
                }
            }
            for m in d["Metrics"].as_array().unwrap() {
                let value = &doc[m["Name"].as_str().unwrap()];
                assert!(
                    value.is_number()
                        || value
                            .as_array()
                            .is_some_and(|v| v.iter().all(serde_json::Value::is_number)),
                    "{m} in {line}"
                );
            }
        }
        assert_eq!(doc["function"], "graphql", "{line}");
        if doc["operation"] == "viewer" && doc.get("oms_requests_total").is_some() {
            request_docs += 1;
            assert_eq!(doc["outcome"], "ok", "{line}");
            assert_eq!(doc["oms_requests_total"], 1, "{line}");
        }
        assert!(!line.contains("demo"), "a tenant in a metric: {line}");
    }
    assert_eq!(request_docs, 1, "{text}");
}
