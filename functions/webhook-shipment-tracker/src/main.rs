//! The `webhook-shipment-tracker` Lambda function. A shell until its issue lands: it answers every request with
//! 501 and a JSON error, so a deployed stack fails loudly instead of pretending to work.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

async fn not_yet(_request: Request) -> Result<Response<Body>, Error> {
    let response = Response::builder()
        .status(501)
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"errors":[{"message":"webhook-shipment-tracker is not implemented yet","extensions":{"code":"NOT_IMPLEMENTED"}}]}"#,
        ))?;
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    boot::init_logging(boot::LogFormat::Lambda);
    run(service_fn(not_yet)).await
}
