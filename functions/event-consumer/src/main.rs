//! The `event-consumer` Lambda function (EventBridge events in): tenant events applied through
//! the shared use cases, once per event id, poison events to the dead-letter queue, and any
//! event claiming a reserved source (ours, `aws.*`) dead-lettered as forged (our own events go
//! to the `notifier` function). `main` only wires; the edge lives in `shared/events`
//! (dispatch, tenant).

use boot::lambda::Function;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let traces = boot::init_logging(boot::LogFormat::Lambda);
    let config = boot::lambda::start(Function::EventConsumer);
    let function = boot::lambda::event_function(&config).await?;
    let (function, metrics) = (
        &function,
        &boot::lambda::observed(Function::EventConsumer, traces),
    );
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let out = events::dispatch::handle_event(function, event.payload).await;
        metrics.flush();
        out.map_err(Error::from)
    }))
    .await
}
