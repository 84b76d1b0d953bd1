//! Handler tests: every tenant event of `events/event-consumer/` through the consumer as the
//! function receives it (the EventBridge envelope), over an in-memory store on the events'
//! clock, dead letters kept in memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use domain::ManualClock;
use events::tenant::Consumed;
use testkit::WebhookEnv;

/// The events' time (2026-11-24T12:00:00Z).
const AT: i64 = 1_795_521_600;

/// The account and source tenant `demo` registers (the events name them).
const ACCOUNT: &str = "123456789012";
const SOURCE: &str = "com.acme.orders";

fn event(file: &str) -> serde_json::Value {
    let path = format!(
        "{}/../../events/event-consumer/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn env() -> WebhookEnv {
    let env = WebhookEnv::build(Arc::new(ManualClock::at(AT)), &[]).await;
    env.register_source("demo", ACCOUNT, SOURCE).await;
    env
}

#[test]
fn every_event_file_is_tested_here() {
    let dir = format!("{}/../../events/event-consumer", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "order-cancelled.json",
            "order-created-forged.json",
            "order-created.json",
            "order-submitted-malformed.json",
            "order-submitted-unregistered-source.json",
            "order-submitted.json",
            "shipment-requested.json",
        ]
    );
}

/// The function as it runs: tenant events in, reserved sources refused.
fn function(env: &WebhookEnv) -> (events::dispatch::EventFunction, Arc<events::DeadLetterLog>) {
    let (tenant_events, dead) = env.event_consumer();
    let function = events::dispatch::EventFunction {
        tenant_events,
        dead_letters: dead.clone(),
    };
    (function, dead)
}

/// Our own events never reach the intake, whoever put them: the notifications rule takes them
/// to the notifier; one here was put by someone else on the bus (from another account: the
/// forged sample; or from ours, past the rules). Dead-lettered `forged_source`, nothing written,
/// nothing posted to the tenant (who subscribes).
#[tokio::test]
async fn our_source_is_dead_lettered_as_forged_and_nothing_is_posted() {
    let env = env().await;
    let posts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = posts.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { axum::http::StatusCode::NO_CONTENT }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    env.set_hook(
        domain::webhook::WebhookHook::Notifications,
        domain::webhook::WebhookProvider::Oms,
        &secrecy::SecretString::from("notify-demo-0123456789".to_owned()),
    )
    .await;
    let set = env
        .graphql_as(
            "demo",
            domain::access::Role::TenantAdmin,
            &format!(
                r#"mutation {{ updateTenantConfig(input: {{ restockingFeeBps: 0, notificationUrl: "{url}" }}) {{ userErrors {{ code message }} }} }}"#
            ),
        )
        .await;
    assert_eq!(
        set["data"]["updateTenantConfig"]["userErrors"],
        serde_json::json!([]),
        "{set}"
    );
    let (function, dead) = function(&env);
    let before = env.store.writes();
    let mut aws = event("order-submitted.json");
    aws["source"] = serde_json::json!("aws.s3");
    for e in [
        event("order-created-forged.json"),
        event("order-created.json"),
        aws,
    ] {
        let out = events::dispatch::handle_event(&function, e.clone())
            .await
            .unwrap();
        assert_eq!(out["outcome"], "dead_lettered", "{e}: {out}");
        assert_eq!(out["reason"], "forged_source", "{e}: {out}");
    }
    assert_eq!(env.store.writes(), before, "nothing written");
    let letters = dead.letters();
    assert_eq!(letters.len(), 3);
    assert!(letters.iter().all(|l| l.reason == "forged_source"));
    assert!(letters[0].detail.contains("999999999999"), "{letters:?}");
    assert_eq!(
        letters[0].event_id.as_deref(),
        Some("5d2a9c41-7e3b-4f60-8a1d-2b9c0e7f4a13")
    );
    assert!(letters[2].detail.contains("aws.s3"), "{letters:?}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        posts.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing posted"
    );
}

