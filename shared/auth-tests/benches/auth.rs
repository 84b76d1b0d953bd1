//! Token verification (`make bench`): RS256-2048 with cached keys and compiled claim mapping (the
//! full verifier, cache off), raw `jsonwebtoken::decode` for reference, a verified-token cache
//! hit, and a webhook's `X-OMS-Signature` check (HMAC-SHA256 over a 1 KB body).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use app::ports::Registry;
use std::collections::BTreeMap;
use std::sync::Arc;

use auth::directory::CachedDirectory;
use auth::{Verifier, VerifierConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use domain::Timestamp;
use domain::access::{Plan, Role};
use domain::audit::{AuditRecord, AuditTarget};
use domain::ids::{AuditId, Issuer, PlanName, Subject, TenantId};
use domain::tenant::{
    AudienceClaim, ClaimMapping, IdpKeys, IdpRegistration, PemKey, TenantProfile, TokenAlgorithm,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use store::embedded::EmbeddedStore;
use store::repo::RegistryRepository;
use store::{Clock, ManualClock};

const NOW: i64 = 1_795_478_400;
const ISS: &str = "https://idp.bench.example/realms/b";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn audit(n: u128) -> AuditRecord {
    let target = AuditTarget {
        kind: "tenant".into(),
        id: "acme".into(),
    };
    let at = Timestamp::from_unix_millis(NOW * 1000).unwrap();
    AuditRecord::platform_action(
        AuditId::from_ulid(ulid::Ulid::from_parts(1, n)),
        Subject::parse("bench").unwrap(),
        "createTenant",
        target,
        None,
        at,
        "bench".into(),
    )
}

fn verifier(rt: &tokio::runtime::Runtime, cache: usize) -> Verifier {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(NOW));
    let registry =
        RegistryRepository::new(Arc::new(EmbeddedStore::in_memory(clock.clone()).unwrap()));
    let now = Timestamp::from_unix_millis(NOW * 1000).unwrap();
    let mut profile = TenantProfile::new(
        TenantId::parse("acme").unwrap(),
        "Acme",
        PlanName::parse("gold").unwrap(),
        now,
    )
    .unwrap();
    profile
        .set_idp(
            IdpRegistration {
                issuer: Issuer::parse(ISS).unwrap(),
                shared: false,
                tenant_claim: None,
                tenant_claim_value: None,
                audience_claim: AudienceClaim::Aud,
                audiences: vec!["oms-api".into()],
                algorithms: vec![TokenAlgorithm::RS256],
                keys: IdpKeys::Pem {
                    keys: vec![PemKey {
                        kid: Some("a1".into()),
                        algorithm: TokenAlgorithm::RS256,
                        pem: fixture("rsa-a.pub.pem"),
                    }],
                },
                claims: ClaimMapping {
                    subject: "sub".into(),
                    roles: "realm_access.roles".into(),
                    vendor: Some("vendor_id".into()),
                    email: Some("email".into()),
                },
                role_map: BTreeMap::from([("oms-staff".to_owned(), Role::Staff)]),
            },
            now,
        )
        .unwrap();
    rt.block_on(async {
        registry
            .put_plan(
                &Plan::everything(PlanName::parse("gold").unwrap()),
                &audit(1),
            )
            .await
            .unwrap();
        registry.create(&profile, &audit(2)).await.unwrap();
    });
    let directory = Arc::new(CachedDirectory::new(
        Arc::new(registry),
        clock.clone(),
        3_600,
    ));
    Verifier::new(
        directory,
        clock,
        VerifierConfig {
            token_cache_capacity: cache,
            ..VerifierConfig::default()
        },
    )
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let claims = serde_json::json!({
        "iss": ISS, "aud": ["oms-api", "account"], "sub": "0b7d2c9e-4f1a-4e8b-9d3c-6a5e1f2b8c47",
        "iat": NOW, "exp": NOW + 3600, "realm_access": {"roles": ["oms-staff", "offline_access"]},
        "email": "sam.staff@acme.example", "vendor_id": "v-100", "scope": "openid email profile",
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("a1".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(fixture("rsa-a.key.pem").as_bytes()).unwrap(),
    )
    .unwrap();

    let uncached = verifier(&rt, 0);
    rt.block_on(uncached.verify_token(&token)).unwrap();
    c.bench_function(
        "verify/RS256-2048, cached keys, compiled mapping (full verifier)",
        |b| b.iter(|| rt.block_on(uncached.verify_token(&token)).unwrap()),
    );

    let key = DecodingKey::from_rsa_pem(fixture("rsa-a.pub.pem").as_bytes()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["oms-api"]);
    validation.validate_exp = false;
    c.bench_function("verify/jsonwebtoken::decode alone (reference)", |b| {
        b.iter(|| jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap())
    });

    let cached = verifier(&rt, 10_000);
    rt.block_on(cached.verify_token(&token)).unwrap();
    c.bench_function("verify/verified-token cache hit", |b| {
        b.iter(|| rt.block_on(cached.verify_token(&token)).unwrap())
    });

    let secret = secrecy::SecretString::from("whsec-bench-0123456789".to_owned());
    let body = vec![b'x'; 1024];
    let header = auth::webhook::oms_signature(&secret, NOW, &body);
    let secrets = [secret];
    c.bench_function("webhook/X-OMS-Signature verify (1 KB body)", |b| {
        b.iter(|| auth::webhook::verify_oms(Some(&header), &body, &secrets, NOW, 300).unwrap())
    });
}

criterion_group!(auth_benches, benches);
criterion_main!(auth_benches);
