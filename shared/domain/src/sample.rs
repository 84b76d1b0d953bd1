//! Sample values for tests (feature `test-support`): one spelled-out order that every test
//! crate can start from.
#![allow(clippy::unwrap_used)]

use crate::contact::{Address, Customer, Email};
use crate::ids::{ExternalRef, Quantity, Sku, VendorId};
use crate::order::{NewLine, NewOrder};
use crate::{Currency, Money};

/// An order of 4 × SKU `A` (vendor `v1`) at 10.00 USD, to Ana in Springfield, with this
/// external reference.
pub fn new_order(external_ref: &str) -> NewOrder {
    let usd = Currency::parse("USD").unwrap();
    NewOrder {
        external_ref: Some(ExternalRef::parse(external_ref).unwrap()),
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
        lines: vec![NewLine {
            sku: Sku::parse("A").unwrap(),
            vendor: VendorId::parse("v1").unwrap(),
            title: None,
            quantity: Quantity::new(4).unwrap(),
            unit_price: Money::parse("10.00", usd).unwrap(),
        }],
        shipping: Money::zero(usd),
        tax: Money::zero(usd),
        discount: Money::zero(usd),
    }
}
