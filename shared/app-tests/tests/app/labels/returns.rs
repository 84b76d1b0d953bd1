//! A return's label under the faults of a shipment's (the same intent machinery, the intent on
//! the return): a lost answer found by the lookup, a request killed between the sale and the
//! commit completed by its retry or by `oms labels reconcile`, racing buys, a failed commit of a
//! platform account's label and its usage row, and a void — each with one sale at the carrier.

use super::*;
use app::ReturnStep;
use domain::gateway::AccountRef;
use domain::ids::{ReturnId, TrackingNumber};
use domain::order::{CarrierTarget, ReturnStatus};

impl Harness {
    /// The current shipment dispatched and delivered by hand, and a return of its line requested
    /// and approved: the return's id.
    async fn approved_return(&self) -> ReturnId {
        let uow = UnitOfWork::immediate();
        let on = OrderRef::new(self.order, None);
        let number = TrackingNumber::parse(&format!("HAND{}", self.shipment)).unwrap();
        let ups = CarrierCode::parse("ups").unwrap();
        self.app
            .dispatch_shipment(&self.rc, &uow, on, self.shipment, Some(ups), Some(number))
            .await
            .unwrap();
        let step = app::ShipmentStep::MarkDelivered;
        self.app
            .move_shipment(&self.rc, &uow, on, self.shipment, step)
            .await
            .unwrap();
        let line = LineQuantity::new(
            domain::ids::Sku::parse("A").unwrap(),
            domain::ids::Quantity::new(1).unwrap(),
        );
        let (_, id) = self
            .app
            .request_return(&self.rc, &uow, on, &[line], "too small")
            .await
            .unwrap();
        self.app
            .move_return(&self.rc, &uow, on, id, ReturnStep::Approve)
            .await
            .unwrap();
        id
    }

    fn account_ref(&self) -> AccountRef {
        if self.platform {
            AccountRef::Platform(self.account.clone())
        } else {
            AccountRef::Own(self.account.clone())
        }
    }

    async fn return_rate(&self, id: ReturnId) -> String {
        let quote = self
            .app
            .return_shipping_rates(
                &self.rc,
                self.order,
                id,
                None,
                &self.gateway,
                Some(&self.account_ref()),
            )
            .await
            .unwrap();
        quote.rates[0].id.clone()
    }

    async fn buy_return(&self, id: ReturnId, rate: &str, key: &str) -> String {
        code(&buy_return(&self.app, &self.rc, self.order, id, rate, key).await)
    }

    async fn void_return(&self, id: ReturnId, key: &str) -> String {
        let (app, rc, order) = (&self.app, &self.rc, self.order);
        let hash = format!("void-return:{order}:{id}");
        let op = Operation::VoidReturnLabel;
        let out = keyed_call(app, rc, (op, key, hash), |uow| async move {
            app.void_return_label(rc, &uow, OrderRef::new(order, None), id)
                .await
        })
        .await;
        code(&out)
    }

    /// The return as stored.
    async fn the_return(&self, id: ReturnId) -> domain::order::Return {
        self.order().await.return_(id).unwrap().clone()
    }

    /// The carrier sold `sold` labels and voided `voided` (the forward shipment's none: it was
    /// shipped by hand); the return holds no open intent and, when it has a label, one the
    /// carrier sold.
    async fn assert_return_books(&self, id: ReturnId, sold: usize, voided: usize) {
        assert_eq!(self.fake.labels_sold(), sold, "labels sold");
        assert_eq!(self.fake.labels_refunded(), voided, "labels voided");
        let r = self.the_return(id).await;
        assert!(r.intent.is_none(), "no intent is left open: {:?}", r.intent);
        if let Some(label) = &r.label {
            assert!(
                self.fake
                    .sold_tracking_numbers()
                    .contains(&label.tracking_number.as_str().to_owned()),
                "the return holds a label the carrier sold: {label:?}"
            );
        }
    }
}

async fn buy_return(
    app: &App,
    rc: &RequestCtx,
    order: OrderId,
    id: ReturnId,
    rate: &str,
    key: &str,
) -> Result<KeyedOutcome<Answer>, AppError> {
    let hash = format!("buy-return:{order}:{id}:{rate}");
    let op = Operation::BuyReturnLabel;
    keyed_call(app, rc, (op, key, hash), |uow| async move {
        app.buy_return_label(rc, &uow, OrderRef::new(order, None), id, rate)
            .await
    })
    .await
}

/// The carrier sells and never answers: the lookup finds the label; a replay calls nothing.
async fn sold_without_an_answer(backend: Backend) {
    let h = Harness::new(backend).await;
    let id = h.approved_return().await;
    let rate = h.return_rate(id).await;
    h.fake.fail_next(Fault::DoThenStall);
    assert_eq!(h.buy_return(id, &rate, "ret-d").await, "ok");
    assert!(h.the_return(id).await.label.is_some());
    assert_eq!(h.buy_return(id, &rate, "ret-d").await, "ok");
    h.assert_return_books(id, 1, 0).await;
}