#[tokio::test]
async fn a_tenant_event_delivered_three_times_is_applied_once() {
    let env = env().await;
    let (function, dead) = function(&env);
    let before = env.store.writes();
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let out = events::dispatch::handle_event(&function, event("order-submitted.json"))
            .await
            .unwrap();
        outcomes.push(out["outcome"].as_str().unwrap().to_owned());
    }
    assert_eq!(outcomes, ["applied", "duplicate", "duplicate"]);
    assert_eq!(
        env.store.writes(),
        before + 1,
        "one transaction for three deliveries"
    );
    assert!(dead.letters().is_empty());
    let order = env
        .graphql(r#"{ orderByExternalRef(externalRef: "EVT-200001") { status total { amount } } }"#)
        .await;
    assert_eq!(
        order["data"]["orderByExternalRef"]["total"]["amount"], "61.68",
        "{order}"
    );
}

#[tokio::test]
async fn shipment_and_cancellation_events_run_the_same_use_cases() {
    let env = env().await;
    let (consumer, dead) = env.event_consumer();
    let consume = async |file: &str| consumer.consume(&event(file).to_string()).await.unwrap();
    assert_eq!(consume("order-submitted.json").await, Consumed::Applied);
    // A shipment needs an approved order: refused by the same rule as over GraphQL.
    assert_eq!(
        consume("shipment-requested.json").await,
        Consumed::DeadLettered("refused")
    );
    assert!(
        dead.letters()[0]
            .detail
            .starts_with("NOT_ALLOWED_IN_STATUS"),
        "{:?}",
        dead.letters()
    );
    let found = env
        .graphql(r#"{ orderByExternalRef(externalRef: "EVT-200001") { id } }"#)
        .await;
    let id = found["data"]["orderByExternalRef"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let approved = env
        .graphql(&format!(
            r#"mutation {{ approveOrder(orderId: "{id}") {{ order {{ status }} }} }}"#
        ))
        .await;
    assert_eq!(
        approved["data"]["approveOrder"]["order"]["status"], "CONFIRMED",
        "{approved}"
    );
    // The refused event is a new delivery now (its id was not remembered): it applies.
    assert_eq!(consume("shipment-requested.json").await, Consumed::Applied);
    assert_eq!(consume("order-cancelled.json").await, Consumed::Applied);
    assert_eq!(dead.letters().len(), 1, "{:?}", dead.letters());
    let order = env
        .graphql(r#"{ orderByExternalRef(externalRef: "EVT-200001") { status version shipments { status mode carrier } } }"#)
        .await;
    let o = &order["data"]["orderByExternalRef"];
    assert_eq!(o["status"], "CANCELLED", "{order}");
    assert_eq!(o["version"], 4, "{order}");
    assert_eq!(o["shipments"][0]["mode"], "EXPRESS", "{order}");
    assert_eq!(o["shipments"][0]["status"], "CANCELLED", "{order}");
}

#[tokio::test]
async fn an_unregistered_source_is_refused_with_nothing_written() {
    let env = env().await;
    let (consumer, dead) = env.event_consumer();
    let before = env.store.writes();
    let out = consumer
        .consume(&event("order-submitted-unregistered-source.json").to_string())
        .await
        .unwrap();
    assert_eq!(out, Consumed::DeadLettered("unregistered_source"));
    assert_eq!(env.store.writes(), before, "nothing written");
    let letters = dead.letters();
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].detail.contains("210987654321/com.acme.orders"),
        "{letters:?}"
    );
    // The body's tenant-looking fields never matter: the same event from another tenant's
    // registered source would apply to that tenant, not to `demo`.
}

#[tokio::test]
async fn a_malformed_event_goes_to_the_dead_letters_once() {
    let env = env().await;
    let (consumer, dead) = env.event_consumer();
    let before = env.store.writes();
    let out = consumer
        .consume(&event("order-submitted-malformed.json").to_string())
        .await
        .unwrap();
    assert_eq!(out, Consumed::DeadLettered("malformed"));
    assert_eq!(env.store.writes(), before);
    let letters = dead.letters();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        letters[0].event_id.as_deref(),
        Some("7b1e4c2a-0d3f-4e5a-9b6c-000000000005")
    );
    assert!(letters[0].detail.contains("detail.lines"), "{letters:?}");
    // Not JSON at all: dead-lettered too, never retried.
    let out = consumer.consume("{not json").await.unwrap();
    assert_eq!(out, Consumed::DeadLettered("malformed"));
    assert_eq!(dead.letters().len(), 2);
}

