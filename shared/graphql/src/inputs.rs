//! GraphQL inputs. Orders and shipments convert to app's intake data, which parses them into
//! domain values (the webhook and tenant events parse the same data from JSON); the rest parse
//! here. Parse, don't validate: a bad field is a user error naming the field.

use app::intake::{
    AddressIntake, CustomerIntake, CustomsIntake, CustomsItemIntake, LabelOptionsIntake,
    LineQuantityIntake, MoneyIntake, OrderIntake, OrderLineIntake, PackageIntake, PickupIntake,
    ShipmentIntake,
};
use async_graphql::InputObject;
use domain::config::{NotificationUrl, TenantConfig};
use domain::order::{LineQuantity, NewOrder, NewShipment};
use domain::{Currency, DomainError, Money};

use crate::views::{ContentsType, LabelFormat, NonDelivery, ShippingMode, Signature, VerifyMode};

type R<T> = Result<T, DomainError>;

#[derive(InputObject, Clone, Debug)]
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

impl From<&AddressInput> for AddressIntake {
    fn from(a: &AddressInput) -> Self {
        AddressIntake {
            name: a.name.clone(),
            line1: a.line1.clone(),
            line2: a.line2.clone(),
            city: a.city.clone(),
            region: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
            phone: a.phone.clone(),
        }
    }
}

