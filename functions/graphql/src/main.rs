//! The graphql Lambda function (`POST /graphql`): reads the shared configuration, builds the
//! clients and the router once, and serves the router through the functions' edge (`boot::http_edge`: an event that is not
//! a request is answered 400, never a panic).

use boot::lambda::Function;
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot::init_logging(boot::LogFormat::Lambda);
    let config = boot::lambda::start(Function::Graphql);
    boot::http_edge::serve(boot::lambda::graphql_router(&config).await?).await
}
