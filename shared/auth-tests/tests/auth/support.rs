//! A real registry (embedded store), fixture keys and token signing.

use app::ports::Registry;
use std::collections::BTreeMap;
use std::sync::Arc;

use auth::directory::CachedDirectory;
use auth::{Verifier, VerifierConfig};
use domain::Timestamp;
use domain::access::{Plan, Role};
use domain::audit::{AuditRecord, AuditTarget};
use domain::ids::{AuditId, Issuer, PlanName, Subject, TenantId};
use domain::tenant::{
    AudienceClaim, ClaimMapping, IdpKeys, IdpRegistration, PemKey, TenantProfile, TokenAlgorithm,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use store::embedded::EmbeddedStore;
use store::repo::RegistryRepository;
use store::{Clock, ManualClock};

/// 2026-11-24T00:00:00Z, the fixtures' `iat`.
pub const NOW: i64 = 1_795_478_400;

pub const ISS_A: &str = "https://idp.a.example/realms/a";
pub const ISS_B: &str = "https://idp.b.example/realms/b";

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn fixture_json(name: &str) -> serde_json::Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

pub fn sign(
    alg: Algorithm,
    key_file: &str,
    kid: Option<&str>,
    claims: &serde_json::Value,
) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    sign_with_header(header, key_file, claims)
}

pub fn sign_with_header(header: Header, key_file: &str, claims: &serde_json::Value) -> String {
    let pem = fixture(key_file);
    let key = match header.alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        _ => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    };
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

pub fn claims(iss: &str, aud: &str, sub: &str) -> serde_json::Value {
    serde_json::json!({"iss": iss, "aud": aud, "sub": sub, "iat": NOW, "exp": NOW + 600, "roles": ["staff"]})
}

pub fn staff_map() -> BTreeMap<String, Role> {
    [
        ("staff", Role::Staff),
        ("admin", Role::TenantAdmin),
        ("vendor", Role::Vendor),
        ("viewer", Role::ReadOnly),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A dedicated RS256 issuer with one inline PEM key.
pub fn pem_registration(issuer: &str, kid: &str, pub_file: &str) -> IdpRegistration {
    IdpRegistration {
        issuer: Issuer::parse(issuer).unwrap(),
        shared: false,
        tenant_claim: Some("tenant".into()),
        tenant_claim_value: None,
        audience_claim: AudienceClaim::Aud,
        audiences: vec!["oms-api".into()],
        algorithms: vec![TokenAlgorithm::RS256],
        keys: IdpKeys::Pem {
            keys: vec![PemKey {
                kid: Some(kid.into()),
                algorithm: TokenAlgorithm::RS256,
                pem: fixture(pub_file),
            }],
        },
        claims: ClaimMapping {
            subject: "sub".into(),
            roles: "roles".into(),
            vendor: Some("vendor_id".into()),
            email: Some("email".into()),
        },
        role_map: staff_map(),
    }
}

pub fn profile(id: &str, idps: Vec<IdpRegistration>) -> TenantProfile {
    let now = Timestamp::from_unix_millis(NOW * 1000).unwrap();
    let mut p = TenantProfile::new(
        TenantId::parse(id).unwrap(),
        id,
        PlanName::parse("gold").unwrap(),
        now,
    )
    .unwrap();
    for idp in idps {
        p.set_idp(idp, now).unwrap();
    }
    p
}

pub fn admin_audit(action: &str, n: u128) -> AuditRecord {
    let id = AuditId::from_ulid(ulid::Ulid::from_parts(NOW as u64 * 1000, n));
    let at = Timestamp::from_unix_millis(NOW * 1000).unwrap();
    let target = AuditTarget {
        kind: "tenant".into(),
        id: String::new(),
    };
    AuditRecord::platform_action(
        id,
        Subject::parse("root").unwrap(),
        action,
        target,
        None,
        at,
        "test".into(),
    )
}

pub struct Env {
    pub store: Arc<dyn store::port::ItemStore>,
    pub registry: RegistryRepository,
    pub clock: ManualClock,
    pub verifier: Arc<Verifier>,
}

/// A registry holding `tenants` on plan `gold` (every tenant operation), and a verifier over it.
pub async fn env(tenants: Vec<TenantProfile>, config: VerifierConfig) -> Env {
    let clock = ManualClock::at(NOW);
    let store: Arc<dyn store::port::ItemStore> =
        Arc::new(EmbeddedStore::in_memory(Arc::new(clock.clone())).unwrap());
    let registry = RegistryRepository::new(store.clone());
    registry
        .put_plan(
            &Plan::everything(PlanName::parse("gold").unwrap()),
            &admin_audit("setPlan", 1),
        )
        .await
        .unwrap();
    for (n, t) in tenants.iter().enumerate() {
        registry
            .create(t, &admin_audit("createTenant", 10 + n as u128))
            .await
            .unwrap();
    }
    let clock_dyn: Arc<dyn Clock> = Arc::new(clock.clone());
    let directory = Arc::new(CachedDirectory::new(
        Arc::new(registry.clone()),
        clock_dyn.clone(),
        60,
    ));
    let verifier = Arc::new(Verifier::new(directory, clock_dyn, config).unwrap());
    Env {
        store,
        registry,
        clock,
        verifier,
    }
}

/// Tenants a (issuer A, key a1) and b (issuer B, key b1).
pub async fn two_tenants() -> Env {
    env(
        vec![
            profile("a", vec![pem_registration(ISS_A, "a1", "rsa-a.pub.pem")]),
            profile("b", vec![pem_registration(ISS_B, "b1", "rsa-b.pub.pem")]),
        ],
        VerifierConfig::default(),
    )
    .await
}

/// A valid token of tenant a.
pub fn token_a(extra: serde_json::Value) -> String {
    let mut c = claims(ISS_A, "oms-api", "user-1");
    if let (Some(obj), Some(add)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in add {
            obj.insert(k.clone(), v.clone());
        }
    }
    sign(Algorithm::RS256, "rsa-a.key.pem", Some("a1"), &c)
}

/// A tiny JWKS server on loopback: serves the current document and counts requests.
pub struct JwksServer {
    pub url: String,
    pub doc: Arc<std::sync::Mutex<String>>,
    pub hits: Arc<std::sync::atomic::AtomicUsize>,
}

impl JwksServer {
    pub async fn start(keys: &[&str]) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let doc = Arc::new(std::sync::Mutex::new(String::new()));
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let server = Self {
            url,
            doc: doc.clone(),
            hits: hits.clone(),
        };
        server.serve(keys);
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let doc = doc.clone();
                let hits = hits.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let body = doc.lock().unwrap().clone();
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        server
    }

    /// Serves these JWK fixtures from now on.
    pub fn serve(&self, keys: &[&str]) {
        let keys: Vec<serde_json::Value> = keys.iter().map(|k| fixture_json(k)).collect();
        *self.doc.lock().unwrap() = serde_json::json!({ "keys": keys }).to_string();
    }

    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Tenant a with its keys from a JWKS URL, in dev mode (http allowed).
pub async fn jwks_tenant(url: &str) -> Env {
    let mut reg = pem_registration(ISS_A, "a1", "rsa-a.pub.pem");
    reg.keys = IdpKeys::Jwks {
        url: url.to_owned(),
    };
    env(
        vec![profile("a", vec![reg])],
        VerifierConfig {
            dev_mode: true,
            ..VerifierConfig::default()
        },
    )
    .await
}
