//! Carrier usage for billing: what a tenant bought through a platform-held carrier account
//! (`gateway::AccountRef::Platform`). Every purchase through one writes a row in the purchase's
//! own commit; a void writes a reversal of it. The rows are the SaaS provider's record of what
//! to bill each tenant; their totals are per currency, purchases less reversals.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::DomainResult;
use crate::ids::{AccountId, CarrierCode, OrderId, ReturnId, ShipmentId, TenantId};
use crate::money::{Currency, Money};

/// A purchase, or the void that gives it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageKind {
    Purchase,
    Reversal,
}

impl UsageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageKind::Purchase => "purchase",
            UsageKind::Reversal => "reversal",
        }
    }
}

/// One row of carrier usage. Its id is the carrier intent's (one row per purchase or void,
/// whatever retries it took).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarrierUsage {
    pub id: String,
    pub tenant: TenantId,
    pub gateway: CarrierCode,
    /// The platform's account used.
    pub account: AccountId,
    pub order: OrderId,
    /// The shipment whose label it is; for a return's label, the shipment the items came in.
    pub shipment: ShipmentId,
    /// The return whose label it is (none: the shipment's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_id: Option<ReturnId>,
    pub kind: UsageKind,
    /// The carrier's amount for the label (a reversal gives the same amount back).
    pub amount: Money,
    pub at: Timestamp,
}

impl CarrierUsage {
    /// What the row adds to its currency's total: the amount, negative for a reversal.
    pub fn signed(&self) -> Money {
        match self.kind {
            UsageKind::Purchase => self.amount,
            UsageKind::Reversal => Money::from_minor(-self.amount.minor(), self.amount.currency()),
        }
    }
}

/// The totals of `rows` per currency (purchases less reversals), by currency code.
pub fn totals(rows: &[CarrierUsage]) -> DomainResult<Vec<Money>> {
    let mut by: BTreeMap<String, Money> = BTreeMap::new();
    for row in rows {
        let signed = row.signed();
        let code = currency_code(signed.currency());
        let sum = match by.get(&code) {
            Some(t) => t.checked_add(&signed)?,
            None => signed,
        };
        by.insert(code, sum);
    }
    Ok(by.into_values().collect())
}

fn currency_code(c: Currency) -> String {
    c.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: UsageKind, amount: &str, currency: &str) -> CarrierUsage {
        let c = Currency::parse(currency).unwrap();
        CarrierUsage {
            id: "01J".into(),
            tenant: TenantId::parse("acme").unwrap(),
            gateway: CarrierCode::parse("easypost").unwrap(),
            account: AccountId::parse("shared").unwrap(),
            order: OrderId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            shipment: ShipmentId::from_ulid(ulid::Ulid::from_parts(1, 2)),
            return_id: None,
            kind,
            amount: Money::parse(amount, c).unwrap(),
            at: Timestamp::from_unix_millis(0).unwrap(),
        }
    }

    #[test]
    fn totals_are_per_currency_purchases_less_reversals() {
        let rows = [
            row(UsageKind::Purchase, "7.58", "USD"),
            row(UsageKind::Purchase, "7.58", "USD"),
            row(UsageKind::Reversal, "7.58", "USD"),
            row(UsageKind::Purchase, "5.00", "EUR"),
        ];
        let t = totals(&rows).unwrap();
        assert_eq!(
            t.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["5.00 EUR", "7.58 USD"]
        );
        assert!(totals(&[]).unwrap().is_empty());
    }
}
