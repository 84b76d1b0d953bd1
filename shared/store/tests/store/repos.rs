//! The repositories over both backends.

use app::ports::{IdempotencyStore, OrderStore, TenantAuditLog, TenantConfigStore};
use std::sync::Arc;

use app::ports::{
    CommandWrite, IdempotencyRecord, OrderListing, PageRequest, RepoError, TrackingClaim,
    TrackingIndex,
};
use domain::config::TenantConfig;
use domain::ids::{
    CarrierCode, ExternalRef, IdempotencyKey, OperationName, ReturnId, ShipmentId, Subject,
    TrackingNumber, VendorId,
};
use domain::order::{CarrierTarget, OrderStatus};
use domain::{Currency, Money};
use store::TenantScope;

use crate::support::{Backend, Gen, Repos, repos};

fn staff() -> Subject {
    Subject::parse("staff-1").unwrap()
}

pub async fn create_load_and_update_with_everything_in_one_transaction(b: &Backend) {
    let r = repos(b, 1);
    let scope = TenantScope::for_tests("acme");
    let mut g = Gen::new();
    let stored = g.saved(&r, &scope, Some("EXT-1")).await;
    let id = stored.order.id();
    let loaded = r.orders.load(&scope, id).await.unwrap().unwrap();
    assert_eq!(loaded, stored);
    assert_eq!(
        r.orders
            .id_by_external_ref(&scope, &ExternalRef::parse("EXT-1").unwrap())
            .await
            .unwrap(),
        Some(id)
    );
    assert_eq!(r.orders.count_side_items(&scope, id).await.unwrap(), (1, 1));
    assert_eq!(
        r.orders.outbox(&scope, id, 1).await.unwrap()[0].event_type(),
        "OrderCreated"
    );

    // Update: approve.
    let mut after = loaded.order.clone();
    let events = after.approve(&mut g.tick(), &staff(), None).unwrap();
    let audit = g.audit(&scope, "approveOrder", &id.to_string(), 2);
    r.orders
        .update(
            &scope,
            &loaded,
            &after,
            CommandWrite {
                events: &events,
                audit: Some(&audit),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let updated = crate::support::updated(&loaded, &after, Some(&audit));
    assert_eq!(updated.order.version(), 2);
    assert_eq!(
        r.orders
            .load(&scope, id)
            .await
            .unwrap()
            .unwrap()
            .order
            .status(),
        OrderStatus::Confirmed
    );
    assert_eq!(r.orders.count_side_items(&scope, id).await.unwrap(), (2, 2));
    let log = r
        .orders
        .audit_log(&scope, id, &PageRequest::first(10))
        .await
        .unwrap()
        .rows;
    assert_eq!(
        log.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
        ["createOrder", "approveOrder"]
    );

    // A second update from the stale copy is a conflict and writes nothing.
    let mut stale = loaded.order.clone();
    let events = stale.reject(&mut g.tick(), &staff(), "late").unwrap();
    let audit = g.audit(&scope, "rejectOrder", &id.to_string(), 2);
    let err = r
        .orders
        .update(
            &scope,
            &loaded,
            &stale,
            CommandWrite {
                events: &events,
                audit: Some(&audit),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err, RepoError::VersionConflict { expected: 1 });
    assert_eq!(r.orders.count_side_items(&scope, id).await.unwrap(), (2, 2));
    assert_eq!(
        r.orders
            .load(&scope, id)
            .await
            .unwrap()
            .unwrap()
            .order
            .status(),
        OrderStatus::Confirmed
    );

    // Vendors see the order, with its new status.
    let page = r
        .orders
        .list_by_vendor(
            &scope,
            &VendorId::parse("v2").unwrap(),
            &app::ports::OrderListing::ByCreated {
                from: None,
                to: None,
            },
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.rows[0].status, OrderStatus::Confirmed);
    assert_eq!(page.rows[0].lines[0].sku, "B");
}

pub async fn external_refs_are_unique_per_tenant(b: &Backend) {
    let r = repos(b, 1);
    let (a, other) = (
        TenantScope::for_tests("acme"),
        TenantScope::for_tests("other"),
    );
    let mut g = Gen::new();
    g.saved(&r, &a, Some("EXT-9")).await;
    let (dup, events) = g.order(&a, Some("EXT-9"));
    let err = r
        .orders
        .create(
            &a,
            &dup,
            CommandWrite {
                events: &events,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err, RepoError::ExternalRefTaken("EXT-9".into()));
    assert_eq!(
        r.orders.load(&a, dup.id()).await.unwrap(),
        None,
        "a refused create wrote the order"
    );
    // Another tenant may use the same reference.
    g.saved(&r, &other, Some("EXT-9")).await;
}

pub async fn idempotency_records_live_in_the_command_transaction(b: &Backend) {
    let r = repos(b, 1);
    let scope = TenantScope::for_tests("acme");
    let mut g = Gen::new();
    let (order, events) = g.order(&scope, None);
    let rec = IdempotencyRecord {
        subject: staff(),
        operation: OperationName::parse("createOrder").unwrap(),
        key: IdempotencyKey::parse("key-1").unwrap(),
        request_hash: "h1".into(),
        response: r#"{"createOrder":{"order":{"id":"x"}}}"#.into(),
        created_at: g.now,
        ttl_secs: app::ports::IDEMPOTENCY_TTL_SECS,
    };
    r.orders
        .create(
            &scope,
            &order,
            CommandWrite {
                events: &events,
                idempotency: Some(&rec),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let got = r
        .idempotency
        .get(&scope, &rec.subject, &rec.operation, &rec.key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, rec);
    // The same key again: the put-if-absent fails, nothing of the second command is written.
    let (second, events) = g.order(&scope, None);
    let err = r
        .orders
        .create(
            &scope,
            &second,
            CommandWrite {
                events: &events,
                idempotency: Some(&rec),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err, RepoError::IdempotencyKeyUsed);
    assert_eq!(r.orders.load(&scope, second.id()).await.unwrap(), None);
    // Scoped by tenant and subject.
    assert_eq!(
        r.idempotency
            .get(
                &TenantScope::for_tests("other"),
                &rec.subject,
                &rec.operation,
                &rec.key
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        r.idempotency
            .get(
                &scope,
                &Subject::parse("someone-else").unwrap(),
                &rec.operation,
                &rec.key
            )
            .await
            .unwrap(),
        None
    );
    // After 24 hours the key is forgotten.
    b.clock.advance(24 * 3600 + 2);
    assert_eq!(
        r.idempotency
            .get(&scope, &rec.subject, &rec.operation, &rec.key)
            .await
            .unwrap(),
        None
    );
    r.idempotency.put(&scope, &rec).await.unwrap();
}

pub async fn config_versions_and_load_with_config(b: &Backend) {
    let r = repos(b, 1);
    let scope = TenantScope::for_tests("acme");
    let mut g = Gen::new();
    let stored = g.saved(&r, &scope, None).await;
    let (order, cfg) = r
        .orders
        .load_with_config(&scope, stored.order.id())
        .await
        .unwrap();
    assert_eq!(order.unwrap(), stored);
    assert_eq!(cfg.version(), 0);
    let usd = Currency::parse("USD").unwrap();
    let v1 = r
        .configs
        .save(
            &scope,
            &cfg,
            TenantConfig::new(500, vec![], None).unwrap(),
            &g.audit(&scope, "updateTenantConfig", "cfg-1", 1),
            None,
        )
        .await
        .unwrap();
    let v2 = r
        .configs
        .save(
            &scope,
            &v1,
            TenantConfig::new(1_000, vec![Money::parse("50", usd).unwrap()], None).unwrap(),
            &g.audit(&scope, "updateTenantConfig", "cfg-2", 2),
            None,
        )
        .await
        .unwrap();
    assert_eq!((v1.version(), v2.version()), (1, 2));
    // Saving on top of a stale version is refused.
    assert!(matches!(
        r.configs
            .save(
                &scope,
                &v1,
                TenantConfig::default(),
                &g.audit(&scope, "updateTenantConfig", "cfg-3", 2),
                None,
            )
            .await,
        Err(RepoError::VersionConflict { .. })
    ));
    let (_, cfg) = r
        .orders
        .load_with_config(&scope, stored.order.id())
        .await
        .unwrap();
    assert_eq!(cfg, v2);
    assert_eq!(r.configs.version(&scope, 1).await.unwrap(), Some(v1));
    assert_eq!(
        r.configs
            .current(&TenantScope::for_tests("other"))
            .await
            .unwrap()
            .version(),
        0
    );
}

/// Reads a whole listing page by page: the tenant's, or with `vendor` that vendor's.
async fn read_all(
    r: &Repos,
    scope: &TenantScope,
    listing: &OrderListing,
    vendor: Option<&VendorId>,
    first: u32,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut page = PageRequest::first(first);
    loop {
        let (ids, end_cursor): (Vec<String>, _) = match vendor {
            None => {
                let got = r.orders.list(scope, listing, &page).await.unwrap();
                let ids = got.rows.iter().map(|o| o.id.to_string()).collect();
                (ids, got.end_cursor)
            }
            Some(v) => {
                let got = r.orders.list_by_vendor(scope, v, listing, &page).await;
                let got = got.unwrap();
                let ids = got.rows.iter().map(|o| o.id.to_string()).collect();
                (ids, got.end_cursor)
            }
        };
        pages.push(ids);
        match end_cursor {
            Some(c) => page.after = Some(c),
            None => break,
        }
        assert!(pages.len() < 200);
    }
    pages.retain(|p: &Vec<String>| !p.is_empty());
    pages
}

/// Reads the listing in pages of 4 and, from each row's own cursor, the next 3 rows: they are
/// the 3 rows that follow it in `expected`.
async fn every_row_cursor_resumes_after_its_row(
    r: &Repos,
    scope: &TenantScope,
    listing: &OrderListing,
    expected: &[String],
) {
    let mut page = PageRequest::first(4);
    let mut seen = 0;
    loop {
        let got = r.orders.list(scope, listing, &page).await.unwrap();
        assert_eq!(got.rows.len(), got.cursors.len());
        for (row, cursor) in got.iter() {
            assert_eq!(row.id.to_string(), expected[seen]);
            seen += 1;
            let next = PageRequest {
                first: 3,
                after: Some(cursor.encode().unwrap()),
            };
            let after = r.orders.list(scope, listing, &next).await.unwrap();
            let ids: Vec<String> = after.rows.iter().map(|o| o.id.to_string()).collect();
            let want = &expected[seen..(seen + 3).min(expected.len())];
            assert_eq!(ids, want, "after row {seen}");
        }
        match got.end_cursor {
            Some(c) => page.after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, expected.len());
}

pub async fn listings_are_the_same_over_1_and_4_shards(b: &Backend) {
    let by_created = OrderListing::ByCreated {
        from: None,
        to: None,
    };
    let scope1 = TenantScope::for_tests("one");
    let scope4 = TenantScope::for_tests("four");
    let scope_grow = TenantScope::for_tests("grow");
    let one = repos(b, 1);
    let four = repos(b, 4);
    let grow = repos(b, 1);
    // The same orders (same ids, same times) for three tenants.
    let mut expected = Vec::new();
    for n in 0..23 {
        for (r, scope) in [(&one, &scope1), (&four, &scope4), (&grow, &scope_grow)] {
            let mut g = Gen::new();
            g.ids = domain::SeqIds::default();
            for _ in 0..(n * 3) {
                domain::IdSource::next_ulid(&mut g.ids);
            }
            g.now = g.now.plus_seconds(n * 60);
            let stored = g.saved(r, scope, None).await;
            if std::ptr::eq(r, &one) {
                expected.push(stored.order.id().to_string());
            }
        }
        if n == 11 {
            grow.shards.grow_to(4);
        }
    }
    expected.reverse();
    for first in [1, 5, 10, 250] {
        let p1 = read_all(&one, &scope1, &by_created, None, first).await;
        let p4 = read_all(&four, &scope4, &by_created, None, first).await;
        let pg = read_all(&grow, &scope_grow, &by_created, None, first).await;
        assert_eq!(p1, p4, "page size {first}");
        assert_eq!(p1, pg, "page size {first} after growth");
        assert_eq!(p1.concat(), expected);
        // A vendor's listing is sharded the same way (one vendor of a large tenant would
        // otherwise be one hot partition): the same rows, in the same order.
        let v2 = VendorId::parse("v2").unwrap();
        let v1 = read_all(&one, &scope1, &by_created, Some(&v2), first).await;
        let v4 = read_all(&four, &scope4, &by_created, Some(&v2), first).await;
        let vg = read_all(&grow, &scope_grow, &by_created, Some(&v2), first).await;
        assert_eq!(v1, v4, "vendor listing, page size {first}");
        assert_eq!(v1, vg, "vendor listing, page size {first} after growth");
        assert_eq!(v1.concat(), expected);
    }
    // Every row's own cursor resumes right after that row (Relay's edge cursors), on one shard,
    // four, and shards grown while orders were written.
    for (r, scope) in [(&one, &scope1), (&four, &scope4), (&grow, &scope_grow)] {
        every_row_cursor_resumes_after_its_row(r, scope, &by_created, &expected).await;
    }
    // Over 4 shards, the vendor's items really are spread: more than one partition holds some.
    let vendor = VendorId::parse("v2").unwrap();
    let mut used = 0;
    for shard in 0..4 {
        let pk = store::keys::vendor_orders(scope4.tenant(), &vendor, shard);
        let page = b
            .store
            .query(&store::Query::partition(pk, 100))
            .await
            .unwrap();
        used += usize::from(!page.items.is_empty());
    }
    assert!(used > 1, "every vendor item on one shard");
}

pub async fn status_and_change_listings(b: &Backend) {
    let r = repos(b, 3);
    let scope = TenantScope::for_tests("acme");
    let mut g = Gen::new();
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(g.saved(&r, &scope, None).await);
    }
    let changed_from = g.now;
    // Approve three of them.
    for s in &ids[2..5] {
        let mut after = s.order.clone();
        let events = after.approve(&mut g.tick(), &staff(), None).unwrap();
        r.orders
            .update(
                &scope,
                s,
                &after,
                CommandWrite {
                    events: &events,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let confirmed = r
        .orders
        .list(
            &scope,
            &OrderListing::ByStatus {
                status: OrderStatus::Confirmed,
                from: None,
                to: None,
            },
            &PageRequest::first(50),
        )
        .await
        .unwrap();
    let mut want: Vec<_> = ids[2..5].iter().map(|s| s.order.id()).collect();
    want.reverse();
    assert_eq!(
        confirmed.rows.iter().map(|o| o.id).collect::<Vec<_>>(),
        want
    );
    assert!(
        confirmed
            .rows
            .iter()
            // The status index carries the summary, not the per-command fields (version, update
            // time): those would make every command rewrite it.
            .all(|o| o.status == OrderStatus::Confirmed && o.updated_at.is_none())
    );
    let pending = r
        .orders
        .list(
            &scope,
            &OrderListing::ByStatus {
                status: OrderStatus::Pending,
                from: None,
                to: None,
            },
            &PageRequest::first(50),
        )
        .await
        .unwrap();
    assert_eq!(pending.rows.len(), 4);
    let changed = r
        .orders
        .list(
            &scope,
            &OrderListing::ChangedSince {
                after: changed_from,
            },
            &PageRequest::first(2),
        )
        .await
        .unwrap();
    assert_eq!(
        changed.rows.iter().map(|o| o.id).collect::<Vec<_>>(),
        ids[2..4].iter().map(|s| s.order.id()).collect::<Vec<_>>()
    );
    // A creation-time window.
    let window = OrderListing::ByCreated {
        from: Some(ids[1].order.created_at()),
        to: Some(ids[3].order.created_at()),
    };
    let got = r
        .orders
        .list(&scope, &window, &PageRequest::first(50))
        .await
        .unwrap();
    assert_eq!(
        got.rows.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![ids[3].order.id(), ids[2].order.id(), ids[1].order.id()]
    );
    // Summaries carry the money and customer.
    assert_eq!(got.rows[0].total.to_decimal_string(), "39.96");
    assert_eq!(got.rows[0].customer_name, "Ana Díaz");
}

pub async fn cursors_are_bound_to_tenant_and_listing(b: &Backend) {
    let r = repos(b, 2);
    let (a, other) = (
        TenantScope::for_tests("acme"),
        TenantScope::for_tests("other"),
    );
    let mut g = Gen::new();
    for _ in 0..3 {
        g.saved(&r, &a, None).await;
    }
    let all = OrderListing::ByCreated {
        from: None,
        to: None,
    };
    let page = r
        .orders
        .list(&a, &all, &PageRequest::first(1))
        .await
        .unwrap();
    let cursor = page.end_cursor.unwrap();
    let req = PageRequest {
        first: 1,
        after: Some(cursor.clone()),
    };
    assert_eq!(
        r.orders.list(&other, &all, &req).await.unwrap_err(),
        RepoError::InvalidCursor
    );
    let pending = OrderListing::ByStatus {
        status: OrderStatus::Pending,
        from: None,
        to: None,
    };
    assert_eq!(
        r.orders.list(&a, &pending, &req).await.unwrap_err(),
        RepoError::InvalidCursor
    );
    let mut forged = cursor.clone();
    forged.insert(3, 'x');
    assert_eq!(
        r.orders
            .list(
                &a,
                &all,
                &PageRequest {
                    first: 1,
                    after: Some(forged)
                }
            )
            .await
            .unwrap_err(),
        RepoError::InvalidCursor
    );
    assert!(r.orders.list(&a, &all, &req).await.is_ok());
    assert!(matches!(
        r.orders.list(&a, &all, &PageRequest::first(251)).await,
        Err(RepoError::InvalidPage(_))
    ));
}

pub async fn concurrent_conflicting_updates_apply_exactly_once_each(b: &Backend) {
    let r = Arc::new(repos(b, 1));
    let scope = TenantScope::for_tests("acme");
    let mut g = Gen::new();
    let stored = g.saved(&r, &scope, None).await;
    let id = stored.order.id();
    let mut tasks = Vec::new();
    for n in 0..100 {
        let r = Arc::clone(&r);
        let scope = scope.clone();
        tasks.push(tokio::spawn(async move {
            let mut g = Gen::new();
            g.ids = domain::SeqIds::default();
            for _ in 0..(1_000 + n * 10) {
                domain::IdSource::next_ulid(&mut g.ids);
            }
            let before = r.orders.load(&scope, id).await.unwrap().unwrap();
            let mut after = before.order.clone();
            let events = after
                .assign_reviewer(
                    &mut g.tick(),
                    &staff(),
                    Subject::parse(&format!("rev-{n}")).unwrap(),
                    None,
                )
                .unwrap();
            let audit = g.audit(
                &scope,
                "assignOrderReviewer",
                &id.to_string(),
                after.version(),
            );
            r.orders
                .update(
                    &scope,
                    &before,
                    &after,
                    CommandWrite {
                        events: &events,
                        audit: Some(&audit),
                        ..Default::default()
                    },
                )
                .await
        }));
    }
    let mut applied = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => applied += 1,
            Err(RepoError::VersionConflict { .. }) => {}
            // DynamoDB may refuse a transaction that meets another in flight on the same item
            // (TransactionConflict, or throttling under load): nothing of it is written, which
            // the counts below check.
            Err(RepoError::Busy(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(applied >= 1);
    let last = r.orders.load(&scope, id).await.unwrap().unwrap();
    assert_eq!(last.order.version(), 1 + applied);
    // One audit record and one outbox item per applied command, plus the creation's.
    assert_eq!(
        r.orders.count_side_items(&scope, id).await.unwrap(),
        (1 + applied as usize, 1 + applied as usize)
    );
}

pub async fn tenant_audit_lists_a_day_over_shards(b: &Backend) {
    let r = repos(b, 3);
    let scope = TenantScope::for_tests("acme");
    let mut g = Gen::new();
    let mut written = Vec::new();
    for n in 0..8 {
        g.tick();
        let rec = g.audit(&scope, "updateTenantConfig", &format!("cfg-{n}"), 1);
        r.audit.append(&scope, &rec).await.unwrap();
        written.push(rec);
    }
    let mut got = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let records = r.audit.list_day(&scope, g.now, &page).await.unwrap();
        got.extend(records.rows);
        match records.end_cursor {
            Some(c) => page.after = Some(c),
            None => break,
        }
    }
    written.reverse();
    assert_eq!(got, written);
    let none = r
        .audit
        .list_day(
            &TenantScope::for_tests("other"),
            g.now,
            &PageRequest::first(3),
        )
        .await
        .unwrap();
    assert!(none.rows.is_empty() && none.end_cursor.is_none());
    // A record of another tenant is refused.
    let mut foreign = written[0].clone();
    foreign.tenant = Some(domain::ids::TenantId::parse("other").unwrap());
    assert_eq!(
        r.audit.append(&scope, &foreign).await.unwrap_err(),
        RepoError::WrongTenant
    );
}

/// Approves `stored` with `claims` in the same transaction.
async fn approve_claiming(
    r: &Repos,
    g: &mut Gen,
    scope: &TenantScope,
    stored: &app::ports::StoredOrder,
    claims: Vec<TrackingClaim>,
) -> Result<app::ports::StoredOrder, RepoError> {
    let mut after = stored.order.clone();
    let events = after.approve(&mut g.tick(), &staff(), None).unwrap();
    let id = stored.order.id().to_string();
    let audit = g.audit(scope, "approveOrder", &id, 2);
    r.orders
        .update(
            scope,
            stored,
            &after,
            CommandWrite {
                events: &events,
                audit: Some(&audit),
                tracking: claims,
                ..Default::default()
            },
        )
        .await?;
    Ok(crate::support::updated(stored, &after, Some(&audit)))
}

/// A tracking number has one owner per index: a claim of another shipment of the same tenant
/// (tenant index) or of any tenant (SaaS-wide index) is `TrackingNumberTaken`, not a version
/// conflict, and its transaction writes nothing; the owner may claim it again; another
/// tenant's own index is separate.
pub async fn tracking_numbers_have_one_owner(b: &Backend) {
    let r = repos(b, 1);
    let (acme, beta) = (
        TenantScope::for_tests("acme"),
        TenantScope::for_tests("beta"),
    );
    let mut g = Gen::new();
    let usps = CarrierCode::parse("usps").unwrap();
    let number = TrackingNumber::parse("EZ-SAME-1").unwrap();
    let claim = |index, stored: &app::ports::StoredOrder, shipment: u128| TrackingClaim {
        index,
        carrier: usps.clone(),
        number: number.clone(),
        order: stored.order.id(),
        target: ShipmentId::from_ulid(ulid::Ulid::from(shipment)).into(),
    };
    let first = g.saved(&r, &acme, None).await;
    let mine = [
        claim(TrackingIndex::Tenant, &first, 1),
        claim(TrackingIndex::Global, &first, 1),
    ];
    approve_claiming(&r, &mut g, &acme, &first, mine.to_vec())
        .await
        .unwrap();
    let owner = Some((first.order.id(), mine[0].target));
    assert_eq!(
        r.orders
            .by_tracking_number(&acme, &usps, &number)
            .await
            .unwrap(),
        owner
    );

    // Another shipment of the same tenant: refused in the tenant index, nothing written.
    let second = g.saved(&r, &acme, None).await;
    for theirs in [
        claim(TrackingIndex::Tenant, &second, 2),
        claim(TrackingIndex::Global, &second, 2),
    ] {
        let err = approve_claiming(&r, &mut g, &acme, &second, vec![theirs.clone()])
            .await
            .unwrap_err();
        assert_eq!(err, RepoError::TrackingNumberTaken(Box::new(theirs)));
        let now = r
            .orders
            .load(&acme, second.order.id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.order.version(), 1, "nothing written");
        assert_eq!(
            r.orders
                .count_side_items(&acme, second.order.id())
                .await
                .unwrap(),
            (1, 1)
        );
    }

    // Another tenant: its own index is its own; the SaaS-wide one is held.
    let foreign = g.saved(&r, &beta, None).await;
    let err = approve_claiming(
        &r,
        &mut g,
        &beta,
        &foreign,
        vec![
            claim(TrackingIndex::Tenant, &foreign, 3),
            claim(TrackingIndex::Global, &foreign, 3),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        RepoError::TrackingNumberTaken(Box::new(claim(TrackingIndex::Global, &foreign, 3)))
    );
    let foreign = approve_claiming(
        &r,
        &mut g,
        &beta,
        &foreign,
        vec![claim(TrackingIndex::Tenant, &foreign, 3)],
    )
    .await
    .unwrap();
    assert_eq!(
        r.orders
            .by_tracking_number(&beta, &usps, &number)
            .await
            .unwrap(),
        Some((
            foreign.order.id(),
            ShipmentId::from_ulid(ulid::Ulid::from(3_u128)).into()
        ))
    );
    let label = r
        .orders
        .gateway_label(&usps, &number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (label.tenant.as_str(), label.order, label.target),
        ("acme", first.order.id(), mine[1].target),
        "the SaaS-wide entry stays the first label's"
    );
    assert_eq!(
        r.orders
            .by_tracking_number(&acme, &usps, &number)
            .await
            .unwrap(),
        owner
    );

    // The owner claims it again (a later command of the same shipment): it holds.
    let again = r
        .orders
        .load(&acme, first.order.id())
        .await
        .unwrap()
        .unwrap();
    let mut after = again.order.clone();
    let events = after.cancel(&mut g.tick(), None).unwrap();
    let audit = g.audit(&acme, "cancelOrder", &first.order.id().to_string(), 3);
    let write = CommandWrite {
        events: &events,
        audit: Some(&audit),
        tracking: mine.to_vec(),
        ..Default::default()
    };
    r.orders.update(&acme, &again, &after, write).await.unwrap();
}

/// A return's label owns its number as a shipment's does: both indexes name the return (not a
/// shipment), a shipment's later claim on the number is `TrackingNumberTaken`, and the return's
/// open intent is listed beside shipments' and leaves the list when it closes.
pub async fn return_labels_own_their_numbers_and_intents(b: &Backend) {
    let r = repos(b, 1);
    let acme = TenantScope::for_tests("acme");
    let mut g = Gen::new();
    let ups = CarrierCode::parse("ups").unwrap();
    let number = TrackingNumber::parse("1ZRETURN0001").unwrap();
    let ret: CarrierTarget = ReturnId::from_ulid(ulid::Ulid::from(7_u128)).into();
    let ship: CarrierTarget = ShipmentId::from_ulid(ulid::Ulid::from(8_u128)).into();
    let claim = |index, stored: &app::ports::StoredOrder, target| TrackingClaim {
        index,
        carrier: ups.clone(),
        number: number.clone(),
        order: stored.order.id(),
        target,
    };
    let first = g.saved(&r, &acme, None).await;
    let mut after = first.order.clone();
    let events = after.approve(&mut g.tick(), &staff(), None).unwrap();
    let audit = g.audit(&acme, "approveOrder", &first.order.id().to_string(), 2);
    let write = CommandWrite {
        events: &events,
        audit: Some(&audit),
        tracking: vec![
            claim(TrackingIndex::Tenant, &first, ret),
            claim(TrackingIndex::Global, &first, ret),
        ],
        intents: vec![(ret, true), (ship, true)],
        ..Default::default()
    };
    r.orders.update(&acme, &first, &after, write).await.unwrap();
    let first = crate::support::updated(&first, &after, Some(&audit));
    assert_eq!(
        r.orders
            .by_tracking_number(&acme, &ups, &number)
            .await
            .unwrap(),
        Some((first.order.id(), ret))
    );
    let label = r
        .orders
        .gateway_label(&ups, &number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((label.order, label.target), (first.order.id(), ret));
    let mut open = r.orders.open_intents(&acme).await.unwrap();
    open.sort();
    let mut expected = vec![(first.order.id(), ret), (first.order.id(), ship)];
    expected.sort();
    assert_eq!(open, expected);

    // A shipment (of another order) claiming the return's number: refused, nothing written.
    let second = g.saved(&r, &acme, None).await;
    let theirs = claim(TrackingIndex::Tenant, &second, ship);
    let err = approve_claiming(&r, &mut g, &acme, &second, vec![theirs.clone()])
        .await
        .unwrap_err();
    assert_eq!(err, RepoError::TrackingNumberTaken(Box::new(theirs)));

    // The return's intent closes: only the shipment's is left.
    let mut later = first.order.clone();
    let events = later.cancel(&mut g.tick(), None).unwrap();
    let audit = g.audit(&acme, "cancelOrder", &first.order.id().to_string(), 3);
    let write = CommandWrite {
        events: &events,
        audit: Some(&audit),
        intents: vec![(ret, false)],
        ..Default::default()
    };
    r.orders.update(&acme, &first, &later, write).await.unwrap();
    assert_eq!(
        r.orders.open_intents(&acme).await.unwrap(),
        vec![(first.order.id(), ship)]
    );
}

both_backends!(
    create_load_and_update_with_everything_in_one_transaction,
    external_refs_are_unique_per_tenant,
    idempotency_records_live_in_the_command_transaction,
    config_versions_and_load_with_config,
    listings_are_the_same_over_1_and_4_shards,
    status_and_change_listings,
    cursors_are_bound_to_tenant_and_listing,
    concurrent_conflicting_updates_apply_exactly_once_each,
    tenant_audit_lists_a_day_over_shards,
    tracking_numbers_have_one_owner,
    return_labels_own_their_numbers_and_intents,
);
