//! One conformance suite, generic over the item-store port, run against both backends.

use std::collections::BTreeMap;

use store::item::MAX_ITEM_BYTES;
use store::port::{MAX_TRANSACTION_ACTIONS, check_key};
use store::schema::Index;
use store::{CancelReason, Condition, Item, Key, Query, SkRange, StoreError, Value, WriteAction};

use crate::support::{Backend, NOW};

fn key(pk: &str, sk: &str) -> Key {
    Key {
        pk: pk.to_owned(),
        sk: sk.to_owned(),
    }
}

fn item(pk: &str, sk: &str) -> Item {
    Item::with_key(&key(pk, sk))
}

fn versioned(pk: &str, sk: &str, version: i64) -> Item {
    let mut i = item(pk, sk);
    i.set("version", version);
    i
}

fn cancelled(index: usize) -> StoreError {
    StoreError::Cancelled {
        index,
        reason: CancelReason::ConditionFailed,
    }
}

async fn put(b: &Backend, i: Item) {
    b.store
        .transact_write(vec![WriteAction::put(i)])
        .await
        .unwrap();
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.s("sk").unwrap().to_owned())
        .collect()
}

/// Reads a whole partition page by page.
async fn all_pages(b: &Backend, mut q: Query) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut pages = 0;
    loop {
        let page = b.store.query(&q).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= q.limit as usize);
        out.extend(sks(&page.items));
        match page.next {
            Some(next) => q.start = Some(next),
            None => break,
        }
        assert!(pages < 1_000, "pagination does not end");
    }
    (out, pages)
}

pub async fn every_value_type_round_trips(b: &Backend) {
    let mut i = item("P#rt#", "A");
    i.set("s", "text ünïcode");
    i.set("n", -42_i64);
    i.set("big", i64::MAX);
    i.set("b", Value::Bool(true));
    i.set("null", Value::Null);
    i.set("l", Value::L(vec![Value::S("x".into()), Value::N(1)]));
    i.set(
        "m",
        Value::M(BTreeMap::from([("k".to_owned(), Value::S("v".into()))])),
    );
    put(b, i.clone()).await;
    assert_eq!(b.store.get(&key("P#rt#", "A")).await.unwrap(), Some(i));
    assert_eq!(b.store.get(&key("P#rt#", "B")).await.unwrap(), None);
}

pub async fn put_if_absent_refuses_an_existing_item(b: &Backend) {
    let i = item("P#abs#", "A");
    b.store
        .transact_write(vec![WriteAction::put_if(i.clone(), Condition::Absent)])
        .await
        .unwrap();
    let err = b
        .store
        .transact_write(vec![WriteAction::put_if(i, Condition::Absent)])
        .await
        .unwrap_err();
    assert_eq!(err, cancelled(0));
}

pub async fn version_conditions_lock_optimistically(b: &Backend) {
    put(b, versioned("P#ver#", "A", 1)).await;
    b.store
        .transact_write(vec![WriteAction::put_if(
            versioned("P#ver#", "A", 2),
            Condition::VersionEquals(1),
        )])
        .await
        .unwrap();
    let stale = b
        .store
        .transact_write(vec![WriteAction::put_if(
            versioned("P#ver#", "A", 2),
            Condition::VersionEquals(1),
        )])
        .await;
    assert_eq!(stale.unwrap_err(), cancelled(0));
    assert_eq!(
        b.store
            .get(&key("P#ver#", "A"))
            .await
            .unwrap()
            .unwrap()
            .n("version"),
        Some(2)
    );
    // A version condition on a missing item fails too.
    let missing = b
        .store
        .transact_write(vec![WriteAction::put_if(
            versioned("P#ver#", "B", 1),
            Condition::VersionEquals(0),
        )])
        .await;
    assert_eq!(missing.unwrap_err(), cancelled(0));
}

