//! The one configuration every Lambda function reads, from the environment variables
//! template.yaml sets. Read once at init: a missing or malformed setting stops the function
//! there, with one line naming the variable, never on the first request.

use base64::Engine;
use domain::access::Role;
use domain::ids::Issuer;
use domain::outbound::OutboundPolicy;
use domain::tenant::{AudienceClaim, ClaimMapping, IdpKeys, IdpRegistration, TokenAlgorithm};
use store::cursor::CursorKey;

/// The environment variables (template.yaml sets them; a test holds the template to these
/// lists).
pub mod env {
    /// The table's name.
    pub const TABLE_NAME: &str = "TABLE_NAME";
    /// The listing-cursor signing key (base64, at least 32 bytes).
    pub const CURSOR_KEY: &str = "OMS_CURSOR_KEY";
    /// Secret names start with this (default `tenantoms/{stage}`: see [`super::secrets_prefix`]).
    pub const SECRETS_PREFIX: &str = "OMS_SECRETS_PREFIX";
    /// The function's dead-letter queue (the event consumer's; the outbox relay's).
    pub const DEAD_LETTER_QUEUE_URL: &str = "OMS_DEAD_LETTER_QUEUE_URL";
    /// The bus the outbox relay publishes to.
    pub const EVENT_BUS: &str = "OMS_EVENT_BUS";
    /// The queue the notifier consumes (it sets each failed message's backoff there).
    pub const NOTIFICATIONS_QUEUE_URL: &str = "OMS_NOTIFICATIONS_QUEUE_URL";
    /// Attempts per notification: the notifications queue's `maxReceiveCount` (default 8).
    pub const NOTIFY_MAX_ATTEMPTS: &str = "OMS_NOTIFY_MAX_ATTEMPTS";
    /// The first retry's wait in seconds, doubling after each (default 30, at most 12 h).
    pub const NOTIFY_BACKOFF_SECS: &str = "OMS_NOTIFY_BACKOFF_SECS";
    /// Log levels (an `EnvFilter`; default `info`).
    pub const LOG: &str = "OMS_LOG";
    /// GraphQL introspection (`true` to allow; off by default).
    pub const INTROSPECTION: &str = "OMS_INTROSPECTION";
    /// The deployment stage (`dev`, `staging`, `prod`; default `dev`).
    pub const STAGE: &str = "STAGE";
    /// The SaaS provider's own OIDC issuer, whose `platform-admin` role runs platform
    /// operations over GraphQL (empty or unset: platform operations only from the CLI).
    pub const PLATFORM_ISSUER: &str = "OMS_PLATFORM_ISSUER";
    /// The audience platform tokens must carry (required with the issuer).
    pub const PLATFORM_AUDIENCE: &str = "OMS_PLATFORM_AUDIENCE";
    /// The issuer's JWKS (default `{issuer}/.well-known/jwks.json`).
    pub const PLATFORM_JWKS_URL: &str = "OMS_PLATFORM_JWKS_URL";
    /// The claim that lists the caller's roles, a JMESPath (default `roles`; Cognito:
    /// `"cognito:groups"`, quoted).
    pub const PLATFORM_ROLES_CLAIM: &str = "OMS_PLATFORM_ROLES_CLAIM";
    /// The outbound allow-list: `host:port` targets (commas or spaces between them) that
    /// carrier and notification URLs may name although they are not public https (e.g. a
    /// carrier proxy inside the VPC). Empty or unset: public https only.
    pub const OUTBOUND_ALLOW: &str = "OMS_OUTBOUND_ALLOW";

    /// Endpoint overrides for local emulators: never set in a deployment.
    pub const DYNAMODB_ENDPOINT: &str = "OMS_DYNAMODB_ENDPOINT";
    pub const SECRETS_ENDPOINT: &str = "OMS_SECRETS_ENDPOINT";
    pub const SQS_ENDPOINT: &str = "OMS_SQS_ENDPOINT";
    pub const EVENTBRIDGE_ENDPOINT: &str = "OMS_EVENTBRIDGE_ENDPOINT";

    /// What every function requires (one template line, `Globals`, sets them for all).
    pub const COMMON: &[&str] = &[TABLE_NAME, CURSOR_KEY];

