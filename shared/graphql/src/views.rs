//! What the API shows: GraphQL objects built from domain objects, with the vendor view of
//! DESIGN.md §5 applied (a vendor sees its own lines only; totals over other vendors' lines are
//! hidden; customer name and destination stay visible).

use async_graphql::{Enum, ID, SimpleObject};
use auth::Identity;
use domain::Money;
use domain::access::Operation;
use domain::audit::{AuditOutcome, AuditRecord};
use domain::config::TenantConfig;
use domain::contact::Address;
use domain::order::{Order, OrderLine, Return, Shipment};

macro_rules! mirror_enum {
    ($(#[$m:meta])* $name:ident = $domain:path { $($v:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
        pub enum $name { $($v),+ }

        impl From<$domain> for $name {
            fn from(d: $domain) -> Self {
                match d { $(<$domain>::$v => $name::$v),+ }
            }
        }

        impl From<$name> for $domain {
            fn from(g: $name) -> Self {
                match g { $($name::$v => <$domain>::$v),+ }
            }
        }
    };
}

mirror_enum!(
    OrderStatus = domain::order::OrderStatus {
        Pending,
        Confirmed,
        PartiallyShipped,
        Shipped,
        PartiallyDelivered,
        Delivered,
        Completed,
        Rejected,
        Cancelled
    }
);
mirror_enum!(
    PaymentStatus = domain::order::PaymentStatus {
        Unpaid,
        Paid,
        PartiallyRefunded,
        Refunded
    }
);
mirror_enum!(
    ShipmentStatus = domain::order::ShipmentStatus {
        Pending,
        Confirmed,
        LabelPurchased,
        InTransit,
        OutForDelivery,
        Delivered,
        Failed,
        Returned,
        Cancelled
    }
);
mirror_enum!(
    PackageStatus = domain::order::PackageStatus {
        LabelPurchased,
        InTransit,
        OutForDelivery,
        Delivered,
        Failed,
        Returned
    }
);
mirror_enum!(
    ReturnStatus = domain::order::ReturnStatus {
        Requested,
        Approved,
        Received,
        Refunded,
        Rejected
    }
);
mirror_enum!(
    TrackingStatus = domain::order::TrackingStatus {
        PreTransit,
        InTransit,
        OutForDelivery,
        Delivered,
        Failure,
        Returned
    }
);
mirror_enum!(
    ShippingMode = domain::order::ShippingMode {
        Ground,
        Express,
        Overnight,
        Freight,
        Pickup
    }
);

mirror_enum!(
    /// What a parcel holds, as customs forms ask.
    ContentsType = domain::order::ContentsType {
        Merchandise,
        Gift,
        Documents,
        ReturnedGoods,
        Sample,
        Other
    }
);
mirror_enum!(
    /// What the carrier does with a parcel it cannot deliver.
    NonDelivery = domain::order::NonDelivery { Return, Abandon }
);
/// A label document's format (ZPL and EPL2 for thermal printers).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum LabelFormat {
    Pdf,
    Png,
    Zpl,
    #[graphql(name = "EPL2")]
    Epl2,
}

impl From<domain::order::LabelFormat> for LabelFormat {
    fn from(d: domain::order::LabelFormat) -> Self {
        use domain::order::LabelFormat as D;
        match d {
            D::Pdf => LabelFormat::Pdf,
            D::Png => LabelFormat::Png,
            D::Zpl => LabelFormat::Zpl,
            D::Epl2 => LabelFormat::Epl2,
        }
    }
}

impl From<LabelFormat> for domain::order::LabelFormat {
    fn from(g: LabelFormat) -> Self {
        use domain::order::LabelFormat as D;
        match g {
            LabelFormat::Pdf => D::Pdf,
            LabelFormat::Png => D::Png,
            LabelFormat::Zpl => D::Zpl,
            LabelFormat::Epl2 => D::Epl2,
        }
    }
}
mirror_enum!(
    /// A signature the carrier collects at delivery (ADULT: 21 or older).
    Signature = domain::order::Signature { Standard, Adult }
);
mirror_enum!(
    /// How `createShipment` checks its destination with a carrier first.
    VerifyMode = app::shipping::VerifyMode { None, Warn, Strict }
);