pub async fn attribute_and_existence_conditions(b: &Backend) {
    let mut i = item("P#attr#", "A");
    i.set("state", "OPEN");
    put(b, i.clone()).await;
    let open = Condition::AttributeEquals("state".into(), Value::S("OPEN".into()));
    let closed = Condition::AttributeEquals("state".into(), Value::S("CLOSED".into()));
    b.store
        .transact_write(vec![
            WriteAction::Check {
                key: key("P#attr#", "A"),
                condition: open.clone(),
            },
            WriteAction::put(item("P#attr#", "B")),
        ])
        .await
        .unwrap();
    let err = b
        .store
        .transact_write(vec![
            WriteAction::put(item("P#attr#", "C")),
            WriteAction::Check {
                key: key("P#attr#", "A"),
                condition: closed,
            },
        ])
        .await;
    assert_eq!(err.unwrap_err(), cancelled(1));
    assert_eq!(
        b.store.get(&key("P#attr#", "C")).await.unwrap(),
        None,
        "a cancelled transaction wrote"
    );
    let err = b
        .store
        .transact_write(vec![WriteAction::Check {
            key: key("P#attr#", "Z"),
            condition: Condition::Exists,
        }])
        .await;
    assert_eq!(err.unwrap_err(), cancelled(0));
    b.store
        .transact_write(vec![WriteAction::Check {
            key: key("P#attr#", "A"),
            condition: Condition::Exists,
        }])
        .await
        .unwrap();
}

pub async fn one_failed_condition_writes_nothing(b: &Backend) {
    put(b, versioned("P#atom#", "X", 5)).await;
    let actions = vec![
        WriteAction::put(item("P#atom#", "A")),
        WriteAction::Update {
            key: key("P#atom#", "B"),
            set: vec![("n".into(), Value::N(1))],
            remove: vec![],
            condition: None,
        },
        WriteAction::Delete {
            key: key("P#atom#", "X"),
            condition: None,
        },
        WriteAction::put_if(item("P#atom#", "C"), Condition::VersionEquals(99)),
    ];
    assert_eq!(
        b.store.transact_write(actions).await.unwrap_err(),
        cancelled(3)
    );
    for sk in ["A", "B", "C"] {
        assert_eq!(
            b.store.get(&key("P#atom#", sk)).await.unwrap(),
            None,
            "{sk} written"
        );
    }
    assert!(
        b.store.get(&key("P#atom#", "X")).await.unwrap().is_some(),
        "X deleted"
    );
}

pub async fn updates_set_remove_and_create(b: &Backend) {
    let k = key("P#upd#", "A");
    b.store
        .transact_write(vec![WriteAction::Update {
            key: k.clone(),
            set: vec![
                ("a".into(), Value::S("1".into())),
                ("version".into(), Value::N(1)),
            ],
            remove: vec![],
            condition: Some(Condition::Absent),
        }])
        .await
        .unwrap();
    b.store
        .transact_write(vec![WriteAction::Update {
            key: k.clone(),
            set: vec![("b".into(), Value::N(2)), ("version".into(), Value::N(2))],
            remove: vec!["a".into()],
            condition: Some(Condition::VersionEquals(1)),
        }])
        .await
        .unwrap();
    let got = b.store.get(&k).await.unwrap().unwrap();
    assert_eq!(got.get("a"), None);
    assert_eq!(got.n("b"), Some(2));
    assert_eq!(got.n("version"), Some(2));
}

pub async fn deletes_honour_conditions(b: &Backend) {
    put(b, versioned("P#del#", "A", 3)).await;
    let err = b
        .store
        .transact_write(vec![WriteAction::Delete {
            key: key("P#del#", "A"),
            condition: Some(Condition::VersionEquals(2)),
        }])
        .await;
    assert_eq!(err.unwrap_err(), cancelled(0));
    b.store
        .transact_write(vec![WriteAction::Delete {
            key: key("P#del#", "A"),
            condition: Some(Condition::VersionEquals(3)),
        }])
        .await
        .unwrap();
    assert_eq!(b.store.get(&key("P#del#", "A")).await.unwrap(), None);
}

