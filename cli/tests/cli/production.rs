//! `oms serve --mode production` from a config file, TLS on, as a SaaS provider would run it on
//! one machine: the test IdP serves its JWKS over HTTPS with a test CA (named in
//! `outbound.allow`, trusted through `SSL_CERT_FILE`); the platform issuer and a tenant's IdP
//! are that IdP. Dev tokens, GraphiQL and introspection are refused; tenant and platform
//! operations work with the test IdP's tokens; the admin CLI reaches the server through its
//! socket; SIGTERM stops it with exit 0. Without a master key it does not start, and says so.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use auth::dev::DevIdp;
use base64::Engine;
use domain::tenant::IdpKeys;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A test CA and a certificate it signed for `localhost` and 127.0.0.1: (CA PEM, cert PEM,
/// key PEM).
fn certificates() -> (String, String, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

/// The test IdP: its JWKS document over HTTPS on loopback (any path). Returns its port.
async fn idp_server(jwks: Value, cert_pem: &str, key_pem: &str) -> u16 {
    use rustls::pki_types::pem::PemObject;
    let chain = rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = jwks.to_string();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 16 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

/// A registration of the test IdP under `issuer` (JWKS over HTTPS at `jwks_url`).
fn registration(idp: &DevIdp, issuer: &str, jwks_url: &str, platform: bool) -> Value {
    let mut reg = idp.registration().unwrap();
    reg.issuer = domain::ids::Issuer::parse(issuer).unwrap();
    reg.shared = false;
    reg.tenant_claim = None;
    reg.audiences = vec!["tenantoms".into()];
    reg.keys = IdpKeys::Jwks {
        url: jwks_url.to_owned(),
    };
    if platform {
        reg.role_map = [(
            "platform-admin".to_owned(),
            domain::access::Role::PlatformAdmin,
        )]
        .into();
    }
    serde_json::to_value(reg).unwrap()
}

fn token(idp: &DevIdp, issuer: &str, sub: &str, role: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    idp.sign_claims(&json!({
        "iss": issuer, "aud": "tenantoms", "sub": sub, "roles": [role],
        "iat": now, "nbf": now, "exp": now + 600,
    }))
    .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Runs `oms --data-dir dir --mode production serve --config config`, trusting `roots`.
fn spawn(dir: &Path, config: &Path, roots: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_oms"))
        .arg("--data-dir")
        .arg(dir)
        .args(["--mode", "production", "serve", "--listen", "127.0.0.1:0"])
        .arg("--config")
        .arg(config)
        .env("SSL_CERT_FILE", roots)
        .env("SSL_CERT_DIR", dir.join("no-other-roots"))
        .env("OMS_LOG", "warn")
        .env_remove("OMS_SECRETS_MASTER_KEY")
        .env_remove("OMS_CURSOR_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The oms admin CLI on `dir` in production mode.
fn oms(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oms"))
        .arg("--data-dir")
        .arg(dir)
        .args(["--mode", "production"])
        .args(args)
        .output()
        .unwrap()
}

struct Https {
    client: reqwest::Client,
    url: String,
}

impl Https {
    async fn gql(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        let r = self
            .client
            .post(&self.url)
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_serves_over_tls_with_the_configured_issuer_and_nothing_of_dev() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::create_dir(w.join("no-other-roots")).unwrap();
    let (ca, cert, key) = certificates();
    std::fs::write(w.join("ca.pem"), &ca).unwrap();
    std::fs::write(w.join("cert.pem"), &cert).unwrap();
    std::fs::write(w.join("key.pem"), &key).unwrap();

    let idp = DevIdp::load_or_generate(&w.join("test-idp")).unwrap();
    let idp_port = idp_server(idp.jwks(), &cert, &key).await;
    let jwks_url = format!("https://localhost:{idp_port}/jwks.json");
    let platform_issuer = format!("https://localhost:{idp_port}/platform");
    let acme_issuer = format!("https://localhost:{idp_port}/acme");
    std::fs::write(
        w.join("platform-idp.json"),
        registration(&idp, &platform_issuer, &jwks_url, true).to_string(),
    )
    .unwrap();

    // Without a master key it does not start, and names it in one line.
    let data = w.join("data");
    let head = format!(
        "listen = \"127.0.0.1:0\"\n\n[platform]\nregistration = \"platform-idp.json\"\n\n\
         [tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n\n\
         [outbound]\nallow = [\"localhost:{idp_port}\"]\n"
    );
    std::fs::write(w.join("cursor.key"), b64(&[7u8; 32])).unwrap();
    std::fs::write(
        w.join("no-master.toml"),
        format!("{head}\n[keys]\ncursor = \"cursor.key\"\n"),
    )
    .unwrap();
    let refused = spawn(&data, &w.join("no-master.toml"), &w.join("ca.pem"))
        .wait_with_output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains("needs a secrets master key")
            && said.contains("keys.secrets_master")
            && said.contains("OMS_SECRETS_MASTER_KEY"),
        "{said}"
    );

    std::fs::write(w.join("master.key"), b64(&[9u8; 32])).unwrap();
    std::fs::write(
        w.join("oms.toml"),
        format!("{head}\n[keys]\ncursor = \"cursor.key\"\nsecrets_master = \"master.key\"\n"),
    )
    .unwrap();
    let mut child = spawn(&data, &w.join("oms.toml"), &w.join("ca.pem"));
    let url = crate::server::printed_url(&mut child, "https://").replace("127.0.0.1", "localhost");
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let api = Https {
        client: client.clone(),
        url: url.clone(),
    };

    // Nothing of dev: no GraphiQL, no dev JWKS, no introspection, no dev token.
    let base = url.trim_end_matches("/graphql");
    for path in [
        "/graphql",
        "/graphiql/assets/index.html",
        "/.well-known/jwks.json",
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "GET {path}");
    }
    let dev = DevIdp::load_or_generate(&w.join("a-dev-idp")).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let dev_token = dev.mint_platform("mallory", now, 600).unwrap();
    let (status, body) = api
        .gql(&dev_token, "{ tenants { nodes { id } } }", json!({}))
        .await;
    assert_eq!(status, 401, "{body}");
    let dev_tenant = dev
        .mint(
            &domain::ids::TenantId::parse("demo").unwrap(),
            domain::access::Role::Staff,
            None,
            None,
            now,
            600,
        )
        .unwrap();
    let (status, body) = api
        .gql(&dev_tenant, "{ viewer { tenant } }", json!({}))
        .await;
    assert_eq!(status, 401, "{body}");
    let platform = token(&idp, &platform_issuer, "ops@saas", "platform-admin");
    let (_, body) = api
        .gql(&platform, "{ __schema { types { name } } }", json!({}))
        .await;
    assert!(
        body["data"]["__schema"].is_null(),
        "introspection answered: {body}"
    );
    // Nor suggestions: a misspelt field is refused without naming the right one.
    let (_, body) = api.gql(&platform, "{ tenantz { id } }", json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        !message.is_empty() && !message.contains("Did you mean"),
        "{body}"
    );

    // The platform issuer's token (JWKS fetched over HTTPS from the allowed private host):
    // a plan, a tenant, the tenant's own IdP.
    let (_, body) = api
        .gql(
            &platform,
            "mutation { setPlan(name: \"standard\", all: true) { plan { name } userErrors { code message } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["setPlan"]["plan"]["name"], "standard",
        "{body}"
    );
    let (_, body) = api
        .gql(
            &platform,
            "mutation { createTenant(input: {id: \"acme\", plan: \"standard\"}) { tenant { id idps { issuer } } userErrors { code message } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["createTenant"]["tenant"]["id"], "acme",
        "{body}"
    );
    assert_eq!(
        body["data"]["createTenant"]["tenant"]["idps"],
        json!([]),
        "production registers no dev IdP: {body}"
    );
    let (_, body) = api
        .gql(
            &platform,
            "mutation($r: JSON!) { setTenantIdp(id: \"acme\", registration: $r) { tenant { idps { issuer } } userErrors { code message } } }",
            json!({ "r": registration(&idp, &acme_issuer, &jwks_url, false) }),
        )
        .await;
    assert_eq!(
        body["data"]["setTenantIdp"]["tenant"]["idps"][0]["issuer"], acme_issuer,
        "{body}"
    );

    // The tenant's users, with the tenant IdP's tokens.
    let staff = token(&idp, &acme_issuer, "alice", "staff");
    let (status, body) = api
        .gql(&staff, "{ viewer { tenant roles } }", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["viewer"]["tenant"], "acme", "{body}");
    let create = crate::server::create_order_mutation();
    let (_, body) = api
        .gql(
            &staff,
            &create,
            crate::server::order_input(Some("P-1"), &[("A", "v1", 1, "10.00")]),
        )
        .await;
    assert_eq!(
        body["data"]["createOrder"]["order"]["status"], "PENDING",
        "{body}"
    );
    // A platform token reads no tenant data; a tenant's runs no platform operation.
    let (_, body) = api.gql(&platform, "{ viewer { tenant } }", json!({})).await;
    assert!(body["errors"].is_array(), "{body}");
    let (_, body) = api
        .gql(&staff, "{ tenants { nodes { id } } }", json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );

    // The admin CLI through the owner-only socket, no token; `oms token` has no place here.
    let listed = oms(&data, &["tenant", "list"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(text.starts_with("acme\tActive\tplan=standard"), "{text}");
    assert!(
        !text.contains("demo"),
        "no demo tenant in production: {text}"
    );
    let minted = oms(&data, &["token", "--tenant", "acme"]);
    assert!(!minted.status.success());

    // SIGTERM: a clean stop.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!data.join("run").join("admin.sock").exists());
}

/// Production over a DynamoDB table (DynamoDB Local, secrets on moto), plain HTTP behind a
/// trusted proxy: refused while the local relay would publish what the AWS deployment's relay
/// already does; with `--relay off` it serves, publishes nothing, and logs the client the proxy
/// names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_over_dynamodb_needs_the_relay_off_and_trusts_only_the_proxys_hop() {
    let dynamodb = crate::server::service_endpoint("OMS_DYNAMODB_ENDPOINT");
    let moto = crate::server::service_endpoint("OMS_MOTO_ENDPOINT");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let table = format!("oms-prod-{}", std::process::id());
    let idp = DevIdp::load_or_generate(&w.join("test-idp")).unwrap();
    let issuer = "https://idp.example.com/platform";
    // Inline keys: nothing to fetch.
    let mut reg = idp.registration().unwrap();
    reg.issuer = domain::ids::Issuer::parse(issuer).unwrap();
    reg.shared = false;
    reg.tenant_claim = None;
    reg.audiences = vec!["tenantoms".into()];
    reg.role_map = [(
        "platform-admin".to_owned(),
        domain::access::Role::PlatformAdmin,
    )]
    .into();
    std::fs::write(
        w.join("platform-idp.json"),
        serde_json::to_vec(&reg).unwrap(),
    )
    .unwrap();
    std::fs::write(
        w.join("oms.toml"),
        "trust_proxy = true\n[platform]\nregistration = \"platform-idp.json\"\n",
    )
    .unwrap();
    let oms_cmd = |args: &[&str], relay: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_oms"));
        c.arg("--data-dir")
            .arg(w.join("data"))
            .args(["--mode", "production", "--dynamodb-table", &table])
            .args(["--dynamodb-endpoint", &dynamodb])
            .args(args);
        if let Some(r) = relay {
            c.args(["--relay", r]);
        }
        c.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("OMS_SECRETS_ENDPOINT", &moto)
            .env("OMS_STAGE", format!("prod{}", std::process::id()))
            .env("OMS_CURSOR_KEY", b64(&[3u8; 32]))
            .env("OMS_SECRETS_MASTER_KEY", b64(&[4u8; 32]))
            .env("OMS_LOG", "info");
        c
    };
    let created = oms_cmd(&["table", "create"], None).output().unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let config = w.join("oms.toml");
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
    ];

    let refused = oms_cmd(&serve, None).output().unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("add `--relay off`"), "{said}");

    let mut child = oms_cmd(&serve, Some("off"))
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(w.join("serve.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line);
        }
    });
    let mut banner = Vec::new();
    let url = loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("oms serve did not print its URL");
        banner.push(line.clone());
        if let Some(u) = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") && w.ends_with("/graphql"))
        {
            break u.to_owned();
        }
    };
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(300)) {
        banner.push(line);
    }
    let banner = banner.join("\n");
    assert!(
        banner.contains(&format!("DynamoDB table {table}")),
        "{banner}"
    );
    assert!(banner.contains("not published here"), "{banner}");

    let platform = token(&idp, issuer, "ops@saas", "platform-admin");
    let r = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&platform)
        .header("x-forwarded-for", "198.51.100.9, 203.0.113.7")
        .json(&json!({ "query": "mutation { createTenant(input: {id: \"dyn\", plan: \"nope\"}) { tenant { id } userErrors { code message } } }" }))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    // The table answered through the platform API: the plan is missing there.
    assert_eq!(
        body["data"]["createTenant"]["userErrors"][0]["code"], "INVALID_INPUT",
        "{body}"
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
    let log = std::fs::read_to_string(w.join("serve.log")).unwrap();
    // The proxy's hop, not the client's own claim, and not the proxy's address.
    assert!(log.contains("client=203.0.113.7"), "{log}");
    assert!(!log.contains("client=198.51.100.9"), "{log}");
}
