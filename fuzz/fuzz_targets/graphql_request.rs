//! The GraphQL request path as a client reaches it: a body (raw, or a document with variables
//! and an operation name) POSTed to `/graphql` with a valid staff token. Whatever comes in, the
//! answer is a client error or a GraphQL response — never a 5xx, a panic or a hang — and it is
//! JSON.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use oms_fuzz::{ENV, assert_not_5xx};

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any bytes as the body.
    Raw(Vec<u8>),
    /// A request object: the document, variables (JSON when they parse, else a string) and
    /// an operation name.
    Document {
        query: String,
        variables: Option<String>,
        operation: Option<String>,
    },
}

fuzz_target!(|input: Input| {
    let body = match input {
        Input::Raw(bytes) => bytes,
        Input::Document {
            query,
            variables,
            operation,
        } => {
            let variables = variables.map(|v| {
                serde_json::from_str::<serde_json::Value>(&v)
                    .unwrap_or(serde_json::Value::String(v))
            });
            serde_json::json!({ "query": query, "variables": variables, "operationName": operation })
                .to_string()
                .into_bytes()
        }
    };
    let headers = [
        ("authorization", format!("Bearer {}", ENV.staff)),
        ("content-type", "application/json".to_owned()),
    ];
    let (status, _, text) = ENV.rt.block_on(ENV.web.post("/graphql", &headers, body));
    assert_not_5xx(status, &text);
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_ok(),
        "not JSON ({status}): {text}"
    );
});
