//! No code: this crate holds the integration tests (`tests/edge`) and benches of the GraphQL
//! schema (`graphql`) and the HTTP edge (`http_edge`), which run over `testkit`'s deployments.
