//! The `webhook-shipment-tracker` Lambda function (`POST /webhooks/shipment-tracker[/{tenant}]`): reads the shared configuration, builds the
//! services once, and serves the shared webhook router through `boot::http_edge`. Verification, dedupe
//! and the use cases live in `shared/`.

use boot::lambda::Function;
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot::init_logging(boot::LogFormat::Lambda);
    let config = boot::lambda::start(Function::WebhookShipmentTracker);
    boot::http_edge::serve(boot::lambda::webhook_router(&config).await?).await
}
