//! Carrier credential chains on both backends: random sequences of add / schedule / rotate /
//! expire at random times never leave two windows overlapping, never change a version except
//! to close it once, and 50 concurrent rotations leave exactly one winner.

use app::ports::CredentialStore;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use app::ports::{Chain, ChainError, Owner};
use domain::Timestamp;
use domain::audit::{Actor, ActorKind, AuditOutcome, AuditRecord, AuditTarget};
use domain::gateway::{CredentialVersion, GatewayAuthType, GatewayMode, effective_at};
use domain::ids::{AccountId, AuditId, CarrierCode, CredentialId, Subject};
use domain::webhook::SecretRef;
use proptest::prelude::*;
use store::cursor::{CursorKey, Cursors};
use store::repo::{CredentialRepository, TenantAuditRepository};
use store::{FixedShards, TenantScope};

use crate::support::{Backend, NOW};

static IDS: AtomicU64 = AtomicU64::new(1);

fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix_millis((NOW + offset) * 1000).unwrap()
}

fn next_id() -> u128 {
    u128::from(IDS.fetch_add(1, Ordering::SeqCst))
}

fn version(scope: &TenantScope, from: i64, thru: Option<i64>) -> CredentialVersion {
    CredentialVersion {
        id: CredentialId::from_ulid(ulid::Ulid::from_parts(7, next_id())),
        tenant: scope.tenant().clone(),
        gateway: CarrierCode::parse("easypost").unwrap(),
        account: AccountId::parse("main").unwrap(),
        mode: GatewayMode::Sandbox,
        auth_type: GatewayAuthType::ApiKey,
        base_url: "https://api.easypost.com".into(),
        username: None,
        client_id: None,
        token_url: None,
        account_number: None,
        track_client_id: None,
        secret: SecretRef {
            id: format!("secret-{from}"),
            version: Some("v1".into()),
        },
        fingerprint: "…abcd".into(),
        from: at(from),
        thru: thru.map(at),
        description: Some(format!("from {from}")),
        created_by: Subject::parse("admin").unwrap(),
        created_at: at(0),
    }
}

struct Repos {
    creds: CredentialRepository,
}

fn repos(b: &Backend) -> Repos {
    let audit = TenantAuditRepository::new(
        b.store.clone(),
        Arc::new(FixedShards::new(1)),
        Cursors::new(CursorKey::from_bytes(&[3; 32]).unwrap()),
    );
    Repos {
        creds: CredentialRepository::new(b.store.clone(), audit),
    }
}

fn audit(scope: &TenantScope, action: &str) -> AuditRecord {
    AuditRecord {
        id: AuditId::from_ulid(ulid::Ulid::from_parts(9, next_id())),
        tenant: Some(scope.tenant().clone()),
        actor: Actor {
            kind: ActorKind::User,
            subject: Subject::parse("admin").unwrap(),
        },
        action: action.into(),
        target: AuditTarget {
            kind: "carrierCredential".into(),
            id: "main".into(),
        },
        at: at(0),
        request_id: "r".into(),
        outcome: AuditOutcome::Success,
        version: None,
    }
}

async fn chain(r: &Repos, scope: &TenantScope) -> Chain {
    r.creds
        .chain(
            Owner::Tenant(scope),
            &CarrierCode::parse("easypost").unwrap(),
            &AccountId::parse("main").unwrap(),
        )
        .await
        .unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    /// A version from `from` (now or scheduled), open or with `len` seconds.
    Add { from: i64, len: Option<i64> },
    /// Rotate the open version at `at`.
    Rotate { at: i64 },
    /// Close the `pick`-th version at `at`.
    Expire { pick: usize, at: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..200i64, prop::option::of(1..60i64)).prop_map(|(from, len)| Op::Add { from, len }),
        (0..250i64).prop_map(|at| Op::Rotate { at }),
        (0..8usize, 0..250i64).prop_map(|(pick, at)| Op::Expire { pick, at }),
    ]
}

/// What the repository must hold afterwards: no two windows meet; every version as first
/// seen apart from `thru`, which goes from open to closed at most once; at most one version
/// effective at any instant.
fn check_chain(
    chain: &Chain,
    seen: &mut BTreeMap<CredentialId, CredentialVersion>,
) -> Result<(), TestCaseError> {
    let vs = &chain.versions;
    for (i, a) in vs.iter().enumerate() {
        for b in &vs[i + 1..] {
            prop_assert!(!a.overlaps(b.from, b.thru), "{a:?} overlaps {b:?}");
        }
        if let Some(first) = seen.get(&a.id) {
            prop_assert!(
                first.same_but_thru(a),
                "changed beyond thru: {first:?} → {a:?}"
            );
            if first.thru.is_some() {
                prop_assert_eq!(first.thru, a.thru, "closed twice");
            }
        }
        seen.insert(a.id, a.clone());
    }
    for t in (0..300).step_by(5) {
        let effective = vs.iter().filter(|v| v.effective_at(at(t))).count();
        prop_assert!(effective <= 1, "{effective} versions effective at {t}");
    }
    Ok(())
}

