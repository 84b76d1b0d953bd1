//! The admin socket's router: the transport vouches for the caller, so its requests need no
//! token — and the public router, given the same headers, grants nothing for them.

use std::sync::Arc;

use auth::VerifierConfig;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use store::ItemStore;
use store::cursor::{CursorKey, Cursors};
use tower::ServiceExt;

/// POSTs `query` with `headers` and no token: (status, body).
async fn post(router: &axum::Router, headers: &[(&str, &str)], query: &str) -> (u16, Value) {
    let mut req = axum::http::Request::post("/graphql").header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = axum::body::Body::from(json!({ "query": query }).to_string());
    let resp = router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn the_socket_vouches_and_the_public_router_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn domain::Clock> = Arc::new(domain::SystemClock);
    let store: Arc<dyn ItemStore> =
        Arc::new(store::embedded::EmbeddedStore::in_memory(clock.clone()).unwrap());
    let idp = auth::dev::DevIdp::load_or_generate(dir.path()).unwrap();
    let public = testkit::demo_router(
        store.clone(),
        clock.clone(),
        &idp,
        testkit::production_http(),
    )
    .await;
    let services = boot::services(
        store,
        clock,
        VerifierConfig::default(),
        Cursors::new(CursorKey::from_bytes(&[3; 32]).unwrap()),
        None,
    )
    .unwrap();
    let socket =
        http_edge::admin_socket_router(graphql::api_state(services), testkit::production_http());
    let as_demo = [
        (http_edge::ACTOR_HEADER, "cli:root"),
        (http_edge::TENANT_HEADER, "demo"),
    ];
    let as_platform = [(http_edge::ACTOR_HEADER, "cli:root")];

    // The public router: the headers are nobody's word.
    for headers in [&as_demo[..], &as_platform[..]] {
        let (status, body) = post(&public, headers, "{ viewer { tenant } }").await;
        assert_eq!(status, 401, "{body}");
        let (status, body) = post(&public, headers, "{ tenants { nodes { id } } }").await;
        assert_eq!(status, 401, "{body}");
    }

    // The socket: the platform admin by default, a tenant's admin when one is named.
    let (status, body) = post(&socket, &as_platform, "{ tenants { nodes { id } } }").await;
    assert_eq!(
        (status, &body["data"]["tenants"]["nodes"]),
        (200, &json!([{ "id": "demo" }])),
        "{body}"
    );
    let (_, body) = post(&socket, &as_demo, "{ viewer { tenant roles } }").await;
    assert_eq!(
        body["data"]["viewer"],
        json!({ "tenant": "demo", "roles": ["tenant-admin"] }),
        "{body}"
    );
    // A tenant's admin is not the platform, and the platform reads no tenant data.
    let (_, body) = post(&socket, &as_demo, "{ tenants { nodes { id } } }").await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let (_, body) = post(&socket, &as_platform, "{ viewer { tenant } }").await;
    assert!(body["errors"].is_array(), "{body}");

    // Plain refusals for what cannot be acted as.
    let (status, body) = post(
        &socket,
        &[
            (http_edge::ACTOR_HEADER, "cli:root"),
            (http_edge::TENANT_HEADER, "nosuch"),
        ],
        "{ viewer { tenant } }",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["message"], "no tenant nosuch", "{body}");
    let (_, body) = post(
        &socket,
        &as_platform,
        "mutation { suspendTenant(id: \"demo\") { userErrors { code } } }",
    )
    .await;
    assert_eq!(
        body["data"]["suspendTenant"]["userErrors"],
        json!([]),
        "{body}"
    );
    let (_, body) = post(&socket, &as_demo, "{ viewer { tenant } }").await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "TENANT_SUSPENDED",
        "{body}"
    );
}
