//! The add-order webhook under attack: every refusal has its status and writes nothing (no
//! order, no audit, no outbox: not one transaction); a valid delivery creates one order, once.

use testkit::WebhookEnv;

const PATH: &str = "/webhooks/add-order/demo";

fn order(external_ref: &str) -> Vec<u8> {
    serde_json::json!({
        "externalRef": external_ref,
        "currency": "USD",
        "customer": {"name": "Ana", "email": "ana@example.com"},
        "destination": {"name": "Ana", "line1": "1 Main St", "city": "Springfield", "postalCode": "62701", "country": "US"},
        "lines": [{"sku": "TEE-M", "vendor": "v1", "quantity": 2, "unitPrice": "19.99"}]
    })
    .to_string()
    .into_bytes()
}

fn json() -> (&'static str, String) {
    ("content-type", "application/json".to_owned())
}

fn now(env: &WebhookEnv) -> i64 {
    env.clock.now_secs()
}

/// Well outside the verifier's 300 s window: these tests run on the system clock, which may
/// tick past a second between signing and verifying (the exact boundary is a unit test of
/// `auth::webhook::verify_oms`, on fixed times).
const OUTSIDE_WINDOW: i64 = 360;

#[tokio::test]
async fn missing_signature() {
    let env = WebhookEnv::new().await;
    env.refused(PATH, &[json()], order("A-1"), 401).await;
}

#[tokio::test]
async fn bad_signature() {
    let env = WebhookEnv::new().await;
    let t = now(&env);
    let forged = ("x-oms-signature", format!("t={t},v1={}", "ab".repeat(32)));
    env.refused(PATH, &[json(), forged], order("A-1"), 401)
        .await;
}

#[tokio::test]
async fn signature_over_a_different_body() {
    let env = WebhookEnv::new().await;
    let t = now(&env);
    let body = order("A-1");
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    let mut changed = body.clone();
    let at = changed.iter().position(|b| *b == b'2').unwrap(); // quantity 2 → 3
    changed[at] = b'3';
    env.refused(PATH, &[json(), sig], changed, 401).await;
}

#[tokio::test]
async fn another_tenants_secret() {
    let env = WebhookEnv::new().await;
    let t = now(&env);
    let body = order("A-1");
    let sig = WebhookEnv::sign(&env.other_secret, t, &body);
    env.refused(PATH, &[json(), sig], body, 401).await;
}

#[tokio::test]
async fn stale_timestamp() {
    let env = WebhookEnv::new().await;
    let t = now(&env) - OUTSIDE_WINDOW;
    let body = order("A-1");
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    env.refused(PATH, &[json(), sig], body, 401).await;
}

#[tokio::test]
async fn future_timestamp() {
    let env = WebhookEnv::new().await;
    let t = now(&env) + OUTSIDE_WINDOW;
    let body = order("A-1");
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    env.refused(PATH, &[json(), sig], body, 401).await;
}

