//! `oms serve --mode production`: its configuration — a TOML file (`--config`, or
//! `OMS_CONFIG`) under environment variables that override it — checked whole before anything
//! starts. Nothing is generated or defaulted that would weaken it: the cursor key and the
//! secrets master key come from the configuration or the server does not start, naming what is
//! missing in one line.
//!
//! ```toml
//! listen = "0.0.0.0:8443"            # OMS_LISTEN
//! trust_proxy = false                # OMS_TRUST_PROXY: behind a proxy, the client is the last
//!                                    # X-Forwarded-For hop (logs only)
//! introspection = false              # OMS_INTROSPECTION
//!
//! [platform]
//! registration = "platform-idp.json" # OMS_PLATFORM_IDP: the SaaS provider's own issuer, as
//!                                    # `oms idp set` files (its role_map grants platform-admin)
//! [tls]                              # both or neither; without it, plain HTTP (behind a proxy)
//! cert = "cert.pem"                  # OMS_TLS_CERT: the chain, PEM
//! key = "key.pem"                    # OMS_TLS_KEY: PKCS#8, SEC1 or RSA, PEM
//!
//! [keys]                             # files of base64 text, or the variables' base64 values
//! cursor = "cursor.key"              # OMS_CURSOR_KEY: 32 bytes or more
//! secrets_master = "master.key"      # OMS_SECRETS_MASTER_KEY: 32 bytes
//!
//! [outbound]
//! allow = ["idp.internal:8443"]      # OMS_OUTBOUND_ALLOW (comma-separated): hosts outbound
//!                                    # calls may reach although not public https — the only
//!                                    # exception to the production policy (a private IdP)
//! ```
//!
//! Relative paths are relative to the config file's directory.

use std::path::{Path, PathBuf};

use base64::Engine;
use domain::outbound::AllowedTarget;
use domain::tenant::IdpRegistration;
use serde::Deserialize;

use crate::error::CliError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    trust_proxy: Option<bool>,
    introspection: Option<bool>,
    #[serde(default)]
    platform: PlatformFile,
    tls: Option<TlsFile>,
    #[serde(default)]
    keys: KeysFile,
    #[serde(default)]
    outbound: OutboundFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformFile {
    registration: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    cursor: Option<PathBuf>,
    secrets_master: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundFile {
    #[serde(default)]
    allow: Vec<String>,
}

/// Where the server's certificate chain and key are.
#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything production mode runs with, checked.
pub struct Production {
    pub listen: String,
    pub trust_proxy: bool,
    pub introspection: bool,
    pub platform: IdpRegistration,
    pub tls: Option<Tls>,
    pub cursor_key: Vec<u8>,
    pub master_key: Vec<u8>,
    pub allow: Vec<AllowedTarget>,
}

/// The environment as the configuration reads it (a test passes its own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn missing(what: &str, file_key: &str, var: &str) -> CliError {
    CliError::Usage(format!(
        "production mode needs {what}: set `{file_key}` in the config file or {var}"
    ))
}

