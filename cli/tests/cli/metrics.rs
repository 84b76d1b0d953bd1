//! `GET /metrics` of `oms serve`: the Prometheus text format, read back with a parser of that
//! format; its request counter is exactly the requests the test sent, by operation and
//! outcome, and no label names a tenant.

use serde_json::json;

use crate::server::Server;

#[tokio::test]
async fn metrics_count_every_request_by_operation_and_outcome_and_name_no_tenant() {
    let server = Server::start(&[]);
    let staff = server.token("demo", "staff", None);
    for _ in 0..7 {
        let r = server.gql(&staff, "{ viewer { tenant } }", json!({})).await;
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    for _ in 0..3 {
        let r = server
            .gql("not-a-token", "{ viewer { tenant } }", json!({}))
            .await;
        assert_eq!(r.status, 401, "{}", r.raw);
    }
    let r = server
        .gql(
            &staff,
            "{ order(id: \"01HZZZZZZZZZZZZZZZZZZZZZZZ\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);

    let text = reqwest::get(format!("{}/metrics", server.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not the Prometheus text format: {e}\n{text}"));
    let requests = |operation: &str, outcome: &str| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == "oms_requests_total")
            .filter(|s| s.labels.get("operation") == Some(operation))
            .filter(|s| s.labels.get("outcome") == Some(outcome))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
                ref other => panic!("{other:?}"),
            })
            .sum()
    };
    assert_eq!(requests("viewer", "ok"), 7.0, "{text}");
    assert_eq!(requests("viewer", "UNAUTHENTICATED"), 3.0, "{text}");
    assert_eq!(requests("order", "NOT_FOUND"), 1.0, "{text}");
    // Every request has its latency observation.
    let latency_count: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "oms_request_duration_seconds_count")
        .filter(|s| s.labels.get("operation") == Some("viewer"))
        .map(|s| match s.value {
            prometheus_parse::Value::Untyped(v) | prometheus_parse::Value::Counter(v) => v,
            ref other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(latency_count, 10.0, "{text}");
    // Caches and the store commit are measured too; nothing is labelled with a tenant.
    assert!(
        text.contains("oms_cache_lookups_total{cache=\"token\",result=\"hit\"}"),
        "{text}"
    );
    assert!(text.contains("oms_store_commit_duration_seconds"), "{text}");
    for s in &scrape.samples {
        assert!(s.labels.get("tenant").is_none(), "{s:?}");
        assert!(!format!("{:?}", s.labels).contains("demo"), "{s:?}");
    }
}
