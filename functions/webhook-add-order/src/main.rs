//! The `webhook-add-order` Lambda function (`POST /webhooks/add-order/{tenant}`): reads its configuration, builds the
//! services once, and serves the shared webhook router with lambda_http. Verification, dedupe
//! and the use cases live in `shared/`.

use lambda_http::{Error, run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot::init_logging(boot::LogFormat::Lambda);
    run(boot::lambda::webhook_router_from_env().await?).await
}
