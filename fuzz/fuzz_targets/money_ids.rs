//! Money and id parsing, which every input field goes through: no panic, and whatever parses
//! prints to a text that parses back to the same value.
#![no_main]

use arbitrary::Arbitrary;
use domain::ids::{
    AccountId, CarrierCode, ExternalRef, IdempotencyKey, Issuer, OrderId, ShipmentId, Sku,
    TenantId, TrackingNumber, VendorId,
};
use domain::money::{Currency, Money};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    currency: String,
    /// An index into the accepted currencies, so amounts are tried in every exponent.
    currency_index: u16,
    amount: String,
    other: String,
    factor: u32,
    bps: u32,
    id: String,
}

macro_rules! round_trip {
    ($text:expr, $($ty:ty),+) => {$(
        if let Ok(v) = <$ty>::parse($text) {
            let again = <$ty>::parse(&v.to_string())
                .unwrap_or_else(|e| panic!("{} {:?} printed as {:?}: {e}", stringify!($ty), $text, v.to_string()));
            assert_eq!(again, v);
        }
    )+};
}

fuzz_target!(|input: Input| {
    if let Ok(c) = Currency::parse(&input.currency) {
        assert_eq!(Currency::parse(c.code()).unwrap(), c);
    }
    let all: Vec<Currency> = Currency::all().collect();
    let currency = all[usize::from(input.currency_index) % all.len()];
    let a = Money::parse(&input.amount, currency);
    if let Ok(a) = &a {
        let text = a.to_decimal_string();
        let again = Money::parse(&text, currency)
            .unwrap_or_else(|e| panic!("{:?} printed as {text:?}: {e}", input.amount));
        assert_eq!(again.minor(), a.minor());
        let _ = a.checked_mul(input.factor);
        let share = a.basis_points_half_even(input.bps % 10_001);
        assert!(
            share.minor().unsigned_abs() <= a.minor().unsigned_abs(),
            "{a:?} {share:?}"
        );
    }
    if let (Ok(a), Ok(b)) = (a, Money::parse(&input.other, currency)) {
        if let Ok(sum) = a.checked_add(&b) {
            assert_eq!(
                i128::from(sum.minor()),
                i128::from(a.minor()) + i128::from(b.minor())
            );
        }
        if let Ok(diff) = a.checked_sub(&b) {
            assert_eq!(
                i128::from(diff.minor()),
                i128::from(a.minor()) - i128::from(b.minor())
            );
        }
    }
    let id = input.id.as_str();
    round_trip!(
        id,
        TenantId,
        VendorId,
        Sku,
        ExternalRef,
        IdempotencyKey,
        TrackingNumber,
        CarrierCode,
        Issuer,
        AccountId,
        OrderId,
        ShipmentId
    );
});
