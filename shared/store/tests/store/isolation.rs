//! Two tenants, random interleaved operations through the repositories: nothing one does ever
//! reads, lists, pages into or writes the other's items.
//!
//! Cases: 10,000 on the embedded store (in memory) and 200 on DynamoDB Local per `make test`;
//! 10,000 on DynamoDB Local with `OMS_LONG_TESTS=1` (`make test-long`). `PROPTEST_CASES` overrides.

use app::ports::OrderStore;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use app::ports::{CommandWrite, OrderListing, PageRequest, RepoError, StoredOrder};
use domain::ids::{ExternalRef, OrderId, Subject, VendorId};
use domain::order::OrderStatus;
use proptest::prelude::*;
use store::TenantScope;

use crate::support::{Backend, Gen, Repos, repos};

#[derive(Debug, Clone, Copy)]
enum Who {
    A,
    B,
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        who: Who,
        xref: Option<u8>,
    },
    Approve {
        who: Who,
        pick: usize,
    },
    /// Load the other tenant's order with this tenant's scope.
    LoadOthers {
        who: Who,
        pick: usize,
    },
    /// Update the other tenant's order with this tenant's scope.
    UpdateOthers {
        who: Who,
        pick: usize,
    },
    List {
        who: Who,
        first: u32,
        status: bool,
    },
    /// Page with a cursor the other tenant obtained.
    CursorOfOther {
        who: Who,
    },
    Xref {
        who: Who,
        xref: u8,
    },
    Vendor {
        who: Who,
    },
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![Just(Who::A), Just(Who::B)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (who(), prop::option::of(0u8..3)).prop_map(|(who, xref)| Op::Create { who, xref }),
        2 => (who(), any::<usize>()).prop_map(|(who, pick)| Op::Approve { who, pick }),
        2 => (who(), any::<usize>()).prop_map(|(who, pick)| Op::LoadOthers { who, pick }),
        1 => (who(), any::<usize>()).prop_map(|(who, pick)| Op::UpdateOthers { who, pick }),
        2 => (who(), 1u32..4, any::<bool>()).prop_map(|(who, first, status)| Op::List { who, first, status }),
        1 => who().prop_map(|who| Op::CursorOfOther { who }),
        1 => (who(), 0u8..3).prop_map(|(who, xref)| Op::Xref { who, xref }),
        1 => who().prop_map(|who| Op::Vendor { who }),
    ]
}

#[derive(Default)]
struct Model {
    orders: BTreeMap<OrderId, StoredOrder>,
    xrefs: BTreeMap<u8, OrderId>,
}

struct Case<'a> {
    r: &'a Repos,
    scopes: [TenantScope; 2],
    models: [Model; 2],
    g: Gen,
}

fn idx(w: Who) -> usize {
    match w {
        Who::A => 0,
        Who::B => 1,
    }
}

fn pick<T: Clone>(items: &BTreeMap<OrderId, T>, n: usize) -> Option<T> {
    (!items.is_empty())
        .then(|| items.values().nth(n % items.len()).cloned())
        .flatten()
}

async fn list_all(
    r: &Repos,
    scope: &TenantScope,
    listing: &OrderListing,
    first: u32,
) -> Result<Vec<OrderId>, TestCaseError> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(first);
    for _ in 0..200 {
        let got = r
            .orders
            .list(scope, listing, &page)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        out.extend(got.rows.iter().map(|o| o.id));
        match got.end_cursor {
            Some(c) => page.after = Some(c),
            None => return Ok(out),
        }
    }
    Err(TestCaseError::fail("listing never ends"))
}

