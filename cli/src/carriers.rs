//! `oms gateway …` (the SaaS provider's catalogue) and `oms carrier credentials …` (a tenant's
//! credential versions, acting as the tenant's admin on a tenant the operator names) and `oms
//! labels reconcile`: each a GraphQL operation through `api::Api`.

use clap::Subcommand;
use domain::ids::TenantId;
use domain::{Clock, SystemClock, Timestamp};
use serde_json::{Map, Value, json};

use crate::api::{Api, As};
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum GatewayCmd {
    /// Add or replace a gateway of the catalogue.
    Set {
        #[arg(long)]
        id: String,
        /// easypost, shippo or fedex.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        /// The kind's documented sandbox host by default.
        #[arg(long)]
        sandbox_url: Option<String>,
        /// The kind's documented production host by default.
        #[arg(long)]
        production_url: Option<String>,
        /// api-key, basic or oauth2-client-credentials; by default what the kind uses
        /// (fedex: oauth2-client-credentials, the others: api-key).
        #[arg(long)]
        auth_type: Option<String>,
    },
    /// List the catalogue.
    List,
    /// Offer a platform account of a gateway to the tenants of the named plans (none:
    /// withdraw it). Its credentials: `oms carrier credentials add --platform`.
    Offer {
        #[arg(long)]
        id: String,
        #[arg(long)]
        account: String,
        /// A plan whose tenants may use the account (repeat for several).
        #[arg(long)]
        plan: Vec<String>,
    },
}

/// Whose credentials: a tenant's, or (`--platform`) the platform's own accounts.
#[derive(Debug, clap::Args)]
pub struct OwnerArgs {
    #[arg(long, required_unless_present = "platform")]
    tenant: Option<String>,
    /// The platform's own carrier account (used on behalf of tenants whose plan it is offered
    /// to: `oms gateway offer`).
    #[arg(long, conflicts_with = "tenant")]
    platform: bool,
}

