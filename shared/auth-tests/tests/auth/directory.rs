//! The directory cache under unauthenticated load: random issuers cost no store read once the
//! registered set is loaded, never evict a real tenant's entries, and a suspended tenant is only
//! named to callers whose signature holds.

use app::ports::Registry;
use std::collections::BTreeSet;
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

use crate::support::{
    Env, ISS_A, admin_audit, claims, pem_registration, profile, sign, token_a, two_tenants,
};

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

    fn known_issuers<'a>(&'a self) -> PortFuture<'a, Option<BTreeSet<Issuer>>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        DirectorySource::known_issuers(&self.inner)
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

    fn api_key<'a>(
        &'a self,
        id: domain::ids::ApiKeyId,
    ) -> PortFuture<'a, Option<domain::apikey::ApiKey>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        DirectorySource::api_key(&self.inner, id)
    }

    fn api_key_used<'a>(
        &'a self,
        id: domain::ids::ApiKeyId,
        at: domain::Timestamp,
    ) -> PortFuture<'a, ()> {
        DirectorySource::api_key_used(&self.inner, id, at)
    }
}

/// A token whose issuer nobody registered. Unknown issuers are refused before any signature
/// check, so a made-up signature will do (and keeps ten thousand tokens cheap to build).
fn random_issuer_token(i: usize) -> String {
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
}

/// A verifier over `registry` whose every directory read is counted.
fn counted_verifier(env: &Env) -> (Arc<Counted>, Verifier) {
    let counted = Arc::new(Counted {
        inner: env.registry.clone(),
        reads: AtomicUsize::new(0),
    });
    let clock: Arc<dyn Clock> = Arc::new(env.clock.clone());
    let directory = Arc::new(CachedDirectory::new(counted.clone(), clock.clone(), 60));
    let verifier = Verifier::new(directory, clock, VerifierConfig::default()).unwrap();
    (counted, verifier)
}

async fn verify(verifier: &Verifier, token: String) -> Result<auth::Caller, AuthError> {
    verifier.verify(Some(&format!("Bearer {token}"))).await
}

