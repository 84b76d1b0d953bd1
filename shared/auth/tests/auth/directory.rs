//! The directory cache under unauthenticated load: random issuers cost at most one store read
//! each, never evict a real tenant's entries, and a suspended tenant is only named to callers
//! whose signature holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth::directory::{CachedDirectory, DirectorySource};
use auth::{AuthError, Verifier, VerifierConfig};
use domain::Clock;
use domain::access::Plan;
use domain::ids::{Issuer, PlanName, TenantId};
use domain::ports::PortFuture;
use domain::tenant::{IssuerRow, TenantProfile, TenantStatus};
use jsonwebtoken::Algorithm;
use store::repo::RegistryRepository;

use crate::support::{ISS_A, admin_audit, claims, sign, token_a, two_tenants};

/// The registry, counting every read the directory makes of it.
struct Counted {
    inner: RegistryRepository,
    reads: AtomicUsize,
}

impl DirectorySource for Counted {
    fn issuer_rows<'a>(&'a self, issuer: &'a Issuer) -> PortFuture<'a, Vec<IssuerRow>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.issuer_rows(issuer)
    }

    fn profile<'a>(&'a self, tenant: &'a TenantId) -> PortFuture<'a, Option<TenantProfile>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        DirectorySource::profile(&self.inner, tenant)
    }

    fn plan<'a>(&'a self, plan: &'a PlanName) -> PortFuture<'a, Option<Plan>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        DirectorySource::plan(&self.inner, plan)
    }

    fn saas_webhook<'a>(
        &'a self,
        hook: domain::webhook::WebhookHook,
    ) -> PortFuture<'a, Option<domain::webhook::WebhookSetting>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        DirectorySource::saas_webhook(&self.inner, hook)
    }

    fn event_source_tenant<'a>(
        &'a self,
        source: &'a domain::tenant::EventSource,
    ) -> PortFuture<'a, Option<TenantId>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        DirectorySource::event_source_tenant(&self.inner, source)
    }
}

#[tokio::test]
async fn ten_thousand_random_issuers_leave_real_tenants_cached() {
    let env = two_tenants().await;
    let counted = Arc::new(Counted {
        inner: env.registry.clone(),
        reads: AtomicUsize::new(0),
    });
    let clock: Arc<dyn Clock> = Arc::new(env.clock.clone());
    let directory = Arc::new(CachedDirectory::new(counted.clone(), clock.clone(), 60));
    let verifier = Verifier::new(directory, clock, VerifierConfig::default()).unwrap();
    let verify = |t: String| {
        let v = &verifier;
        async move { v.verify(Some(&format!("Bearer {t}"))).await }
    };
    verify(token_a(serde_json::json!({"jti": "warm"})))
        .await
        .unwrap();
    let warm = counted.reads.load(Ordering::SeqCst);
    assert_eq!(warm, 3, "issuer, tenant, plan");

    // Unknown issuers are refused before any signature check, so a made-up signature will do
    // (and keeps ten thousand tokens cheap to build).
    let random = |i: usize| {
        use base64::Engine;
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let header = b64(serde_json::json!({"alg": "RS256", "kid": "a1", "typ": "JWT"}));
        let body = b64(claims(
            &format!("https://rnd-{i}.attacker.example"),
            "oms-api",
            "x",
        ));
        format!("{header}.{body}.c2lnbmF0dXJl")
    };
    for i in 0..10_000 {
        assert_eq!(
            verify(random(i)).await.unwrap_err(),
            AuthError::UnknownIssuer
        );
    }
    assert_eq!(
        counted.reads.load(Ordering::SeqCst) - warm,
        10_000,
        "one read per unknown issuer"
    );
    // The most recent unknown issuers are remembered: asking again reads nothing.
    let before = counted.reads.load(Ordering::SeqCst);
    for i in 9_500..10_000 {
        assert_eq!(
            verify(random(i)).await.unwrap_err(),
            AuthError::UnknownIssuer
        );
    }
    assert_eq!(counted.reads.load(Ordering::SeqCst), before);

    // A fresh token of the real tenant (not in the token cache): its directory entries are
    // still cached, so it costs no read.
    let caller = verify(token_a(serde_json::json!({"jti": "after"}))).await;
    assert!(caller.is_ok(), "{caller:?}");
    assert_eq!(
        counted.reads.load(Ordering::SeqCst),
        before,
        "the real tenant's entries were evicted"
    );
}

#[tokio::test]
async fn a_suspended_tenant_is_named_only_to_a_valid_signature() {
    let env = two_tenants().await;
    let a = TenantId::parse("a").unwrap();
    let stored = env.registry.get(&a).await.unwrap().unwrap();
    let mut p = stored.profile.clone();
    p.status = TenantStatus::Suspended;
    env.registry
        .update(&stored, &p, &admin_audit("suspendTenant", 98))
        .await
        .unwrap();
    env.clock.advance(61); // past the directory cache's TTL
    // Signed with the attacker's key under tenant a's kid: the signature fails first.
    let forged = sign(
        Algorithm::RS256,
        "attacker.key.pem",
        Some("a1"),
        &claims(ISS_A, "oms-api", "user-1"),
    );
    let err = env
        .verifier
        .verify(Some(&format!("Bearer {forged}")))
        .await
        .unwrap_err();
    assert_ne!(
        err,
        AuthError::TenantSuspended,
        "suspension leaked to a forger"
    );
    assert_eq!(err.code(), "UNAUTHENTICATED");
    // The real user of the suspended tenant is told.
    let real = env
        .verifier
        .verify(Some(&format!("Bearer {}", token_a(serde_json::json!({})))))
        .await
        .unwrap_err();
    assert_eq!(real, AuthError::TenantSuspended);
}
