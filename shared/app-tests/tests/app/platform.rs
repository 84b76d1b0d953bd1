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

/// The platform use cases over a fresh in-memory store read at `clock`, as `cli:test`.
fn platform_at(clock: Arc<dyn Clock>, dev: Option<DevSetup>) -> Platform {
    let store: Arc<dyn ItemStore> = Arc::new(EmbeddedStore::in_memory(clock.clone()).unwrap());
    Platform::new(
        store::repo::platform_repositories(store),
        clock,
        Subject::parse("cli:test").unwrap(),
        dev,
    )
}

/// Plan `name`, permitting every tenant operation.
async fn set_full_plan(platform: &Platform, name: &PlanName) {
    platform
        .set_plan(
            name,
            Plan::everything(name.clone())
                .operations
                .into_iter()
                .collect(),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dedicated_issuer_serves_one_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let platform = Arc::new(platform_at(
        Arc::new(ManualClock::at(1_795_478_400)),
        Some(DevSetup {
            data_dir: dir.path().to_path_buf(),
        }),
    ));
    let gold = PlanName::parse("gold").unwrap();
    set_full_plan(&platform, &gold).await;
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

/// `saasAudit` and `tenants` page by their cursors: over three days of platform actions, pages
/// of two return every record once, newest first, and only those within the range; tenants
/// come in id order.
#[tokio::test]
async fn the_saas_audit_and_the_tenant_list_page_by_cursor() {
    const DAY: i64 = 86_400;
    let start = 1_795_478_400; // midnight UTC
    let clock = ManualClock::at(start + 3_600);
    let platform = platform_at(Arc::new(clock.clone()), None);
    let gold = PlanName::parse("gold").unwrap();
    let mut written = Vec::new();
    for (day, tenants) in [(0, ["c", "a"]), (1, ["e", "b"]), (2, ["d", "f"])] {
        clock.set(start + day * DAY + 3_600);
        set_full_plan(&platform, &gold).await;
        written.push(("setPlan".to_owned(), "gold".to_owned()));
        for t in tenants {
            clock.advance(60);
            platform
                .create_tenant(&TenantId::parse(t).unwrap(), t, &gold, 1)
                .await
                .unwrap();
            written.push(("createTenant".to_owned(), t.to_owned()));
        }
    }
    written.reverse();
    let (from, to) = (
        domain::Timestamp::from_unix_millis(start * 1_000).unwrap(),
        domain::Timestamp::from_unix_millis((start + 3 * DAY - 1) * 1_000).unwrap(),
    );
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = platform
            .saas_audit_page(from, to, 2, after.as_deref())
            .await
            .unwrap();
        pages += 1;
        got.extend(
            page.rows
                .iter()
                .map(|(r, _)| (r.action.clone(), r.target.id.clone())),
        );
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(got, written);
    assert_eq!(pages, 5, "9 records, 2 a page");
    // A range of the middle day only.
    let middle = platform
        .saas_audit_page(
            domain::Timestamp::from_unix_millis((start + DAY) * 1_000).unwrap(),
            domain::Timestamp::from_unix_millis((start + 2 * DAY - 1) * 1_000).unwrap(),
            50,
            None,
        )
        .await
        .unwrap();
    assert_eq!(middle.rows.len(), 3);
    assert!(middle.next.is_none());
    // Bad cursors and page sizes are refused, not ignored.
    for (first, cursor) in [
        (2, Some("garbage")),
        (2, Some("1999-01-01.x")),
        (0, None),
        (251, None),
    ] {
        assert!(
            matches!(
                platform.saas_audit_page(from, to, first, cursor).await,
                Err(PlatformError::Refused(_))
            ),
            "{first} {cursor:?}"
        );
    }

    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = platform.tenants_page(4, after.as_deref()).await.unwrap();
        ids.extend(page.rows.iter().map(|(t, c)| {
            assert_eq!(c, t.id.as_str());
            t.id.to_string()
        }));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(ids, ["a", "b", "c", "d", "e", "f"]);
}