#[tokio::test]
async fn ten_thousand_random_issuers_cost_no_store_read_and_leave_real_tenants_cached() {
    let env = two_tenants().await;
    let (counted, verifier) = counted_verifier(&env);
    verify(&verifier, token_a(serde_json::json!({"jti": "warm"})))
        .await
        .unwrap();
    let warm = counted.reads.load(Ordering::SeqCst);
    assert_eq!(warm, 4, "issuer set, issuer rows, tenant, plan");

    for i in 0..10_000 {
        assert_eq!(
            verify(&verifier, random_issuer_token(i)).await.unwrap_err(),
            AuthError::UnknownIssuer
        );
    }
    assert_eq!(
        counted.reads.load(Ordering::SeqCst),
        warm,
        "an unknown issuer costs no read, also when repeated"
    );

    // A fresh token of the real tenant (not in the token cache): its directory entries are
    // still cached, so it costs no read.
    let caller = verify(&verifier, token_a(serde_json::json!({"jti": "after"}))).await;
    assert!(caller.is_ok(), "{caller:?}");
    assert_eq!(
        counted.reads.load(Ordering::SeqCst),
        warm,
        "the real tenant's entries were evicted"
    );

    // Past the TTL the set is loaded again, once, however many unknown issuers arrive.
    env.clock.advance(61);
    for i in 0..1_000 {
        assert_eq!(
            verify(&verifier, random_issuer_token(i)).await.unwrap_err(),
            AuthError::UnknownIssuer
        );
    }
    assert_eq!(counted.reads.load(Ordering::SeqCst), warm + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_directory_loads_the_issuer_set_once_under_a_burst() {
    let env = two_tenants().await;
    let (counted, verifier) = counted_verifier(&env);
    let verifier = Arc::new(verifier);
    let burst: Vec<_> = (0..200)
        .map(|i| {
            let v = verifier.clone();
            tokio::spawn(async move { verify(&v, random_issuer_token(i)).await })
        })
        .collect();
    for task in burst {
        assert_eq!(task.await.unwrap().unwrap_err(), AuthError::UnknownIssuer);
    }
    assert_eq!(
        counted.reads.load(Ordering::SeqCst),
        1,
        "one load of the set"
    );
}

#[tokio::test]
async fn an_issuer_registered_by_another_process_is_accepted_within_the_ttl() {
    let env = two_tenants().await;
    let (_, verifier) = counted_verifier(&env);
    verify(&verifier, token_a(serde_json::json!({"jti": "warm"})))
        .await
        .unwrap();
    // Tenant c is onboarded elsewhere: this directory is not told.
    const ISS_C: &str = "https://idp.c.example/realms/c";
    env.registry
        .create(
            &profile("c", vec![pem_registration(ISS_C, "c1", "rsa-b.pub.pem")]),
            &admin_audit("createTenant", 99),
        )
        .await
        .unwrap();
    let mut c = claims(ISS_C, "oms-api", "user-c");
    c["tenant"] = serde_json::json!("c");
    let token_c = sign(Algorithm::RS256, "rsa-b.key.pem", Some("c1"), &c);
    assert_eq!(
        verify(&verifier, token_c.clone()).await.unwrap_err(),
        AuthError::UnknownIssuer,
        "within the TTL the loaded set still stands"
    );
    env.clock.advance(60);
    match verify(&verifier, token_c).await {
        Ok(auth::Caller::Tenant(identity)) => assert_eq!(identity.tenant().as_str(), "c"),
        other => panic!("tenant c after the TTL: {other:?}"),
    }
}

#[tokio::test]
async fn a_table_from_before_the_issuer_index_is_backfilled_by_the_next_registry_change() {
    let env = two_tenants().await;
    // Take the index away, as on a table written before it existed.
    let store = env.store.clone();
    let index = store
        .query(&store::port::Query::partition(
            store::keys::ISSUER_INDEX,
            100,
        ))
        .await
        .unwrap();
    assert_eq!(index.items.len(), 3, "a, b and the built marker");
    store
        .transact_write(
            index
                .items
                .iter()
                .map(|i| store::port::WriteAction::Delete {
                    key: i.key().unwrap(),
                    condition: None,
                })
                .collect(),
        )
        .await
        .unwrap();

    // A new process: no set to load, so each unknown issuer is read (and remembered).
    let old = RegistryRepository::new(store.clone());
    assert_eq!(old.known_issuers().await.unwrap(), None);
    let env_old = Env {
        store: store.clone(),
        registry: old.clone(),
        clock: env.clock.clone(),
        verifier: env.verifier.clone(),
    };
    let (counted, verifier) = counted_verifier(&env_old);
    for _ in 0..3 {
        assert_eq!(
            verify(&verifier, random_issuer_token(7)).await.unwrap_err(),
            AuthError::UnknownIssuer
        );
    }
    assert_eq!(
        counted.reads.load(Ordering::SeqCst),
        2,
        "the set, then one read"
    );
    let caller = verify(&verifier, token_a(serde_json::json!({"jti": "old"}))).await;
    assert!(caller.is_ok(), "{caller:?}");

    // The next registry change builds the index from the tenant list; a removed issuer leaves it.
    let a = TenantId::parse("a").unwrap();
    let before = old.get(&a).await.unwrap().unwrap();
    let mut after = before.profile.clone();
    after.idps.clear();
    old.update(&before, &after, &admin_audit("updateTenant", 50))
        .await
        .unwrap();
    let listed: Vec<String> = old
        .known_issuers()
        .await
        .unwrap()
        .expect("built")
        .iter()
        .map(|i| i.as_str().to_owned())
        .collect();
    assert_eq!(listed, vec![crate::support::ISS_B.to_owned()]);
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
