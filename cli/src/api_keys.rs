//! `oms api-key`: a tenant's API keys from the admin CLI (acting as the tenant's admin, like
//! `oms carrier`). The key's text is printed once, on standard output, when it is created.

use clap::Subcommand;
use domain::access::Role;
use domain::ids::TenantId;
use serde_json::{Value, json};

use crate::api::{Api, As};
use crate::error::CliError;

#[derive(Subcommand, Debug)]
pub enum ApiKeyCmd {
    /// Create a key for a tenant's own systems; its text is printed once (store it now).
    Create {
        #[arg(long)]
        tenant: String,
        /// What the key is for (`ERP`, `storefront`).
        #[arg(long)]
        name: String,
        /// tenant-admin, staff, vendor or read-only.
        #[arg(long, default_value = "staff")]
        role: String,
        /// The vendor of a vendor key.
        #[arg(long)]
        vendor: Option<String>,
        /// RFC 3339 (default: now).
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339 (default: never).
        #[arg(long)]
        thru: Option<String>,
    },
    /// List a tenant's keys (never their text).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a key now, or at `--at` (rotation: a new key first, the old one revoked at the
    /// time the new one is in use).
    Revoke {
        #[arg(long)]
        tenant: String,
        /// The key's id (the ULID after `oms_live_` / `oms_test_`).
        #[arg(long)]
        id: String,
        /// RFC 3339, not in the past (default: now).
        #[arg(long)]
        at: Option<String>,
    },
}

const KEY_FIELDS: &str = "id prefix name role vendor from thru effective lastUsedAt";

/// One key as the CLI lists it (never its text).
fn show(k: &Value) -> String {
    let s = |key: &str| k[key].as_str().unwrap_or("-");
    format!(
        "{}\t{}\t{}\trole={}\tvendor={}\tfrom={}\tthru={}\t{}\tlast_used={}",
        s("id"),
        s("prefix"),
        s("name"),
        s("role").to_lowercase().replace('_', "-"),
        s("vendor"),
        s("from"),
        s("thru"),
        if k["effective"] == json!(true) {
            "in force"
        } else {
            "not in force"
        },
        k["lastUsedAt"].as_str().unwrap_or("never"),
    )
}

/// `oms api-key …`.
pub async fn api_key(cmd: ApiKeyCmd, api: &Api) -> Result<(), CliError> {
    match cmd {
        ApiKeyCmd::Create {
            tenant,
            name,
            role,
            vendor,
            from,
            thru,
        } => {
            let id = TenantId::parse(&tenant)?;
            let role = Role::parse(&role)?
                .as_str()
                .to_uppercase()
                .replace('-', "_");
            let query = format!(
                "mutation($input: ApiKeyInput!) {{ createApiKey(input: $input) {{ apiKey {{ {KEY_FIELDS} }} secret userErrors {{ code message }} }} }}"
            );
            let input =
                json!({ "name": name, "role": role, "vendor": vendor, "from": from, "thru": thru });
            let created = api
                .call(
                    As::Tenant(&id),
                    &query,
                    json!({ "input": input }),
                    "createApiKey",
                )
                .await?;
            eprintln!(
                "created API key {} for tenant {tenant}; its text follows, shown this once: store it now",
                created["apiKey"]["id"].as_str().unwrap_or_default()
            );
            println!("{}", created["secret"].as_str().unwrap_or_default());
        }
        ApiKeyCmd::List { tenant } => {
            let id = TenantId::parse(&tenant)?;
            let query = format!("{{ apiKeys {{ {KEY_FIELDS} }} }}");
            let keys = api
                .call(As::Tenant(&id), &query, json!({}), "apiKeys")
                .await?;
            for k in keys.as_array().into_iter().flatten() {
                println!("{}", show(k));
            }
        }
        ApiKeyCmd::Revoke { tenant, id, at } => {
            let tenant = TenantId::parse(&tenant)?;
            let query = format!(
                "mutation($id: ID!, $at: String) {{ revokeApiKey(id: $id, at: $at) {{ apiKey {{ {KEY_FIELDS} }} userErrors {{ code message }} }} }}"
            );
            let k = api
                .call(
                    As::Tenant(&tenant),
                    &query,
                    json!({ "id": id, "at": at }),
                    "revokeApiKey",
                )
                .await?;
            println!("{}", show(&k["apiKey"]));
        }
    }
    Ok(())
}
