//! How the admin commands reach the use cases: always through the GraphQL API, so a command
//! prints the same whether a server runs or not. While `oms serve` holds the embedded store,
//! through its owner-only admin socket (`admin.sock` in the data directory, mode 0600: whoever
//! can open it owns the data directory, so the socket vouches for the caller and no token is
//! needed); otherwise through the same admin router in this process, over the store the command
//! opens itself (the embedded store, or `--dynamodb-table`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use app::platform::{DEMO_PLAN, DevSetup};
use auth::VerifierConfig;
use boot::{BootError, StoreConfig};
use domain::ids::{PlanName, TenantId};
use domain::outbound::OutboundPolicy;
use domain::{Clock, SystemClock};
use graphql::Limits;
use http_edge::{ACTOR_HEADER, HttpConfig, TENANT_HEADER};
use serde_json::{Value, json};
use store::cursor::{CursorKey, Cursors};
use tower::ServiceExt;

use crate::error::CliError;

/// The running server's admin socket: in an owner-only directory of the data directory.
pub fn admin_socket(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("admin.sock")
}

/// Whose use cases a call runs.
#[derive(Debug, Clone, Copy)]
pub enum As<'a> {
    /// The platform admin's (tenants, plans, IdPs, webhooks, the gateway catalogue).
    Platform,
    /// The named tenant's admin's, within its plan (carrier credentials, API keys, labels).
    Tenant(&'a TenantId),
}

enum Transport {
    /// The running `oms serve`'s admin socket.
    Socket(reqwest::Client),
    /// The admin router in this process, over the store this command opened.
    InProcess(axum::Router),
}

/// The API as the admin commands call it.
pub struct Api {
    transport: Transport,
    /// Whom the audit names: `cli:$USER`.
    actor: String,
}

/// What opening the API needs to know of the command line.
pub struct Target<'a> {
    pub store: &'a StoreConfig,
    pub dev_mode: bool,
    pub outbound: &'a OutboundPolicy,
    pub data_dir: &'a Path,
}