impl Production {
    /// Reads `config` (if any) under the environment; `listen` is the command line's.
    pub fn load(config: Option<&Path>, listen: Option<&str>, env: Env) -> Result<Self, CliError> {
        let (file, base) = match config {
            Some(path) => read(path)?,
            None => (File::default(), PathBuf::new()),
        };
        let at = |p: &Path| base.join(p);
        let flag = |var: &str, file: Option<bool>| -> Result<bool, CliError> {
            match env(var) {
                Some(v) => match v.trim() {
                    "1" | "true" | "yes" => Ok(true),
                    "0" | "false" | "no" | "" => Ok(false),
                    other => Err(CliError::Usage(format!(
                        "{var}={other:?} is not true or false"
                    ))),
                },
                None => Ok(file.unwrap_or(false)),
            }
        };

        let master_key = key(
            env("OMS_SECRETS_MASTER_KEY"),
            file.keys.secrets_master.as_deref().map(at),
            "a secrets master key",
        )?
        .ok_or_else(|| {
            missing(
                "a secrets master key",
                "keys.secrets_master",
                "OMS_SECRETS_MASTER_KEY",
            )
        })?;
        if master_key.len() != 32 {
            return Err(CliError::Usage(format!(
                "the secrets master key must be 32 bytes, not {}",
                master_key.len()
            )));
        }
        let cursor_key = key(
            env("OMS_CURSOR_KEY"),
            file.keys.cursor.as_deref().map(at),
            "the cursor key",
        )?
        .ok_or_else(|| missing("a cursor key", "keys.cursor", "OMS_CURSOR_KEY"))?;
        if cursor_key.len() < 32 {
            return Err(CliError::Usage(format!(
                "the cursor key must be at least 32 bytes, not {}",
                cursor_key.len()
            )));
        }

        let registration = env("OMS_PLATFORM_IDP")
            .map(PathBuf::from)
            .or_else(|| file.platform.registration.as_deref().map(at))
            .ok_or_else(|| {
                missing(
                    "the platform issuer's registration",
                    "platform.registration",
                    "OMS_PLATFORM_IDP",
                )
            })?;
        let platform = platform_registration(&registration)?;

        let tls = match (env("OMS_TLS_CERT"), env("OMS_TLS_KEY")) {
            (Some(cert), Some(key)) => Some(Tls {
                cert: cert.into(),
                key: key.into(),
            }),
            (None, None) => file.tls.map(|t| Tls {
                cert: at(&t.cert),
                key: at(&t.key),
            }),
            _ => {
                return Err(CliError::Usage(
                    "give both OMS_TLS_CERT and OMS_TLS_KEY, or neither".into(),
                ));
            }
        };

        let allow_text = match env("OMS_OUTBOUND_ALLOW") {
            Some(list) => list,
            None => file.outbound.allow.join(","),
        };
        let allow = domain::outbound::OutboundPolicy::parse_allow_list(&allow_text)?;

        Ok(Self {
            listen: listen
                .map(str::to_owned)
                .or_else(|| env("OMS_LISTEN"))
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            trust_proxy: flag("OMS_TRUST_PROXY", file.trust_proxy)?,
            introspection: flag("OMS_INTROSPECTION", file.introspection)?,
            platform,
            tls,
            cursor_key,
            master_key,
            allow,
        })
    }
}

/// The secrets master key as admin commands outside dev mode need it to open the local secret
/// store themselves: `OMS_SECRETS_MASTER_KEY`, else the `OMS_CONFIG` file's `keys.secrets_master`.
pub fn master_key(env: Env) -> Result<Vec<u8>, CliError> {
    let file = match env("OMS_CONFIG") {
        Some(path) => {
            let (file, base) = read(Path::new(&path))?;
            file.keys.secrets_master.map(|p| base.join(p))
        }
        None => None,
    };
    key(
        env("OMS_SECRETS_MASTER_KEY"),
        file,
        "the secrets master key",
    )?
    .ok_or_else(|| {
        CliError::Usage(
            "outside dev mode the local secret store opens only with its master key: set \
             OMS_SECRETS_MASTER_KEY or OMS_CONFIG (or run the command while oms serve runs)"
                .into(),
        )
    })
}

/// The config file, and the directory its relative paths are relative to.
fn read(path: &Path) -> Result<(File, PathBuf), CliError> {
    let failed = |e: &dyn std::fmt::Display| CliError::Usage(format!("{}: {e}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| failed(&e))?;
    let file: File = toml::from_str(&text).map_err(|e| failed(&e))?;
    Ok((
        file,
        path.parent().map(Path::to_path_buf).unwrap_or_default(),
    ))
}

/// A key: the variable's base64 value, else the file's base64 text.
fn key(
    var: Option<String>,
    file: Option<PathBuf>,
    what: &str,
) -> Result<Option<Vec<u8>>, CliError> {
    let text = match (var, file) {
        (Some(v), _) => v,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| CliError::Usage(format!("{what}: {}: {e}", path.display())))?,
        (None, None) => return Ok(None),
    };
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map(Some)
        .map_err(|e| CliError::Usage(format!("{what} is not base64: {e}")))
}

/// The platform issuer's registration from its JSON file, checked as the verifier will use it.
fn platform_registration(path: &Path) -> Result<IdpRegistration, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    let reg: IdpRegistration = serde_json::from_str(&text).map_err(|e| {
        CliError::Usage(format!("{}: not an IdP registration: {e}", path.display()))
    })?;
    auth::verifier::check_platform_registration(&reg)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    Ok(reg)
}