pub async fn batch_get_keeps_key_order(b: &Backend) {
    for sk in ["A", "B", "C"] {
        put(b, item("P#batch#", sk)).await;
    }
    let keys = vec![
        key("P#batch#", "C"),
        key("P#batch#", "missing"),
        key("P#batch#", "A"),
    ];
    let got = b.store.batch_get(&keys).await.unwrap();
    assert_eq!(
        got.iter()
            .map(|i| i.as_ref().map(|i| i.s("sk").unwrap().to_owned()))
            .collect::<Vec<_>>(),
        vec![Some("C".to_owned()), None, Some("A".to_owned())]
    );
}

async fn seed_range(b: &Backend, pk: &str) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for group in ["AUDIT#", "EVT#", "ORDER"] {
        for n in 0..4 {
            let sk = if group == "ORDER" {
                format!("ORDER{n}")
            } else {
                format!("{group}{n:03}")
            };
            all.push(sk.clone());
        }
    }
    let actions = all
        .iter()
        .map(|sk| WriteAction::put(item(pk, sk)))
        .collect();
    b.store.transact_write(actions).await.unwrap();
    all.sort();
    all
}

pub async fn prefix_and_range_queries_both_ways(b: &Backend) {
    let pk = "P#range#";
    seed_range(b, pk).await;
    let q = |sk: SkRange, forward: bool| Query {
        index: None,
        pk: pk.into(),
        sk,
        forward,
        limit: 100,
        start: None,
    };
    let prefix = b
        .store
        .query(&q(SkRange::Prefix("EVT#".into()), true))
        .await
        .unwrap();
    assert_eq!(
        sks(&prefix.items),
        ["EVT#000", "EVT#001", "EVT#002", "EVT#003"]
    );
    assert_eq!(prefix.next, None);
    let back = b
        .store
        .query(&q(SkRange::Prefix("EVT#".into()), false))
        .await
        .unwrap();
    assert_eq!(
        sks(&back.items),
        ["EVT#003", "EVT#002", "EVT#001", "EVT#000"]
    );
    let between = b
        .store
        .query(&q(
            SkRange::Between("AUDIT#001".into(), "EVT#001".into()),
            true,
        ))
        .await
        .unwrap();
    assert_eq!(
        sks(&between.items),
        ["AUDIT#001", "AUDIT#002", "AUDIT#003", "EVT#000", "EVT#001"]
    );
    let after = b
        .store
        .query(&q(SkRange::After("EVT#003".into()), true))
        .await
        .unwrap();
    assert_eq!(sks(&after.items), ["ORDER0", "ORDER1", "ORDER2", "ORDER3"]);
    let before = b
        .store
        .query(&q(SkRange::Before("AUDIT#002".into()), false))
        .await
        .unwrap();
    assert_eq!(sks(&before.items), ["AUDIT#001", "AUDIT#000"]);
    let other = b
        .store
        .query(&Query::partition("P#range", 100))
        .await
        .unwrap();
    assert!(
        other.items.is_empty(),
        "a partition key matched as a prefix"
    );
}

pub async fn pagination_never_skips_or_repeats(b: &Backend) {
    let pk = "P#pages#";
    let all = seed_range(b, pk).await;
    for limit in [1, 5, 7, 12, 13] {
        for forward in [true, false] {
            let q = Query {
                index: None,
                pk: pk.into(),
                sk: SkRange::All,
                forward,
                limit,
                start: None,
            };
            let (got, _) = all_pages(b, q).await;
            let mut expected = all.clone();
            if !forward {
                expected.reverse();
            }
            assert_eq!(got, expected, "limit {limit} forward {forward}");
        }
    }
    // Within a prefix too.
    let q = Query {
        index: None,
        pk: pk.into(),
        sk: SkRange::Prefix("AUDIT#".into()),
        forward: false,
        limit: 3,
        start: None,
    };
    assert_eq!(
        all_pages(b, q).await.0,
        ["AUDIT#003", "AUDIT#002", "AUDIT#001", "AUDIT#000"]
    );
}

