//! The EventBridge publisher against moto's server (`make test` starts it): events arrive
//! through a rule in an SQS queue the test reads back, and a partial failure of `PutEvents`
//! sends again only the entries that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use domain::events::DomainEvent;
use domain::ports::EventPublisher;
use events::EventBridgePublisher;

fn endpoint() -> String {
    if let Ok(e) = std::env::var("OMS_MOTO_ENDPOINT") {
        return e;
    }
    let env_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.services/env");
    std::fs::read_to_string(env_file)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("OMS_MOTO_ENDPOINT=").map(str::to_owned))
        })
        .expect("moto is not running: run `make test`, or `scripts/services.sh start moto`")
}

fn creds() -> aws_sdk_eventbridge::config::Credentials {
    aws_sdk_eventbridge::config::Credentials::new("test", "test", None, None, "static")
}

/// `n` domain events, as the domain serializes them (from the event-consumer sample).
fn events(n: usize) -> Vec<DomainEvent> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/event-consumer/order-created.json"
    ))
    .unwrap();
    let sample: serde_json::Value = serde_json::from_str(&text).unwrap();
    (0..n)
        .map(|i| {
            let mut d = sample["detail"].clone();
            d["eventId"] = serde_json::Value::from(ulid::Ulid::new().to_string());
            d["aggregateVersion"] = serde_json::Value::from(i + 1);
            serde_json::from_value(d).unwrap()
        })
        .collect()
}

fn is_put_events(cfg: &ConfigBag) -> bool {
    cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
        .is_some_and(|m| m.name() == "PutEvents")
}

/// Counts the entries of every `PutEvents` request, and fails entry 1 of the first response
/// with `code` (`InternalFailure` when none).
#[derive(Debug, Default, Clone)]
struct FailOnce {
    sent: Arc<Mutex<Vec<usize>>>,
    code: Option<&'static str>,
}

impl Intercept for FailOnce {
    fn name(&self) -> &'static str {
        "FailOnce"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if !is_put_events(cfg) {
            return Ok(());
        }
        let body = ctx.request().body().bytes().unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let n = v["Entries"].as_array().map_or(0, Vec::len);
        self.sent.lock().unwrap().push(n);
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        ctx: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if is_put_events(cfg) && self.sent.lock().unwrap().len() == 1 {
            let n = self.sent.lock().unwrap()[0];
            let entries: Vec<serde_json::Value> = (0..n)
                .map(|i| {
                    if i == 1 {
                        serde_json::json!({
                            "ErrorCode": self.code.unwrap_or("InternalFailure"),
                            "ErrorMessage": "injected"
                        })
                    } else {
                        serde_json::json!({"EventId": format!("ok-{i}")})
                    }
                })
                .collect();
            let body = serde_json::json!({"FailedEntryCount": 1, "Entries": entries}).to_string();
            *ctx.response_mut().body_mut() = aws_smithy_types::body::SdkBody::from(body);
        }
        Ok(())
    }
}

fn eventbridge(interceptor: Option<FailOnce>) -> aws_sdk_eventbridge::Client {
    let mut conf = aws_sdk_eventbridge::Config::builder()
        .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
        .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
        .credentials_provider(creds())
        .endpoint_url(endpoint());
    if let Some(i) = interceptor {
        conf = conf.interceptor(i);
    }
    aws_sdk_eventbridge::Client::from_conf(conf.build())
}

fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "static",
            ))
            .endpoint_url(endpoint())
            .build(),
    )
}

#[tokio::test]
async fn a_dead_letter_lands_in_the_queue_with_its_reason() {
    use domain::ports::{DeadLetter, DeadLetters};
    let name = format!("oms-dlq-{}", ulid::Ulid::new().to_string().to_lowercase());
    let sqs = sqs();
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let letter = DeadLetter {
        reason: "malformed".into(),
        detail: "INVALID_INPUT: detail.lines".into(),
        event_id: Some("evt-1".into()),
        body: r#"{"id":"evt-1","detail":{}}"#.into(),
    };
    events::SqsDeadLetters::new(sqs.clone(), &url)
        .dead_letter(&letter)
        .await
        .unwrap();
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .message_attribute_names("All")
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let m = &got.messages()[0];
    assert_eq!(m.body(), Some(letter.body.as_str()));
    let attr = |k: &str| {
        m.message_attributes().unwrap()[k]
            .string_value()
            .unwrap()
            .to_owned()
    };
    assert_eq!(attr("reason"), "malformed");
    assert_eq!(attr("eventId"), "evt-1");
    assert_eq!(attr("detail"), letter.detail);
}

