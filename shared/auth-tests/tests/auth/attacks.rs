//! Forged and invalid tokens, one class per test, all refused; and the valid control.

use app::ports::Registry;
use auth::{AuthError, Caller};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::tenant::TenantStatus;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::support::*;

fn unsigned(header: &str, claims: &serde_json::Value, sig: &str) -> String {
    format!(
        "{}.{}.{sig}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

async fn refused(env: &Env, token: &str) -> AuthError {
    env.verifier
        .verify(Some(&format!("Bearer {token}")))
        .await
        .expect_err("token accepted")
}

#[tokio::test]
async fn control_a_valid_token_is_accepted() {
    let env = two_tenants().await;
    let caller = env
        .verifier
        .verify(Some(&format!("Bearer {}", token_a(serde_json::json!({})))))
        .await
        .unwrap();
    let Caller::Tenant(id) = caller else {
        panic!("not a tenant caller")
    };
    assert_eq!(id.tenant().as_str(), "a");
    assert_eq!(id.subject().as_str(), "user-1");
}

#[tokio::test]
async fn no_token() {
    let env = two_tenants().await;
    assert_eq!(
        env.verifier.verify(None).await.unwrap_err(),
        AuthError::MissingToken
    );
    assert_eq!(
        env.verifier
            .verify(Some("Basic dXNlcjpwdw=="))
            .await
            .unwrap_err(),
        AuthError::MissingToken
    );
    assert_eq!(
        env.verifier.verify(Some("Bearer ")).await.unwrap_err(),
        AuthError::MissingToken
    );
}

#[tokio::test]
async fn malformed() {
    let env = two_tenants().await;
    for t in ["not-a-jwt", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30"] {
        assert!(
            matches!(refused(&env, t).await, AuthError::Malformed(_)),
            "{t}"
        );
    }
}

#[tokio::test]
async fn alg_none() {
    let env = two_tenants().await;
    let t = unsigned(
        r#"{"alg":"none","typ":"JWT"}"#,
        &claims(ISS_A, "oms-api", "x"),
        "",
    );
    assert!(matches!(
        refused(&env, &t).await,
        AuthError::Malformed(_) | AuthError::AlgorithmNotAllowed
    ));
}

#[tokio::test]
async fn hs256_signed_with_the_public_key() {
    let env = two_tenants().await;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("a1".into());
    let secret = fixture("rsa-a.pub.pem");
    let t = jsonwebtoken::encode(
        &header,
        &claims(ISS_A, "oms-api", "x"),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    assert_eq!(refused(&env, &t).await, AuthError::AlgorithmNotAllowed);
}

#[tokio::test]
async fn wrong_signature() {
    let env = two_tenants().await;
    let t = sign(
        Algorithm::RS256,
        "attacker.key.pem",
        Some("a1"),
        &claims(ISS_A, "oms-api", "x"),
    );
    assert!(matches!(refused(&env, &t).await, AuthError::Invalid(_)));
    // A valid token with its signature swapped for another token's.
    let good = token_a(serde_json::json!({}));
    let other = token_a(serde_json::json!({"sub": "someone-else"}));
    let forged = format!(
        "{}.{}",
        good.rsplit_once('.').unwrap().0,
        other.rsplit_once('.').unwrap().1
    );
    assert!(matches!(
        refused(&env, &forged).await,
        AuthError::Invalid(_)
    ));
}

#[tokio::test]
async fn expired() {
    let env = two_tenants().await;
    let t = token_a(serde_json::json!({"exp": NOW - 31}));
    assert_eq!(refused(&env, &t).await, AuthError::Expired);
    // Within the 30 s leeway it still passes.
    let t = token_a(serde_json::json!({"exp": NOW - 29}));
    assert!(
        env.verifier
            .verify(Some(&format!("Bearer {t}")))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn not_yet_valid() {
    let env = two_tenants().await;
    let t = token_a(serde_json::json!({"nbf": NOW + 31}));
    assert_eq!(refused(&env, &t).await, AuthError::NotYetValid);
}

#[tokio::test]
async fn wrong_issuer() {
    let env = two_tenants().await;
    let t = sign(
        Algorithm::RS256,
        "rsa-a.key.pem",
        Some("a1"),
        &claims("https://evil.example/", "oms-api", "x"),
    );
    assert_eq!(refused(&env, &t).await, AuthError::UnknownIssuer);
    let t = sign(
        Algorithm::RS256,
        "rsa-a.key.pem",
        Some("a1"),
        &serde_json::json!({"aud": "oms-api", "sub": "x", "exp": NOW + 60}),
    );
    assert_eq!(refused(&env, &t).await, AuthError::Claim("iss"));
}

#[tokio::test]
async fn tenant_a_issuer_with_tenant_b_kid() {
    let env = two_tenants().await;
    let t = sign(
        Algorithm::RS256,
        "rsa-b.key.pem",
        Some("b1"),
        &claims(ISS_A, "oms-api", "x"),
    );
    assert_eq!(refused(&env, &t).await, AuthError::UnknownKey);
}

#[tokio::test]
async fn wrong_audience() {
    let env = two_tenants().await;
    let t = sign(
        Algorithm::RS256,
        "rsa-a.key.pem",
        Some("a1"),
        &claims(ISS_A, "another-api", "x"),
    );
    assert_eq!(refused(&env, &t).await, AuthError::WrongAudience);
    let mut no_aud = claims(ISS_A, "x", "x");
    no_aud.as_object_mut().unwrap().remove("aud");
    let t = sign(Algorithm::RS256, "rsa-a.key.pem", Some("a1"), &no_aud);
    assert_eq!(refused(&env, &t).await, AuthError::WrongAudience);
}

#[tokio::test]
async fn missing_exp() {
    let env = two_tenants().await;
    let mut c = claims(ISS_A, "oms-api", "x");
    c.as_object_mut().unwrap().remove("exp");
    let t = sign(Algorithm::RS256, "rsa-a.key.pem", Some("a1"), &c);
    assert_eq!(refused(&env, &t).await, AuthError::Claim("exp"));
}

#[tokio::test]
async fn unknown_kid_after_one_refetch() {
    let server = JwksServer::start(&["rsa-a.jwk.json"]).await;
    let env = jwks_tenant(&server.url).await;
    let good = token_a(serde_json::json!({}));
    env.verifier.verify_token(&good).await.unwrap();
    assert_eq!(server.hits(), 1);
    env.clock.advance(31);
    let t = sign(
        Algorithm::RS256,
        "attacker.key.pem",
        Some("evil"),
        &claims(ISS_A, "oms-api", "x"),
    );
    assert_eq!(refused(&env, &t).await, AuthError::UnknownKey);
    assert_eq!(server.hits(), 2, "one refetch for the unknown kid");
    assert_eq!(refused(&env, &t).await, AuthError::UnknownKey);
    assert_eq!(server.hits(), 2, "no second refetch within the cool-down");
}

#[tokio::test]
async fn key_removed_from_jwks_after_rotation() {
    let server = JwksServer::start(&["rsa-a.jwk.json", "rsa-a2.jwk.json"]).await;
    let env = jwks_tenant(&server.url).await;
    let old = token_a(serde_json::json!({}));
    env.verifier.verify_token(&old).await.unwrap();
    // The IdP rotates a1 out; once the cache refreshes, tokens signed with a1 are refused — even
    // the one already in the verified-token cache.
    server.serve(&["rsa-a2.jwk.json"]);
    env.clock.advance(601);
    let new = sign(
        Algorithm::RS256,
        "rsa-a2.key.pem",
        Some("a2"),
        &claims(ISS_A, "oms-api", "user-2"),
    );
    env.verifier.verify_token(&new).await.unwrap();
    assert_eq!(refused(&env, &old).await, AuthError::UnknownKey);
}

#[tokio::test]
async fn suspended_tenant() {
    let env = two_tenants().await;
    let stored = env
        .registry
        .get(&domain::ids::TenantId::parse("a").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut p = stored.profile.clone();
    p.status = TenantStatus::Suspended;
    env.registry
        .update(&stored, &p, &admin_audit("suspendTenant", 99))
        .await
        .unwrap();
    env.clock.advance(61); // the directory cache's TTL
    let err = refused(&env, &token_a(serde_json::json!({}))).await;
    assert_eq!(err, AuthError::TenantSuspended);
    assert_eq!(
        (err.refusal(), err.code()),
        (auth::Refusal::Suspended, "TENANT_SUSPENDED")
    );
}

#[tokio::test]
async fn tenant_claim_disagreeing_with_a_dedicated_issuer() {
    let env = two_tenants().await;
    let t = token_a(serde_json::json!({"tenant": "b"}));
    assert_eq!(refused(&env, &t).await, AuthError::TenantMismatch);
    // The matching claim is fine.
    assert!(
        env.verifier
            .verify_token(&token_a(serde_json::json!({"tenant": "a"})))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn shared_issuer_with_an_unregistered_tenant_claim() {
    let shared = |tenant: &str, org: &str| {
        let mut r = pem_registration("https://shared.example/", "a1", "rsa-a.pub.pem");
        r.shared = true;
        r.tenant_claim = Some("org_id".into());
        r.tenant_claim_value = Some(org.into());
        profile(tenant, vec![r])
    };
    let env = env(
        vec![shared("c", "org_C"), shared("d", "org_D")],
        auth::VerifierConfig::default(),
    )
    .await;
    let with_org = |org: &str| {
        let mut c = claims("https://shared.example/", "oms-api", "u");
        c["org_id"] = serde_json::json!(org);
        sign(Algorithm::RS256, "rsa-a.key.pem", Some("a1"), &c)
    };
    let Caller::Tenant(d) = env.verifier.verify_token(&with_org("org_D")).await.unwrap() else {
        panic!()
    };
    assert_eq!(d.tenant().as_str(), "d");
    assert_eq!(
        refused(&env, &with_org("org_X")).await,
        AuthError::UnknownTenant
    );
    let mut none = claims("https://shared.example/", "oms-api", "u");
    none.as_object_mut().unwrap().remove("org_id");
    assert_eq!(
        refused(
            &env,
            &sign(Algorithm::RS256, "rsa-a.key.pem", Some("a1"), &none)
        )
        .await,
        AuthError::UnknownTenant
    );
}

#[tokio::test]
async fn oversized_token() {
    let env = two_tenants().await;
    let t = token_a(serde_json::json!({"padding": "x".repeat(9_000)}));
    assert_eq!(refused(&env, &t).await, AuthError::TooLarge(t.len()));
}

#[tokio::test]
async fn jku_x5u_and_embedded_jwk_headers_are_ignored() {
    let attacker = JwksServer::start(&["attacker.jwk.json"]).await;
    let env = two_tenants().await;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("evil".into());
    header.jku = Some(attacker.url.clone());
    header.x5u = Some(attacker.url.clone());
    header.jwk = Some(serde_json::from_value(fixture_json("attacker.jwk.json")).unwrap());
    let t = sign_with_header(header, "attacker.key.pem", &claims(ISS_A, "oms-api", "x"));
    assert_eq!(refused(&env, &t).await, AuthError::UnknownKey);
    // Same with a kid the tenant does have: the attacker's key is still never used.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("a1".into());
    header.jwk = Some(serde_json::from_value(fixture_json("attacker.jwk.json")).unwrap());
    header.jku = Some(attacker.url.clone());
    let t = sign_with_header(header, "attacker.key.pem", &claims(ISS_A, "oms-api", "x"));
    assert!(matches!(refused(&env, &t).await, AuthError::Invalid(_)));
    assert_eq!(attacker.hits(), 0, "the attacker's URL was fetched");
}

#[tokio::test]
async fn es256_where_only_rs256_is_allowed() {
    let env = two_tenants().await;
    let t = sign(
        Algorithm::ES256,
        "ec-a.key.pem",
        Some("a1"),
        &claims(ISS_A, "oms-api", "x"),
    );
    assert_eq!(refused(&env, &t).await, AuthError::AlgorithmNotAllowed);
}

#[tokio::test]
async fn dev_issuer_is_refused_outside_dev_mode() {
    let env = two_tenants().await;
    let t = sign(
        Algorithm::RS256,
        "rsa-a.key.pem",
        Some("a1"),
        &claims(auth::DEV_ISSUER, "tenantoms-dev", "x"),
    );
    assert_eq!(refused(&env, &t).await, AuthError::UnknownIssuer);
}

#[tokio::test]
async fn refusals_tell_the_caller_nothing() {
    let env = two_tenants().await;
    for t in ["garbage", &token_a(serde_json::json!({"exp": NOW - 100}))] {
        let e = refused(&env, t).await;
        assert_eq!(
            (e.refusal(), e.code(), e.public_message()),
            (
                auth::Refusal::Unauthenticated,
                "UNAUTHENTICATED",
                "authentication required"
            )
        );
    }
}

/// Verification logs (at every level) never carry a token or key material.
#[tokio::test(flavor = "current_thread")]
async fn no_token_or_key_in_any_log_line() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A JWKS URL that fails, tokens that fail in different ways, and one that passes.
    let mut reg = pem_registration(ISS_A, "a1", "rsa-a.pub.pem");
    reg.keys = domain::tenant::IdpKeys::Jwks {
        url: "http://127.0.0.1:9/jwks.json".into(),
    };
    let failing = env(
        vec![profile("a", vec![reg])],
        auth::VerifierConfig {
            dev_mode: true,
            ..auth::VerifierConfig::default()
        },
    )
    .await;
    let good = token_a(serde_json::json!({}));
    let _ = failing.verifier.verify_token(&good).await;
    let env = two_tenants().await;
    for t in [
        good.clone(),
        token_a(serde_json::json!({"exp": 1})),
        "x.y.z".to_owned(),
    ] {
        let _ = env.verifier.verify_token(&t).await;
    }
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("JWKS fetch failed"),
        "the failure was not logged at all: {logs}"
    );
    let signature = good.rsplit_once('.').unwrap().1;
    assert!(!logs.contains(signature), "a token signature was logged");
    assert!(
        !logs.contains(good.split('.').nth(1).unwrap()),
        "a token body was logged"
    );
    assert!(
        !logs.contains("PRIVATE KEY") && !logs.contains("PUBLIC KEY"),
        "key material was logged"
    );
}
