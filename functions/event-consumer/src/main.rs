//! The `event-consumer` Lambda function (EventBridge events in): tenant events applied through
//! the shared use cases, once per event id; poison events to the dead-letter queue. `main` only
//! wires; the consumer lives in `shared/api` (tenant_events).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot::init_logging(boot::LogFormat::Lambda);
    let consumer = boot::lambda::event_consumer_from_env().await?;
    let consumer = &consumer;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        boot::lambda::consume_event(consumer, event.payload)
            .await
            .map_err(Error::from)
    }))
    .await
}
