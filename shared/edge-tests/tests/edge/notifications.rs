//! Signed notifications to a local receiver: the signature verifies with the tenant's secret, a
//! receiver down for 3 attempts gets the 4th, a dead one is given up and audited, SSRF targets
//! are refused in production config, and one tenant's dead endpoint never delays another's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use domain::access::Role;
use domain::events::DomainEvent;
use domain::ports::{NotificationSender, OutboundPost, SendError};
use domain::webhook::{WebhookHook, WebhookProvider};
use events::notify::{NotificationDispatcher, Notified, Notifier, RetryPolicy};
use events::relay::OutboxRelay;
use outbound_http::HttpSender;
use secrecy::SecretString;
use testkit::WebhookEnv;

/// What the receiver got: headers and body of every request.
type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>, Instant)>>>;

/// A receiver on a loopback port that answers 503 to its first `fail_first` requests (all of
/// them with `u32::MAX`), then 204.
async fn receiver(fail_first: u32) -> (String, Received) {
    let got: Received = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let mut all = seen.lock().unwrap();
                all.push((headers, body.to_vec(), Instant::now()));
                if u32::try_from(all.len()).unwrap() <= fail_first {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// `demo` and `other` with notification secrets, each subscribed at its own URL.
async fn env(urls: &[(&str, &str)]) -> (WebhookEnv, SecretString) {
    let s = secret("notify-demo-0123456789");
    let o = secret("notify-other-0123456789");
    let hooks = [
        ("demo", WebhookHook::Notifications, WebhookProvider::Oms, &s),
        (
            "other",
            WebhookHook::Notifications,
            WebhookProvider::Oms,
            &o,
        ),
    ];
    let env = WebhookEnv::build(Arc::new(domain::SystemClock), &hooks).await;
    for (tenant, url) in urls {
        let set = env
            .graphql_as(
                tenant,
                Role::TenantAdmin,
                &format!(
                    r#"mutation {{ updateTenantConfig(input: {{ restockingFeeBps: 0, notificationUrl: "{url}", notificationEvents: ["OrderCreated"] }}) {{ tenantConfig {{ version notificationEvents }} userErrors {{ code message }} }} }}"#
                ),
            )
            .await;
        assert_eq!(
            set["data"]["updateTenantConfig"]["tenantConfig"]["notificationEvents"][0],
            "OrderCreated",
            "{set}"
        );
    }
    (env, s)
}

/// Creates an order in `tenant` and returns the events its command recorded (via the relay).
async fn order_events(env: &WebhookEnv, tenant: &str, external_ref: &str) -> Vec<DomainEvent> {
    let created = env
        .graphql_as(
            tenant,
            Role::Staff,
            &format!(
                r#"mutation {{ createOrder(input: {{ externalRef: "{external_ref}", currency: "USD", customer: {{ name: "Ada", email: "ada@example.com" }}, destination: {{ name: "Ada", line1: "1 Main St", city: "Arlington", postalCode: "22201", country: "US" }}, lines: [{{ sku: "TEE", vendor: "vendor-a", title: "Tee", quantity: 1, unitPrice: "10.00" }}] }}) {{ order {{ id }} userErrors {{ code message }} }} }}"#
            ),
        )
        .await;
    assert!(
        created["data"]["createOrder"]["order"]["id"].is_string(),
        "{created}"
    );
    let bus = Arc::new(events::InProcessBus::default());
    OutboxRelay::new(env.store.clone(), bus.clone())
        .pass(100)
        .await
        .unwrap();
    bus.published()
        .into_iter()
        .filter(|e| e.tenant.as_str() == tenant)
        .collect()
}

fn notifier(env: &WebhookEnv, dev_mode: bool, policy: RetryPolicy) -> Notifier {
    let sender = Arc::new(HttpSender::new(Duration::from_secs(5), dev_mode).unwrap());
    Notifier::of(&env.services(), env.secrets(), sender).with_policy(policy)
}

fn fast(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        base: Duration::from_millis(10),
        max: Duration::from_millis(40),
    }
}

#[tokio::test]
async fn a_receiver_down_for_three_attempts_gets_the_fourth_signed_with_the_tenants_secret() {
    let (url, got) = receiver(3).await;
    let (env, demo_secret) = env(&[("demo", &url)]).await;
    let events = order_events(&env, "demo", "N-1").await;
    assert_eq!(events.len(), 1, "one OrderCreated");
    let outcome = notifier(&env, true, fast(6))
        .notify(&events[0])
        .await
        .unwrap();
    assert_eq!(outcome, Notified::Delivered { attempts: 4 });
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 4);
    let (headers, body, _) = &got[3];
    let signature = headers["x-oms-signature"].to_str().unwrap();
    let now = domain::Clock::now_secs(&domain::SystemClock);
    // The receiver verifies with the tenant's secret, as our own webhook verifier does.
    auth::webhook::verify_oms(Some(signature), body, &[demo_secret], now, 300).unwrap();
    let other = secret("notify-other-0123456789");
    assert!(auth::webhook::verify_oms(Some(signature), body, &[other], now, 300).is_err());
    let sent: DomainEvent = serde_json::from_slice(body).unwrap();
    assert_eq!(sent, events[0]);
    assert_eq!(
        headers["x-oms-event-id"].to_str().unwrap(),
        events[0].event_id.to_string()
    );
    // An unsubscribed type is not sent.
    let mut approved = events[0].clone();
    approved.payload = domain::events::EventPayload::OrderCancelled { reason: None };
    let outcome = notifier(&env, true, fast(6))
        .notify(&approved)
        .await
        .unwrap();
    assert_eq!(outcome, Notified::Skipped("not subscribed"));
}