fn indexed(pk: &str, sk: &str, ipk: &str, isk: &str) -> Item {
    let mut i = item(pk, sk);
    i.set(Index::Gsi1.pk_attr(), ipk);
    i.set(Index::Gsi1.sk_attr(), isk);
    i.set("status", "PENDING");
    i.set("data", "not projected");
    i
}

pub async fn index_queries_project_and_follow_updates(b: &Backend) {
    let mut actions = Vec::new();
    for n in 0..9 {
        actions.push(WriteAction::put(indexed(
            &format!("O#{n}#"),
            "ORDER",
            "IX#a#",
            &format!("2026-11-{:02}#{n}", 10 + n),
        )));
    }
    actions.push(WriteAction::put(indexed(
        "O#other#",
        "ORDER",
        "IX#ab#",
        "2026-11-01#x",
    )));
    actions.push(WriteAction::put(item("O#plain#", "ORDER")));
    b.store.transact_write(actions).await.unwrap();
    let q = |forward, limit| Query {
        index: Some(Index::Gsi1),
        pk: "IX#a#".into(),
        sk: SkRange::All,
        forward,
        limit,
        start: None,
    };
    let page = b.store.query(&q(true, 100)).await.unwrap();
    assert_eq!(page.items.len(), 9);
    let first = &page.items[0];
    assert_eq!(first.s("status"), Some("PENDING"));
    assert_eq!(
        first.get("data"),
        None,
        "a non-projected attribute came back"
    );
    assert_eq!(first.s("pk"), Some("O#0#"));
    // Paging an index, both ways.
    for forward in [true, false] {
        let mut q = q(forward, 4);
        let mut got = Vec::new();
        loop {
            let p = b.store.query(&q).await.unwrap();
            got.extend(p.items.iter().map(|i| i.s("pk").unwrap().to_owned()));
            match p.next {
                Some(n) => q.start = Some(n),
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..9).map(|n| format!("O#{n}#")).collect();
        if !forward {
            expected.reverse();
        }
        assert_eq!(got, expected);
    }
    // Sort-key range on the index.
    let range = Query {
        index: Some(Index::Gsi1),
        pk: "IX#a#".into(),
        sk: SkRange::Between("2026-11-12".into(), "2026-11-14~".into()),
        forward: true,
        limit: 100,
        start: None,
    };
    assert_eq!(b.store.query(&range).await.unwrap().items.len(), 3);
    // Moving an item to another index partition removes the old entry.
    b.store
        .transact_write(vec![WriteAction::put(indexed(
            "O#0#",
            "ORDER",
            "IX#b#",
            "2026-11-10#0",
        ))])
        .await
        .unwrap();
    assert_eq!(b.store.query(&q(true, 100)).await.unwrap().items.len(), 8);
    let moved = Query {
        index: Some(Index::Gsi1),
        pk: "IX#b#".into(),
        sk: SkRange::All,
        forward: true,
        limit: 10,
        start: None,
    };
    assert_eq!(b.store.query(&moved).await.unwrap().items.len(), 1);
    // Deleting removes it from the index.
    b.store
        .transact_write(vec![WriteAction::Delete {
            key: key("O#0#", "ORDER"),
            condition: None,
        }])
        .await
        .unwrap();
    assert!(b.store.query(&moved).await.unwrap().items.is_empty());
}

pub async fn expired_items_are_absent_everywhere(b: &Backend) {
    let mut live = indexed("P#ttl#", "LIVE", "IX#ttl#", "1");
    live.set("ttl", NOW + 10);
    let mut dead = indexed("P#ttl#", "DEAD", "IX#ttl#", "2");
    dead.set("ttl", NOW - 1);
    dead.set("version", 4_i64);
    b.store
        .transact_write(vec![WriteAction::put(live), WriteAction::put(dead)])
        .await
        .unwrap();
    assert!(b.store.get(&key("P#ttl#", "LIVE")).await.unwrap().is_some());
    assert_eq!(b.store.get(&key("P#ttl#", "DEAD")).await.unwrap(), None);
    let batch = b
        .store
        .batch_get(&[key("P#ttl#", "DEAD"), key("P#ttl#", "LIVE")])
        .await
        .unwrap();
    assert!(batch[0].is_none() && batch[1].is_some());
    assert_eq!(
        sks(&b
            .store
            .query(&Query::partition("P#ttl#", 10))
            .await
            .unwrap()
            .items),
        ["LIVE"]
    );
    let ix = Query {
        index: Some(Index::Gsi1),
        pk: "IX#ttl#".into(),
        sk: SkRange::All,
        forward: true,
        limit: 10,
        start: None,
    };
    assert_eq!(sks(&b.store.query(&ix).await.unwrap().items), ["LIVE"]);
    // In conditions: an expired item is absent, so Exists and VersionEquals fail and Absent holds.
    let check = |c| {
        vec![WriteAction::Check {
            key: key("P#ttl#", "DEAD"),
            condition: c,
        }]
    };
    assert_eq!(
        b.store
            .transact_write(check(Condition::Exists))
            .await
            .unwrap_err(),
        cancelled(0)
    );
    assert_eq!(
        b.store
            .transact_write(check(Condition::VersionEquals(4)))
            .await
            .unwrap_err(),
        cancelled(0)
    );
    b.store
        .transact_write(vec![WriteAction::put_if(
            item("P#ttl#", "DEAD"),
            Condition::Absent,
        )])
        .await
        .unwrap();
    assert!(b.store.get(&key("P#ttl#", "DEAD")).await.unwrap().is_some());
    // Time passes: the live one expires as well.
    b.clock.advance(11);
    assert_eq!(b.store.get(&key("P#ttl#", "LIVE")).await.unwrap(), None);
}

fn big_item(pk: &str, sk: &str, payload: usize) -> Item {
    let mut i = item(pk, sk);
    i.set("blob", "x".repeat(payload));
    i
}

pub async fn dynamodb_limits_are_refused_alike(b: &Backend) {
    // 400 KB per item: just under is fine, just over is refused before anything is written.
    let under = big_item("P#lim#", "UNDER", MAX_ITEM_BYTES - 100);
    b.store
        .transact_write(vec![WriteAction::put(under)])
        .await
        .unwrap();
    let over = big_item("P#lim#", "OVER", MAX_ITEM_BYTES);
    assert!(matches!(
        b.store.transact_write(vec![WriteAction::put(over)]).await,
        Err(StoreError::ItemTooLarge { index: Some(0), .. })
    ));
    // An update that would grow an item past 400 KB is refused as well.
    let grow = WriteAction::Update {
        key: key("P#lim#", "UNDER"),
        set: vec![("more".into(), Value::S("y".repeat(200)))],
        remove: vec![],
        condition: None,
    };
    let grown = b.store.transact_write(vec![grow]).await;
    assert!(grown.is_err(), "an item grew past 400 KB");
    // 100 actions per transaction, and 4 MB.
    let many = |n: usize| {
        (0..n)
            .map(|i| WriteAction::put(item("P#lim#", &format!("M{i:03}"))))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        b.store
            .transact_write(many(MAX_TRANSACTION_ACTIONS + 1))
            .await
            .unwrap_err(),
        StoreError::TooManyActions { count: 101 }
    );
    b.store
        .transact_write(many(MAX_TRANSACTION_ACTIONS))
        .await
        .unwrap();
    assert_eq!(
        b.store
            .query(&Query {
                index: None,
                pk: "P#lim#".into(),
                sk: SkRange::Prefix("M".into()),
                forward: true,
                limit: 1000,
                start: None
            })
            .await
            .unwrap()
            .items
            .len(),
        100
    );
    let huge: Vec<_> = (0..11)
        .map(|i| WriteAction::put(big_item("P#lim#", &format!("H{i}"), 390 * 1024)))
        .collect();
    assert!(matches!(
        b.store.transact_write(huge).await,
        Err(StoreError::TransactionTooLarge { .. })
    ));
    // Two actions on one item.
    let twice = vec![
        WriteAction::put(item("P#lim#", "D")),
        WriteAction::Delete {
            key: key("P#lim#", "D"),
            condition: None,
        },
    ];
    assert_eq!(
        b.store.transact_write(twice).await.unwrap_err(),
        StoreError::DuplicateItem {
            first: 0,
            second: 1
        }
    );
    assert_eq!(b.store.get(&key("P#lim#", "D")).await.unwrap(), None);
    assert!(check_key(&key("", "x")).is_err());
}

pub async fn key_prefixes_do_not_match_longer_ids(b: &Backend) {
    use domain::ids::{TenantId, VendorId};
    let ab = TenantId::parse("ab").unwrap();
    let abc = TenantId::parse("abc").unwrap();
    let v = VendorId::parse("v").unwrap();
    let pab = store::keys::vendor_orders(&ab, &v, 0);
    let pabc = store::keys::vendor_orders(&abc, &v, 0);
    put(b, item(&pab, "1")).await;
    put(b, item(&pabc, "1")).await;
    assert_eq!(
        b.store
            .query(&Query::partition(pab.clone(), 10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    // Sort-key prefixes: `T#ab#` must not find `T#abc#…`.
    let list = "P#tenants#";
    put(b, item(list, &store::keys::tenant_prefix(&ab))).await;
    put(
        b,
        item(list, &format!("{}x", store::keys::tenant_prefix(&abc))),
    )
    .await;
    let q = Query {
        index: None,
        pk: list.into(),
        sk: SkRange::Prefix(store::keys::tenant_prefix(&ab)),
        forward: true,
        limit: 10,
        start: None,
    };
    assert_eq!(sks(&b.store.query(&q).await.unwrap().items), ["T#ab#"]);
}

pub async fn invalid_requests_are_refused(b: &Backend) {
    assert!(matches!(
        b.store.query(&Query::partition("P#x#", 0)).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        b.store.transact_write(vec![]).await,
        Err(StoreError::Invalid(_))
    ));
    let dup = vec![key("P#x#", "a"), key("P#x#", "a")];
    assert!(matches!(
        b.store.batch_get(&dup).await,
        Err(StoreError::Invalid(_))
    ));
    let too_many: Vec<Key> = (0..101).map(|i| key("P#x#", &i.to_string())).collect();
    assert!(matches!(
        b.store.batch_get(&too_many).await,
        Err(StoreError::Invalid(_))
    ));
}

/// `AbsentOrAttributeEquals`: a claim holds on a new key, on an expired item and on the
/// claimant's own item, and fails on anyone else's live item (or one without the attribute).
pub async fn absent_or_attribute_equals_claims_once(b: &Backend) {
    let claim =
        |owner: &str| Condition::AbsentOrAttributeEquals("owner".into(), Value::S(owner.into()));
    let owned = |sk: &str, owner: &str| {
        let mut i = item("P#claim#", sk);
        i.set("owner", owner);
        i
    };
    let owner_of = |sk: &'static str| async move {
        b.store
            .get(&key("P#claim#", sk))
            .await
            .unwrap()
            .and_then(|i| i.s("owner").map(str::to_owned))
    };
    // New: A claims it.
    b.store
        .transact_write(vec![WriteAction::put_if(owned("N", "a"), claim("a"))])
        .await
        .unwrap();
    assert_eq!(owner_of("N").await.as_deref(), Some("a"));
    // A again: its own, so it holds (and the put rewrites it).
    let mut again = owned("N", "a");
    again.set("note", "again");
    b.store
        .transact_write(vec![WriteAction::put_if(again, claim("a"))])
        .await
        .unwrap();
    // B: held by A, refused; nothing of B's transaction is written.
    let err = b
        .store
        .transact_write(vec![
            WriteAction::put(item("P#claim#", "SIDE")),
            WriteAction::put_if(owned("N", "b"), claim("b")),
        ])
        .await
        .unwrap_err();
    assert_eq!(err, cancelled(1));
    assert_eq!(owner_of("N").await.as_deref(), Some("a"));
    assert_eq!(b.store.get(&key("P#claim#", "SIDE")).await.unwrap(), None);
    // The same condition on an update, a delete and a check.
    let update = |owner: &str| WriteAction::Update {
        key: key("P#claim#", "N"),
        set: vec![("owner".into(), Value::S(owner.into()))],
        remove: vec![],
        condition: Some(claim(owner)),
    };
    assert_eq!(
        b.store.transact_write(vec![update("b")]).await.unwrap_err(),
        cancelled(0)
    );
    b.store.transact_write(vec![update("a")]).await.unwrap();
    let check = |sk: &str, owner: &str| WriteAction::Check {
        key: key("P#claim#", sk),
        condition: claim(owner),
    };
    b.store
        .transact_write(vec![check("NEVER", "b")])
        .await
        .unwrap();
    assert_eq!(
        b.store
            .transact_write(vec![check("N", "b")])
            .await
            .unwrap_err(),
        cancelled(0)
    );
    assert_eq!(
        b.store
            .transact_write(vec![WriteAction::Delete {
                key: key("P#claim#", "N"),
                condition: Some(claim("b")),
            }])
            .await
            .unwrap_err(),
        cancelled(0)
    );
    // A live item without the attribute is nobody's to claim.
    put(b, item("P#claim#", "BARE")).await;
    assert_eq!(
        b.store
            .transact_write(vec![WriteAction::put_if(owned("BARE", "b"), claim("b"))])
            .await
            .unwrap_err(),
        cancelled(0)
    );
    // Another value type never equals the string.
    let mut numbered = item("P#claim#", "NUM");
    numbered.set("owner", 7_i64);
    put(b, numbered).await;
    assert_eq!(
        b.store
            .transact_write(vec![check("NUM", "7")])
            .await
            .unwrap_err(),
        cancelled(0)
    );
    // Expired counts as absent: B claims A's expired item (whatever its owner) …
    let mut dying = owned("EXP", "a");
    dying.set("ttl", NOW + 5);
    put(b, dying).await;
    assert_eq!(
        b.store
            .transact_write(vec![WriteAction::put_if(owned("EXP", "b"), claim("b"))])
            .await
            .unwrap_err(),
        cancelled(0),
        "still live"
    );
    b.clock.advance(6);
    b.store
        .transact_write(vec![WriteAction::put_if(owned("EXP", "b"), claim("b"))])
        .await
        .unwrap();
    assert_eq!(owner_of("EXP").await.as_deref(), Some("b"));
    // … and A's item stays A's however long it lives without a TTL.
    assert_eq!(
        b.store
            .transact_write(vec![WriteAction::put_if(owned("N", "b"), claim("b"))])
            .await
            .unwrap_err(),
        cancelled(0)
    );
}

both_backends!(
    every_value_type_round_trips,
    put_if_absent_refuses_an_existing_item,
    version_conditions_lock_optimistically,
    attribute_and_existence_conditions,
    one_failed_condition_writes_nothing,
    updates_set_remove_and_create,
    deletes_honour_conditions,
    batch_get_keeps_key_order,
    prefix_and_range_queries_both_ways,
    pagination_never_skips_or_repeats,
    index_queries_project_and_follow_updates,
    expired_items_are_absent_everywhere,
    absent_or_attribute_equals_claims_once,
    dynamodb_limits_are_refused_alike,
    key_prefixes_do_not_match_longer_ids,
    invalid_requests_are_refused,
);