async fn run_case(r: &Repos, ops: &[Op]) -> Result<(), TestCaseError> {
    let scope = TenantScope::for_tests(&format!("c{}-{}", std::process::id(), next_id()));
    let mut seen = BTreeMap::new();
    for op in ops {
        let c = chain(r, &scope).await;
        let outcome = match op {
            Op::Add { from, len } => {
                let v = version(&scope, *from, len.map(|l| from + l));
                let overlaps = c.versions.iter().any(|x| x.overlaps(v.from, v.thru));
                let out = r
                    .creds
                    .add(Owner::Tenant(&scope), &c, &v, &audit(&scope, "add"))
                    .await;
                prop_assert_eq!(
                    out.is_ok(),
                    !overlaps,
                    "{:?} on {:?}: {:?}",
                    op,
                    c.versions,
                    out
                );
                out
            }
            Op::Rotate { at: t } => {
                let next = version(&scope, *t, None);
                match domain::gateway::open_version(&c.versions).cloned() {
                    Some(open) => {
                        let ok = open.from < at(*t);
                        let out = r
                            .creds
                            .rotate(
                                Owner::Tenant(&scope),
                                &c,
                                &open,
                                &next,
                                &audit(&scope, "rotate"),
                            )
                            .await;
                        prop_assert_eq!(out.is_ok(), ok, "{:?}: {:?}", op, out);
                        out
                    }
                    None => continue,
                }
            }
            Op::Expire { pick, at: t } => {
                let Some(v) = c.versions.get(pick % c.versions.len().max(1)).cloned() else {
                    continue;
                };
                let ok = v.thru.is_none() && v.from < at(*t);
                let out = r
                    .creds
                    .expire(
                        Owner::Tenant(&scope),
                        &c,
                        &v,
                        at(*t),
                        &audit(&scope, "expire"),
                    )
                    .await;
                prop_assert_eq!(out.is_ok(), ok, "{:?} of {:?}: {:?}", op, v, out);
                if !ok && v.thru.is_some() {
                    prop_assert_eq!(out, Err(ChainError::AlreadyClosed));
                }
                Ok(())
            }
        };
        let _ = outcome;
        let after = chain(r, &scope).await;
        check_chain(&after, &mut seen)?;
        let moved = after.rev != c.rev;
        let grew = after.versions != c.versions;
        prop_assert_eq!(
            moved,
            grew,
            "the revision moves with every change and only then"
        );
    }
    Ok(())
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if std::env::var("OMS_LONG_TESTS").is_ok_and(|v| v == "1") {
            2_000
        } else {
            default
        })
}