#[tokio::test]
async fn a_plan_without_tenant_events_refuses_them() {
    let env = env().await;
    // The demo plan loses `tenantEvents` (and keeps createOrder).
    use domain::access::{Operation, OperationKind};
    let ops = Operation::ALL
        .iter()
        .copied()
        .filter(|o| *o != Operation::ConsumeTenantEvents && o.kind() != OperationKind::Platform)
        .collect();
    env.platform
        .set_plan(&domain::ids::PlanName::parse("demo").unwrap(), ops)
        .await
        .unwrap();
    let (consumer, dead) = env.event_consumer();
    let before = env.store.writes();
    let out = consumer
        .consume(&event("order-submitted.json").to_string())
        .await
        .unwrap();
    assert_eq!(out, Consumed::DeadLettered("refused"));
    assert!(
        dead.letters()[0].detail.starts_with("FORBIDDEN"),
        "{:?}",
        dead.letters()
    );
    // The refusal is audited (one write), no order.
    assert!(env.store.writes() <= before + 1);
}

/// The consumer on a Redis Streams group: applies, then hangs before XACK (a process killed
/// between commit and acknowledgement).
struct DiesBeforeAck(Arc<events::tenant::TenantEventConsumer>);

impl events::redis::EntryHandler for DiesBeforeAck {
    fn handle<'a>(
        &'a self,
        event: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.0.consume(event).await.map_err(|e| e.to_string())?;
            std::future::pending::<()>().await;
            Ok(())
        })
    }
}

/// The consumer as `oms serve --bus redis://…` runs it.
struct Applies(Arc<events::tenant::TenantEventConsumer>);

impl events::redis::EntryHandler for Applies {
    fn handle<'a>(
        &'a self,
        event: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.0
                .consume(event)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

fn redis_url() -> String {
    if let Ok(u) = std::env::var("OMS_REDIS_URL") {
        return u;
    }
    let env_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.services/env");
    std::fs::read_to_string(env_file)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("OMS_REDIS_URL=").map(str::to_owned))
        })
        .expect(
            "redis-server is not running: run `make test`, or `scripts/services.sh start redis`",
        )
}

#[tokio::test]
async fn on_redis_a_consumer_killed_before_xack_is_taken_over_and_the_event_applied_once() {
    use events::redis::{ConsumerConfig, StreamConsumer, connect};
    let env = env().await;
    let conn = connect(&redis_url()).await.unwrap();
    let stream = format!("handler-{}-{}", std::process::id(), AT);
    let mut c = conn.clone();
    let raw = event("order-submitted.json").to_string();
    let _: String = redis::AsyncCommands::xadd(&mut c, &stream, "*", &[("event", raw.as_str())])
        .await
        .unwrap();
    let before = env.store.writes();

    let (consumer, dead) = env.event_consumer();
    let consumer = Arc::new(consumer);
    let a = StreamConsumer::join(conn.clone(), ConsumerConfig::new(&stream, "g", "a"))
        .await
        .unwrap();
    let killed = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        a.step(&DiesBeforeAck(consumer.clone())),
    )
    .await;
    assert!(killed.is_err(), "a was killed before XACK");
    assert_eq!(env.store.writes(), before + 1, "a committed");

    let mut config = ConsumerConfig::new(&stream, "g", "b");
    config.claim_after = std::time::Duration::from_millis(50);
    let b = StreamConsumer::join(conn.clone(), config).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    let step = b.step(&Applies(consumer)).await.unwrap();
    assert_eq!((step.claimed, step.acked), (1, 1), "{step:?}");
    assert_eq!(
        env.store.writes(),
        before + 1,
        "applied once: b found it done"
    );
    assert!(dead.letters().is_empty());
    let pending: redis::streams::StreamPendingReply =
        redis::AsyncCommands::xpending(&mut c, &stream, "g")
            .await
            .unwrap();
    assert_eq!(pending.count(), 0);
}