    /// What each function requires (binary name, variables).
    pub const REQUIRED: &[(&str, &[&str])] = &[
        ("graphql", COMMON),
        ("webhook-add-order", COMMON),
        ("webhook-shipment-tracker", COMMON),
        (
            "event-consumer",
            &[TABLE_NAME, CURSOR_KEY, DEAD_LETTER_QUEUE_URL],
        ),
        (
            "outbox-relay",
            &[TABLE_NAME, CURSOR_KEY, EVENT_BUS, DEAD_LETTER_QUEUE_URL],
        ),
        (
            "notifier",
            &[
                TABLE_NAME,
                CURSOR_KEY,
                NOTIFICATIONS_QUEUE_URL,
                DEAD_LETTER_QUEUE_URL,
            ],
        ),
    ];

    /// Read when set, defaulted otherwise.
    pub const OPTIONAL: &[&str] = &[
        SECRETS_PREFIX,
        LOG,
        INTROSPECTION,
        STAGE,
        PLATFORM_ISSUER,
        PLATFORM_AUDIENCE,
        PLATFORM_JWKS_URL,
        PLATFORM_ROLES_CLAIM,
        OUTBOUND_ALLOW,
        NOTIFY_MAX_ATTEMPTS,
        NOTIFY_BACKOFF_SECS,
    ];

    /// Never set in a deployment (the template test refuses them).
    pub const LOCAL_ONLY: &[&str] = &[
        DYNAMODB_ENDPOINT,
        SECRETS_ENDPOINT,
        SQS_ENDPOINT,
        EVENTBRIDGE_ENDPOINT,
        "OMS_SECRETS_MASTER_KEY",
    ];
}

/// The deployed functions, by binary name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Graphql,
    WebhookAddOrder,
    WebhookShipmentTracker,
    EventConsumer,
    OutboxRelay,
    Notifier,
}

impl Function {
    pub const ALL: [Function; 6] = [
        Self::Graphql,
        Self::WebhookAddOrder,
        Self::WebhookShipmentTracker,
        Self::EventConsumer,
        Self::OutboxRelay,
        Self::Notifier,
    ];

    /// The binary's name (template.yaml's `BuildProperties: Binary`).
    pub fn binary(self) -> &'static str {
        match self {
            Self::Graphql => "graphql",
            Self::WebhookAddOrder => "webhook-add-order",
            Self::WebhookShipmentTracker => "webhook-shipment-tracker",
            Self::EventConsumer => "event-consumer",
            Self::OutboxRelay => "outbox-relay",
            Self::Notifier => "notifier",
        }
    }

    /// The variables this function cannot start without.
    pub fn required(self) -> &'static [&'static str] {
        env::REQUIRED
            .iter()
            .find(|(b, _)| *b == self.binary())
            .map_or(env::COMMON, |(_, vars)| vars)
    }
}

/// A setting that stops the function at init.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is not set ({hint})")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

/// Endpoint overrides for local emulators (unset in AWS).
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub dynamodb: Option<String>,
    pub secrets: Option<String>,
    pub sqs: Option<String>,
    pub eventbridge: Option<String>,
}

impl Endpoints {
    /// The `OMS_*_ENDPOINT` overrides `get` has (empty ones count as unset).
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        Self {
            dynamodb: get(env::DYNAMODB_ENDPOINT),
            secrets: get(env::SECRETS_ENDPOINT),
            sqs: get(env::SQS_ENDPOINT),
            eventbridge: get(env::EVENTBRIDGE_ENDPOINT),
        }
    }

    /// The process's own.
    pub fn from_process_env() -> Self {
        Self::from_env(&|k| std::env::var(k).ok())
    }
}

/// What every function reads; the fields a function does not need are still validated when
/// set, so the same template line means the same thing everywhere.
#[derive(Debug)]
pub struct LambdaConfig {
    pub function: Function,
    pub stage: String,
    /// `TABLE_NAME`.
    pub table: String,
    /// `OMS_CURSOR_KEY`: base64 of at least 32 bytes.
    pub cursor_key: CursorKey,
    /// `OMS_SECRETS_PREFIX` (default `tenantoms/{stage}`).
    pub secrets_prefix: String,
    /// `OMS_LOG` (an `EnvFilter`, default `info`).
    pub log: String,
    /// `OMS_EVENT_BUS` (the outbox relay).
    pub event_bus: Option<String>,
    /// `OMS_DEAD_LETTER_QUEUE_URL` (the event consumer, the outbox relay).
    pub dead_letter_queue: Option<String>,
    /// `OMS_NOTIFICATIONS_QUEUE_URL` (the notifier).
    pub notifications_queue: Option<String>,
    /// The notifier's attempts and backoff.
    pub notify: NotifyConfig,
    /// `OMS_INTROSPECTION=true` (graphql).
    pub introspection: bool,
    /// The platform issuer (`OMS_PLATFORM_*`), when one is configured.
    pub platform: Option<IdpRegistration>,
    /// Where outbound calls may go: public https, and the targets of `OMS_OUTBOUND_ALLOW`.
    pub outbound: OutboundPolicy,
    pub endpoints: Endpoints,
}

