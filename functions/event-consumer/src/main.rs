//! The `event-consumer` Lambda function (EventBridge events in): tenant events applied through
//! the shared use cases, once per event id, poison events to the dead-letter queue; our own
//! domain events notified to the tenants that subscribe. `main` only wires; the consumer lives
//! in `shared/api` (tenant_events), the notifier in `shared/app` (notify).

use boot::lambda::Function;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot::init_logging(boot::LogFormat::Lambda);
    let config = boot::lambda::start(Function::EventConsumer);
    let function = boot::lambda::event_function(&config).await?;
    let function = &function;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        boot::lambda::handle_event(function, event.payload)
            .await
            .map_err(Error::from)
    }))
    .await
}
