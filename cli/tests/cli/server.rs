//! A spawned `oms serve` (debug binary, random port, temporary data dir) and a GraphQL client.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// A local service's endpoint (`OMS_DYNAMODB_ENDPOINT`, `OMS_MOTO_ENDPOINT`, `OMS_REDIS_URL`):
/// from the environment, or the `.services/env` that `make test` (`scripts/services.sh start`)
/// writes. Missing means failing loudly, never skipping.
pub fn service_endpoint(key: &str) -> String {
    if let Ok(e) = std::env::var(key) {
        return e;
    }
    let env_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../.services/env");
    std::fs::read_to_string(env_file)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
        })
        .unwrap_or_else(|| {
            panic!("{key} is unset: run `make test`, or `scripts/services.sh start all`")
        })
}

pub fn oms(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oms"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Runs `oms` with `input` on its standard input.
pub fn oms_with_input(dir: &Path, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_oms"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The GraphQL URL a starting `oms serve` prints (`scheme` `http://` or `https://`); its
/// standard output keeps being drained after, so the server never writes into a closed pipe.
pub fn printed_url(child: &mut Child, scheme: &'static str) -> String {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let url = line
                .split_whitespace()
                .find(|w| w.starts_with(scheme) && w.ends_with("/graphql"));
            if let Some(u) = url {
                let _ = tx.send(u.to_owned());
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("oms serve did not print a {scheme} URL"))
}

pub struct Server {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub raw: String,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The first error's `extensions.code`.
    pub fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }
}

impl Server {
    /// Starts `oms serve` after running `setup` commands on its (still closed) data dir.
    pub fn start(setup: &[&[&str]]) -> Self {
        Self::spawn(tempfile::tempdir().unwrap(), setup)
    }

    /// Starts `oms serve` on a data dir prepared by the caller.
    pub fn start_in(dir: tempfile::TempDir) -> Self {
        Self::spawn(dir, &[])
    }

    /// Starts `oms serve <serve_args>` on a data dir prepared by the caller.
    pub fn start_serving(dir: tempfile::TempDir, serve_args: &[&str]) -> Self {
        Self::spawn_with(dir, &[], serve_args)
    }

    /// The server's base URL (`http://host:port`).
    pub fn base(&self) -> String {
        self.url.trim_end_matches("/graphql").to_owned()
    }

    /// POSTs raw bytes with headers to a path of the server: (status, body text).
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, String) {
        let mut req = self.http.post(format!("{}{path}", self.base()));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.body(body).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Starts a new server on a stopped server's data dir.
    pub fn restart(mut old: Server) -> Self {
        let _ = old.child.wait();
        let dir = std::mem::replace(&mut old.dir, tempfile::tempdir().unwrap());
        Self::spawn(dir, &[])
    }

    fn spawn(dir: tempfile::TempDir, setup: &[&[&str]]) -> Self {
        Self::spawn_with(dir, setup, &[])
    }

    /// Starts `oms serve` logging at TRACE into `serve.log` in its data dir (read it with
    /// [`Server::log`]).
    pub fn start_traced(dir: tempfile::TempDir) -> Self {
        Self::spawn_logging(dir, &[], &[], Some("trace"))
    }

    /// Everything the server logged so far (a server started with [`Server::start_traced`]).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn spawn_with(dir: tempfile::TempDir, setup: &[&[&str]], serve_args: &[&str]) -> Self {
        Self::spawn_logging(dir, setup, serve_args, None)
    }

    fn spawn_logging(
        dir: tempfile::TempDir,
        setup: &[&[&str]],
        serve_args: &[&str],
        log: Option<&str>,
    ) -> Self {
        for args in setup {
            let out = oms(dir.path(), args);
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_oms"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(serve_args)
            .env("OMS_LOG", log.unwrap_or("warn"))
            .stdout(Stdio::piped())
            .stderr(match log {
                Some(_) => {
                    Stdio::from(std::fs::File::create(dir.path().join("serve.log")).unwrap())
                }
                None => Stdio::null(),
            })
            .spawn()
            .unwrap();
        let url = printed_url(&mut child, "http://");
        Self {
            child,
            url,
            dir,
            http: reqwest::Client::new(),
        }
    }

    pub fn token(&self, tenant: &str, role: &str, vendor: Option<&str>) -> String {
        let mut args = vec!["token", "--tenant", tenant, "--role", role];
        if let Some(v) = vendor {
            args.extend(["--vendor", v]);
        }
        let out = oms(self.dir.path(), &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    pub async fn post(&self, token: Option<&str>, key: Option<&str>, body: String) -> Reply {
        self.try_post(token, key, body).await.unwrap()
    }

    /// As `post`, with a transport failure (the server gone) as an error.
    pub async fn try_post(
        &self,
        token: Option<&str>,
        key: Option<&str>,
        body: String,
    ) -> reqwest::Result<Reply> {
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let raw = resp.text().await?;
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Ok(Reply { status, body, raw })
    }

    /// As `gql`, with a transport failure as an error.
    pub async fn try_gql(
        &self,
        token: &str,
        query: &str,
        variables: Value,
    ) -> reqwest::Result<Reply> {
        self.try_post(
            Some(token),
            None,
            json!({"query": query, "variables": variables}).to_string(),
        )
        .await
    }

    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Reply {
        self.post(
            Some(token),
            None,
            json!({"query": query, "variables": variables}).to_string(),
        )
        .await
    }

    pub async fn gql_keyed(&self, token: &str, key: &str, query: &str, variables: Value) -> Reply {
        self.post(
            Some(token),
            Some(key),
            json!({"query": query, "variables": variables}).to_string(),
        )
        .await
    }
}

pub const ORDER_FIELDS: &str = "id status version total { amount currency } payment { status paid { amount } refunded { amount } }
    lines { sku vendor quantity due allocated dispatched delivered returned }
    shipments { id status lines { sku quantity } trackingNumber }
    returns { id status lines { sku quantity } }
    refunds { amount { amount } gross { amount } fee { amount } configVersion }";

pub fn create_order_mutation() -> String {
    format!(
        "mutation($input: CreateOrderInput!) {{ createOrder(input: $input) {{ order {{ {ORDER_FIELDS} }} userErrors {{ code field message }} }} }}"
    )
}

/// Creates an order (failing on any error): the order as the mutation returns it.
pub async fn create(
    s: &Server,
    token: &str,
    xref: Option<&str>,
    lines: &[(&str, &str, u32, &str)],
) -> Value {
    let r = s
        .gql(token, &create_order_mutation(), order_input(xref, lines))
        .await;
    assert_eq!(
        r.data()["createOrder"]["userErrors"],
        json!([]),
        "{}",
        r.raw
    );
    r.data()["createOrder"]["order"].clone()
}

/// A create-order input: lines of (sku, vendor, quantity, unit price).
pub fn order_input(external_ref: Option<&str>, lines: &[(&str, &str, u32, &str)]) -> Value {
    json!({"input": {
        "externalRef": external_ref,
        "currency": "USD",
        "customer": {"name": "Ana Díaz", "email": "ana@example.com"},
        "destination": {"name": "Ana Díaz", "line1": "1 Main St", "city": "Springfield", "postalCode": "62701", "country": "US"},
        "lines": lines.iter().map(|(s, v, q, p)| json!({"sku": s, "vendor": v, "quantity": q, "unitPrice": p})).collect::<Vec<_>>(),
        "shipping": "5.00", "tax": "2.00", "discount": "1.00",
    }})
}