/// How the notifier retries (through the queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyConfig {
    /// `OMS_NOTIFY_MAX_ATTEMPTS`: the queue's `maxReceiveCount`.
    pub max_attempts: u32,
    /// `OMS_NOTIFY_BACKOFF_SECS`: the first retry's wait.
    pub backoff_secs: u32,
}

/// A whole number setting within `range`, `default` when unset.
fn number(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let Some(text) = get(var) else {
        return Ok(default);
    };
    text.parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| ConfigError::Invalid {
            var,
            reason: format!(
                "`{text}`, expected a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        })
}

const CURSOR_HINT: &str = "base64 of at least 32 random bytes: openssl rand -base64 32";

impl LambdaConfig {
    /// Reads `function`'s configuration through `get` (the environment in a function; a map in
    /// tests). Empty values count as unset.
    pub fn from_env(
        function: Function,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = function.required();
        let need = |var: &'static str, hint: &'static str| -> Result<Option<String>, ConfigError> {
            match get(var) {
                None if required.contains(&var) => Err(ConfigError::Missing { var, hint }),
                v => Ok(v),
            }
        };
        let table = need(env::TABLE_NAME, "the DynamoDB table's name")?.unwrap_or_default();
        let cursor_key = cursor_key(get(env::CURSOR_KEY))?;
        let event_bus = need(env::EVENT_BUS, "the EventBridge bus's name")?;
        let dead_letter_queue = need(env::DEAD_LETTER_QUEUE_URL, "the dead-letter queue's URL")?;
        if let Some(url) = &dead_letter_queue {
            http_url(env::DEAD_LETTER_QUEUE_URL, url)?;
        }
        let notifications_queue = need(
            env::NOTIFICATIONS_QUEUE_URL,
            "the notifications queue's URL",
        )?;
        if let Some(url) = &notifications_queue {
            http_url(env::NOTIFICATIONS_QUEUE_URL, url)?;
        }
        let notify = NotifyConfig {
            max_attempts: number(&get, env::NOTIFY_MAX_ATTEMPTS, 8, 1..=1_000)?,
            backoff_secs: number(&get, env::NOTIFY_BACKOFF_SECS, 30, 1..=43_200)?,
        };
        let log = get(env::LOG).unwrap_or_else(|| "info".into());
        tracing_subscriber::EnvFilter::try_new(&log).map_err(|e| ConfigError::Invalid {
            var: env::LOG,
            reason: e.to_string(),
        })?;
        let stage = get(env::STAGE).unwrap_or_else(|| "dev".into());
        let stage_prefix = secrets_prefix(&stage).map_err(|reason| ConfigError::Invalid {
            var: env::STAGE,
            reason,
        })?;
        let introspection = match get(env::INTROSPECTION).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: env::INTROSPECTION,
                    reason: format!("`{other}`, expected true or false"),
                });
            }
        };
        let allow = OutboundPolicy::parse_allow_list(&get(env::OUTBOUND_ALLOW).unwrap_or_default())
            .map_err(|e| ConfigError::Invalid {
                var: env::OUTBOUND_ALLOW,
                reason: e.to_string(),
            })?;
        let endpoints = Endpoints::from_env(&get);
        Ok(Self {
            function,
            stage,
            table,
            cursor_key,
            secrets_prefix: get(env::SECRETS_PREFIX).unwrap_or(stage_prefix),
            log,
            event_bus,
            dead_letter_queue,
            notifications_queue,
            notify,
            introspection,
            platform: platform(&get)?,
            outbound: OutboundPolicy::production().allowing(allow),
            endpoints,
        })
    }

    /// The function's own environment.
    pub fn from_process_env(function: Function) -> Result<Self, ConfigError> {
        Self::from_env(function, |k| std::env::var(k).ok())
    }
}

