//! The graphql Lambda function (`POST /graphql`): reads the shared configuration, builds the
//! services once, and serves the GraphQL router through the functions' HTTP edge
//! (`http_edge::lambda`: an event that is not a request is answered 400, never a panic).

use boot::lambda::Function;
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let traces = boot::init_logging(boot::LogFormat::Lambda);
    let config = boot::lambda::start(Function::Graphql);
    let metrics = boot::lambda::observed(Function::Graphql, traces);
    let services = boot::lambda::graphql_services(&config).await?;
    let http = http_edge::HttpConfig::lambda(config.introspection);
    http_edge::lambda::serve(
        http_edge::graphql_router(graphql::api_state(services), http),
        move || metrics.flush(),
    )
    .await
}
