//! What the edges take in, as plain serde data: an order or a shipment as the signed add-order
//! webhook and tenant events carry it, and as GraphQL inputs convert to. Each parses into the
//! domain's value (parse, don't validate: a bad field is a user error naming the field), so an
//! edge parses its body before it calls a use case.

use domain::contact::{Address, Customer, Email};
use domain::ids::{CarrierCode, ExternalRef, Quantity, Sku, VendorId};
use domain::order::{
    ContentsType, Customs, CustomsItem, LabelFormat, LabelOptions, LineQuantity, NewLine, NewOrder,
    NewPackage, NewShipment, NonDelivery, Package, Pickup, ShippingMode, Signature,
};
use domain::{Currency, DomainError, Money, Timestamp};
use serde::Deserialize;

type R<T> = Result<T, DomainError>;

/// The default of a money field left out.
fn zero() -> String {
    "0".to_owned()
}

fn ground() -> ShippingMode {
    ShippingMode::Ground
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressIntake {
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

impl AddressIntake {
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

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerIntake {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderLineIntake {
    pub sku: String,
    pub vendor: String,
    pub title: Option<String>,
    pub quantity: u32,
    /// Decimal string in the order's currency.
    pub unit_price: String,
}

/// A new order.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderIntake {
    /// The tenant's own reference; unique per tenant (idempotent intake).
    pub external_ref: Option<String>,
    /// ISO 4217.
    pub currency: String,
    pub customer: CustomerIntake,
    pub destination: AddressIntake,
    pub lines: Vec<OrderLineIntake>,
    #[serde(default = "zero")]
    pub shipping: String,
    #[serde(default = "zero")]
    pub tax: String,
    #[serde(default = "zero")]
    pub discount: String,
}

impl OrderIntake {
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

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LineQuantityIntake {
    pub sku: String,
    pub quantity: u32,
}

impl LineQuantityIntake {
    pub fn parse(&self) -> R<LineQuantity> {
        Ok(LineQuantity::new(
            Sku::parse(&self.sku)?,
            Quantity::new(self.quantity)?,
        ))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageIntake {
    pub weight_grams: u32,
    pub length_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
    /// The caller's own reference of the package (a box number), kept with it.
    #[serde(default)]
    pub reference: Option<String>,
}

impl PackageIntake {
    /// The package alone (its size), without the caller's reference.
    pub fn package(&self) -> R<Package> {
        Package::new(
            self.weight_grams,
            self.length_mm,
            self.width_mm,
            self.height_mm,
        )
    }

    fn parse(&self) -> R<NewPackage> {
        Ok(NewPackage {
            package: Package::new(
                self.weight_grams,
                self.length_mm,
                self.width_mm,
                self.height_mm,
            )?,
            reference: self.reference.clone(),
        })
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PickupIntake {
    pub address: AddressIntake,
    /// RFC 3339.
    pub window_start: String,
    pub window_end: String,
}

/// A new shipment of an order.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShipmentIntake {
    pub lines: Vec<LineQuantityIntake>,
    /// Defaults to the order's destination.
    pub destination: Option<AddressIntake>,
    /// One package (kept for callers of the single-package API): the same as `packages` of one.
    pub package: Option<PackageIntake>,
    /// The shipment's packages, in order.
    pub packages: Option<Vec<PackageIntake>>,
    #[serde(default = "ground")]
    pub mode: ShippingMode,
    pub carrier: Option<String>,
    pub pickup: Option<PickupIntake>,
    pub instructions: Option<String>,
    /// Required when the shipment crosses a border.
    #[serde(default)]
    pub customs: Option<CustomsIntake>,
    #[serde(default)]
    pub label_options: Option<LabelOptionsIntake>,
}

/// An amount in a currency: `{"amount": "10.00", "currency": "USD"}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoneyIntake {
    pub amount: String,
    pub currency: String,
}

impl MoneyIntake {
    pub fn parse(&self) -> R<Money> {
        Money::parse(&self.amount, Currency::parse(&self.currency)?)
    }
}

/// One customs item: a line of the shipment as customs see it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomsItemIntake {
    pub sku: String,
    pub description: String,
    pub hs_tariff_number: Option<String>,
    pub origin_country: String,
    pub quantity: u32,
    /// All `quantity` units together.
    pub value: MoneyIntake,
    /// All `quantity` units together.
    pub weight_grams: u32,
}

/// A shipment's customs declaration.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomsIntake {
    pub contents_type: ContentsType,
    pub contents_explanation: Option<String>,
    /// RETURN unless said.
    pub non_delivery: Option<NonDelivery>,
    pub eel_pfc: Option<String>,
    pub signer: String,
    pub items: Vec<CustomsItemIntake>,
}

impl CustomsIntake {
    pub fn parse(&self) -> R<Customs> {
        let items = self
            .items
            .iter()
            .map(|i| {
                Ok(CustomsItem {
                    sku: Sku::parse(&i.sku)?,
                    description: i.description.clone(),
                    hs_tariff_number: i.hs_tariff_number.clone(),
                    origin_country: i.origin_country.clone(),
                    quantity: i.quantity,
                    value: i.value.parse()?,
                    weight_grams: i.weight_grams,
                })
            })
            .collect::<R<Vec<_>>>()?;
        Customs::new(
            self.contents_type,
            self.contents_explanation.as_deref(),
            self.non_delivery.unwrap_or(NonDelivery::Return),
            self.eel_pfc.as_deref(),
            &self.signer,
            items,
        )
    }
}

/// A shipment's label options.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelOptionsIntake {
    pub format: Option<LabelFormat>,
    pub size: Option<String>,
    pub insurance: Option<MoneyIntake>,
    pub signature: Option<Signature>,
}

impl LabelOptionsIntake {
    pub fn parse(&self) -> R<LabelOptions> {
        LabelOptions::new(
            self.format,
            self.size.as_deref(),
            self.insurance
                .as_ref()
                .map(MoneyIntake::parse)
                .transpose()?,
            self.signature,
        )
    }
}

impl ShipmentIntake {
    pub fn parse(&self) -> R<NewShipment> {
        Ok(NewShipment {
            lines: self
                .lines
                .iter()
                .map(LineQuantityIntake::parse)
                .collect::<R<_>>()?,
            destination: self
                .destination
                .as_ref()
                .map(AddressIntake::parse)
                .transpose()?,
            packages: match (&self.package, &self.packages) {
                (Some(_), Some(_)) => {
                    return Err(DomainError::Invalid {
                        field: "packages",
                        reason: "give the packages, or one package, not both".into(),
                    });
                }
                (Some(one), None) => vec![one.parse()?],
                (None, Some(many)) => many.iter().map(PackageIntake::parse).collect::<R<_>>()?,
                (None, None) => Vec::new(),
            },
            mode: self.mode,
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
            customs: self
                .customs
                .as_ref()
                .map(CustomsIntake::parse)
                .transpose()?,
            label_options: self
                .label_options
                .as_ref()
                .map(LabelOptionsIntake::parse)
                .transpose()?
                .unwrap_or_default(),
            address_messages: Vec::new(),
        })
    }
}
