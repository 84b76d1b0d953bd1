//! The operator's pages of `oms serve`. `GET /metrics`: the Prometheus text format, read back
//! with a parser of that format; its request counter is exactly the requests the test sent, by
//! operation and outcome, and no label names a tenant. `GET /status`: HTML Chromium renders,
//! showing the requests the test made. On the API's address both need a platform token; on
//! `--admin-listen` they need none.

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

    let url = format!("{}/metrics", server.base());
    let http = reqwest::Client::new();
    let refused = http.get(&url).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let refused = http.get(&url).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(
        refused.status().as_u16(),
        403,
        "a tenant's token reads no operator page"
    );
    let platform = server.token("demo", "platform-admin", None);
    let text = http
        .get(&url)
        .bearer_auth(&platform)
        .send()
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

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_the_requests_made_and_only_to_the_operator() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start_serving(tempfile::tempdir().unwrap(), &["--admin-listen", &listen]);
    let staff = server.token("demo", "staff", None);
    for _ in 0..5 {
        let r = server.gql(&staff, "{ viewer { tenant } }", json!({})).await;
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    let r = server.gql("nope", "{ viewer { tenant } }", json!({})).await;
    assert_eq!(r.status, 401, "{}", r.raw);

    // On the API's address: the platform role only.
    let http = reqwest::Client::new();
    let on_api = format!("{}/status", server.base());
    assert_eq!(
        http.get(&on_api).send().await.unwrap().status().as_u16(),
        401
    );
    let as_staff = http.get(&on_api).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(as_staff.status().as_u16(), 403);
    let platform = server.token("demo", "platform-admin", None);
    let page = http
        .get(&on_api)
        .bearer_auth(&platform)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("TenantOMS status"), "{html}");
    assert!(
        html.contains("<span id=\"requests-total\">6</span>"),
        "{html}"
    );

    // On --admin-listen, as Chromium renders it: the 6 requests, the one refusal by its code.
    let dom = crate::graphiql::dump_dom(&format!("http://{listen}/status"));
    assert!(
        dom.contains("<span id=\"requests-total\">6</span>"),
        "{dom}"
    );
    assert!(dom.contains("UNAUTHENTICATED"), "{dom}");
    assert!(dom.contains("viewer"), "{dom}");
    assert!(!dom.contains("demo"), "a tenant named on the page: {dom}");
    // No asset from anywhere: the page is one document.
    assert!(!dom.contains("src=") && !dom.contains("href="), "{dom}");
}