#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    #[command(flatten)]
    owner: OwnerArgs,
    #[arg(long)]
    gateway: String,
    #[arg(long)]
    account: String,
    /// The account's endpoints: sandbox or production (`--mode` is the CLI's own).
    #[arg(long, default_value = "sandbox")]
    gateway_mode: String,
    #[arg(long)]
    base_url: Option<String>,
    #[arg(long)]
    username: Option<String>,
    #[arg(long)]
    client_id: Option<String>,
    /// OAuth2: the token endpoint (FedEx: the base URL's /oauth/token by default).
    #[arg(long)]
    token_url: Option<String>,
    /// The tenant's account number at the carrier (required for FedEx).
    #[arg(long)]
    account_number: Option<String>,
    /// The client id of a separate tracking key pair (its secret: `trackClientSecret`).
    #[arg(long)]
    track_client_id: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// RFC 3339; now by default (a later time schedules the version).
    #[arg(long)]
    from: Option<String>,
    /// RFC 3339; open by default.
    #[arg(long)]
    thru: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCmd {
    /// Add a version. The secrets come on standard input: the API key alone, or JSON
    /// `{"apiKey": …, "password": …, "sharedSecret": …, "clientSecret": …,
    /// "trackClientSecret": …}`.
    Add(VersionArgs),
    /// Rotate: a new version from `--from` (now by default), the open one ends there.
    Rotate(VersionArgs),
    /// End a version's window (once).
    Expire {
        #[command(flatten)]
        owner: OwnerArgs,
        #[arg(long)]
        gateway: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        id: String,
        /// RFC 3339; now by default.
        #[arg(long)]
        at: Option<String>,
    },
    /// List a tenant's (or the platform's) versions (fingerprints, never secrets).
    List {
        #[command(flatten)]
        owner: OwnerArgs,
        #[arg(long)]
        gateway: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CarrierCmd {
    /// A tenant's carrier credentials.
    #[command(subcommand)]
    Credentials(CredentialsCmd),
}

#[derive(Debug, Subcommand)]
pub enum LabelsCmd {
    /// List the label purchases and voids whose outcome is not committed (open carrier
    /// intents), and with `--lookup` ask the carrier what became of each and settle it:
    /// completed onto the shipment, closed when the carrier never did it, or left for a person
    /// when the carrier cannot tell (UNKNOWN).
    Reconcile {
        /// Only these tenants (default: every tenant).
        #[arg(long)]
        tenant: Vec<String>,
        /// Look each intent up at the carrier and settle it.
        #[arg(long)]
        lookup: bool,
    },
}

/// `oms labels reconcile`.
pub async fn labels(cmd: LabelsCmd, api: &Api) -> Result<(), CliError> {
    let LabelsCmd::Reconcile { tenant, lookup } = cmd;
    let tenants = if tenant.is_empty() {
        let all = crate::admin::tenants(api).await?;
        all.into_iter().map(|t| t.id).collect()
    } else {
        tenant
    };
    let mut open = 0;
    for t in &tenants {
        let id = TenantId::parse(t)?;
        let intents = api
            .call(
                As::Tenant(&id),
                "mutation($lookup: Boolean!) { reconcileLabels(lookup: $lookup) { intents { order kind target action state key openedAt settled } userErrors { code message } } }",
                json!({ "lookup": lookup }),
                "reconcileLabels",
            )
            .await?;
        let now = SystemClock.now().unix_seconds();
        for r in intents["intents"].as_array().into_iter().flatten() {
            open += 1;
            let s = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
            let opened = Timestamp::parse_rfc3339(&s("openedAt"))?;
            println!(
                "{t}\torder={}\t{}={}\t{}\t{}\tage={}s\tkey={}{}",
                s("order"),
                s("kind"),
                s("target"),
                s("action"),
                s("state"),
                now - opened.unix_seconds(),
                s("key"),
                r["settled"]
                    .as_str()
                    .map(|s| format!("\t{s}"))
                    .unwrap_or_default(),
            );
        }
    }
    if open == 0 {
        println!(
            "no open label purchases or voids in {} tenant(s)",
            tenants.len()
        );
    } else if !lookup {
        println!("{open} open; `oms labels reconcile --lookup` asks the carriers and settles them");
    }
    Ok(())
}

const GATEWAY_FIELDS: &str =
    "id name kind authType sandboxUrl productionUrl offers { account plans }";

pub async fn gateway(cmd: GatewayCmd, api: &Api) -> Result<(), CliError> {
    match cmd {
        GatewayCmd::Set {
            id,
            kind,
            name,
            sandbox_url,
            production_url,
            auth_type,
        } => {
            let query = format!(
                "mutation($input: GatewayInput!) {{ setGateway(input: $input) {{ gateway {{ {GATEWAY_FIELDS} }} userErrors {{ code message }} }} }}"
            );
            let input = json!({
                "id": id, "kind": kind, "name": name, "sandboxUrl": sandbox_url,
                "productionUrl": production_url, "authType": auth_type,
            });
            let g = api
                .call(
                    As::Platform,
                    &query,
                    json!({ "input": input }),
                    "setGateway",
                )
                .await?;
            let g = &g["gateway"];
            println!(
                "gateway {} ({}) is in the catalogue",
                text(g, "id"),
                text(g, "kind")
            );
        }
        GatewayCmd::Offer { id, account, plan } => {
            let offer = api
                .call(
                    As::Platform,
                    "mutation($g: String!, $a: String!, $p: [String!]!) { offerPlatformAccount(gateway: $g, account: $a, plans: $p) { gateway account plans userErrors { code message } } }",
                    json!({ "g": id, "a": account, "p": plan }),
                    "offerPlatformAccount",
                )
                .await?;
            let plans = strings(&offer["plans"]);
            if plans.is_empty() {
                println!("{id}/platform:{account} is offered to no plan");
            } else {
                println!(
                    "{id}/platform:{account} is offered to plans {}",
                    plans.join(", ")
                );
            }
        }
        GatewayCmd::List => {
            let query = format!("{{ gateways {{ {GATEWAY_FIELDS} }} }}");
            let all = api
                .call(As::Platform, &query, json!({}), "gateways")
                .await?;
            for g in all.as_array().into_iter().flatten() {
                let offers: String = g["offers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|o| {
                        format!(
                            "\tplatform:{}={}",
                            text(o, "account"),
                            strings(&o["plans"]).join(",")
                        )
                    })
                    .collect();
                println!(
                    "{}\t{}\t{}\tsandbox={}\tproduction={}{offers}",
                    text(g, "id"),
                    text(g, "kind"),
                    text(g, "authType"),
                    text(g, "sandboxUrl"),
                    text(g, "productionUrl"),
                );
            }
        }
    }
    Ok(())
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// The secrets from standard input as the input's secret fields: a bare API key, or a JSON
/// object of the secret fields.
fn secrets_from(text: &str) -> Result<Map<String, Value>, CliError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CliError::Usage(
            "give the secrets on standard input: the API key, or JSON {\"apiKey\": …}".into(),
        ));
    }
    let mut out = Map::new();
    if !text.starts_with('{') {
        out.insert("apiKey".into(), Value::String(text.to_owned()));
        return Ok(out);
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Fields {
        api_key: Option<String>,
        password: Option<String>,
        shared_secret: Option<String>,
        client_secret: Option<String>,
        track_client_secret: Option<String>,
    }
    // The error names the field, never echoes the text.
    let f: Fields = serde_json::from_str(text).map_err(|e| {
        CliError::Usage(format!(
            "the secrets JSON does not parse (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    for (name, value) in [
        ("apiKey", f.api_key),
        ("password", f.password),
        ("sharedSecret", f.shared_secret),
        ("clientSecret", f.client_secret),
        ("trackClientSecret", f.track_client_secret),
    ] {
        if let Some(v) = value {
            out.insert(name.into(), Value::String(v));
        }
    }
    Ok(out)
}

/// The `CarrierCredentialsInput` of a new version.
fn new_version(a: &VersionArgs, secrets: Map<String, Value>) -> Value {
    let mode = a.gateway_mode.to_uppercase();
    let mut input = json!({
        "gateway": a.gateway, "account": a.account, "mode": mode, "baseUrl": a.base_url,
        "username": a.username, "clientId": a.client_id, "tokenUrl": a.token_url,
        "accountNumber": a.account_number, "trackClientId": a.track_client_id,
        "description": a.description, "from": a.from, "thru": a.thru,
    });
    if let Some(fields) = input.as_object_mut() {
        fields.extend(secrets);
    }
    input
}

const CREDENTIAL_FIELDS: &str =
    "id gateway account mode fingerprint from thru effective clientId accountNumber trackClientId";

/// One version as the CLI lists it (fingerprints, never secrets).
fn show(v: &Value) -> String {
    let extra: String = [
        ("client", "clientId"),
        ("carrier-account", "accountNumber"),
        ("track-client", "trackClientId"),
    ]
    .into_iter()
    .filter_map(|(name, key)| v[key].as_str().map(|value| format!("\t{name}={value}")))
    .collect();
    format!(
        "{}\t{}/{}\t{}\tfrom={}\tthru={}\tkey={}\t{}{extra}",
        text(v, "id"),
        text(v, "gateway"),
        text(v, "account"),
        text(v, "mode").to_lowercase(),
        text(v, "from"),
        v["thru"].as_str().unwrap_or("open"),
        text(v, "fingerprint"),
        if v["effective"] == json!(true) {
            "effective"
        } else {
            "-"
        }
    )
}

/// Whose credentials a command names, and the API's field for a change of them.
fn owner(o: &OwnerArgs) -> Result<(Option<TenantId>, &'static str), CliError> {
    match &o.tenant {
        Some(t) if !o.platform => Ok((Some(TenantId::parse(t)?), "")),
        _ => Ok((None, "Platform")),
    }
}

pub async fn carrier(
    cmd: CarrierCmd,
    api: &Api,
    stdin: impl FnOnce() -> Result<String, CliError>,
) -> Result<(), CliError> {
    let CarrierCmd::Credentials(cmd) = cmd;
    let change = async |o: &OwnerArgs, verb: &str, args: &str, vars: Value| {
        let (tenant, platform) = owner(o)?;
        let field = format!("{verb}{platform}CarrierCredentials");
        let query = format!(
            "mutation{args} {{ {field}{} {{ credential {{ {CREDENTIAL_FIELDS} }} userErrors {{ code message }} }} }}",
            if verb == "expire" {
                "(gateway: $gateway, account: $account, id: $id, at: $at)"
            } else {
                "(input: $input)"
            }
        );
        let who = tenant.as_ref().map_or(As::Platform, As::Tenant);
        let data = api.call(who, &query, vars, &field).await?;
        Ok::<_, CliError>(show(&data["credential"]))
    };
    match cmd {
        CredentialsCmd::Add(a) => {
            let input = new_version(&a, secrets_from(&stdin()?)?);
            let v = change(
                &a.owner,
                "add",
                "($input: CarrierCredentialsInput!)",
                json!({ "input": input }),
            )
            .await?;
            println!("added {v}");
        }
        CredentialsCmd::Rotate(a) => {
            let input = new_version(&a, secrets_from(&stdin()?)?);
            let v = change(
                &a.owner,
                "rotate",
                "($input: CarrierCredentialsInput!)",
                json!({ "input": input }),
            )
            .await?;
            println!("rotated to {v}");
        }
        CredentialsCmd::Expire {
            owner,
            gateway,
            account,
            id,
            at,
        } => {
            let v = change(
                &owner,
                "expire",
                "($gateway: String!, $account: String!, $id: ID!, $at: String)",
                json!({ "gateway": gateway, "account": account, "id": id, "at": at }),
            )
            .await?;
            println!("expired {v}");
        }
        CredentialsCmd::List { owner: o, gateway } => {
            let (tenant, _) = owner(&o)?;
            let field = match tenant {
                Some(_) => "carrierCredentials",
                None => "platformCarrierCredentials",
            };
            let query = format!(
                "query($gateway: String) {{ {field}(gateway: $gateway) {{ {CREDENTIAL_FIELDS} }} }}"
            );
            let who = tenant.as_ref().map_or(As::Platform, As::Tenant);
            let versions = api
                .call(who, &query, json!({ "gateway": gateway }), field)
                .await?;
            for v in versions.as_array().into_iter().flatten() {
                println!("{}", show(v));
            }
        }
    }
    Ok(())
}
