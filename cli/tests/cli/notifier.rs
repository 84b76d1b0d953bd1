//! The notifier as AWS runs it: the `notifier` binary (lambda-host profile) behind the fake
//! Runtime API, fed by a poller that plays Lambda's SQS event source over moto's SQS with
//! `MaximumConcurrency` 2 (two execution environments, one batch each at a time), the table on
//! DynamoDB Local, the secrets on moto.
//!
//! Tenant A's receiver accepts connections and never answers; 500 of A's notifications are
//! queued ahead of one of tenant B's. B's must arrive within 30 s, and A's must end in the
//! queue's dead-letter queue (its redrive policy) with their events, A's audit saying why.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use app::context::{RequestCtx, UnitOfWork};
use app::platform::WebhookRequest;
use auth::{Caller, Identity};
use domain::access::{Plan, Role};
use domain::config::{NotificationUrl, TenantConfig};
use domain::ids::{PlanName, TenantId};
use domain::webhook::{WebhookHook, WebhookProvider};
use serde_json::{Value, json};
use testkit::lambda_runtime::Lambda;

use crate::lambda::{Deployment, deployment, release_dir};

const A: &str = "demo";
const B: &str = "shippo-demo";
const QUEUED_FOR_A: usize = 500;
const MAX_RECEIVES: u32 = 2;

/// A receiver that answers 204 and counts, and one that takes connections and never answers.
async fn receivers() -> (String, Arc<AtomicUsize>, String) {
    let got = Arc::new(AtomicUsize::new(0));
    let counted = got.clone();
    let live = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { axum::http::StatusCode::NO_CONTENT }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let live_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, live).await.unwrap() });
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = dead.accept().await {
            held.push(socket);
        }
    });
    (
        format!("http://{live_addr}/hook"),
        got,
        format!("http://{dead_addr}/hook"),
    )
}

fn rc(tenant: &str) -> RequestCtx {
    RequestCtx {
        caller: Caller::Tenant(Identity::for_tests(
            tenant,
            "admin-1",
            &[Role::TenantAdmin],
            None,
            Plan::everything(PlanName::parse("standard").unwrap()),
        )),
        request_id: format!("setup-{tenant}"),
    }
}

/// `tenant` signs with its own notification secret and is notified at `url`.
async fn subscribe(d: &Deployment, tenant: &str, url: &str) {
    d.platform
        .set_webhook(
            &TenantId::parse(tenant).unwrap(),
            WebhookRequest {
                hook: WebhookHook::Notifications,
                provider: WebhookProvider::Oms,
                secret: secrecy::SecretString::from(format!("notify-{tenant}-0123456789")),
                max_age_seconds: None,
                tracking_reference: None,
            },
        )
        .await
        .unwrap();
    let services = boot::services_with_outbound(
        d.store.clone(),
        Arc::new(domain::SystemClock),
        auth::VerifierConfig::default(),
        store::cursor::Cursors::new(store::cursor::CursorKey::from_bytes(&[9; 32]).unwrap()),
        Some(d.secrets.clone()),
        domain::outbound::OutboundPolicy::for_mode(true),
    )
    .unwrap();
    let config =
        TenantConfig::new(0, Vec::new(), Some(NotificationUrl::parse(url).unwrap())).unwrap();
    services
        .app
        .update_tenant_config(&rc(tenant), &UnitOfWork::immediate(), config)
        .await
        .unwrap();
}

/// An EventBridge event as the notifications rule queues it: one of `tenant`'s orders created.
fn queued(tenant: &str, n: usize) -> (String, String) {
    let path = format!(
        "{}/../events/event-consumer/order-created.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut e: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let id = ulid::Ulid::new().to_string();
    e["id"] = json!(format!("evt-{n}"));
    e["detail"]["eventId"] = json!(id);
    e["detail"]["tenant"] = json!(tenant);
    (id, e.to_string())
}

async fn queue(d: &Deployment, name: &str, attributes: &[(&str, String)]) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let mut create = d.sqs.create_queue().queue_name(name);
    for (k, v) in attributes {
        create = create.attributes(QueueAttributeName::from(*k), v);
    }
    let url = create.send().await.unwrap().queue_url().unwrap().to_owned();
    let arn = d
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    (url, arn)
}

