//! The `outbox-relay` Lambda function: the table's stream (NEW_IMAGE) in, every new outbox
//! item's events to EventBridge, `batchItemFailures` naming the first record that did not go out
//! (`FunctionResponseTypes: ReportBatchItemFailures`). The relay lives in `shared/`.

use aws_lambda_events::event::dynamodb::Event;
use boot::lambda::Function;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot::init_logging(boot::LogFormat::Lambda);
    let config = boot::lambda::start(Function::OutboxRelay);
    let relay = boot::lambda::outbox_relay(&config).await?;
    let relay = &relay;
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(boot::outbox_stream::relay_batch(relay, event.payload).await)
    }))
    .await
}
