//! The graphql Lambda function: reads its configuration, builds the clients and the router once,
//! and runs the router with lambda_http.

use std::sync::Arc;

use lambda_http::{Error, run};
use store::SystemClock;
use store::cursor::Cursors;
use store::dynamo::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_target(false)
        .without_time()
        .init();
    let config = graphql::Config::from_env(|k| std::env::var(k).ok())?;
    let mut aws = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(endpoint) = &config.endpoint {
        aws = aws.endpoint_url(endpoint);
    }
    let client = aws_sdk_dynamodb::Client::new(&aws.load().await);
    let clock = Arc::new(SystemClock);
    let store = Arc::new(DynamoStore::new(client, config.table, clock.clone()));
    let state = api::api_state(
        store,
        clock,
        config.verifier,
        Cursors::new(config.cursor_key),
    )?;
    run(api::router(state, config.http)).await
}