async fn depth(d: &Deployment, url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName;
    let out = d
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let a = out.attributes().unwrap();
    let n = |k: QueueAttributeName| a.get(&k).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    n(QueueAttributeName::ApproximateNumberOfMessages)
        + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
}

/// Lambda's SQS event source for one execution environment: receive up to 10, invoke, delete
/// what the function did not report failed; until `stop`. Receives are taken one at a time
/// (`receiving`): moto moves a message to the dead-letter queue without a lock, and two
/// receives at once can both try (a 500); the invocations still run side by side.
async fn poll(
    sqs: aws_sdk_sqs::Client,
    url: String,
    mut lambda: Lambda,
    stop: Arc<AtomicBool>,
    receiving: Arc<tokio::sync::Mutex<()>>,
) -> [Duration; 4] {
    // Time spent receiving, invoking, deleting; and invocations.
    let mut spent = [Duration::ZERO; 4];
    while !stop.load(Ordering::SeqCst) {
        let t = Instant::now();
        let turn = receiving.lock().await;
        // `AttributeNames` (deprecated for `MessageSystemAttributeNames`, which moto answers
        // with a 500): Lambda hands the function `ApproximateReceiveCount` from it.
        #[allow(deprecated)]
        let got = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await;
        drop(turn);
        // Lambda's poller retries a receive the queue failed; so does this one. Moto still
        // answers an occasional 500 when a receive meets the function's own visibility and
        // delete calls on a message it is moving to the dead-letter queue.
        let got = match got {
            Ok(got) => got,
            Err(e)
                if e.raw_response()
                    .is_some_and(|r| r.status().is_server_error()) =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => panic!("receive: {e:?}"),
        };
        spent[0] += t.elapsed();
        let messages = got.messages();
        if messages.is_empty() {
            continue;
        }
        let t = Instant::now();
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                    .collect();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:notifications",
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        let answer = lambda
            .invoke(&json!({ "Records": records }), Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("the notifier failed an invocation: {e}"));
        spent[1] += t.elapsed();
        spent[3] += Duration::from_secs(1);
        let t = Instant::now();
        let failed: BTreeSet<String> = answer["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
            .collect();
        for m in messages {
            if !failed.contains(m.message_id().unwrap()) {
                sqs.delete_message()
                    .queue_url(&url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        spent[2] += t.elapsed();
    }
    spent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_receiver_never_holds_up_another_tenants_notification() {
    let d = deployment().await;
    let (live, delivered, dead) = receivers().await;
    subscribe(&d, A, &dead).await;
    subscribe(&d, B, &live).await;

    let tag = ulid::Ulid::new().to_string().to_lowercase();
    let (dlq, dlq_arn) = queue(&d, &format!("oms-notify-dlq-{tag}"), &[]).await;
    let redrive = json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES });
    let (url, _) = queue(
        &d,
        &format!("oms-notify-{tag}"),
        &[
            ("VisibilityTimeout", "120".to_owned()),
            ("RedrivePolicy", redrive.to_string()),
        ],
    )
    .await;
    let (forged, _) = queue(&d, &format!("oms-notify-forged-{tag}"), &[]).await;

    let mut sent_for_a = BTreeSet::new();
    let mut batch = Vec::new();
    for n in 0..QUEUED_FOR_A {
        let (id, body) = queued(A, n);
        sent_for_a.insert(id);
        batch.push(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(format!("m{n}"))
                .message_body(body)
                .build()
                .unwrap(),
        );
        if batch.len() == 10 {
            d.sqs
                .send_message_batch()
                .queue_url(&url)
                .set_entries(Some(std::mem::take(&mut batch)))
                .send()
                .await
                .unwrap();
        }
    }
    let (_, body) = queued(B, QUEUED_FOR_A);
    d.sqs
        .send_message()
        .queue_url(&url)
        .message_body(body)
        .send()
        .await
        .unwrap();
    let queued_at = Instant::now();

    let mut env = d.env.clone();
    let allow = format!(
        "{},{}",
        live.trim_start_matches("http://").trim_end_matches("/hook"),
        dead.trim_start_matches("http://").trim_end_matches("/hook")
    );
    env.retain(|(k, _)| *k != "OMS_DEAD_LETTER_QUEUE_URL" && *k != "OMS_NOTIFICATIONS_QUEUE_URL");
    env.extend([
        ("OMS_NOTIFICATIONS_QUEUE_URL", url.clone()),
        ("OMS_DEAD_LETTER_QUEUE_URL", forged.clone()),
        ("OMS_NOTIFY_MAX_ATTEMPTS", MAX_RECEIVES.to_string()),
        ("OMS_OUTBOUND_ALLOW", allow),
    ]);
    // MaximumConcurrency 2: two execution environments.
    let stop = Arc::new(AtomicBool::new(false));
    let receiving = Arc::new(tokio::sync::Mutex::new(()));
    let mut pollers = Vec::new();
    for _ in 0..2 {
        let lambda = Lambda::start(&release_dir().join("notifier"), &env)
            .await
            .unwrap();
        pollers.push(tokio::spawn(poll(
            d.sqs.clone(),
            url.clone(),
            lambda,
            stop.clone(),
            receiving.clone(),
        )));
    }

    while delivered.load(Ordering::SeqCst) == 0
        && queued_at.elapsed() < Duration::from_secs(30)
        && !pollers.iter().any(tokio::task::JoinHandle::is_finished)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = queued_at.elapsed();
    println!("tenant B's notification arrived after {took:?}, behind {QUEUED_FOR_A} of A's");
    assert_eq!(
        delivered.load(Ordering::SeqCst),
        1,
        "B's notification within 30 s"
    );

    // A's: every one ends in the dead-letter queue after its last attempt.
    let deadline = Instant::now() + Duration::from_secs(180);
    while depth(&d, &dlq).await < QUEUED_FOR_A && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "A's {QUEUED_FOR_A} in the dead-letter queue after {:?}",
        queued_at.elapsed()
    );
    stop.store(true, Ordering::SeqCst);
    for p in pollers {
        let [receiving, invoking, deleting, n] = p.await.unwrap();
        println!(
            "poller: {} invocations; {receiving:?} receiving, {invoking:?} invoking, {deleting:?} deleting",
            n.as_secs()
        );
    }
    let mut parked = BTreeSet::new();
    loop {
        let got = d
            .sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .visibility_timeout(300)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if got.messages().is_empty() {
            break;
        }
        for m in got.messages() {
            let e: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            assert_eq!(e["detail"]["tenant"], A, "{e}");
            parked.insert(e["detail"]["eventId"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        parked, sent_for_a,
        "each of A's events, once, in the dead-letter queue"
    );
    assert_eq!(depth(&d, &url).await, 0, "nothing left behind");
    assert_eq!(depth(&d, &forged).await, 0, "nothing taken for forged");
    assert_eq!(
        delivered.load(Ordering::SeqCst),
        1,
        "B's, once; none of A's"
    );

    // A's audit says why, once per notification given up.
    let services = boot::services_with_outbound(
        d.store.clone(),
        Arc::new(domain::SystemClock),
        auth::VerifierConfig::default(),
        store::cursor::Cursors::new(store::cursor::CursorKey::from_bytes(&[9; 32]).unwrap()),
        Some(d.secrets.clone()),
        domain::outbound::OutboundPolicy::for_mode(true),
    )
    .unwrap();
    let now = domain::Clock::now(&domain::SystemClock);
    let mut given_up = BTreeSet::new();
    let mut after = None;
    loop {
        let page = services
            .app
            .tenant_audit_log(
                &rc(A),
                now.plus_seconds(-3600),
                now,
                &app::ports::PageRequest { first: 100, after },
            )
            .await
            .unwrap();
        for r in &page.rows {
            if r.action == "notify" {
                let domain::audit::AuditOutcome::Failed { reason } = &r.outcome else {
                    panic!("{r:?}");
                };
                assert!(
                    reason.contains(&format!("after {MAX_RECEIVES} attempt(s)")),
                    "{reason}"
                );
                given_up.insert(r.target.id.clone());
            }
        }
        match page.end_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(
        given_up, sent_for_a,
        "A's audit names every notification given up"
    );
}
