//! The graphql function's configuration, read once at start-up from the environment.

use api::{HttpConfig, Limits};
use auth::VerifierConfig;
use boot::StoreConfig;
use store::cursor::CursorKey;

/// What the function needs from its environment (template.yaml sets these).
#[derive(Debug)]
pub struct Config {
    /// The table (`TABLE_NAME`), and a DynamoDB endpoint override (`OMS_DYNAMODB_ENDPOINT`,
    /// DynamoDB Local; unset in AWS).
    pub store: StoreConfig,
    /// The listing-cursor signing key (base64, ≥ 32 bytes).
    pub cursor_key: CursorKey,
    pub http: HttpConfig,
    pub verifier: VerifierConfig,
}

impl Config {
    /// Reads the environment; a missing or malformed setting is a start-up error naming it.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let common = boot::lambda::FunctionConfig::from_env(&get)?;
        let introspection = get(boot::lambda::env::INTROSPECTION).is_some_and(|v| v == "true");
        Ok(Self {
            store: common.store,
            cursor_key: common.cursor_key,
            http: HttpConfig {
                limits: Limits {
                    introspection,
                    ..Limits::production()
                },
                graphiql: false,
                jwks: None,
            },
            verifier: VerifierConfig::default(),
        })
    }
}