#[derive(InputObject, Clone, Debug)]
pub struct CustomerInput {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

#[derive(InputObject, Clone, Debug)]
pub struct OrderLineInput {
    pub sku: String,
    pub vendor: String,
    pub title: Option<String>,
    pub quantity: u32,
    /// Decimal string in the order's currency.
    pub unit_price: String,
}

#[derive(InputObject, Clone, Debug)]
pub struct CreateOrderInput {
    /// Your own reference; unique per tenant (idempotent intake).
    pub external_ref: Option<String>,
    /// ISO 4217.
    pub currency: String,
    pub customer: CustomerInput,
    pub destination: AddressInput,
    pub lines: Vec<OrderLineInput>,
    #[graphql(default = "0")]
    pub shipping: String,
    #[graphql(default = "0")]
    pub tax: String,
    #[graphql(default = "0")]
    pub discount: String,
}

impl From<&CreateOrderInput> for OrderIntake {
    fn from(o: &CreateOrderInput) -> Self {
        OrderIntake {
            external_ref: o.external_ref.clone(),
            currency: o.currency.clone(),
            customer: CustomerIntake {
                name: o.customer.name.clone(),
                email: o.customer.email.clone(),
                phone: o.customer.phone.clone(),
            },
            destination: (&o.destination).into(),
            lines: o
                .lines
                .iter()
                .map(|l| OrderLineIntake {
                    sku: l.sku.clone(),
                    vendor: l.vendor.clone(),
                    title: l.title.clone(),
                    quantity: l.quantity,
                    unit_price: l.unit_price.clone(),
                })
                .collect(),
            shipping: o.shipping.clone(),
            tax: o.tax.clone(),
            discount: o.discount.clone(),
        }
    }
}

impl CreateOrderInput {
    pub fn parse(&self) -> R<NewOrder> {
        OrderIntake::from(self).parse()
    }
}

#[derive(InputObject, Clone, Debug)]
pub struct LineQuantityInput {
    pub sku: String,
    pub quantity: u32,
}

impl From<&LineQuantityInput> for LineQuantityIntake {
    fn from(l: &LineQuantityInput) -> Self {
        LineQuantityIntake {
            sku: l.sku.clone(),
            quantity: l.quantity,
        }
    }
}

pub fn line_quantities(lines: &[LineQuantityInput]) -> R<Vec<LineQuantity>> {
    lines
        .iter()
        .map(|l| LineQuantityIntake::from(l).parse())
        .collect()
}

#[derive(InputObject, Clone, Debug)]
pub struct PackageInput {
    pub weight_grams: u32,
    pub length_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
    /// Your own reference of the package (a box number), kept with it.
    pub reference: Option<String>,
}

#[derive(InputObject, Clone, Debug)]
pub struct PickupInput {
    pub address: AddressInput,
    /// RFC 3339.
    pub window_start: String,
    pub window_end: String,
}

#[derive(InputObject, Clone, Debug)]
pub struct CreateShipmentInput {
    pub lines: Vec<LineQuantityInput>,
    /// Defaults to the order's destination.
    pub destination: Option<AddressInput>,
    /// One package: the same as `packages` with one.
    #[graphql(deprecation = "use packages")]
    pub package: Option<PackageInput>,
    /// The shipment's packages, in order: a label and a tracking number each.
    pub packages: Option<Vec<PackageInput>>,
    #[graphql(default_with = "ShippingMode::Ground")]
    pub mode: ShippingMode,
    pub carrier: Option<String>,
    pub pickup: Option<PickupInput>,
    pub instructions: Option<String>,
    /// Required when the shipment crosses a border (pickup and destination countries differ).
    pub customs: Option<CustomsInput>,
    pub label_options: Option<LabelOptionsInput>,
}

impl From<&PackageInput> for PackageIntake {
    fn from(p: &PackageInput) -> Self {
        PackageIntake {
            weight_grams: p.weight_grams,
            length_mm: p.length_mm,
            width_mm: p.width_mm,
            height_mm: p.height_mm,
            reference: p.reference.clone(),
        }
    }
}

impl From<&CreateShipmentInput> for ShipmentIntake {
    fn from(s: &CreateShipmentInput) -> Self {
        ShipmentIntake {
            lines: s.lines.iter().map(Into::into).collect(),
            destination: s.destination.as_ref().map(Into::into),
            package: s.package.as_ref().map(PackageIntake::from),
            packages: s
                .packages
                .as_ref()
                .map(|ps| ps.iter().map(PackageIntake::from).collect()),
            mode: s.mode.into(),
            carrier: s.carrier.clone(),
            pickup: s.pickup.as_ref().map(|p| PickupIntake {
                address: (&p.address).into(),
                window_start: p.window_start.clone(),
                window_end: p.window_end.clone(),
            }),
            instructions: s.instructions.clone(),
            customs: s.customs.as_ref().map(Into::into),
            label_options: s.label_options.as_ref().map(Into::into),
        }
    }
}

impl CreateShipmentInput {
    pub fn parse(&self) -> R<NewShipment> {
        ShipmentIntake::from(self).parse()
    }
}

/// One customs item: a line of the shipment as customs see it.
#[derive(InputObject, Clone, Debug)]
pub struct CustomsItemInput {
    /// The shipment line it declares.
    pub sku: String,
    pub description: String,
    /// The Harmonized System code (6 to 10 digits).
    pub hs_tariff_number: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub origin_country: String,
    pub quantity: u32,
    /// The value of all `quantity` units together.
    pub value: MoneyInput,
    /// The weight of all `quantity` units together.
    pub weight_grams: u32,
}

/// A customs declaration: required to rate or buy a shipment that crosses a border.
#[derive(InputObject, Clone, Debug)]
pub struct CustomsInput {
    pub contents_type: ContentsType,
    /// Required when `contentsType` is OTHER.
    pub contents_explanation: Option<String>,
    /// RETURN unless said.
    pub non_delivery: Option<NonDelivery>,
    /// The US export exemption (`NOEEI 30.37(a)`) or the AES ITN.
    pub eel_pfc: Option<String>,
    /// Who certifies the declaration.
    pub signer: String,
    pub items: Vec<CustomsItemInput>,
}

impl From<&CustomsInput> for CustomsIntake {
    fn from(c: &CustomsInput) -> Self {
        CustomsIntake {
            contents_type: c.contents_type.into(),
            contents_explanation: c.contents_explanation.clone(),
            non_delivery: c.non_delivery.map(Into::into),
            eel_pfc: c.eel_pfc.clone(),
            signer: c.signer.clone(),
            items: c
                .items
                .iter()
                .map(|i| CustomsItemIntake {
                    sku: i.sku.clone(),
                    description: i.description.clone(),
                    hs_tariff_number: i.hs_tariff_number.clone(),
                    origin_country: i.origin_country.clone(),
                    quantity: i.quantity,
                    value: (&i.value).into(),
                    weight_grams: i.weight_grams,
                })
                .collect(),
        }
    }
}

/// A label's format and size, insurance and signature; an adapter that cannot honour one
/// answers NOT_SUPPORTED without calling the carrier.
#[derive(InputObject, Clone, Debug)]
pub struct LabelOptionsInput {
    pub format: Option<LabelFormat>,
    /// `4x6`, `4x8`, … (inches).
    pub size: Option<String>,
    /// The declared value to insure each package for (the order's currency).
    pub insurance: Option<MoneyInput>,
    pub signature: Option<Signature>,
}

impl From<&LabelOptionsInput> for LabelOptionsIntake {
    fn from(o: &LabelOptionsInput) -> Self {
        LabelOptionsIntake {
            format: o.format.map(Into::into),
            size: o.size.clone(),
            insurance: o.insurance.as_ref().map(Into::into),
            signature: o.signature.map(Into::into),
        }
    }
}

impl From<&MoneyInput> for MoneyIntake {
    fn from(m: &MoneyInput) -> Self {
        MoneyIntake {
            amount: m.amount.clone(),
            currency: m.currency.clone(),
        }
    }
}

/// `createShipment(verify:)`: check the destination with a gateway account's carrier first.
#[derive(InputObject, Clone, Debug)]
pub struct VerifyInput {
    pub mode: VerifyMode,
    pub gateway: String,
    pub account: Option<String>,
}

impl VerifyInput {
    pub fn parse(&self) -> Result<app::shipping::Verify, DomainError> {
        Ok(app::shipping::Verify {
            mode: self.mode.into(),
            gateway: domain::ids::CarrierCode::parse(&self.gateway)?,
            account: self
                .account
                .as_deref()
                .map(domain::gateway::AccountRef::parse)
                .transpose()?,
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
    /// Where customers' returns ship to (return labels); absent: the pickup address of the
    /// shipment that delivered the items.
    pub return_address: Option<AddressInput>,
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
        .and_then(|c| {
            let address = self
                .return_address
                .as_ref()
                .map(|a| AddressIntake::from(a).parse())
                .transpose()?;
            Ok(c.with_return_address(address))
        })
    }
}
