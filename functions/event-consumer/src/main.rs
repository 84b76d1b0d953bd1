//! The `event-consumer` Lambda function. A shell until its issue lands: it refuses every event with
//! an error, so EventBridge retries and then dead-letters instead of silently dropping events.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

async fn not_yet(event: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::error!(request_id = %event.context.request_id, "event-consumer is not implemented yet");
    Err("event-consumer is not implemented yet".into())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot::init_logging(boot::LogFormat::Lambda);
    run(service_fn(not_yet)).await
}
