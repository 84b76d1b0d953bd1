//! The graphql Lambda function (`POST /graphql`): reads the shared configuration, builds the
//! clients and the router once, and runs the router with lambda_http.

use boot::lambda::Function;
use lambda_http::{Error, run};

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot::init_logging(boot::LogFormat::Lambda);
    let config = boot::lambda::start(Function::Graphql);
    run(boot::lambda::graphql_router(&config).await?).await
}