#[tokio::test]
async fn a_dead_endpoint_is_given_up_after_the_bound_and_audited() {
    let (url, got) = receiver(u32::MAX).await;
    let (env, _) = env(&[("demo", &url)]).await;
    let events = order_events(&env, "demo", "N-2").await;
    let outcome = notifier(&env, true, fast(3))
        .notify(&events[0])
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Notified::GaveUp { attempts: 3, reason } if reason.contains("503")),
        "{outcome:?}"
    );
    assert_eq!(got.lock().unwrap().len(), 3);
    let log = env
        .graphql_as(
            "demo",
            Role::TenantAdmin,
            r#"{ auditLog(first: 50) { nodes { action outcome reason actor targetId } } }"#,
        )
        .await;
    let nodes = log["data"]["auditLog"]["nodes"].as_array().unwrap();
    let failed: Vec<_> = nodes.iter().filter(|n| n["outcome"] == "FAILED").collect();
    assert_eq!(failed.len(), 1, "{log}");
    assert_eq!(failed[0]["action"], "notify");
    assert_eq!(failed[0]["actor"], "system:notifier");
    assert_eq!(failed[0]["targetId"], events[0].event_id.to_string());
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("after 3 attempt(s)"),
        "{log}"
    );
}

#[tokio::test]
async fn production_config_refuses_ssrf_targets_without_sending() {
    let sender = HttpSender::new(Duration::from_secs(2), false).unwrap();
    for url in [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[fd00::1]/hook",
    ] {
        let out = sender
            .post(OutboundPost {
                url,
                headers: Vec::new(),
                body: b"{}",
            })
            .await;
        assert!(matches!(out, Err(SendError::Refused(_))), "{url}: {out:?}");
    }
    // Through the notifier: a loopback receiver is refused at once, never retried, and
    // audited; nothing reaches it.
    let (url, got) = receiver(0).await;
    let (env, _) = env(&[("demo", &url)]).await;
    let events = order_events(&env, "demo", "N-3").await;
    let outcome = notifier(&env, false, fast(5))
        .notify(&events[0])
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Notified::GaveUp { attempts: 1, reason } if reason.contains("https")),
        "{outcome:?}"
    );
    assert!(got.lock().unwrap().is_empty());
}

