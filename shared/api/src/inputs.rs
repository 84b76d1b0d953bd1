//! GraphQL inputs, parsed into domain values (parse, don't validate: a bad field is a user error
//! naming the field).

use async_graphql::InputObject;
use domain::config::{NotificationUrl, TenantConfig};
use domain::contact::{Address, Customer, Email};
use domain::ids::{CarrierCode, ExternalRef, Quantity, Sku, VendorId};
use domain::order::{LineQuantity, NewLine, NewOrder, NewShipment, Package, Pickup};
use domain::{Currency, DomainError, Money, Timestamp};

use crate::views::ShippingMode;

type R<T> = Result<T, DomainError>;

/// The default of a money field in the webhook's JSON (as in GraphQL).
fn zero() -> String {
    "0".to_owned()
}

#[derive(InputObject, Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInput {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub phone: Option<String>,
}

impl AddressInput {
    pub fn parse(&self) -> R<Address> {
        Address::new(
            &self.name,
            &self.line1,
            self.line2.as_deref(),
            &self.city,
            self.region.as_deref(),
            &self.postal_code,
            &self.country,
            self.phone.as_deref(),
        )
    }
}

#[derive(InputObject, Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerInput {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

#[derive(InputObject, Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderLineInput {
    pub sku: String,
    pub vendor: String,
    pub title: Option<String>,
    pub quantity: u32,
    /// Decimal string in the order's currency.
    pub unit_price: String,
}

#[derive(InputObject, Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrderInput {
    /// Your own reference; unique per tenant (idempotent intake).
    pub external_ref: Option<String>,
    /// ISO 4217.
    pub currency: String,
    pub customer: CustomerInput,
    pub destination: AddressInput,
    pub lines: Vec<OrderLineInput>,
    #[graphql(default = "0")]
    #[serde(default = "zero")]
    pub shipping: String,
    #[graphql(default = "0")]
    #[serde(default = "zero")]
    pub tax: String,
    #[graphql(default = "0")]
    #[serde(default = "zero")]
    pub discount: String,
}

impl CreateOrderInput {
    pub fn parse(&self) -> R<NewOrder> {
        let currency = Currency::parse(&self.currency)?;
        let money = |s: &str| Money::parse(s, currency);
        Ok(NewOrder {
            external_ref: self
                .external_ref
                .as_deref()
                .map(ExternalRef::parse)
                .transpose()?,
            customer: Customer::new(
                &self.customer.name,
                Email::parse(&self.customer.email)?,
                self.customer.phone.as_deref(),
            )?,
            destination: self.destination.parse()?,
            currency,
            lines: self
                .lines
                .iter()
                .map(|l| {
                    Ok(NewLine {
                        sku: Sku::parse(&l.sku)?,
                        vendor: VendorId::parse(&l.vendor)?,
                        title: l.title.clone(),
                        quantity: Quantity::new(l.quantity)?,
                        unit_price: money(&l.unit_price)?,
                    })
                })
                .collect::<R<_>>()?,
            shipping: money(&self.shipping)?,
            tax: money(&self.tax)?,
            discount: money(&self.discount)?,
        })
    }
}

#[derive(InputObject, Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LineQuantityInput {
    pub sku: String,
    pub quantity: u32,
}

pub fn line_quantities(lines: &[LineQuantityInput]) -> R<Vec<LineQuantity>> {
    lines
        .iter()
        .map(|l| {
            Ok(LineQuantity::new(
                Sku::parse(&l.sku)?,
                Quantity::new(l.quantity)?,
            ))
        })
        .collect()
}

#[derive(InputObject, Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageInput {
    pub weight_grams: u32,
    pub length_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
}

#[derive(InputObject, Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PickupInput {
    pub address: AddressInput,
    /// RFC 3339.
    pub window_start: String,
    pub window_end: String,
}

#[derive(InputObject, Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateShipmentInput {
    pub lines: Vec<LineQuantityInput>,
    /// Defaults to the order's destination.
    pub destination: Option<AddressInput>,
    pub package: Option<PackageInput>,
    #[graphql(default_with = "ShippingMode::Ground")]
    #[serde(default = "ground")]
    pub mode: ShippingMode,
    pub carrier: Option<String>,
    pub pickup: Option<PickupInput>,
    pub instructions: Option<String>,
}

fn ground() -> ShippingMode {
    ShippingMode::Ground
}

impl CreateShipmentInput {
    pub fn parse(&self) -> R<NewShipment> {
        Ok(NewShipment {
            lines: line_quantities(&self.lines)?,
            destination: self
                .destination
                .as_ref()
                .map(AddressInput::parse)
                .transpose()?,
            package: self
                .package
                .as_ref()
                .map(|p| Package::new(p.weight_grams, p.length_mm, p.width_mm, p.height_mm))
                .transpose()?,
            mode: self.mode.into(),
            carrier: self
                .carrier
                .as_deref()
                .map(CarrierCode::parse)
                .transpose()?,
            pickup: self
                .pickup
                .as_ref()
                .map(|p| {
                    Pickup::new(
                        p.address.parse()?,
                        Timestamp::parse_rfc3339(&p.window_start)?,
                        Timestamp::parse_rfc3339(&p.window_end)?,
                    )
                })
                .transpose()?,
            instructions: self.instructions.clone(),
        })
    }
}

#[derive(InputObject, Clone, Debug)]
pub struct MoneyInput {
    pub amount: String,
    pub currency: String,
}

impl MoneyInput {
    pub fn parse(&self) -> R<Money> {
        Money::parse(&self.amount, Currency::parse(&self.currency)?)
    }
}

#[derive(InputObject, Clone, Debug)]
pub struct TenantConfigInput {
    /// Restocking fee in basis points (1,000 = 10 %).
    pub restocking_fee_bps: u32,
    /// The most one refund may be, per currency; a currency without a cap is uncapped.
    #[graphql(default)]
    pub max_refunds: Vec<MoneyInput>,
    pub notification_url: Option<String>,
    /// Event types to notify (docs/events.md); empty or absent: every type.
    #[graphql(default)]
    pub notification_events: Vec<String>,
}

impl TenantConfigInput {
    pub fn parse(&self) -> R<TenantConfig> {
        TenantConfig::new(
            self.restocking_fee_bps,
            self.max_refunds
                .iter()
                .map(MoneyInput::parse)
                .collect::<R<_>>()?,
            self.notification_url
                .as_deref()
                .map(NotificationUrl::parse)
                .transpose()?,
        )?
        .with_notification_events(self.notification_events.clone())
    }
}
