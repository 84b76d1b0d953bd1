//! The graphql function's configuration, read once at start-up from the environment.

use api::{HttpConfig, Limits};
use auth::VerifierConfig;
use base64::Engine;
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
        let table = get("TABLE_NAME").ok_or("TABLE_NAME is not set")?;
        let key = get("OMS_CURSOR_KEY")
            .ok_or("OMS_CURSOR_KEY is not set (base64 of at least 32 random bytes)")?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .map_err(|e| format!("OMS_CURSOR_KEY is not base64: {e}"))?;
        let cursor_key = CursorKey::from_bytes(&key).map_err(|e| format!("OMS_CURSOR_KEY: {e}"))?;
        let introspection = get("OMS_INTROSPECTION").is_some_and(|v| v == "true");
        Ok(Self {
            store: StoreConfig::Dynamo {
                table,
                endpoint: get("OMS_DYNAMODB_ENDPOINT"),
            },
            cursor_key,
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