/// The secrets of one stage are named under `tenantoms/{stage}/`, so that each stage's
/// functions can be granted `secret:tenantoms/{stage}/*` and no other stage's secrets, also
/// when two stages share an account and a region. A stage is lower-case letters, digits and
/// `-` (the template allows `dev`, `staging`, `prod`).
pub fn secrets_prefix(stage: &str) -> Result<String, String> {
    let valid = !stage.is_empty()
        && stage.len() <= 32
        && stage
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(format!("tenantoms/{stage}"))
    } else {
        Err(format!(
            "`{stage}`: a stage is 1-32 lower-case letters, digits and `-` (dev, staging, prod)"
        ))
    }
}

/// Every function requires the key (the same template line everywhere).
fn cursor_key(value: Option<String>) -> Result<CursorKey, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        var: env::CURSOR_KEY,
        reason,
    };
    let value = value.ok_or(ConfigError::Missing {
        var: env::CURSOR_KEY,
        hint: CURSOR_HINT,
    })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&value)
        .map_err(|e| invalid(format!("not base64 ({e}); {CURSOR_HINT}")))?;
    CursorKey::from_bytes(&bytes).map_err(|e| invalid(e.to_string()))
}

fn http_url(var: &'static str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            var,
            reason: format!("`{url}` is not an http(s) URL"),
        })
    }
}