impl Case<'_> {
    async fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Create { who, xref } => {
                let (me, scope) = (idx(who), self.scopes[idx(who)].clone());
                let name = xref.map(|x| format!("X{x}"));
                let (order, events) = self.g.order(&scope, name.as_deref());
                let result = self
                    .r
                    .orders
                    .create(
                        &scope,
                        &order,
                        CommandWrite {
                            events: &events,
                            ..Default::default()
                        },
                    )
                    .await;
                match (xref, result) {
                    (Some(x), Err(RepoError::ExternalRefTaken(_))) => {
                        prop_assert!(
                            self.models[me].xrefs.contains_key(&x),
                            "ref taken by the other tenant"
                        );
                    }
                    (xref, Ok(())) => {
                        if let Some(x) = xref {
                            prop_assert!(
                                self.models[me].xrefs.insert(x, order.id()).is_none(),
                                "duplicate ref accepted"
                            );
                        }
                        let stored = self.r.created(&order, None);
                        self.models[me].orders.insert(order.id(), stored);
                    }
                    (_, Err(e)) => return Err(TestCaseError::fail(format!("create: {e}"))),
                }
            }
            Op::Approve { who, pick: n } => {
                let (me, scope) = (idx(who), self.scopes[idx(who)].clone());
                let Some(stored) = pick(&self.models[me].orders, n) else {
                    return Ok(());
                };
                let mut after = stored.order.clone();
                let Ok(events) =
                    after.approve(&mut self.g.tick(), &Subject::parse("s").unwrap(), None)
                else {
                    return Ok(());
                };
                let saved = self
                    .r
                    .orders
                    .update(
                        &scope,
                        &stored,
                        &after,
                        CommandWrite {
                            events: &events,
                            ..Default::default()
                        },
                    )
                    .await;
                saved.map_err(|e| TestCaseError::fail(format!("update: {e}")))?;
                let saved = crate::support::updated(&stored, &after, None);
                self.models[me].orders.insert(after.id(), saved);
            }
            Op::LoadOthers { who, pick: n } => {
                let (me, other) = (idx(who), 1 - idx(who));
                let Some(theirs) = pick(&self.models[other].orders, n) else {
                    return Ok(());
                };
                let got = self
                    .r
                    .orders
                    .load(&self.scopes[me], theirs.order.id())
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got, None, "read another tenant's order");
                let (got, _) = self
                    .r
                    .orders
                    .load_with_config(&self.scopes[me], theirs.order.id())
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got, None, "batch-read another tenant's order");
            }
            Op::UpdateOthers { who, pick: n } => {
                let (me, other) = (idx(who), 1 - idx(who));
                let Some(theirs) = pick(&self.models[other].orders, n) else {
                    return Ok(());
                };
                let mut after = theirs.order.clone();
                let Ok(events) = after.assign_reviewer(
                    &mut self.g.tick(),
                    &Subject::parse("s").unwrap(),
                    Subject::parse("x").unwrap(),
                    None,
                ) else {
                    return Ok(());
                };
                let result = self
                    .r
                    .orders
                    .update(
                        &self.scopes[me],
                        &theirs,
                        &after,
                        CommandWrite {
                            events: &events,
                            ..Default::default()
                        },
                    )
                    .await;
                prop_assert_eq!(result.unwrap_err(), RepoError::WrongTenant);
            }
            Op::List { who, first, status } => {
                let me = idx(who);
                let listing = if status {
                    OrderListing::ByStatus {
                        status: OrderStatus::Confirmed,
                        from: None,
                        to: None,
                    }
                } else {
                    OrderListing::ByCreated {
                        from: None,
                        to: None,
                    }
                };
                let mut got = list_all(self.r, &self.scopes[me], &listing, first).await?;
                got.sort();
                let want: Vec<OrderId> = self.models[me]
                    .orders
                    .values()
                    .filter(|s| !status || s.order.status() == OrderStatus::Confirmed)
                    .map(|s| s.order.id())
                    .collect();
                prop_assert_eq!(got, want, "listing differs from this tenant's orders");
            }
            Op::CursorOfOther { who } => {
                let (me, other) = (idx(who), 1 - idx(who));
                let listing = OrderListing::ByCreated {
                    from: None,
                    to: None,
                };
                let theirs = self
                    .r
                    .orders
                    .list(&self.scopes[other], &listing, &PageRequest::first(1))
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                if let Some(cursor) = theirs.end_cursor {
                    let result = self
                        .r
                        .orders
                        .list(
                            &self.scopes[me],
                            &listing,
                            &PageRequest {
                                first: 1,
                                after: Some(cursor),
                            },
                        )
                        .await;
                    prop_assert_eq!(result.unwrap_err(), RepoError::InvalidCursor);
                }
            }
            Op::Xref { who, xref } => {
                let me = idx(who);
                let r = ExternalRef::parse(&format!("X{xref}")).unwrap();
                let got = self
                    .r
                    .orders
                    .id_by_external_ref(&self.scopes[me], &r)
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got, self.models[me].xrefs.get(&xref).copied());
            }
            Op::Vendor { who } => {
                let me = idx(who);
                let page = self
                    .r
                    .orders
                    .list_by_vendor(
                        &self.scopes[me],
                        &VendorId::parse("v1").unwrap(),
                        &app::ports::OrderListing::ByCreated {
                            from: None,
                            to: None,
                        },
                        &PageRequest::first(250),
                    )
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let mut got: Vec<OrderId> = page.rows.iter().map(|o| o.id).collect();
                got.sort();
                prop_assert_eq!(
                    got,
                    self.models[me].orders.keys().copied().collect::<Vec<_>>()
                );
            }
        }
        Ok(())
    }

    /// Each tenant's stored orders are exactly its model: the other never wrote to them.
    async fn check_untouched(&self) -> Result<(), TestCaseError> {
        for me in 0..2 {
            for (id, stored) in &self.models[me].orders {
                let got = self
                    .r
                    .orders
                    .load(&self.scopes[me], *id)
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got.as_ref(), Some(stored));
            }
        }
        Ok(())
    }
}

static TENANTS: AtomicU64 = AtomicU64::new(0);

fn cases(default: u32, long: u32) -> u32 {
    if let Some(n) = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return n;
    }
    if std::env::var("OMS_LONG_TESTS").is_ok_and(|v| v == "1") {
        long
    } else {
        default
    }
}

fn run_property(b: &Backend, rt: &tokio::runtime::Runtime, cases: u32) {
    let r = repos(b, 2);
    let config = ProptestConfig {
        cases,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(op(), 1..=20), |ops| {
        rt.block_on(async {
            // Fresh tenants per case, one id a prefix of the other (`…x`, `…xy`), so a prefix
            // mistake in a key would show.
            let n = TENANTS.fetch_add(1, Ordering::SeqCst);
            let pid = std::process::id();
            let scopes = [
                TenantScope::for_tests(&format!("t{pid}-{n}x")),
                TenantScope::for_tests(&format!("t{pid}-{n}xy")),
            ];
            let mut case = Case {
                r: &r,
                scopes,
                models: [Model::default(), Model::default()],
                g: Gen::new(),
            };
            for op in &ops {
                case.run(op).await?;
            }
            case.check_untouched().await
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn two_tenants_never_touch_each_other_embedded() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    run_property(&Backend::embedded_in_memory(), &rt, cases(10_000, 10_000));
}

#[test]
fn two_tenants_never_touch_each_other_dynamodb() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let b = rt.block_on(Backend::dynamodb());
    run_property(&b, &rt, cases(200, 10_000));
}
