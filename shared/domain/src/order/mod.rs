//! The order aggregate: lines, shipments, returns, refunds, payment and review, with the state
//! machines of DESIGN.md §4.

mod aggregate;
mod customs;
mod model;

pub use crate::ids::LineQuantity;
pub use crate::status::{
    CarrierAction, Command, IntentOutcome, IntentState, OrderMove, OrderStatus, PackageStatus,
    PaymentMove, PaymentStatus, ReturnMove, ReturnStatus, ShipmentMove, ShipmentStatus,
    TrackingStatus, command_allowed, order_transition, payment_transition, return_transition,
    shipment_transition,
};
pub use aggregate::{
    Bought, CarrierTarget, NewOrder, Order, PackageLabel, TrackingOutcome, TrackingUpdate, roll_up,
};
pub use customs::{
    ContentsType, Customs, CustomsItem, LabelFormat, LabelOptions, MAX_CUSTOMS_ITEMS, NonDelivery,
    Signature,
};
pub use model::{
    CarrierIntent, Label, MAX_LINES, MAX_ORDER_PACKAGES, MAX_PACKAGES, MAX_REFUNDS, MAX_RETURNS,
    MAX_SHIPMENTS, MAX_TEXT, MAX_VENDORS, NewLine, NewPackage, NewShipment, OrderLine, Package,
    Payment, Pickup, Refund, Return, ReturnLabel, Review, Shipment, ShipmentPackage, ShippingMode,
};
