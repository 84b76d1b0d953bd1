//! The `notifier` Lambda function (the notifications queue in): each of our domain events the
//! notifications rule queued is POSTed, signed, to its tenant's notification URL — one attempt
//! per message, retried by the queue with backoff, circuit-broken per endpoint, given up into
//! the tenant audit and the dead-letter queue. `main` only wires; the edge lives in
//! `shared/events` (notifier), the delivery there too (notify).

use boot::lambda::Function;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let traces = boot::init_logging(boot::LogFormat::Lambda);
    let config = boot::lambda::start(Function::Notifier);
    let function = boot::lambda::notifier_function(&config).await?;
    let (function, metrics) = (
        &function,
        &boot::lambda::observed(Function::Notifier, traces),
    );
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let out = events::notifier::handle_batch(
            function,
            event.payload,
            &event.context.invoked_function_arn,
        )
        .await;
        metrics.flush();
        out.map_err(Error::from)
    }))
    .await
}
