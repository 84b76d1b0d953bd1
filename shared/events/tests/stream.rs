//! The outbox relay's dead letters over moto's SQS and EventBridge (`make test` starts moto):
//! an unreadable record between two valid ones is dead-lettered whole while both valid ones are
//! published; a record unreadable only on its first read (a fault hook in the reader) is
//! published by the redrive; a corrupt one is reported and stays in the queue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_lambda_events::event::dynamodb::EventRecord;
use events::relay::StreamRelay;

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

fn sqs_client() -> aws_sdk_sqs::Client {
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

fn eventbridge_client() -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
                "test", "test", None, None, "static",
            ))
            .endpoint_url(endpoint())
            .build(),
    )
}

fn batch(file: &str) -> serde_json::Value {
    let path = format!(
        "{}/../../events/outbox-relay/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A bus whose events land, through a rule, in a queue the test reads; and the relay's DLQ.
struct Deployment {
    sqs: aws_sdk_sqs::Client,
    bus: String,
    seen: String,
    dlq: String,
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    (url, arn)
}

async fn deployment() -> Deployment {
    let sqs = sqs_client();
    let eb = eventbridge_client();
    let name = format!("oms-relay-{}", ulid::Ulid::new().to_string().to_lowercase());
    let (seen, seen_arn) = queue(&sqs, &format!("{name}-seen")).await;
    let (dlq, _) = queue(&sqs, &format!("{name}-dlq")).await;
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
                .id("seen")
                .arn(seen_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    Deployment {
        sqs,
        bus: name,
        seen,
        dlq,
    }
}

impl Deployment {
    fn relay(&self) -> StreamRelay {
        StreamRelay::new(
            Arc::new(self.publisher()),
            Arc::new(events::SqsDeadLetters::new(self.sqs.clone(), &self.dlq)),
        )
    }

    fn publisher(&self) -> events::EventBridgePublisher {
        events::EventBridgePublisher::new(eventbridge_client(), &self.bus)
    }

    /// The event ids that arrived on the bus so far (each message deleted once read).
    async fn published(&self) -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.seen)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            if got.messages().is_empty() {
                return ids;
            }
            for m in got.messages() {
                let e: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
                ids.insert(e["detail"]["eventId"].as_str().unwrap().to_owned());
                self.sqs
                    .delete_message()
                    .queue_url(&self.seen)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// What waits in the dead-letter queue: (reason, stream sequence number of the body).
    async fn dead_letters(&self) -> Vec<(String, String)> {
        let got = self
            .sqs
            .receive_message()
            .queue_url(&self.dlq)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        got.messages()
            .iter()
            .map(|m| {
                let reason = m.message_attributes().unwrap()["reason"]
                    .string_value()
                    .unwrap()
                    .to_owned();
                let body: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
                let seq = body["dynamodb"]["SequenceNumber"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                (reason, seq)
            })
            .collect()
    }
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn a_bad_record_is_dead_lettered_whole_and_a_redrive_publishes_what_reads_now() {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    let d = deployment().await;
    let relay = d.relay();

    // Valid, corrupt, valid: both valid ones go out, the corrupt one waits in the DLQ.
    let response = events::stream::relay_batch(&relay, batch("stream-unreadable.json"))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    // Each record published is measured: how long it waited since its event (the fixtures'
    // events are old: a lag of over a day each).
    let lags: Vec<f64> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == telemetry::names::RELAY_LAG_SECONDS)
        .flat_map(|(.., value)| match value {
            metrics_util::debugging::DebugValue::Histogram(v) => {
                v.into_iter().map(|f| f.into_inner()).collect()
            }
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(lags.len(), 2, "{lags:?}");
    assert!(lags.iter().all(|l| *l > 86_400.0), "{lags:?}");
    assert_eq!(
        d.published().await,
        ids(&["01HF7YAT000000000000000007", "01HF7YAT000000000000000008"])
    );
    assert_eq!(
        d.dead_letters().await,
        [("unreadable_record".to_owned(), "1600".to_owned())]
    );

    // A reader that cannot read record 1300 the first time (a fault of this build, say).
    let failed_once = AtomicBool::new(false);
    let flaky = |r: &EventRecord| {
        if r.change.sequence_number.as_deref() == Some("1300")
            && !failed_once.swap(true, Ordering::SeqCst)
        {
            return Some(Err("injected: unreadable on its first read".to_owned()));
        }
        events::stream::outbox_events(r)
    };
    let response = events::stream::relay_batch_with(&relay, batch("stream-batch.json"), flaky)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let v2 = "01HF7YAT000000000000000003";
    let published = d.published().await;
    assert_eq!(published.len(), 3, "{published:?}");
    assert!(!published.contains(v2), "{published:?}");
    let mut waiting = d.dead_letters().await;
    waiting.sort();
    assert_eq!(
        waiting,
        [
            ("unreadable_record".to_owned(), "1300".to_owned()),
            ("unreadable_record".to_owned(), "1600".to_owned()),
        ]
    );

    // The redrive reads both again with the deployed reader: 1300 goes out, 1600 stays.
    let queue = events::SqsQueue::new(d.sqs.clone(), &d.dlq);
    let report = events::stream::redrive(&queue, &d.publisher())
        .await
        .unwrap();
    assert_eq!(report.published, 1, "{report:?}");
    assert_eq!(report.left.len(), 1, "{report:?}");
    assert_eq!(report.left[0].reason, "unreadable_record");
    assert!(
        report.left[0].why.starts_with("still unreadable"),
        "{report:?}"
    );
    assert_eq!(d.published().await, ids(&[v2]));
    assert_eq!(
        d.dead_letters().await,
        [("unreadable_record".to_owned(), "1600".to_owned())],
        "the corrupt record stays, visible again"
    );
}