impl Api {
    /// The running server's admin socket when it holds the store, else this process's own.
    pub async fn open(t: &Target<'_>) -> Result<Self, CliError> {
        let actor = format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        );
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = match boot::open_store(t.store, clock.clone()).await {
            Ok(store) => store,
            Err(BootError::StoreInUse { .. }) => {
                return Ok(Self {
                    transport: Transport::Socket(socket_client(t.data_dir)?),
                    actor,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let secrets = match t.store {
            // Outside dev mode nothing is generated: the master key comes from configuration.
            StoreConfig::Embedded { .. } if !t.dev_mode => {
                let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
                let master = crate::production::master_key(&env)?;
                boot::open_local_secrets_with(t.data_dir, Some(&master))?
            }
            _ => open_secrets(t.store, t.data_dir).await?,
        };
        // Cursors live within this one command: a key of its own, nothing written.
        let cursors = Cursors::new(
            CursorKey::random()
                .map_err(|e| CliError::Usage(format!("cannot make a cursor key: {e}")))?,
        );
        let verifier = VerifierConfig {
            dev_mode: t.dev_mode,
            ..VerifierConfig::default()
        };
        let mut services = boot::services_with_outbound(
            store,
            clock,
            verifier,
            cursors,
            Some(secrets),
            t.outbound.clone(),
        )
        .map_err(|e| CliError::Usage(e.to_string()))?;
        if t.dev_mode {
            let dev = DevSetup {
                data_dir: t.data_dir.to_path_buf(),
            };
            services.platform = services.platform.clone().with_dev(dev);
            ensure_demo_tenant(&services).await?;
        }
        let config = HttpConfig {
            limits: Limits::dev(),
            graphiql: false,
            jwks: None,
        };
        let router = http_edge::admin_socket_router(graphql::api_state(services), config);
        Ok(Self {
            transport: Transport::InProcess(router),
            actor,
        })
    }

    /// Runs one operation and returns `data.{field}`; GraphQL errors and the payload's
    /// `userErrors` become the command's error.
    pub async fn call(
        &self,
        who: As<'_>,
        query: &str,
        variables: Value,
        field: &str,
    ) -> Result<Value, CliError> {
        let body = serde_json::to_vec(&json!({ "query": query, "variables": variables }))
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let tenant = match who {
            As::Platform => None,
            As::Tenant(t) => Some(t.to_string()),
        };
        let answer = match &self.transport {
            Transport::Socket(http) => {
                let mut req = http
                    .post("http://oms-admin/graphql")
                    .header("content-type", "application/json")
                    .header(ACTOR_HEADER, &self.actor)
                    .body(body);
                if let Some(t) = &tenant {
                    req = req.header(TENANT_HEADER, t);
                }
                let unreachable = |e: reqwest::Error| {
                    CliError::Usage(format!(
                        "the store is held by a running oms serve, and its admin socket does \
                         not answer: {e}"
                    ))
                };
                let response = req.send().await.map_err(unreachable)?;
                response.bytes().await.map_err(unreachable)?.to_vec()
            }
            Transport::InProcess(router) => {
                let mut req = axum::http::Request::post(http_edge::GRAPHQL_PATH)
                    .header("content-type", "application/json")
                    .header(ACTOR_HEADER, &self.actor);
                if let Some(t) = &tenant {
                    req = req.header(TENANT_HEADER, t);
                }
                let req = req
                    .body(axum::body::Body::from(body))
                    .map_err(|e| CliError::Usage(e.to_string()))?;
                let response = router
                    .clone()
                    .oneshot(req)
                    .await
                    .map_err(|e| CliError::Usage(e.to_string()))?;
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .map_err(|e| CliError::Usage(e.to_string()))?
                    .to_vec()
            }
        };
        answer_of(&answer, field)
    }
}

/// The secret store that goes with the configured store: the local encrypted file beside the
/// embedded store, Secrets Manager beside a DynamoDB table (under the stage's prefix;
/// `OMS_SECRETS_ENDPOINT` for an emulator).
pub async fn open_secrets(
    config: &StoreConfig,
    data_dir: &Path,
) -> Result<Arc<dyn domain::ports::SecretStore>, CliError> {
    match config {
        StoreConfig::Embedded { .. } => Ok(boot::open_local_secrets(data_dir)?),
        StoreConfig::Dynamo { secrets_prefix, .. } => {
            let config = boot::lambda::SecretsManagerConfig {
                prefix: secrets_prefix.clone(),
                endpoint: std::env::var(boot::lambda::env::SECRETS_ENDPOINT).ok(),
            };
            Ok(boot::lambda::open_secrets_manager(&config, Arc::new(SystemClock)).await)
        }
    }
}

pub const DEMO_TENANT: &str = "demo";

/// The demo plan and the demo tenant, with the dev IdP registered, when they are not there yet
/// (dev mode: the first `oms serve` or admin command on a data directory).
pub async fn ensure_demo_tenant(services: &app::Services) -> Result<(), CliError> {
    let demo = TenantId::parse(DEMO_TENANT)?;
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let platform = services
        .platform
        .local(domain::ids::Subject::parse(&format!("cli:{user}"))?);
    if !platform.exists(&demo).await? {
        platform
            .create_tenant(&demo, "Demo Retail", &PlanName::parse(DEMO_PLAN)?, 1)
            .await?;
        tracing::info!(
            tenant = DEMO_TENANT,
            "created the demo tenant on the demo plan"
        );
    }
    Ok(())
}

/// `data.{field}` of an answer, or the error it carries.
fn answer_of(bytes: &[u8], field: &str) -> Result<Value, CliError> {
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| CliError::Usage(format!("the server's answer is not JSON: {e}")))?;
    let first = |errors: &Value| errors.as_array().and_then(|e| e.first()).cloned();
    if let Some(e) = first(&body["errors"]) {
        return Err(CliError::Usage(refusal(&e)));
    }
    let data = body["data"][field].clone();
    if let Some(e) = first(&data["userErrors"]) {
        return Err(CliError::Usage(refusal(&e)));
    }
    Ok(data)
}

/// One error of an answer as the CLI says it: the message, then its code.
fn refusal(e: &Value) -> String {
    let code = e["code"]
        .as_str()
        .or_else(|| e["extensions"]["code"].as_str())
        .unwrap_or("ERROR");
    format!("{} ({code})", e["message"].as_str().unwrap_or("refused"))
}

/// A client of the admin socket of `data_dir`.
fn socket_client(data_dir: &Path) -> Result<reqwest::Client, CliError> {
    let path = admin_socket(data_dir);
    if !path.exists() {
        return Err(CliError::Usage(format!(
            "the store in {} is held by another process that serves no admin socket \
             ({} is missing); stop that process, or run the command where it runs",
            data_dir.display(),
            path.display()
        )));
    }
    reqwest::Client::builder()
        .unix_socket(path)
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| CliError::Usage(format!("cannot build an HTTP client: {e}")))
}