/// Killed between the sale and the commit: `reconcile` lists the return's intent and completes
/// it; the request's retry answers as the first would have.
async fn killed_then_reconciled(backend: Backend) {
    let mut h = Harness::new(backend).await;
    let id = h.approved_return().await;
    let rate = h.return_rate(id).await;
    h.fake.fail_next(Fault::DoThenStall);
    let (app, rc, order) = (h.app.clone(), h.rc.clone(), h.order);
    let task = tokio::spawn({
        let rate = rate.clone();
        async move {
            buy_return(&app, &rc, order, id, &rate, "ret-c")
                .await
                .map(|_| ())
        }
    });
    while h.fake.labels_sold() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    h.restart();
    // Within the window nobody else may buy it.
    assert_eq!(
        h.buy_return(id, &rate, "ret-other").await,
        "PURCHASE_IN_PROGRESS"
    );
    let admin = ctx(&[Role::TenantAdmin]);
    let listed = h.app.reconcile_labels(&admin, false).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].order, listed[0].target),
        (h.order, CarrierTarget::Return(id))
    );
    let settled = h.app.reconcile_labels(&admin, true).await.unwrap();
    assert_eq!(settled[0].settled.as_deref(), Some("completed"));
    assert!(
        h.app
            .reconcile_labels(&admin, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.buy_return(id, &rate, "ret-c").await, "ok");
    h.assert_return_books(id, 1, 0).await;
}

/// Two buys with different keys race: exactly one reaches the carrier.
async fn racing_buys(backend: Backend, runs: usize) {
    let mut h = Harness::new(backend).await;
    for run in 0..runs {
        if run > 0 {
            h.next_shipment(run).await;
        }
        let id = h.approved_return().await;
        let (r1, r2) = (h.return_rate(id).await, h.return_rate(id).await);
        let (ka, kb) = (format!("rr-{run}-a"), format!("rr-{run}-b"));
        let (a, b) = tokio::join!(
            buy_return(&h.app, &h.rc, h.order, id, &r1, &ka),
            buy_return(&h.app, &h.rc, h.order, id, &r2, &kb),
        );
        let codes = [code(&a), code(&b)];
        let other = one_ok(&codes, run);
        assert!(
            ["PURCHASE_IN_PROGRESS", "INVALID_INPUT"].contains(&other),
            "run {run}: the other is refused before the carrier: {codes:?}"
        );
        h.assert_return_books(id, run + 1, 0).await;
    }
}

/// A platform account's return label: its commit fails once (no usage row without the label),
/// the retry commits both; the void writes the reversal; the carrier's delivery update then
/// finds no label to move (voided), and a manual receive still works.
async fn usage_and_void(backend: Backend) {
    let h = Harness::platform(backend).await;
    let id = h.approved_return().await;
    let rate = h.return_rate(id).await;
    h.store.fail_write_after(1);
    assert_eq!(h.buy_return(id, &rate, "ret-u1").await, "INTERNAL");
    assert_eq!(h.fake.labels_sold(), 1, "the carrier sold it");
    assert!(usage(&h).await.is_empty(), "no usage row without its label");
    assert_eq!(h.buy_return(id, &rate, "ret-u1").await, "ok");
    let rows = usage(&h).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].kind, domain::usage::UsageKind::Purchase);
    assert_eq!(
        (rows[0].order, rows[0].shipment, rows[0].return_id),
        (h.order, h.shipment, Some(id)),
        "the row names the return and the shipment its items came in"
    );
    assert_eq!(h.void_return(id, "ret-v1").await, "ok");
    assert_eq!(h.void_return(id, "ret-v1").await, "ok", "replayed");
    let r = h.the_return(id).await;
    assert_eq!(
        (r.status, r.label.is_none()),
        (ReturnStatus::Approved, true)
    );
    let rows = usage(&h).await;
    assert_eq!(
        domain::usage::totals(&rows).unwrap()[0].to_string(),
        "0.00 USD",
        "{rows:?}"
    );
    h.assert_return_books(id, 1, 1).await;
    let uow = UnitOfWork::immediate();
    let on = OrderRef::new(h.order, None);
    h.app
        .move_return(&h.rc, &uow, on, id, ReturnStep::Receive)
        .await
        .unwrap();
}

/// The tenant config's return address is where a return ships to (EasyPost is sent the outbound
/// addresses: it as `from`, the customer as `to`, with `is_return`); without it, the shipment's
/// pickup address.
#[tokio::test]
async fn returns_ship_to_the_tenants_return_address() {
    let h = Harness::new(Backend::Embedded).await;
    let id = h.approved_return().await;
    let quoted_from = |h: &Harness| {
        let created = h
            .fake
            .requests()
            .into_iter()
            .rfind(|r| r.method == "POST" && r.path == "/v2/shipments")
            .unwrap();
        let s = &created.body["shipment"];
        assert_eq!(s["is_return"], true, "{s}");
        (
            s["from_address"]["zip"].as_str().unwrap().to_owned(),
            s["to_address"]["zip"].as_str().unwrap().to_owned(),
        )
    };
    h.return_rate(id).await;
    let customer = h.order().await.destination().postal_code.clone();
    assert_eq!(quoted_from(&h), ("94104".to_owned(), customer.clone()));
    let warehouse = Address::new(
        "Returns desk",
        "350 5th Ave",
        None,
        "New York",
        Some("NY"),
        "10118",
        "US",
        None,
    )
    .unwrap();
    let config = domain::config::TenantConfig::default().with_return_address(Some(warehouse));
    h.app
        .update_tenant_config(&ctx(&[Role::TenantAdmin]), &UnitOfWork::immediate(), config)
        .await
        .unwrap();
    let rate = h.return_rate(id).await;
    assert_eq!(quoted_from(&h), ("10118".to_owned(), customer));
    assert_eq!(h.buy_return(id, &rate, "ret-addr").await, "ok");
    h.assert_return_books(id, 1, 0).await;
}

on_both! {
    r_a_return_label_sold_without_an_answer(b) => sold_without_an_answer(b);
    r_a_return_label_killed_then_reconciled(b) => killed_then_reconciled(b);
    r_two_return_label_buys_race_20_runs(b) => racing_buys(b, 20);
    r_a_platform_return_label_usage_and_void(b) => usage_and_void(b);
}
