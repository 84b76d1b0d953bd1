//! Tenant API keys through the router: created by a tenant admin, used as `Authorization:
//! Bearer <key>` or `X-API-Key`, refused with a stable code when revoked, expired, not yet
//! valid, altered, truncated, another tenant's or its tenant suspended; revoked at once in the
//! serving process and within the directory's TTL in another; the key's text nowhere but in
//! the create answer.

use std::sync::Arc;

use auth::dev::DevIdp;
use domain::access::Role;
use domain::ids::{PlanName, Subject, TenantId};
use domain::tenant::TenantStatus;
use domain::{Clock, ManualClock, Timestamp};
use http_body_util::BodyExt;
use store::ItemStore;
use store::embedded::EmbeddedStore;
use tower::ServiceExt;

const CREATE_ORDER: &str = r#"mutation { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 2, unitPrice: "19.99"}]}) { order { id } userErrors { code message } } }"#;

/// The demo tenant (and tenant `other`) over a redb file, two routers over it (two processes),
/// each reading the same manual clock.
struct Env {
    store: Arc<dyn ItemStore>,
    one: axum::Router,
    two: axum::Router,
    idp: DevIdp,
    clock: ManualClock,
    dir: tempfile::TempDir,
}

const NOW_MS: i64 = 1_780_000_000_000;

impl Env {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at(NOW_MS / 1_000);
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let store: Arc<dyn ItemStore> =
            Arc::new(EmbeddedStore::open(&dir.path().join("store.redb"), shared.clone()).unwrap());
        let idp = DevIdp::load_or_generate(dir.path()).unwrap();
        let one = testkit::demo_router(
            store.clone(),
            shared.clone(),
            &idp,
            testkit::production_http(),
        )
        .await;
        let two = testkit::router_over(store.clone(), shared, testkit::production_http(), None);
        let env = Self {
            store,
            one,
            two,
            idp,
            clock,
            dir,
        };
        env.platform()
            .create_tenant(
                &TenantId::parse("other").unwrap(),
                "Other",
                &PlanName::parse("demo").unwrap(),
                1,
            )
            .await
            .unwrap();
        env
    }

    fn platform(&self) -> app::platform::Platform {
        app::platform::Platform::new(
            store::repo::platform_repositories(self.store.clone()),
            Arc::new(self.clock.clone()),
            Subject::parse("cli:test").unwrap(),
            Some(app::platform::DevSetup {
                data_dir: self.dir.path().to_owned(),
            }),
        )
    }

    fn token(&self, tenant: &str, role: Role) -> String {
        self.idp
            .mint(
                &TenantId::parse(tenant).unwrap(),
                role,
                None,
                None,
                self.clock.now_secs(),
                3_600,
            )
            .unwrap()
    }

    /// A key of `tenant` created by its admin through `one`: (id, text, whole answer).
    async fn create_key(&self, tenant: &str, input: &str) -> (String, String, String) {
        let q = format!(
            "mutation {{ createApiKey(input: {input}) {{ apiKey {{ id prefix name role effective }} secret userErrors {{ code message }} }} }}"
        );
        let (status, body, text) = call(
            &self.one,
            Auth::Bearer(&self.token(tenant, Role::TenantAdmin)),
            &[],
            &q,
        )
        .await;
        assert_eq!(status, 200, "{text}");
        let p = &body["data"]["createApiKey"];
        assert_eq!(p["userErrors"], serde_json::json!([]), "{text}");
        (
            p["apiKey"]["id"].as_str().unwrap().to_owned(),
            p["secret"].as_str().unwrap().to_owned(),
            text,
        )
    }
}

