//! The store crate's one integration-test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Declares each listed test once per backend: `embedded::name` (a redb file) and
/// `dynamodb::name` (DynamoDB Local, a fresh table).
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&crate::support::Backend::embedded()).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&crate::support::Backend::dynamodb().await).await;
                }
            )*
        }
    };
}

mod architecture;
mod capacity;
mod conformance;
mod crash;
mod credentials;
mod dynamo;
mod isolation;
mod repos;
mod support;
