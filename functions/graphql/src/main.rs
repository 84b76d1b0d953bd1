//! The graphql Lambda function: reads its configuration, builds the clients and the router once,
//! and runs the router with lambda_http.

use std::sync::Arc;

use domain::{Clock, SystemClock};
use lambda_http::{Error, run};
use store::cursor::Cursors;

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot::init_logging(boot::LogFormat::Lambda);
    let config = graphql::Config::from_env(|k| std::env::var(k).ok())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = boot::open_store(&config.store, clock.clone()).await?;
    let services = app::services(
        store,
        clock,
        config.verifier,
        Cursors::new(config.cursor_key),
        // Webhooks are other functions; this one serves GraphQL only.
        None,
    )?;
    run(api::router(api::api_state(services), config.http)).await
}
