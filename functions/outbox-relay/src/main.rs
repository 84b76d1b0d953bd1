//! The `outbox-relay` Lambda function: the table's stream (NEW_IMAGE) in, every new outbox
//! item's events to EventBridge, `batchItemFailures` naming the first record that did not go out
//! (`FunctionResponseTypes: ReportBatchItemFailures`); what cannot go out for good goes to the
//! dead-letter queue whole. The relay lives in `shared/events`.

use boot::lambda::Function;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let traces = boot::init_logging(boot::LogFormat::Lambda);
    let config = boot::lambda::start(Function::OutboxRelay);
    let relay = boot::lambda::outbox_relay(&config).await?;
    let (relay, metrics) = (
        &relay,
        &boot::lambda::observed(Function::OutboxRelay, traces),
    );
    // The payload is read by the relay itself: one that is not a stream batch is dead-lettered
    // and the invocation succeeds, never an error the stream would retry for a day.
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let out = events::stream::relay_batch(relay, event.payload).await;
            metrics.flush();
            out.map_err(Error::from)
        },
    ))
    .await
}