#[tokio::test]
async fn one_tenants_dead_endpoint_never_delays_another_tenants_notifications() {
    let (dead_url, dead) = receiver(u32::MAX).await;
    let (live_url, live) = receiver(0).await;
    let (env, _) = env(&[("demo", &dead_url), ("other", &live_url)]).await;
    let demo_events = order_events(&env, "demo", "N-4").await;
    let other_events = order_events(&env, "other", "N-5").await;
    // demo's endpoint is dead: 5 attempts with waits of 0.2 s and more.
    let slow = RetryPolicy {
        attempts: 5,
        base: Duration::from_millis(200),
        max: Duration::from_millis(400),
    };
    let dispatcher = NotificationDispatcher::new(Arc::new(notifier(&env, true, slow)));
    dispatcher.dispatch(demo_events[0].clone());
    dispatcher.dispatch(other_events[0].clone());
    // other's notification arrives while demo's is still being retried.
    for _ in 0..200 {
        if !live.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(live.lock().unwrap().len(), 1, "other was notified");
    let demo_attempts = dead.lock().unwrap().len();
    assert!(
        demo_attempts < 5,
        "other's notification waited for demo's {demo_attempts} attempts"
    );
}

/// The notifier on AWS makes one attempt per queued message: a failure comes back with its
/// backoff, the last is given up into the audit with no wait (the queue's redrive policy then
/// dead-letters it), and a delivery is done.
#[tokio::test]
async fn a_queued_notification_backs_off_then_its_last_attempt_is_audited() {
    use events::notify::{Breaker, QueuedNotifier, Settled};
    let (url, got) = receiver(u32::MAX).await;
    let (env, _) = env(&[("demo", &url)]).await;
    let events = order_events(&env, "demo", "Q-1").await;
    let policy = RetryPolicy {
        attempts: 3,
        base: Duration::from_secs(30),
        max: Duration::from_secs(600),
    };
    let queued = QueuedNotifier::new(
        Arc::new(notifier(&env, true, policy)),
        Breaker::default(),
        policy,
    );
    for receive in 1..=2 {
        let settled = queued.attempt(&events[0], receive).await.unwrap();
        let Settled::Retry { after, last, .. } = &settled else {
            panic!("{settled:?}");
        };
        assert!(!last);
        // Half the step fixed, half random: 15-30 s, then 30-60 s.
        let step = 30 * 2u64.pow(receive - 1);
        assert!(
            (step / 2..=step).contains(&after.as_secs()),
            "{receive}: {after:?}"
        );
    }
    let settled = queued.attempt(&events[0], 3).await.unwrap();
    assert!(
        matches!(&settled, Settled::Retry { after, last: true, reason } if after.is_zero() && reason.contains("503")),
        "{settled:?}"
    );
    assert_eq!(got.lock().unwrap().len(), 3, "one call per attempt");
    let log = env
        .graphql_as(
            "demo",
            Role::TenantAdmin,
            r#"{ auditLog(first: 50) { nodes { action outcome reason } } }"#,
        )
        .await;
    let failed: Vec<&serde_json::Value> = log["data"]["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["action"] == "notify" && n["outcome"] == "FAILED")
        .collect();
    assert_eq!(failed.len(), 1, "{log}");
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("after 3 attempt(s)"),
        "{log}"
    );
}

/// After five failures in a row an endpoint's circuit opens: its messages keep coming back at
/// their backoff without a call, while another tenant's endpoint is called as ever; a success
/// after the circuit's time closes it.
#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_not_called_while_its_circuit_is_open() {
    use events::notify::{Breaker, QueuedNotifier, Settled};
    let (dead, dead_got) = receiver(u32::MAX).await;
    let (live, live_got) = receiver(0).await;
    let (env, _) = env(&[("demo", &dead), ("other", &live)]).await;
    let demo = order_events(&env, "demo", "Q-2").await;
    let other = order_events(&env, "other", "Q-3").await;
    let policy = RetryPolicy {
        attempts: 100,
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };
    let queued = QueuedNotifier::new(
        Arc::new(notifier(&env, true, policy)),
        Breaker::new(5, Duration::from_millis(300)),
        policy,
    );
    for _ in 0..5 {
        let s = queued.attempt(&demo[0], 1).await.unwrap();
        assert!(matches!(s, Settled::Retry { .. }), "{s:?}");
    }
    assert_eq!(dead_got.lock().unwrap().len(), 5);
    for _ in 0..20 {
        let s = queued.attempt(&demo[0], 2).await.unwrap();
        assert!(
            matches!(&s, Settled::Retry { reason, last: false, .. } if reason.contains("circuit is open")),
            "{s:?}"
        );
    }
    assert_eq!(dead_got.lock().unwrap().len(), 5, "no call while open");
    let s = queued.attempt(&other[0], 1).await.unwrap();
    assert_eq!(s, Settled::Done(Notified::Delivered { attempts: 1 }));
    assert_eq!(live_got.lock().unwrap().len(), 1);
    // After the open time one call goes through (and fails again here: open again).
    tokio::time::sleep(Duration::from_millis(350)).await;
    let _ = queued.attempt(&demo[0], 3).await.unwrap();
    assert_eq!(dead_got.lock().unwrap().len(), 6);
    let _ = queued.attempt(&demo[0], 4).await.unwrap();
    assert_eq!(dead_got.lock().unwrap().len(), 6, "open again at once");
}
