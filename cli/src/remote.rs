//! `oms tenant|plan|idp` while `oms serve` holds the embedded store: the same platform use cases
//! through the running server's GraphQL platform API, with a dev platform token. `oms serve`
//! announces where it listens in `serve.json` beside the store, and removes it when it stops.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use auth::dev::DevIdp;
use domain::Clock;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::CliError;

/// Beside the store: where a running `oms serve` listens.
pub const SERVE_FILE: &str = "serve.json";

#[derive(Debug, Serialize, Deserialize)]
struct ServeInfo {
    /// The GraphQL endpoint.
    graphql: String,
    pid: u32,
}

/// The announcement of a running server; removed when dropped (the server stopped).
pub struct Announced(PathBuf);

impl Drop for Announced {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Announces the server listening on `addr` for admin commands run meanwhile.
pub fn announce(data_dir: &Path, addr: SocketAddr) -> Result<Announced, CliError> {
    let path = data_dir.join(SERVE_FILE);
    let info = ServeInfo {
        graphql: format!("http://{addr}/graphql"),
        pid: std::process::id(),
    };
    let text = serde_json::to_vec(&info).map_err(|e| CliError::Usage(e.to_string()))?;
    std::fs::write(&path, text)
        .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
    Ok(Announced(path))
}

/// The platform API of the `oms serve` running on a data directory.
pub struct Remote {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Remote {
    /// Finds the running server of `data_dir` and mints a dev platform token for `cli:$USER`
    /// (the actor the SaaS audit names, as when the CLI opens the store itself).
    pub fn connect(data_dir: &Path, dev_mode: bool) -> Result<Self, CliError> {
        let held = |why: &str| {
            CliError::Usage(format!(
                "the store in {} is held by another process, and {why}; stop that process \
                 or run the command against the running server",
                data_dir.display()
            ))
        };
        if !dev_mode {
            return Err(held(
                "outside dev mode there is no dev platform token to reach a server with",
            ));
        }
        let path = data_dir.join(SERVE_FILE);
        let text = std::fs::read(&path)
            .map_err(|_| held("no running `oms serve` announced itself there"))?;
        let info: ServeInfo =
            serde_json::from_slice(&text).map_err(|_| held("its serve.json is unreadable"))?;
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        let token = DevIdp::load_or_generate(data_dir)?.mint_platform(
            &format!("cli:{user}"),
            domain::SystemClock.now_secs(),
            300,
        )?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| CliError::Usage(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            http,
            url: info.graphql,
            token,
        })
    }

    /// Runs one platform operation and returns `data.{field}`; GraphQL errors and the
    /// payload's `userErrors` become the command's error.
    pub async fn call(
        &self,
        query: &str,
        variables: Value,
        field: &str,
    ) -> Result<Value, CliError> {
        let unreachable = |e: reqwest::Error| {
            CliError::Usage(format!("cannot reach oms serve at {}: {e}", self.url))
        };
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(unreachable)?;
        let body: Value = response.json().await.map_err(unreachable)?;
        if let Some(e) = body["errors"].as_array().and_then(|e| e.first()) {
            return Err(CliError::Usage(format!(
                "{} ({})",
                e["message"].as_str().unwrap_or("refused"),
                e["extensions"]["code"].as_str().unwrap_or("ERROR")
            )));
        }
        let data = body["data"][field].clone();
        if let Some(e) = data["userErrors"].as_array().and_then(|e| e.first()) {
            return Err(CliError::Usage(format!(
                "invalid input: {}",
                e["message"].as_str().unwrap_or("refused")
            )));
        }
        Ok(data)
    }
}

/// What the tenant commands print of a tenant, from the store or from the API.
pub struct TenantLine {
    pub id: String,
    pub name: String,
    pub status: String,
    pub plan: String,
    pub shards: u64,
    pub idps: usize,
}

impl TenantLine {
    pub fn of_profile(p: &domain::tenant::TenantProfile) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name.clone(),
            status: format!("{:?}", p.status),
            plan: p.plan.to_string(),
            shards: u64::from(p.shards),
            idps: p.idps.len(),
        }
    }

    /// From the API's `Tenant` (selected with [`TENANT_FIELDS`]).
    pub fn of_json(t: &Value) -> Self {
        let s = |k: &str| t[k].as_str().unwrap_or_default().to_owned();
        let status = match t["status"].as_str() {
            Some("SUSPENDED") => "Suspended",
            _ => "Active",
        };
        Self {
            id: s("id"),
            name: s("name"),
            status: status.to_owned(),
            plan: s("plan"),
            shards: t["shards"].as_u64().unwrap_or_default(),
            idps: t["idps"].as_array().map_or(0, Vec::len),
        }
    }
}

/// The fields of `Tenant` the CLI reads.
pub const TENANT_FIELDS: &str =
    "id name status plan shards idps { issuer shared audiences } createdAt updatedAt";
