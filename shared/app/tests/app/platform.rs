//! Platform use cases: a dedicated issuer serves one tenant, refused in the transaction that
//! writes the issuer row (so two concurrent registrations cannot both win).

use std::sync::Arc;

use app::platform::{DevSetup, Platform, PlatformError};
use auth::dev::DevIdp;
use domain::access::Plan;
use domain::ids::{Issuer, PlanName, Subject, TenantId};
use domain::{Clock, ManualClock};
use store::ItemStore;
use store::embedded::EmbeddedStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dedicated_issuer_serves_one_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(1_795_478_400));
    let store: Arc<dyn ItemStore> = Arc::new(EmbeddedStore::in_memory(clock.clone()).unwrap());
    let platform = Arc::new(Platform::new(
        store,
        clock,
        Subject::parse("cli:test").unwrap(),
        Some(DevSetup {
            data_dir: dir.path().to_path_buf(),
        }),
    ));
    let gold = PlanName::parse("gold").unwrap();
    platform
        .set_plan(
            &gold,
            Plan::everything(gold.clone())
                .operations
                .into_iter()
                .collect(),
        )
        .await
        .unwrap();
    let idp = DevIdp::load_or_generate(dir.path()).unwrap();
    let mut dedicated = idp.registration().unwrap();
    dedicated.issuer = Issuer::parse("https://idp.acme.example/realms/acme").unwrap();
    dedicated.shared = false;
    dedicated.tenant_claim = None;
    let tenants: Vec<TenantId> = ["t1", "t2", "t3", "t4"]
        .iter()
        .map(|t| TenantId::parse(t).unwrap())
        .collect();
    for t in &tenants {
        platform
            .create_tenant(t, t.as_str(), &gold, 1)
            .await
            .unwrap();
    }

    platform
        .set_idp(&tenants[0], dedicated.clone())
        .await
        .unwrap();
    // Registering it again for the same tenant is fine (a replacement).
    platform
        .set_idp(&tenants[0], dedicated.clone())
        .await
        .unwrap();
    let err = platform
        .set_idp(&tenants[1], dedicated.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PlatformError::Refused(m) if m.contains("already registered")),
        "{err}"
    );
    // Nor may another tenant share it.
    let mut shared = dedicated.clone();
    shared.shared = true;
    shared.tenant_claim = Some("tenant".into());
    assert!(platform.set_idp(&tenants[1], shared).await.is_err());

    // Two tenants racing for a fresh dedicated issuer: exactly one wins.
    let mut fresh = dedicated.clone();
    fresh.issuer = Issuer::parse("https://idp.contested.example").unwrap();
    let (p2, p3) = (platform.clone(), platform.clone());
    let (f2, f3) = (fresh.clone(), fresh.clone());
    let (t2, t3) = (tenants[2].clone(), tenants[3].clone());
    let a = tokio::spawn(async move { p2.set_idp(&t2, f2).await });
    let b = tokio::spawn(async move { p3.set_idp(&t3, f3).await });
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(
        usize::from(a.is_ok()) + usize::from(b.is_ok()),
        1,
        "{a:?} / {b:?}"
    );
}