/// The platform issuer's registration: the `platform-admin` role of its roles claim is the
/// only role it grants.
fn platform(get: &impl Fn(&str) -> Option<String>) -> Result<Option<IdpRegistration>, ConfigError> {
    let Some(issuer) = get(env::PLATFORM_ISSUER) else {
        return Ok(None);
    };
    let invalid = |var: &'static str, reason: String| ConfigError::Invalid { var, reason };
    if !issuer.starts_with("https://") {
        return Err(invalid(
            env::PLATFORM_ISSUER,
            format!("`{issuer}` is not an https URL"),
        ));
    }
    let audience = get(env::PLATFORM_AUDIENCE).ok_or(ConfigError::Missing {
        var: env::PLATFORM_AUDIENCE,
        hint: "the audience (client id) platform tokens are issued for",
    })?;
    let jwks = get(env::PLATFORM_JWKS_URL)
        .unwrap_or_else(|| format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')));
    if !jwks.starts_with("https://") {
        return Err(invalid(
            env::PLATFORM_JWKS_URL,
            format!("`{jwks}` is not an https URL"),
        ));
    }
    let roles = get(env::PLATFORM_ROLES_CLAIM).unwrap_or_else(|| "roles".into());
    let issuer =
        Issuer::parse(&issuer).map_err(|e| invalid(env::PLATFORM_ISSUER, e.to_string()))?;
    let registration = IdpRegistration {
        issuer,
        shared: false,
        tenant_claim: None,
        tenant_claim_value: None,
        audience_claim: AudienceClaim::Aud,
        audiences: vec![audience],
        algorithms: vec![TokenAlgorithm::RS256, TokenAlgorithm::ES256],
        keys: IdpKeys::Jwks { url: jwks },
        claims: ClaimMapping {
            roles,
            ..ClaimMapping::default()
        },
        role_map: [(Role::PlatformAdmin.as_str().to_owned(), Role::PlatformAdmin)].into(),
    };
    auth::verifier::check_platform_registration(&registration)
        .map_err(|reason| invalid(env::PLATFORM_ROLES_CLAIM, reason))?;
    Ok(Some(registration))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn read(function: Function, vars: &[(&str, &str)]) -> Result<LambdaConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        LambdaConfig::from_env(function, |k| map.get(k).cloned())
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![(env::TABLE_NAME, "oms"), (env::CURSOR_KEY, KEY)]
    }

    #[test]
    fn every_function_names_what_it_lacks() {
        for f in Function::ALL {
            let err = read(f, &[]).unwrap_err();
            assert_eq!(
                err,
                ConfigError::Missing {
                    var: env::TABLE_NAME,
                    hint: "the DynamoDB table's name"
                },
                "{f:?}"
            );
            let err = read(f, &[(env::TABLE_NAME, "oms")]).unwrap_err();
            assert!(
                err.to_string().starts_with("OMS_CURSOR_KEY is not set"),
                "{err}"
            );
        }
        let err = read(Function::EventConsumer, &base()).unwrap_err();
        assert!(
            err.to_string().contains("OMS_DEAD_LETTER_QUEUE_URL"),
            "{err}"
        );
        let err = read(Function::OutboxRelay, &base()).unwrap_err();
        assert!(err.to_string().contains("OMS_EVENT_BUS"), "{err}");
        assert!(read(Function::Graphql, &base()).is_ok());
    }

    #[test]
    fn defaults_and_empty_values() {
        let mut vars = base();
        vars.push((env::LOG, "  "));
        vars.push((env::PLATFORM_ISSUER, ""));
        let c = read(Function::WebhookAddOrder, &vars).unwrap();
        assert_eq!(c.table, "oms");
        assert_eq!(c.secrets_prefix, "tenantoms/dev");
        assert_eq!(c.log, "info");
        assert_eq!(c.stage, "dev");
        assert!(!c.introspection);
        assert!(c.platform.is_none());
        assert!(c.endpoints.dynamodb.is_none());
        assert_eq!(c.outbound, OutboundPolicy::production());
    }

    #[test]
    fn the_secrets_prefix_follows_the_stage() {
        let mut vars = base();
        vars.push((env::STAGE, "prod"));
        let c = read(Function::Graphql, &vars).unwrap();
        assert_eq!(c.secrets_prefix, "tenantoms/prod");
        vars.push((env::SECRETS_PREFIX, "acme-oms/prod"));
        let c = read(Function::Graphql, &vars).unwrap();
        assert_eq!(c.secrets_prefix, "acme-oms/prod", "an explicit prefix wins");
        for bad in ["Prod", "prod/../dev", "dev*", "a b"] {
            let mut vars = base();
            vars.push((env::STAGE, bad));
            let err = read(Function::Graphql, &vars).unwrap_err();
            assert!(
                err.to_string().starts_with("STAGE is invalid"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_outbound_allow_list_is_read() {
        let mut vars = base();
        vars.push((
            env::OUTBOUND_ALLOW,
            "127.0.0.1:9001, carrier-proxy.internal:8443",
        ));
        let c = read(Function::Graphql, &vars).unwrap();
        assert!(!c.outbound.dev_mode());
        let allowed: Vec<String> = c.outbound.allowed().iter().map(|t| t.to_string()).collect();
        assert_eq!(allowed, ["127.0.0.1:9001", "carrier-proxy.internal:8443"]);
        let mut vars = base();
        vars.push((env::OUTBOUND_ALLOW, "127.0.0.1"));
        let err = read(Function::Graphql, &vars).unwrap_err().to_string();
        assert!(err.starts_with("OMS_OUTBOUND_ALLOW is invalid"), "{err}");
    }

    #[test]
    fn malformed_settings_are_refused_with_the_reason() {
        let with = |extra: (&'static str, &'static str)| {
            let mut vars = base();
            vars.push(extra);
            read(Function::Graphql, &vars).unwrap_err().to_string()
        };
        assert!(with((env::CURSOR_KEY, "AAEC")).starts_with("OMS_CURSOR_KEY is invalid"));
        assert!(with((env::CURSOR_KEY, "not base64!")).contains("not base64"));
        assert!(with((env::LOG, "info,=[")).starts_with("OMS_LOG is invalid"));
        assert!(with((env::INTROSPECTION, "yes")).contains("expected true or false"));
        assert!(with((env::PLATFORM_ISSUER, "http://idp.example")).contains("not an https URL"));
        assert!(
            with((env::PLATFORM_ISSUER, "https://idp.example")).contains("OMS_PLATFORM_AUDIENCE")
        );
        let mut vars = base();
        vars.push((env::DEAD_LETTER_QUEUE_URL, "queue"));
        let err = read(Function::EventConsumer, &vars)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an http(s) URL"), "{err}");
    }

    #[test]
    fn the_platform_issuer_grants_platform_admin_only() {
        let mut vars = base();
        vars.extend([
            (env::PLATFORM_ISSUER, "https://login.example.com/"),
            (env::PLATFORM_AUDIENCE, "oms-admin"),
            (env::PLATFORM_ROLES_CLAIM, "\"cognito:groups\""),
        ]);
        let reg = read(Function::Graphql, &vars).unwrap().platform.unwrap();
        assert_eq!(
            reg.keys,
            IdpKeys::Jwks {
                url: "https://login.example.com/.well-known/jwks.json".into()
            }
        );
        assert_eq!(reg.audiences, ["oms-admin"]);
        assert_eq!(reg.claims.roles, "\"cognito:groups\"");
        assert_eq!(
            reg.role_map.values().collect::<Vec<_>>(),
            [&Role::PlatformAdmin]
        );
    }

    #[test]
    fn the_required_lists_name_every_function() {
        for f in Function::ALL {
            assert!(env::REQUIRED.iter().any(|(b, _)| *b == f.binary()), "{f:?}");
        }
    }
}