#[tokio::test]
async fn published_events_arrive_through_a_rule_in_an_sqs_queue() {
    let name = format!("oms-{}", ulid::Ulid::new().to_string().to_lowercase());
    let sqs = sqs();
    let queue = sqs.create_queue().queue_name(&name).send().await.unwrap();
    let url = queue.queue_url().unwrap().to_owned();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attrs
        .attributes()
        .unwrap()
        .get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .unwrap()
        .clone();
    let eb = eventbridge(None);
    eb.create_event_bus().name(&name).send().await.unwrap();
    eb.put_rule()
        .name(&name)
        .event_bus_name(&name)
        .event_pattern(r#"{"source":["tenantoms"]}"#)
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule(&name)
        .event_bus_name(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let sent = events(13);
    let publisher = EventBridgePublisher::new(eb, &name);
    let outcome = publisher.publish(&sent).await.unwrap();
    assert!(outcome.failed.is_empty(), "{outcome:?}");

    let mut got: Vec<serde_json::Value> = Vec::new();
    for _ in 0..20 {
        let msgs = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in msgs.messages() {
            got.push(serde_json::from_str(m.body().unwrap()).unwrap());
        }
        if got.len() >= sent.len() {
            break;
        }
    }
    assert_eq!(got.len(), sent.len(), "every event arrived once");
    for e in &got {
        assert_eq!(e["source"], "tenantoms");
        assert_eq!(e["detail-type"], "OrderCreated");
        let id = e["detail"]["eventId"].as_str().unwrap();
        assert!(sent.iter().any(|s| s.event_id.to_string() == id), "{e}");
        // The detail is the versioned event with its id, tenant, order and aggregate version.
        for field in [
            "eventId",
            "schemaVersion",
            "tenant",
            "orderId",
            "aggregateVersion",
            "occurredAt",
        ] {
            assert!(!e["detail"][field].is_null(), "{field} missing: {e}");
        }
    }
}

#[tokio::test]
async fn a_partial_failure_sends_again_only_the_failed_entries() {
    let name = format!("oms-{}", ulid::Ulid::new().to_string().to_lowercase());
    let probe = FailOnce::default();
    let eb = eventbridge(Some(probe.clone()));
    eb.create_event_bus().name(&name).send().await.unwrap();
    let publisher = EventBridgePublisher::new(eb, &name).with_backoff(Duration::from_millis(1));
    let outcome = publisher.publish(&events(3)).await.unwrap();
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    assert_eq!(
        *probe.sent.lock().unwrap(),
        [3, 1],
        "the first call sent 3 entries; the retry only the one that failed"
    );
}

#[tokio::test]
async fn an_entry_refused_for_good_is_reported_and_never_sent_again() {
    let name = format!("oms-{}", ulid::Ulid::new().to_string().to_lowercase());
    let probe = FailOnce {
        code: Some("MalformedDetail"),
        ..FailOnce::default()
    };
    let eb = eventbridge(Some(probe.clone()));
    eb.create_event_bus().name(&name).send().await.unwrap();
    let publisher = EventBridgePublisher::new(eb, &name).with_backoff(Duration::from_millis(1));
    let outcome = publisher.publish(&events(3)).await.unwrap();
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    assert_eq!(outcome.rejected.len(), 1, "{outcome:?}");
    assert_eq!(outcome.rejected[0].index, 1);
    assert_eq!(outcome.rejected[0].reason, "MalformedDetail: injected");
    assert_eq!(*probe.sent.lock().unwrap(), [3], "nothing was sent again");
}

#[tokio::test]
async fn an_event_over_256_kb_is_refused_without_a_call() {
    let name = format!("oms-{}", ulid::Ulid::new().to_string().to_lowercase());
    let probe = FailOnce::default();
    let eb = eventbridge(Some(probe.clone()));
    let publisher = EventBridgePublisher::new(eb, &name);
    let mut big = events(1);
    let mut detail = serde_json::to_value(&big[0]).unwrap();
    let line = detail["payload"]["lines"][0].clone();
    detail["payload"]["lines"] = serde_json::Value::Array(vec![line; 10_000]);
    big[0] = serde_json::from_value(detail).unwrap();
    assert!(serde_json::to_string(&big[0]).unwrap().len() > 256 * 1024);
    let outcome = publisher.publish(&big).await.unwrap();
    assert_eq!(outcome.rejected.len(), 1, "{outcome:?}");
    assert!(
        outcome.rejected[0].reason.starts_with("entry_too_large"),
        "{outcome:?}"
    );
    assert!(probe.sent.lock().unwrap().is_empty(), "no call was made");
}