#[tokio::test]
async fn replay_of_a_valid_delivery_creates_one_order() {
    let env = WebhookEnv::new().await;
    let t = now(&env);
    let body = order("A-1");
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    let headers = [json(), sig, ("x-oms-delivery", "dlv-1".to_owned())];
    let seeded = env.store.writes();
    let (status, _, first) = env.post(PATH, &headers, body.clone()).await;
    assert_eq!(status, 201, "{first}");
    let writes = env.store.writes();
    assert_eq!(
        writes,
        seeded + 1,
        "one transaction: the order, its audit, its outbox"
    );
    let (status, h, again) = env.post(PATH, &headers, body.clone()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first, "a replay answers byte for byte");
    assert_eq!(
        h.get("x-oms-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(env.store.writes(), writes, "a replay writes nothing");
    // Without a delivery id the body's hash is the id; this order exists already, so the
    // deliveries are answered with it, twice, and nothing is written.
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    for _ in 0..2 {
        let (status, _, text) = env.post(PATH, &[json(), sig.clone()], body.clone()).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("\"created\":false"), "{text}");
    }
    assert_eq!(
        env.store.writes(),
        writes,
        "one order for its external reference"
    );
}

#[tokio::test]
async fn malformed_json() {
    let env = WebhookEnv::new().await;
    let t = now(&env);
    let body = b"{\"externalRef\": \"A-1\", ".to_vec();
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    env.refused(PATH, &[json(), sig], body, 400).await;
}

#[tokio::test]
async fn schema_valid_but_domain_invalid_orders() {
    let env = WebhookEnv::new().await;
    let t = now(&env);
    let mut negative: serde_json::Value = serde_json::from_slice(&order("A-1")).unwrap();
    negative["lines"][0]["quantity"] = serde_json::json!(-1);
    let body = negative.to_string().into_bytes();
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    let text = env.refused(PATH, &[json(), sig], body, 400).await;
    assert!(
        text.contains("lines[0].quantity"),
        "names the field: {text}"
    );
    let mut currency: serde_json::Value = serde_json::from_slice(&order("A-2")).unwrap();
    currency["currency"] = serde_json::json!("XYZ");
    let body = currency.to_string().into_bytes();
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    let text = env.refused(PATH, &[json(), sig], body, 400).await;
    assert!(text.contains("currency"), "names the field: {text}");
    let mut zero: serde_json::Value = serde_json::from_slice(&order("A-3")).unwrap();
    zero["lines"][0]["quantity"] = serde_json::json!(0);
    let body = zero.to_string().into_bytes();
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    env.refused(PATH, &[json(), sig], body, 400).await;
}

#[tokio::test]
async fn oversize_body() {
    let env = WebhookEnv::new().await;
    let t = now(&env);
    let body = vec![b' '; 256 * 1024 + 1];
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    env.refused(PATH, &[json(), sig], body, 413).await;
}

#[tokio::test]
async fn unknown_tenant() {
    let env = WebhookEnv::new().await;
    let t = now(&env);
    let body = order("A-1");
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    env.refused(
        "/webhooks/add-order/nobody",
        &[json(), sig.clone()],
        body.clone(),
        404,
    )
    .await;
    env.refused("/webhooks/add-order/not%23valid", &[json(), sig], body, 404)
        .await;
}

#[tokio::test]
async fn wrong_content_type() {
    let env = WebhookEnv::new().await;
    let t = now(&env);
    let body = order("A-1");
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    let form = (
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    );
    env.refused(PATH, &[form, sig], body, 415).await;
}

#[tokio::test]
async fn a_repeat_of_an_external_reference_returns_the_existing_order() {
    let env = WebhookEnv::new().await;
    let t = now(&env);
    let body = order("A-1");
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    let (status, _, first) = env
        .post(
            PATH,
            &[json(), sig, ("x-oms-delivery", "dlv-1".to_owned())],
            body.clone(),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    let writes = env.store.writes();
    // Another delivery of the same order (the tenant's system retried with a new id).
    let sig = WebhookEnv::sign(&env.secret, t, &body);
    let (status, _, second) = env
        .post(
            PATH,
            &[json(), sig, ("x-oms-delivery", "dlv-2".to_owned())],
            body,
        )
        .await;
    assert_eq!(status, 200, "{second}");
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&first).unwrap(),
        serde_json::from_str(&second).unwrap(),
    );
    assert_eq!(a["order"]["id"], b["order"]["id"]);
    assert_eq!(b["created"], false);
    assert_eq!(env.store.writes(), writes, "no second order");
}

/// Webhook handling logs its refusals and deliveries, never a secret: not the hook's secret,
/// not another tenant's, at any level.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_any_log_line() {
    use secrecy::ExposeSecret;
    crate::logs::capture();

    let env = WebhookEnv::new().await;
    let t = now(&env);
    let body = order("LOG-1");
    let good = WebhookEnv::sign(&env.secret, t, &body);
    for headers in [
        vec![json(), good.clone()],
        vec![json(), good],
        vec![json(), WebhookEnv::sign(&env.other_secret, t, &body)],
        vec![json(), WebhookEnv::sign(&env.secret, t - 1_000, &body)],
        vec![json()],
    ] {
        env.post(PATH, &headers, body.clone()).await;
    }
    let logs = crate::logs::captured();
    assert!(
        logs.contains("webhook delivery"),
        "nothing was logged: {logs}"
    );
    assert!(logs.contains("webhook signature refused"), "{logs}");
    for secret in [&env.secret, &env.other_secret] {
        assert!(
            !logs.contains(secret.expose_secret()),
            "a secret was logged"
        );
    }
    assert!(!logs.contains("whsec"), "a secret was logged");
}

/// A delivery is remembered for 72 hours: the same delivery three days later (re-signed, as a
/// sender retrying would) is still answered with the first answer.
#[tokio::test]
async fn a_delivery_is_remembered_for_72_hours() {
    use domain::webhook::{WebhookHook, WebhookProvider};
    let clock = domain::ManualClock::at(1_795_521_600);
    let secret = secrecy::SecretString::from("whsec-dedupe-0123456789".to_owned());
    let hooks = [("demo", WebhookHook::AddOrder, WebhookProvider::Oms, &secret)];
    let env = WebhookEnv::build(std::sync::Arc::new(clock.clone()), &hooks).await;
    let body = order("DEDUPE-1");
    let deliver = |t: i64| {
        let headers = [
            json(),
            WebhookEnv::sign(&secret, t, &body),
            ("x-oms-delivery", "dlv-dedupe-1".to_owned()),
        ];
        let (env, body) = (&env, body.clone());
        async move { env.post(PATH, &headers, body).await }
    };
    let (status, _, first) = deliver(1_795_521_600).await;
    assert_eq!(status, 201, "{first}");
    clock.advance(71 * 3600 + 59 * 60);
    let (status, h, again) = deliver(1_795_521_600 + 71 * 3600 + 59 * 60).await;
    assert_eq!((status, again.as_str()), (200, first.as_str()));
    assert_eq!(
        h.get("x-oms-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
}
