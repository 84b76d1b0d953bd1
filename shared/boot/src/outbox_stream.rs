//! The `outbox-relay` function's edge: DynamoDB stream records in, `batchItemFailures` out. New
//! outbox items (INSERT records with a `NewImage`) are read with the store's own item model and
//! handed to [`app::relay::StreamRelay`]; every other record is passed over.

use std::sync::Arc;

use app::relay::{StreamRelay, StreamedOutbox};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use domain::events::DomainEvent;
use store::dynamo::item_from_stream_image;
use store::repo::OutboxRepository;

/// Where the relay publishes: the EventBridge bus (`OMS_EVENT_BUS`, required), and an
/// endpoint override (`OMS_EVENTBRIDGE_ENDPOINT`: moto in tests; unset in AWS).
#[derive(Debug, Clone)]
pub struct BusConfig {
    pub bus: String,
    pub endpoint: Option<String>,
}

impl BusConfig {
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let bus = get(crate::lambda::env::EVENT_BUS).ok_or("OMS_EVENT_BUS is not set")?;
        if bus.trim().is_empty() {
            return Err("OMS_EVENT_BUS is empty".into());
        }
        Ok(Self {
            bus,
            endpoint: get("OMS_EVENTBRIDGE_ENDPOINT"),
        })
    }
}

/// The EventBridge publisher of `config`.
pub async fn eventbridge(config: &BusConfig) -> Arc<bus::EventBridgePublisher> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(e) = &config.endpoint {
        loader = loader.endpoint_url(e);
    }
    let client = aws_sdk_eventbridge::Client::new(&loader.load().await);
    Arc::new(bus::EventBridgePublisher::new(client, config.bus.clone()))
}

/// The outbox events a stream record carries: `None` for a record that is not a new outbox
/// item (a change of another item, a TTL removal).
fn outbox_events(record: &EventRecord) -> Option<Result<Vec<DomainEvent>, String>> {
    if record.event_name != "INSERT" {
        return None;
    }
    let item = match item_from_stream_image(record.change.new_image.clone()) {
        Ok(item) => item,
        Err(e) => return Some(Err(e.to_string())),
    };
    OutboxRepository::streamed_events(&item)
        .map_err(|e| e.to_string())
        .transpose()
}

/// Relays a batch of stream records; the answer names the first record that did not go out
/// (the stream retries from it), or none.
pub async fn relay_batch(relay: &StreamRelay, event: Event) -> DynamoDbEventResponse {
    let records = event
        .records
        .iter()
        .filter_map(|r| {
            outbox_events(r).map(|events| StreamedOutbox {
                position: r.change.sequence_number.clone(),
                events,
            })
        })
        .collect();
    let mut response = DynamoDbEventResponse::default();
    if let Some(position) = relay.relay(records).await {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = position;
        response.batch_item_failures.push(failure);
    }
    response
}

/// The relay of the `outbox-relay` function, from its environment.
pub async fn relay_from_env() -> Result<StreamRelay, String> {
    let config = BusConfig::from_env(|k| std::env::var(k).ok())?;
    Ok(StreamRelay::new(eventbridge(&config).await))
}
