//! Domain benchmarks (`make bench`): the hot paths a command pays for on every request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use domain::clock::{Ctx, SeqIds};
use domain::contact::{Address, Customer, Email};
use domain::ids::{OrderId, Quantity, Sku, Subject, TenantId, VendorId};
use domain::order::{LineQuantity, NewLine, NewOrder, NewShipment, Order, ShippingMode, roll_up};
use domain::{Currency, Money, Timestamp};

fn big_order(ids: &mut SeqIds) -> Order {
    let usd = Currency::parse("USD").unwrap();
    let lines = (0..250)
        .map(|i| NewLine {
            sku: Sku::parse(&format!("SKU-{i:04}")).unwrap(),
            vendor: VendorId::parse(&format!("vendor-{}", i % 20)).unwrap(),
            title: Some(format!("Item {i}")),
            quantity: Quantity::new(4).unwrap(),
            unit_price: Money::from_minor(1_999, usd),
        })
        .collect();
    let new = NewOrder {
        external_ref: None,
        customer: Customer::new("Ana", Email::parse("ana@example.com").unwrap(), None).unwrap(),
        destination: Address::new(
            "Ana",
            "1 Main St",
            None,
            "Springfield",
            None,
            "62701",
            "US",
            None,
        )
        .unwrap(),
        currency: usd,
        lines,
        shipping: Money::zero(usd),
        tax: Money::zero(usd),
        discount: Money::zero(usd),
    };
    let now = Timestamp::from_unix_millis(1_764_000_000_000).unwrap();
    let staff = Subject::parse("staff").unwrap();
    let id = OrderId::from_ulid(ulid::Ulid::from_parts(1, 1));
    let (mut order, _) = Order::create(
        &mut Ctx::new(now, ids),
        id,
        TenantId::parse("acme").unwrap(),
        staff.clone(),
        new,
    )
    .unwrap();
    order
        .approve(&mut Ctx::new(now, ids), &staff, None)
        .unwrap();
    // 50 shipments of 5 lines each, all dispatched.
    for chunk in 0..50 {
        let lines = (0..5)
            .map(|j| {
                LineQuantity::new(
                    Sku::parse(&format!("SKU-{:04}", chunk * 5 + j)).unwrap(),
                    Quantity::new(4).unwrap(),
                )
            })
            .collect();
        let shipment = NewShipment {
            lines,
            destination: None,
            packages: Vec::new(),
            mode: ShippingMode::Ground,
            carrier: None,
            pickup: None,
            instructions: None,
            customs: None,
            label_options: Default::default(),
            address_messages: Vec::new(),
        };
        let (sid, _) = order
            .create_shipment(&mut Ctx::new(now, ids), shipment)
            .unwrap();
        order
            .confirm_shipment(&mut Ctx::new(now, ids), sid)
            .unwrap();
        order
            .dispatch_shipment(&mut Ctx::new(now, ids), sid, None, None)
            .unwrap();
    }
    order
}

fn benches(c: &mut Criterion) {
    let mut ids = SeqIds::default();
    let order = big_order(&mut ids);
    let now = Timestamp::from_unix_millis(1_764_000_000_000).unwrap();
    let usd = Currency::parse("USD").unwrap();

    c.bench_function("roll_up/250 lines x 50 shipments", |b| {
        b.iter(|| roll_up(black_box(order.lines()), black_box(order.shipments())))
    });
    c.bench_function("command/mark_paid on a 250-line order", |b| {
        b.iter_batched(
            || order.clone(),
            |mut o| {
                o.mark_paid(&mut Ctx::new(now, &mut SeqIds::default()), "pi")
                    .unwrap()
            },
            criterion::BatchSize::SmallInput,
        )
    });
    let json = serde_json::to_vec(&order).unwrap();
    c.bench_function("serde/order to json (250 lines, 50 shipments)", |b| {
        b.iter(|| serde_json::to_vec(black_box(&order)).unwrap())
    });
    c.bench_function("serde/order from json (250 lines, 50 shipments)", |b| {
        b.iter(|| serde_json::from_slice::<Order>(black_box(&json)).unwrap())
    });
    c.bench_function("money/parse + format", |b| {
        b.iter(|| {
            Money::parse(black_box("123456.78"), usd)
                .unwrap()
                .to_decimal_string()
        })
    });
}

criterion_group!(domain_benches, benches);
criterion_main!(domain_benches);