fn run_property(b: &Backend, rt: &tokio::runtime::Runtime, cases: u32) {
    let r = repos(b);
    let config = ProptestConfig {
        cases,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(op(), 1..=12), |ops| {
        rt.block_on(run_case(&r, &ops))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn credential_windows_never_overlap_embedded() {
    let rt = runtime();
    run_property(&Backend::embedded_in_memory(), &rt, cases(500));
}

#[test]
fn credential_windows_never_overlap_dynamodb() {
    let rt = runtime();
    let b = rt.block_on(Backend::dynamodb());
    run_property(&b, &rt, cases(60));
}

async fn fifty_concurrent_rotations_leave_one_winner(b: &Backend) {
    let r = Arc::new(repos(b));
    let scope = TenantScope::for_tests(&format!("rot{}-{}", std::process::id(), next_id()));
    let first = version(&scope, 0, None);
    let c = chain(&r, &scope).await;
    r.creds
        .add(Owner::Tenant(&scope), &c, &first, &audit(&scope, "add"))
        .await
        .unwrap();
    let c = chain(&r, &scope).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (r, scope, c, first) = (r.clone(), scope.clone(), c.clone(), first.clone());
        tasks.push(tokio::spawn(async move {
            let next = version(&scope, 100 + i, None);
            let a = audit(&scope, "rotate");
            (
                next.id,
                r.creds
                    .rotate(Owner::Tenant(&scope), &c, &first, &next, &a)
                    .await,
            )
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (id, out) = t.await.unwrap();
        match out {
            Ok(()) => winners.push(id),
            Err(e) => assert_eq!(e, ChainError::Changed),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation wins");
    let after = chain(&r, &scope).await;
    assert_eq!(after.versions.len(), 2, "{:?}", after.versions);
    assert_eq!(after.rev, 2);
    let winner = after.find(winners[0]).unwrap();
    let closed = after.find(first.id).unwrap();
    assert_eq!(
        closed.thru,
        Some(winner.from),
        "the chain closes where the winner starts"
    );
    assert!(winner.thru.is_none());
    assert_eq!(
        effective_at(&after.versions, at(1_000)).map(|v| v.id),
        Some(winner.id)
    );
}

/// The platform's chains are apart from every tenant's: the same gateway and account name two
/// chains, a platform version must carry the platform's owner id, a repository of the platform's
/// credentials takes no tenant's change, and the rules (one winner of concurrent changes) hold.
async fn platform_chains_are_apart_from_tenants(b: &Backend) {
    let r = repos(b);
    let n = next_id();
    let scope = TenantScope::for_tests(&format!("own{}-{n}", std::process::id()));
    let account = AccountId::parse(&format!("shared{}-{n}", std::process::id())).unwrap();
    let mut mine = version(&scope, 0, None);
    mine.account = account.clone();
    let mut theirs = mine.clone();
    theirs.id = CredentialId::from_ulid(ulid::Ulid::from_parts(7, next_id()));
    theirs.tenant = domain::gateway::platform_owner();
    let c = r
        .creds
        .chain(Owner::Tenant(&scope), &mine.gateway, &account)
        .await
        .unwrap();
    r.creds
        .add(Owner::Tenant(&scope), &c, &mine, &audit(&scope, "add"))
        .await
        .unwrap();
    let saas_audit = |action: &str| {
        let mut a = audit(&scope, action);
        a.tenant = None;
        a
    };
    let saas = saas_audit("addPlatformCarrierCredentials");
    // A tenant's version is no platform version.
    let p = r
        .creds
        .chain(Owner::Platform, &mine.gateway, &account)
        .await
        .unwrap();
    assert_eq!(
        p.versions,
        Vec::new(),
        "the tenant's chain is not the platform's"
    );
    let wrong = r.creds.add(Owner::Platform, &p, &mine, &saas).await;
    assert!(matches!(wrong, Err(ChainError::Repo(_))), "{wrong:?}");
    r.creds
        .add(Owner::Platform, &p, &theirs, &saas)
        .await
        .unwrap();
    let p = r
        .creds
        .chain(Owner::Platform, &mine.gateway, &account)
        .await
        .unwrap();
    assert_eq!(p.versions, vec![theirs.clone()]);
    assert_eq!(p.rev, 1);
    let t = r
        .creds
        .chain(Owner::Tenant(&scope), &mine.gateway, &account)
        .await
        .unwrap();
    assert_eq!(t.versions, vec![mine.clone()]);
    assert!(
        r.creds
            .accounts(Owner::Platform)
            .await
            .unwrap()
            .contains(&(mine.gateway.clone(), account.clone()))
    );
    // A stale read loses, as for a tenant.
    let mut next = theirs.clone();
    next.id = CredentialId::from_ulid(ulid::Ulid::from_parts(7, next_id()));
    next.from = at(50);
    let stale = Chain {
        versions: Vec::new(),
        rev: 0,
    };
    assert_eq!(
        r.creds.add(Owner::Platform, &stale, &next, &saas).await,
        Err(ChainError::Changed)
    );
    r.creds
        .rotate(
            Owner::Platform,
            &p,
            &theirs,
            &next,
            &saas_audit("rotatePlatformCarrierCredentials"),
        )
        .await
        .unwrap();
    // A repository of the platform's credentials only takes no tenant's change.
    let platform_only = CredentialRepository::platform(b.store.clone());
    let mut other = version(&scope, 0, None);
    other.account = AccountId::parse(&format!("other{n}")).unwrap();
    let refused = platform_only
        .add(
            Owner::Tenant(&scope),
            &Chain {
                versions: Vec::new(),
                rev: 0,
            },
            &other,
            &audit(&scope, "add"),
        )
        .await;
    assert!(matches!(refused, Err(ChainError::Repo(_))), "{refused:?}");
}

both_backends!(
    fifty_concurrent_rotations_leave_one_winner,
    platform_chains_are_apart_from_tenants
);