enum Auth<'a> {
    Bearer(&'a str),
    Header(&'a str),
}

async fn call(
    router: &axum::Router,
    auth: Auth<'_>,
    headers: &[(&str, &str)],
    query: &str,
) -> (u16, serde_json::Value, String) {
    let mut req = axum::http::Request::post("/graphql").header("content-type", "application/json");
    req = match auth {
        Auth::Bearer(t) => req.header("authorization", format!("Bearer {t}")),
        Auth::Header(k) => req.header("x-api-key", k),
    };
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = serde_json::json!({ "query": query }).to_string();
    let resp = router
        .clone()
        .oneshot(req.body(axum::body::Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or_default(),
        text,
    )
}

fn code(body: &serde_json::Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

fn at(ms: i64) -> String {
    Timestamp::from_unix_millis(ms).unwrap().to_rfc3339()
}

const STAFF: &str = r#"{name: "ERP", role: STAFF}"#;

#[tokio::test]
async fn a_key_creates_and_reads_orders_as_its_role() {
    let env = Env::new().await;
    let (id, key, _) = env.create_key("demo", STAFF).await;
    assert!(
        key.starts_with("oms_test_"),
        "dev mode mints test keys: {key}"
    );
    assert!(key.contains(&id));

    let (status, body, text) = call(&env.one, Auth::Bearer(&key), &[], CREATE_ORDER).await;
    assert_eq!(status, 200, "{text}");
    let order = body["data"]["createOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    let read = format!("{{ order(id: \"{order}\") {{ id status }} }}");
    for auth in [Auth::Bearer(&key), Auth::Header(&key)] {
        let (status, body, text) = call(&env.two, auth, &[], &read).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(body["data"]["order"]["id"], order.as_str(), "{text}");
    }
    // The key acts as STAFF: a tenant-admin operation is FORBIDDEN.
    let (_, body, text) = call(&env.one, Auth::Bearer(&key), &[], "{ apiKeys { id } }").await;
    assert_eq!(code(&body), "FORBIDDEN", "{text}");
    // Its order's audit names the key.
    let log = format!("{{ orderAuditLog(orderId: \"{order}\") {{ nodes {{ actor }} }} }}");
    let (_, body, text) = call(&env.one, Auth::Bearer(&key), &[], &log).await;
    let actor = body["data"]["orderAuditLog"]["nodes"][0]["actor"]
        .as_str()
        .unwrap_or_else(|| panic!("{text}"));
    assert!(actor.contains(&format!("apikey:{id}")), "{text}");
}

const READ: &str = "{ orders(first: 1) { nodes { id } } }";

/// `bad` is refused with a 401 and the stable code UNAUTHENTICATED, by both processes, while
/// the key it was made from (`good`) still works.
async fn refused(env: &Env, good: &str, bad: &str) {
    for router in [&env.one, &env.two] {
        let (status, body, text) = call(router, Auth::Bearer(bad), &[], READ).await;
        assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{text}");
    }
    let (status, _, text) = call(&env.one, Auth::Bearer(good), &[], READ).await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let env = Env::new().await;
    let (_, good, _) = env.create_key("demo", STAFF).await;
    let window = format!(
        r#"{{name: "old", role: STAFF, from: "{}", thru: "{}"}}"#,
        at(NOW_MS - 7_200_000),
        at(NOW_MS - 3_600_000)
    );
    let (_, expired, _) = env.create_key("demo", &window).await;
    refused(&env, &good, &expired).await;
}

#[tokio::test]
async fn a_key_not_yet_valid_is_refused() {
    let env = Env::new().await;
    let (_, good, _) = env.create_key("demo", STAFF).await;
    let window = format!(
        r#"{{name: "later", role: STAFF, from: "{}"}}"#,
        at(NOW_MS + 3_600_000)
    );
    let (_, scheduled, _) = env.create_key("demo", &window).await;
    refused(&env, &good, &scheduled).await;
}

#[tokio::test]
async fn a_key_with_one_byte_changed_is_refused() {
    let env = Env::new().await;
    let (_, key, _) = env.create_key("demo", STAFF).await;
    let mut changed = key.clone().into_bytes();
    let last = changed.len() - 1;
    changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
    refused(&env, &key, &String::from_utf8(changed).unwrap()).await;
}

#[tokio::test]
async fn a_truncated_key_is_refused() {
    let env = Env::new().await;
    let (_, key, _) = env.create_key("demo", STAFF).await;
    refused(&env, &key, &key[..key.len() - 1]).await;
}

#[tokio::test]
async fn a_key_whose_id_names_another_tenants_key_is_refused() {
    let env = Env::new().await;
    let (_, key, _) = env.create_key("demo", STAFF).await;
    let (_, other_key, _) = env.create_key("other", STAFF).await;
    // The id part of the other tenant's key, the secret part of this one.
    let id_len = "oms_test_".len() + 26;
    let crossed = format!("{}{}", &other_key[..id_len], &key[id_len..]);
    refused(&env, &key, &crossed).await;
}

/// A suspended tenant's keys stop working as a revoked key does: 401 UNAUTHENTICATED (a key's
/// holder learns nothing of the tenant's state; its users' tokens get 403 TENANT_SUSPENDED).
#[tokio::test]
async fn a_suspended_tenants_key_is_refused() {
    let env = Env::new().await;
    let (_, good, _) = env.create_key("demo", STAFF).await;
    let (_, key, _) = env.create_key("other", STAFF).await;
    env.platform()
        .set_status(&TenantId::parse("other").unwrap(), TenantStatus::Suspended)
        .await
        .unwrap();
    // `two` never cached the key; `one` did, and refuses it once the directory's minute is over.
    env.clock.advance(61);
    refused(&env, &good, &key).await;
}

#[tokio::test]
async fn a_tenants_key_never_reads_another_tenants_order() {
    let env = Env::new().await;
    let (_, key, _) = env.create_key("demo", STAFF).await;
    let (_, other_key, _) = env.create_key("other", STAFF).await;
    let (_, body, text) = call(&env.one, Auth::Bearer(&other_key), &[], CREATE_ORDER).await;
    let theirs = body["data"]["createOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    let read = format!("{{ order(id: \"{theirs}\") {{ id }} }}");
    let (_, body, text) = call(&env.one, Auth::Bearer(&key), &[], &read).await;
    assert_eq!(code(&body), "NOT_FOUND", "{text}");
}

#[tokio::test]
async fn revocation_applies_at_once_here_and_within_the_ttl_elsewhere() {
    let env = Env::new().await;
    let (id, key, _) = env.create_key("demo", STAFF).await;
    let read = "{ orders(first: 1) { nodes { id } } }";
    for router in [&env.one, &env.two] {
        let (status, _, text) = call(router, Auth::Bearer(&key), &[], read).await;
        assert_eq!(status, 200, "{text}");
    }
    let admin = env.token("demo", Role::TenantAdmin);
    let q = format!(
        "mutation {{ revokeApiKey(id: \"{id}\") {{ apiKey {{ effective thru }} userErrors {{ code }} }} }}"
    );
    let (_, body, text) = call(&env.one, Auth::Bearer(&admin), &[], &q).await;
    assert_eq!(
        body["data"]["revokeApiKey"]["apiKey"]["effective"], false,
        "{text}"
    );

    let (status, body, text) = call(&env.one, Auth::Bearer(&key), &[], read).await;
    assert_eq!(
        (status, code(&body)),
        (401, "UNAUTHENTICATED"),
        "at once here: {text}"
    );
    // The other process trusts what it cached until the directory's TTL (60 s) runs out.
    let (status, _, text) = call(&env.two, Auth::Bearer(&key), &[], read).await;
    assert_eq!(status, 200, "cached elsewhere: {text}");
    env.clock.advance(61);
    let (status, body, text) = call(&env.two, Auth::Bearer(&key), &[], read).await;
    assert_eq!(
        (status, code(&body)),
        (401, "UNAUTHENTICATED"),
        "within the TTL elsewhere: {text}"
    );
}

#[tokio::test]
async fn create_refuses_an_idempotency_key_and_the_text_is_shown_once() {
    let env = Env::new().await;
    let admin = env.token("demo", Role::TenantAdmin);
    let q = format!(
        "mutation {{ createApiKey(input: {STAFF}) {{ secret userErrors {{ code field }} }} }}"
    );
    let (status, body, text) = call(
        &env.one,
        Auth::Bearer(&admin),
        &[("idempotency-key", "k-1")],
        &q,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (400, "IDEMPOTENCY_NOT_SUPPORTED"),
        "{text}"
    );
    let (_, body, text) = call(&env.one, Auth::Bearer(&admin), &[], "{ apiKeys { id } }").await;
    assert_eq!(
        body["data"]["apiKeys"],
        serde_json::json!([]),
        "nothing created: {text}"
    );

    let (id, key, created) = env.create_key("demo", STAFF).await;
    assert!(created.contains(&key));
    // Used, listed, revoked: no answer carries the text again.
    let mut answers = Vec::new();
    answers.push(
        call(&env.one, Auth::Bearer(&key), &[], CREATE_ORDER)
            .await
            .2,
    );
    answers.push(
        call(&env.one, Auth::Bearer(&admin), &[], "{ apiKeys { id prefix name role vendor from thru effective createdBy createdAt lastUsedAt } }")
            .await
            .2,
    );
    let q = format!("mutation {{ revokeApiKey(id: \"{id}\") {{ apiKey {{ id prefix }} }} }}");
    answers.push(call(&env.one, Auth::Bearer(&admin), &[], &q).await.2);
    answers.push(
        call(&env.one, Auth::Bearer(&key), &[], CREATE_ORDER)
            .await
            .2,
    );
    for a in &answers {
        assert!(!a.contains(&key), "the key's text in an answer: {a}");
    }
    assert!(answers[1].contains(&id), "{}", answers[1]);
    // Nor in the store file.
    let secret_part = &key["oms_test_".len() + 27..];
    let bytes = std::fs::read(env.dir.path().join("store.redb")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains(secret_part),
        "the key's secret in the store file"
    );
    assert!(!text.contains(&key));
}

/// The time the list shows as the key's last use, once the write (off the request's path) lands.
async fn last_used(env: &Env, id: &str, not: Option<&str>) -> String {
    let admin = env.token("demo", Role::TenantAdmin);
    for _ in 0..200 {
        let (_, body, _) = call(
            &env.one,
            Auth::Bearer(&admin),
            &[],
            "{ apiKeys { id lastUsedAt } }",
        )
        .await;
        let found = body["data"]["apiKeys"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|k| k["id"] == id)
            .and_then(|k| k["lastUsedAt"].as_str())
            .map(str::to_owned);
        if let Some(t) = found
            && Some(t.as_str()) != not
        {
            return t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no (new) last use recorded");
}

/// A key's last use is recorded at most once a minute per key and process.
#[tokio::test]
async fn last_use_is_recorded_at_most_once_a_minute() {
    let env = Env::new().await;
    let (id, key, _) = env.create_key("demo", STAFF).await;
    call(&env.one, Auth::Bearer(&key), &[], READ).await;
    let first = last_used(&env, &id, None).await;
    assert_eq!(first, at(NOW_MS));
    env.clock.advance(30);
    call(&env.one, Auth::Bearer(&key), &[], READ).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        last_used(&env, &id, None).await,
        first,
        "written again within a minute"
    );
    env.clock.advance(31);
    call(&env.one, Auth::Bearer(&key), &[], READ).await;
    assert_eq!(
        last_used(&env, &id, Some(&first)).await,
        at(NOW_MS + 61_000)
    );
}

/// A vendor key acts as that vendor: another vendor's order is NOT_FOUND, its own is read.
#[tokio::test]
async fn a_vendor_key_sees_its_vendors_orders_only() {
    let env = Env::new().await;
    let (_, staff, _) = env.create_key("demo", STAFF).await;
    let (_, v1, _) = env
        .create_key("demo", r#"{name: "v1 portal", role: VENDOR, vendor: "v1"}"#)
        .await;
    let (_, v2, _) = env
        .create_key("demo", r#"{name: "v2 portal", role: VENDOR, vendor: "v2"}"#)
        .await;
    let (_, body, text) = call(&env.one, Auth::Bearer(&staff), &[], CREATE_ORDER).await;
    let order = body["data"]["createOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    let read = format!("{{ order(id: \"{order}\") {{ id lines {{ sku }} }} }}");
    let (_, body, text) = call(&env.one, Auth::Header(&v1), &[], &read).await;
    assert_eq!(body["data"]["order"]["lines"][0]["sku"], "A", "{text}");
    let (_, body, text) = call(&env.one, Auth::Header(&v2), &[], &read).await;
    assert_eq!(code(&body), "NOT_FOUND", "{text}");
    // A vendor key without its vendor is refused at creation.
    let admin = env.token("demo", Role::TenantAdmin);
    let (_, body, text) = call(
        &env.one,
        Auth::Bearer(&admin),
        &[],
        r#"mutation { createApiKey(input: {name: "x", role: VENDOR}) { secret userErrors { code field } } }"#,
    )
    .await;
    assert_eq!(
        body["data"]["createApiKey"]["secret"],
        serde_json::Value::Null,
        "{text}"
    );
    assert_eq!(
        body["data"]["createApiKey"]["userErrors"][0]["code"], "INVALID_INPUT",
        "{text}"
    );
}

/// Rotation: a new key beside the old one, the old one revoked at a chosen time — it works
/// until then and not after; a time in the past is refused.
#[tokio::test]
async fn a_key_is_rotated_by_revoking_the_old_one_later() {
    let env = Env::new().await;
    let (old_id, old, _) = env.create_key("demo", STAFF).await;
    let (_, new, _) = env.create_key("demo", STAFF).await;
    let admin = env.token("demo", Role::TenantAdmin);
    let revoke = |at: i64| {
        format!(
            "mutation {{ revokeApiKey(id: \"{old_id}\", at: \"{}\") {{ apiKey {{ thru effective }} userErrors {{ code field }} }} }}",
            self::at(at)
        )
    };
    let (_, body, text) = call(&env.one, Auth::Bearer(&admin), &[], &revoke(NOW_MS - 1_000)).await;
    assert_eq!(
        body["data"]["revokeApiKey"]["userErrors"][0]["field"][0], "at",
        "a past time is refused: {text}"
    );
    let (_, body, text) = call(
        &env.one,
        Auth::Bearer(&admin),
        &[],
        &revoke(NOW_MS + 3_600_000),
    )
    .await;
    let k = &body["data"]["revokeApiKey"]["apiKey"];
    assert_eq!(k["thru"], at(NOW_MS + 3_600_000), "{text}");
    assert_eq!(k["effective"], true, "{text}");
    for key in [&old, &new] {
        let (status, _, text) = call(&env.one, Auth::Bearer(key), &[], READ).await;
        assert_eq!(status, 200, "both work until then: {text}");
    }
    env.clock.advance(3_600);
    let (status, body, text) = call(&env.one, Auth::Bearer(&old), &[], READ).await;
    assert_eq!(
        (status, code(&body)),
        (401, "UNAUTHENTICATED"),
        "the old one after: {text}"
    );
    let (status, _, text) = call(&env.one, Auth::Bearer(&new), &[], READ).await;
    assert_eq!(status, 200, "the new one goes on: {text}");
}
