//! Carrier usage of platform-held accounts: the rows (a Relay connection) and their totals per
//! currency, for the tenant (`carrierUsage`) and the platform admin (`platformCarrierUsage`).
//!
//! A range holds at most 31 days of rows (`audit_range`), read whole: the totals cover the range,
//! the edges page through it by `first` / `after` (a cursor is a row's time and id).

use async_graphql::{MergedObject, SimpleObject};
use domain::usage::{CarrierUsage, totals};

use app::listing::Page;

use crate::connection::{EdgeCursor, PageInfo};
use crate::views::MoneyV;

/// One usage row.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "CarrierUsage")]
pub struct CarrierUsageV {
    /// The carrier call's id (its purchase or void intent).
    pub id: String,
    pub gateway: String,
    /// As tenants name it: `platform:<account>`.
    pub account: String,
    pub order_id: String,
    pub shipment_id: String,
    /// The return whose label it is (none: the shipment's own label).
    pub return_id: Option<String>,
    /// PURCHASE or REVERSAL (a void gives the purchase's amount back).
    pub kind: String,
    pub amount: MoneyV,
    pub at: String,
}

impl From<&CarrierUsage> for CarrierUsageV {
    fn from(u: &CarrierUsage) -> Self {
        Self {
            id: u.id.clone(),
            gateway: u.gateway.to_string(),
            account: format!("{}{}", domain::gateway::PLATFORM_ACCOUNT_PREFIX, u.account),
            order_id: u.order.to_string(),
            shipment_id: u.shipment.to_string(),
            return_id: u.return_id.map(|r| r.to_string()),
            kind: u.kind.as_str().to_uppercase(),
            amount: u.amount.into(),
            at: u.at.to_rfc3339(),
        }
    }
}

crate::connection::connection!(
    /// The rows of a carrier usage range.
    CarrierUsageRows,
    CarrierUsageEdge,
    CarrierUsageV
);

/// The totals of a usage range.
#[derive(SimpleObject, Clone, Debug)]
pub struct CarrierUsageTotals {
    /// Per currency: purchases less reversals, over the whole range (not just this page).
    pub totals: Vec<MoneyV>,
}

/// A Relay connection of carrier usage rows, with the range's totals per currency.
#[derive(MergedObject, Clone, Debug)]
pub struct CarrierUsageConnection(CarrierUsageRows, CarrierUsageTotals);

fn cursor(u: &CarrierUsage) -> String {
    format!("{}#{}", u.at.fixed_width(), u.id)
}

/// The connection of `rows` (oldest first): `first` rows after `after`, and the range's totals.
pub fn connection(
    rows: &[CarrierUsage],
    first: u32,
    after: Option<&str>,
) -> Result<CarrierUsageConnection, app::AppError> {
    let totals = totals(rows)?;
    let first = first.clamp(1, 500) as usize;
    let start = match after {
        Some(a) => rows
            .iter()
            .position(|r| cursor(r) == a)
            .map(|i| i + 1)
            .ok_or_else(|| app::AppError::Invalid {
                field: "after".into(),
                message: "not a cursor of this range".into(),
            })?,
        None => 0,
    };
    let page: Vec<&CarrierUsage> = rows.iter().skip(start).take(first).collect();
    let next = (start + page.len() < rows.len())
        .then(|| page.last().map(|r| cursor(r)))
        .flatten();
    let edges = page
        .iter()
        .map(|r| (CarrierUsageV::from(*r), cursor(r)))
        .collect();
    Ok(CarrierUsageConnection(
        CarrierUsageRows::made(edges, after, next),
        CarrierUsageTotals {
            totals: totals.into_iter().map(MoneyV::from).collect(),
        },
    ))
}
