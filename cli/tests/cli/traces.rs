//! Traces: `oms serve` with `OTEL_EXPORTER_OTLP_ENDPOINT` set exports its spans over OTLP/HTTP
//! to a receiver in this test. One `createOrder` is one trace: the request's span, the use
//! case's beneath it, the store's beneath that; and no token anywhere in what was exported.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// An OTLP/HTTP receiver: every body posted to `/v1/traces`, as JSON. Returns its base URL.
async fn receiver(seen: Arc<Mutex<Vec<String>>>) -> String {
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                ([("content-type", "application/json")], "{}")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Every span received: (trace id, span id, parent span id, name).
fn spans(bodies: &[String]) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for body in bodies {
        let v: Value = serde_json::from_str(body).unwrap();
        for rs in v["resourceSpans"].as_array().into_iter().flatten() {
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for s in ss["spans"].as_array().into_iter().flatten() {
                    let f = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
                    out.push((f("traceId"), f("spanId"), f("parentSpanId"), f("name")));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_mutation_is_one_trace_of_request_use_case_and_store_spans_without_a_token() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let endpoint = receiver(seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_oms"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OMS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = crate::server::printed_url(&mut child, "http://");
    let token = crate::server::oms(dir.path(), &["token", "--tenant", "demo"]);
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let r: Value = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({
            "query": crate::server::create_order_mutation(),
            "variables": crate::server::order_input(Some("T-1"), &[("A", "v1", 1, "10.00")]),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["data"]["createOrder"]["order"]["status"], "PENDING",
        "{r}"
    );

    // The batch goes out within its delay (100 ms here).
    let mut trace = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let all = spans(&seen.lock().unwrap());
        let Some(use_case) = all.iter().find(|s| s.3 == "createOrder") else {
            continue;
        };
        trace = all.iter().filter(|s| s.0 == use_case.0).cloned().collect();
        if trace.iter().any(|s| s.3.starts_with("store.")) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let by_name = |name: &str| {
        trace
            .iter()
            .find(|s| s.3 == name)
            .unwrap_or_else(|| panic!("no {name} span in {trace:?}"))
            .clone()
    };
    let request = by_name("POST /graphql");
    assert!(
        trace.iter().all(|s| s.3 != "request"),
        "the span naming the client's address was exported: {trace:?}"
    );
    let use_case = by_name("createOrder");
    assert!(
        request.2.is_empty(),
        "the request's span is the root: {trace:?}"
    );
    assert_eq!(use_case.2, request.1, "the use case is beneath the request");
    let store: Vec<_> = trace
        .iter()
        .filter(|s| s.3 == "store.transact_write")
        .collect();
    assert!(!store.is_empty(), "no store commit in {trace:?}");
    // Every span of the trace hangs off the request, through the use case.
    let ids: Vec<&str> = trace.iter().map(|s| s.1.as_str()).collect();
    for s in &trace {
        assert!(
            s.2.is_empty() || ids.contains(&s.2.as_str()),
            "{s:?} dangles in {trace:?}"
        );
    }
    assert_eq!(
        trace.iter().filter(|s| s.2.is_empty()).count(),
        1,
        "one root: {trace:?}"
    );
    // Nothing secret or personal was exported.
    let everything = seen.lock().unwrap().join("\n");
    assert!(!everything.contains(&token), "the token was exported");
    let signature = token.rsplit('.').next().unwrap();
    assert!(
        !everything.contains(signature),
        "the token's signature was exported"
    );
    assert!(
        !everything.contains("ana@example.com") && !everything.contains("T-1"),
        "{everything}"
    );
}
