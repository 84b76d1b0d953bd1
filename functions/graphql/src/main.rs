//! The graphql Lambda function (`POST /graphql`): reads the shared configuration, builds the
//! services once, and serves the GraphQL router through the functions' HTTP edge
//! (`api::http::lambda`: an event that is not a request is answered 400, never a panic).

use boot::lambda::Function;
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot::init_logging(boot::LogFormat::Lambda);
    let config = boot::lambda::start(Function::Graphql);
    let services = boot::lambda::graphql_services(&config).await?;
    let http = api::HttpConfig::lambda(config.introspection);
    api::http::lambda::serve(api::graphql_router(api::api_state(services), http)).await
}
