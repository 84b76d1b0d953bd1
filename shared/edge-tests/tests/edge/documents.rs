//! Repeated documents skip the full validation rule set once they have passed it; these tests
//! hold that shortcut to the same answers: variables of the wrong type or missing are still
//! refused with nothing written, and a document that failed validation never takes it.

use domain::access::Role;
use serde_json::json;

const CREATE: &str = "mutation Create($input: CreateOrderInput!) { createOrder(input: $input) { order { id lines { quantity } } userErrors { code } } }";

fn input(quantity: serde_json::Value) -> serde_json::Value {
    json!({
        "currency": "USD",
        "customer": {"name": "Ana", "email": "ana@example.com"},
        "destination": {"name": "Ana", "line1": "1 Main St", "city": "Springfield", "postalCode": "62701", "country": "US"},
        "lines": [{"sku": "A", "vendor": "v1", "quantity": quantity, "unitPrice": "19.99"}]
    })
}

#[tokio::test]
async fn a_validated_document_still_refuses_bad_variables_without_writing() {
    let env = testkit::DemoEnv::new().await;
    let token = env.token(Role::Staff);
    let post = |variables: serde_json::Value| {
        let body = json!({"query": CREATE, "variables": variables});
        let router = env.router.clone();
        let token = token.clone();
        async move { testkit::post_graphql(&router, &token, &[], body).await }
    };
    // Twice with good variables: the second run is on the fast path.
    for quantity in [2, 3] {
        let (status, body, text) = post(json!({"input": input(json!(quantity))})).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(
            body["data"]["createOrder"]["order"]["lines"][0]["quantity"], quantity,
            "{text}"
        );
    }
    let writes = env.store.writes();
    let refused = [
        json!({"input": input(json!("two"))}),
        json!({"input": input(json!(-1.5))}),
        json!({"input": {"currency": "USD"}}),
        json!({}),
        json!({"input": null}),
    ];
    for variables in refused {
        let (_, body, text) = post(variables.clone()).await;
        let errors = body["errors"].as_array().map(Vec::len).unwrap_or(0);
        assert!(errors > 0, "{variables} was accepted: {text}");
        assert!(
            body["data"].is_null() || body["data"]["createOrder"].is_null(),
            "{variables} gave data: {text}"
        );
        assert_eq!(env.store.writes(), writes, "{variables} wrote: {text}");
    }
}

#[tokio::test]
async fn a_document_that_fails_validation_is_refused_every_time() {
    let env = testkit::DemoEnv::new().await;
    let token = env.token(Role::Staff);
    let q = r#"{ order(id: "01J00000000000000000000000") { id noSuchField } }"#;
    for _ in 0..3 {
        let (_, body, text) =
            testkit::post_graphql(&env.router, &token, &[], json!({"query": q})).await;
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("noSuchField"), "{text}");
        assert!(body["data"].is_null(), "{text}");
    }
}