/// An amount: a decimal string in the currency's minor-unit precision.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Money")]
pub struct MoneyV {
    pub amount: String,
    pub currency: String,
}

impl From<Money> for MoneyV {
    fn from(m: Money) -> Self {
        MoneyV {
            amount: m.to_decimal_string(),
            currency: m.currency().code().to_owned(),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Address")]
pub struct AddressV {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
    pub phone: Option<String>,
}

impl From<&Address> for AddressV {
    fn from(a: &Address) -> Self {
        AddressV {
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

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Customer")]
pub struct CustomerV {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "OrderLine")]
pub struct OrderLineV {
    pub sku: String,
    pub vendor: String,
    pub title: Option<String>,
    pub quantity: u32,
    pub cancelled: u32,
    /// Ordered minus cancelled.
    pub due: u32,
    pub allocated: u32,
    pub dispatched: u32,
    pub delivered: u32,
    pub returned: u32,
    pub unit_price: MoneyV,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "LineQuantity")]
pub struct LineQuantityV {
    pub sku: String,
    pub quantity: u32,
}

impl From<&domain::order::LineQuantity> for LineQuantityV {
    fn from(l: &domain::order::LineQuantity) -> Self {
        LineQuantityV {
            sku: l.sku.to_string(),
            quantity: l.quantity.get(),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Package")]
pub struct PackageV {
    pub weight_grams: u32,
    pub length_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Pickup")]
pub struct PickupV {
    pub address: AddressV,
    pub window_start: String,
    pub window_end: String,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Label")]
pub struct LabelV {
    pub url: String,
    pub format: String,
}

/// One package of a shipment: its size, your reference, and once bought its own label,
/// tracking number and status (which the carrier's updates for its number move).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "ShipmentPackage")]
pub struct ShipmentPackageV {
    pub weight_grams: u32,
    pub length_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
    pub reference: Option<String>,
    pub tracking_number: Option<String>,
    pub label: Option<LabelV>,
    pub status: Option<PackageStatus>,
    pub carrier_status: Option<String>,
}

/// What a carrier's address check said.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "AddressValidation")]
pub struct AddressValidationV {
    /// The carrier can deliver there (as corrected).
    pub deliverable: bool,
    /// The address as the carrier corrected it.
    pub address: AddressV,
    /// Residential, business (false), or not said (null).
    pub residential: Option<bool>,
    pub messages: Vec<AddressMessageV>,
}

/// One of a carrier's remarks on an address.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "AddressMessage")]
pub struct AddressMessageV {
    pub code: String,
    /// The carrier's name of the field it is about, when it names one.
    pub field: Option<String>,
    pub message: String,
}

impl From<&app::ports::carrier::AddressCheck> for AddressValidationV {
    fn from(c: &app::ports::carrier::AddressCheck) -> Self {
        let a = &c.address;
        AddressValidationV {
            deliverable: c.deliverable,
            address: AddressV {
                name: a.name.clone(),
                line1: a.street1.clone(),
                line2: a.street2.clone(),
                city: a.city.clone(),
                region: a.state.clone(),
                postal_code: a.zip.clone(),
                country: a.country.clone(),
                phone: a.phone.clone(),
            },
            residential: c.residential,
            messages: c
                .messages
                .iter()
                .map(|m| AddressMessageV {
                    code: m.code.clone(),
                    field: m.field.clone(),
                    message: m.message.clone(),
                })
                .collect(),
        }
    }
}

/// One declared customs item.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "CustomsItem")]
pub struct CustomsItemV {
    pub sku: String,
    pub description: String,
    pub hs_tariff_number: Option<String>,
    pub origin_country: String,
    pub quantity: u32,
    pub value: MoneyV,
    pub weight_grams: u32,
}

/// A shipment's customs declaration.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Customs")]
pub struct CustomsV {
    pub contents_type: ContentsType,
    pub contents_explanation: Option<String>,
    pub non_delivery: NonDelivery,
    pub eel_pfc: Option<String>,
    pub signer: String,
    pub items: Vec<CustomsItemV>,
}

impl From<&domain::order::Customs> for CustomsV {
    fn from(c: &domain::order::Customs) -> Self {
        CustomsV {
            contents_type: c.contents_type.into(),
            contents_explanation: c.contents_explanation.clone(),
            non_delivery: c.non_delivery.into(),
            eel_pfc: c.eel_pfc.clone(),
            signer: c.signer.clone(),
            items: c
                .items
                .iter()
                .map(|i| CustomsItemV {
                    sku: i.sku.to_string(),
                    description: i.description.clone(),
                    hs_tariff_number: i.hs_tariff_number.clone(),
                    origin_country: i.origin_country.clone(),
                    quantity: i.quantity,
                    value: i.value.into(),
                    weight_grams: i.weight_grams,
                })
                .collect(),
        }
    }
}

/// A shipment's label options (none: the carrier's defaults).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "LabelOptions")]
pub struct LabelOptionsV {
    pub format: Option<LabelFormat>,
    pub size: Option<String>,
    pub insurance: Option<MoneyV>,
    pub signature: Option<Signature>,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Shipment")]
pub struct ShipmentV {
    pub id: ID,
    pub status: ShipmentStatus,
    pub lines: Vec<LineQuantityV>,
    pub destination: AddressV,
    /// The first package's size.
    #[graphql(deprecation = "use packages")]
    pub package: Option<PackageV>,
    pub packages: Vec<ShipmentPackageV>,
    pub mode: ShippingMode,
    pub carrier: Option<String>,
    pub pickup: Option<PickupV>,
    pub instructions: Option<String>,
    /// The first package's tracking number (a multi-piece shipment's master).
    #[graphql(deprecation = "use packages { trackingNumber }")]
    pub tracking_number: Option<String>,
    /// The first package's label.
    #[graphql(deprecation = "use packages { label }")]
    pub label: Option<LabelV>,
    pub carrier_reference: Option<String>,
    /// The carrier's own status behind the last move a tracking update made, as it sent it.
    pub carrier_status: Option<String>,
    /// Its customs declaration (a shipment that crosses a border).
    pub customs: Option<CustomsV>,
    pub label_options: LabelOptionsV,
    /// What the carrier's address check said of the destination (`verify: WARN`).
    pub address_messages: Vec<String>,
    /// The customs form or commercial invoice the carrier made with the label.
    pub customs_form_url: Option<String>,
    /// The insurance charge, where the carrier itemises it (EasyPost); null otherwise.
    pub insurance_charge: Option<MoneyV>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Shipment> for ShipmentV {
    fn from(s: &Shipment) -> Self {
        ShipmentV {
            id: s.id.to_string().into(),
            status: s.status.into(),
            lines: s.lines.iter().map(LineQuantityV::from).collect(),
            destination: (&s.destination).into(),
            package: s.packages.first().map(|p| PackageV {
                weight_grams: p.package.weight_grams,
                length_mm: p.package.length_mm,
                width_mm: p.package.width_mm,
                height_mm: p.package.height_mm,
            }),
            packages: s
                .packages
                .iter()
                .map(|p| ShipmentPackageV {
                    weight_grams: p.package.weight_grams,
                    length_mm: p.package.length_mm,
                    width_mm: p.package.width_mm,
                    height_mm: p.package.height_mm,
                    reference: p.reference.clone(),
                    tracking_number: p.tracking_number.as_ref().map(ToString::to_string),
                    label: p.label.as_ref().map(|l| LabelV {
                        url: l.url.clone(),
                        format: l.format.clone(),
                    }),
                    status: p.status.map(Into::into),
                    carrier_status: p.carrier_status.clone(),
                })
                .collect(),
            mode: s.mode.into(),
            carrier: s.carrier.as_ref().map(ToString::to_string),
            pickup: s.pickup.as_ref().map(|p| PickupV {
                address: (&p.address).into(),
                window_start: p.window_start.to_rfc3339(),
                window_end: p.window_end.to_rfc3339(),
            }),
            instructions: s.instructions.clone(),
            tracking_number: s.tracking_number.as_ref().map(ToString::to_string),
            label: s.label.as_ref().map(|l| LabelV {
                url: l.url.clone(),
                format: l.format.clone(),
            }),
            carrier_reference: s.carrier_reference.clone(),
            carrier_status: s.carrier_status.clone(),
            customs: s.customs.as_ref().map(CustomsV::from),
            label_options: LabelOptionsV {
                format: s.label_options.format.map(Into::into),
                size: s.label_options.size.clone(),
                insurance: s.label_options.insurance.map(Into::into),
                signature: s.label_options.signature.map(Into::into),
            },
            address_messages: s.address_messages.clone(),
            customs_form_url: s.customs_form_url.clone(),
            insurance_charge: s.insurance_charge.map(Into::into),
            created_at: s.created_at.to_rfc3339(),
            updated_at: s.updated_at.to_rfc3339(),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Return")]
pub struct ReturnV {
    pub id: ID,
    pub status: ReturnStatus,
    pub lines: Vec<LineQuantityV>,
    pub reason: String,
    pub refund_id: Option<ID>,
    /// The return's own label (`buyReturnLabel`): the customer ships the parcel back with it,
    /// and the carrier's delivery update for its number receives the return.
    pub label: Option<ReturnLabelV>,
    pub requested_at: String,
    pub updated_at: String,
}

/// A return's label: the package it ships in, its carrier, tracking number and document.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "ReturnLabel")]
pub struct ReturnLabelV {
    pub package: PackageV,
    pub carrier: String,
    pub tracking_number: String,
    pub label: LabelV,
    pub carrier_reference: String,
}

impl From<&Return> for ReturnV {
    fn from(r: &Return) -> Self {
        ReturnV {
            id: r.id.to_string().into(),
            status: r.status.into(),
            lines: r.lines.iter().map(LineQuantityV::from).collect(),
            reason: r.reason.clone(),
            refund_id: r.refund_id.map(|i| i.to_string().into()),
            label: r.label.as_ref().map(|l| ReturnLabelV {
                package: PackageV {
                    weight_grams: l.package.weight_grams,
                    length_mm: l.package.length_mm,
                    width_mm: l.package.width_mm,
                    height_mm: l.package.height_mm,
                },
                carrier: l.carrier.to_string(),
                tracking_number: l.tracking_number.to_string(),
                label: LabelV {
                    url: l.label.url.clone(),
                    format: l.label.format.clone(),
                },
                carrier_reference: l.carrier_reference.clone(),
            }),
            requested_at: r.requested_at.to_rfc3339(),
            updated_at: r.updated_at.to_rfc3339(),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Refund")]
pub struct RefundV {
    pub id: ID,
    pub amount: MoneyV,
    pub reason: String,
    pub return_id: Option<ID>,
    pub gross: Option<MoneyV>,
    pub fee: Option<MoneyV>,
    /// The tenant config version the refund was computed with.
    pub config_version: u32,
    pub at: String,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Payment")]
pub struct PaymentV {
    pub status: PaymentStatus,
    /// Hidden (null) from a vendor when the order has other vendors' lines.
    pub paid: Option<MoneyV>,
    pub refunded: Option<MoneyV>,
    pub reference: Option<String>,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Review")]
pub struct ReviewV {
    pub reviewer: String,
    pub comments: Option<String>,
    pub assigned_by: String,
    pub assigned_at: String,
}

/// An order as the caller may see it.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Order")]
pub struct OrderV {
    pub id: ID,
    pub external_ref: Option<String>,
    pub status: OrderStatus,
    /// Rises by one with every change; pass it as `expectedVersion` to refuse stale writes.
    pub version: u64,
    pub customer: CustomerV,
    pub destination: AddressV,
    pub currency: String,
    pub lines: Vec<OrderLineV>,
    pub shipping: Option<MoneyV>,
    pub tax: Option<MoneyV>,
    pub discount: Option<MoneyV>,
    /// Lines + shipping + tax − discount; null for a vendor when other vendors have lines.
    pub total: Option<MoneyV>,
    pub payment: PaymentV,
    pub review: Option<ReviewV>,
    pub shipments: Vec<ShipmentV>,
    pub returns: Vec<ReturnV>,
    pub refunds: Vec<RefundV>,
    pub created_at: String,
    pub updated_at: String,
}

fn line_view(o: &Order, l: &OrderLine) -> OrderLineV {
    OrderLineV {
        sku: l.sku.to_string(),
        vendor: l.vendor.to_string(),
        title: l.title.clone(),
        quantity: l.quantity.get(),
        cancelled: l.cancelled,
        due: l.due(),
        allocated: o.allocated(&l.sku),
        dispatched: o.dispatched(&l.sku),
        delivered: o.delivered(&l.sku),
        returned: o.returned(&l.sku),
        unit_price: l.unit_price.into(),
    }
}

impl OrderV {
    /// The order as `viewer` may see it.
    pub fn new(o: &Order, viewer: Option<&Identity>) -> Self {
        let mine = |sku: &domain::ids::Sku| {
            viewer.is_none_or(|i| {
                o.line(sku)
                    .is_some_and(|l| i.owns_line(Operation::ReadOrder, l))
            })
        };
        let whole = o.lines().iter().all(|l| mine(&l.sku));
        let shown = |m: Money| whole.then(|| m.into());
        OrderV {
            id: o.id().to_string().into(),
            external_ref: o.external_ref().map(ToString::to_string),
            status: o.status().into(),
            version: o.version(),
            customer: CustomerV {
                name: o.customer().name.clone(),
                email: o.customer().email.to_string(),
                phone: o.customer().phone.clone(),
            },
            destination: o.destination().into(),
            currency: o.currency().code().to_owned(),
            lines: o
                .lines()
                .iter()
                .filter(|l| mine(&l.sku))
                .map(|l| line_view(o, l))
                .collect(),
            shipping: shown(o.shipping()),
            tax: shown(o.tax()),
            discount: shown(o.discount()),
            total: shown(o.total()),
            payment: PaymentV {
                status: o.payment().status.into(),
                paid: shown(o.payment().paid),
                refunded: shown(o.payment().refunded),
                reference: whole.then(|| o.payment().reference.clone()).flatten(),
            },
            review: o.review().map(|r| ReviewV {
                reviewer: r.reviewer.to_string(),
                comments: r.comments.clone(),
                assigned_by: r.assigned_by.to_string(),
                assigned_at: r.assigned_at.to_rfc3339(),
            }),
            shipments: o
                .shipments()
                .iter()
                .filter(|s| s.lines.iter().all(|l| mine(&l.sku)))
                .map(ShipmentV::from)
                .collect(),
            returns: o
                .returns()
                .iter()
                .filter(|r| r.lines.iter().all(|l| mine(&l.sku)))
                .map(ReturnV::from)
                .collect(),
            refunds: if whole {
                o.refunds()
                    .iter()
                    .map(|r| RefundV {
                        id: r.id.to_string().into(),
                        amount: r.amount.into(),
                        reason: r.reason.clone(),
                        return_id: r.return_id.map(|i| i.to_string().into()),
                        gross: r.gross.map(Into::into),
                        fee: r.fee.map(Into::into),
                        config_version: r.config_version,
                        at: r.at.to_rfc3339(),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            created_at: o.created_at().to_rfc3339(),
            updated_at: o.updated_at().to_rfc3339(),
        }
    }
}

/// A row of a listing (the indexes' summary).
#[derive(SimpleObject, Clone, Debug)]
pub struct OrderSummary {
    pub id: ID,
    pub status: OrderStatus,
    pub created_at: String,
    /// Set in the `updatedAfter` listing (the change index); null in the others, whose indexes
    /// do not carry it so that commands changing no listed field do not rewrite them.
    pub updated_at: Option<String>,
    /// Null in a vendor's listing.
    pub total: Option<MoneyV>,
    pub customer_name: Option<String>,
    pub external_ref: Option<String>,
    /// Always null: listings do not carry the version (read the order for it). Kept so that
    /// existing queries keep validating.
    #[graphql(deprecation = "listings do not carry the version; read order(id) for it")]
    pub version: Option<u64>,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "AuditRecord")]
pub struct AuditRecordV {
    pub id: ID,
    pub actor: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: ID,
    pub at: String,
    pub request_id: ID,
    /// SUCCESS, DENIED or FAILED.
    pub outcome: String,
    pub reason: Option<String>,
    pub version: Option<u64>,
}

impl From<&AuditRecord> for AuditRecordV {
    fn from(a: &AuditRecord) -> Self {
        let (outcome, reason) = match &a.outcome {
            AuditOutcome::Success => ("SUCCESS".to_owned(), None),
            AuditOutcome::Denied { reason } => ("DENIED".to_owned(), Some(reason.clone())),
            AuditOutcome::Failed { reason } => ("FAILED".to_owned(), Some(reason.clone())),
        };
        AuditRecordV {
            id: a.id.to_string().into(),
            actor: a.actor.subject.to_string(),
            action: a.action.clone(),
            target_kind: a.target.kind.clone(),
            target_id: a.target.id.clone().into(),
            at: a.at.to_rfc3339(),
            request_id: a.request_id.clone().into(),
            outcome,
            reason,
            version: a.version,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "TenantConfig")]
pub struct TenantConfigV {
    pub version: u32,
    pub restocking_fee_bps: u32,
    pub max_refunds: Vec<MoneyV>,
    pub notification_url: Option<String>,
    /// The event types notified (empty: every type).
    pub notification_events: Vec<String>,
    /// Where customers' returns ship to (none: each shipment's pickup address).
    pub return_address: Option<AddressV>,
}

impl From<&TenantConfig> for TenantConfigV {
    fn from(c: &TenantConfig) -> Self {
        TenantConfigV {
            version: c.version(),
            restocking_fee_bps: c.restocking_fee_bps(),
            max_refunds: c.max_refunds().iter().copied().map(Into::into).collect(),
            notification_url: c.notification_url().map(|u| u.as_str().to_owned()),
            notification_events: c.notification_events().to_vec(),
            return_address: c.return_address().map(Into::into),
        }
    }
}

/// A business-rule refusal, Shopify style.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    pub code: String,
    pub field: Option<Vec<String>>,
    pub message: String,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Viewer {
    pub tenant: String,
    pub subject: String,
    pub roles: Vec<String>,
    pub vendor: Option<String>,
    /// Operations the plan and roles allow.
    pub permissions: Vec<String>,
}

/// A tenant as the platform admin sees it: its profile, never its data.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Tenant")]
pub struct TenantV {
    pub id: ID,
    pub name: String,
    pub status: TenantStatusV,
    pub plan: String,
    /// Write shards of the tenant's listings (only ever grows).
    pub shards: u32,
    /// The identity providers whose tokens the tenant's users sign in with.
    pub idps: Vec<TenantIdpV>,
    /// The AWS accounts and `source`s whose events are applied to this tenant.
    pub event_sources: Vec<EventSourceV>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "TenantStatus")]
pub enum TenantStatusV {
    Active,
    /// Every request of the tenant's users is refused.
    Suspended,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "EventSource")]
pub struct EventSourceV {
    /// The AWS account id (12 digits) that puts the events.
    pub account: String,
    /// The events' `source` (e.g. `com.acme.orders`).
    pub source: String,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "TenantIdp")]
pub struct TenantIdpV {
    pub issuer: String,
    /// A shared issuer serves several tenants; a claim in the token names the tenant.
    pub shared: bool,
    pub audiences: Vec<String>,
}

impl From<&domain::tenant::TenantProfile> for TenantV {
    fn from(p: &domain::tenant::TenantProfile) -> Self {
        TenantV {
            id: p.id.to_string().into(),
            name: p.name.clone(),
            status: match p.status {
                domain::tenant::TenantStatus::Active => TenantStatusV::Active,
                domain::tenant::TenantStatus::Suspended => TenantStatusV::Suspended,
            },
            plan: p.plan.to_string(),
            shards: p.shards,
            idps: p
                .idps
                .iter()
                .map(|i| TenantIdpV {
                    issuer: i.issuer.to_string(),
                    shared: i.shared,
                    audiences: i.audiences.clone(),
                })
                .collect(),
            event_sources: p
                .event_sources
                .iter()
                .map(|s| EventSourceV {
                    account: s.account.clone(),
                    source: s.source.clone(),
                })
                .collect(),
            created_at: p.created_at.to_rfc3339(),
            updated_at: p.updated_at.to_rfc3339(),
        }
    }
}
