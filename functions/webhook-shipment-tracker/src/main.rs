//! The `webhook-shipment-tracker` Lambda function (`POST /webhooks/shipment-tracker[/{tenant}]`):
//! reads the shared configuration, builds the services once, and serves the shared webhook router
//! through the functions' HTTP edge (`http_edge::lambda`). Verification, dedupe and the use cases
//! live in `shared/`.

use boot::lambda::Function;
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let traces = boot::init_logging(boot::LogFormat::Lambda);
    let config = boot::lambda::start(Function::WebhookShipmentTracker);
    let metrics = boot::lambda::observed(Function::WebhookShipmentTracker, traces);
    let services = boot::lambda::webhook_services(&config).await?;
    http_edge::lambda::serve(
        http_edge::webhook_router(graphql::api_state(services)),
        move || metrics.flush(),
    )
    .await
}
