//! The state machines of DESIGN.md §4, each written as a table: one `match` arm per row of the
//! design's table, and `None` (refused) for everything else.

use serde::{Deserialize, Serialize};

/// Defines a fieldless enum with `ALL`, `as_str` (its API spelling) and `Display`.
macro_rules! str_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal $(was $alias:literal)?),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text $(, alias = $alias)?)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text $(| $alias)? => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(
    /// Where an order is in its life.
    OrderStatus {
        Pending => "PENDING",
        Confirmed => "CONFIRMED",
        PartiallyShipped => "PARTIALLY_SHIPPED",
        Shipped => "SHIPPED",
        PartiallyDelivered => "PARTIALLY_DELIVERED",
        Delivered => "DELIVERED",
        Completed => "COMPLETED",
        Rejected => "REJECTED",
        Cancelled => "CANCELLED",
    }
);

str_enum!(
    PaymentStatus {
        Unpaid => "UNPAID",
        Paid => "PAID",
        PartiallyRefunded => "PARTIALLY_REFUNDED",
        Refunded => "REFUNDED",
    }
);

str_enum!(
    ShipmentStatus {
        Pending => "PENDING",
        Confirmed => "CONFIRMED",
        LabelPurchased => "LABEL_PURCHASED",
        InTransit => "IN_TRANSIT",
        OutForDelivery => "OUT_FOR_DELIVERY",
        Delivered => "DELIVERED",
        Failed => "FAILED",
        Returned => "RETURNED",
        Cancelled => "CANCELLED",
    }
);

str_enum!(
    ReturnStatus {
        Requested => "REQUESTED",
        Approved => "APPROVED",
        Received => "RECEIVED",
        Refunded => "REFUNDED",
        Rejected => "REJECTED",
    }
);

str_enum!(
    /// A carrier's tracking status, normalised (carrier adapters map their own vocabularies).
    TrackingStatus {
        PreTransit => "pre_transit",
        InTransit => "in_transit",
        OutForDelivery => "out_for_delivery",
        Delivered => "delivered",
        Failure => "failure",
        Returned => "returned",
    }
);

str_enum!(
    /// What a carrier intent does.
    CarrierAction {
        Purchase => "PURCHASE",
        Void => "VOID",
    }
);

str_enum!(
    /// Whether an intent's outcome can still be learnt from the carrier (`Open`; `Queued`: the
    /// carrier took it and is still making it, under its own id `CarrierIntent::carrier_ref`),
    /// or only by a person (`Unknown`: the carrier offers no lookup; never re-bought, never
    /// auto-voided).
    IntentState {
        Open => "OPEN",
        Queued => "QUEUED",
        Unknown => "UNKNOWN",
    }
);

str_enum!(
    /// Every command on an order, named as the API names it.
    Command {
        CreateOrder => "createOrder",
        AssignOrderReviewer => "assignOrderReviewer",
        ApproveOrder => "approveOrder",
        RejectOrder => "rejectOrder",
        CancelOrder => "cancelOrder",
        CancelOrderLines => "cancelOrderLines",
        MarkOrderPaid => "markOrderPaid",
        CreateShipment => "createShipment",
        ConfirmShipment => "confirmShipment",
        PurchaseLabel => "buyShippingLabel" was "purchaseLabel",
        VoidLabel => "voidShippingLabel",
        DispatchShipment => "dispatchShipment",
        UpdateShipmentTracking => "updateShipmentTracking",
        CancelShipment => "cancelShipment",
        MarkShipmentDelivered => "markShipmentDelivered",
        RequestReturn => "requestReturn",
        ApproveReturn => "approveReturn",
        RejectReturn => "rejectReturn",
        ReceiveReturn => "receiveReturn",
        RefundReturn => "refundReturn",
        BuyReturnLabel => "buyReturnLabel",
        VoidReturnLabel => "voidReturnLabel",
        UpdateReturnTracking => "updateReturnTracking",
        RefundOrder => "refundOrder",
        CompleteOrder => "completeOrder",
    }
);

impl OrderStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Completed | OrderStatus::Rejected | OrderStatus::Cancelled
        )
    }

    /// The statuses the shipment roll-up governs.
    pub fn is_rolled_up(self) -> bool {
        matches!(
            self,
            OrderStatus::Confirmed
                | OrderStatus::PartiallyShipped
                | OrderStatus::Shipped
                | OrderStatus::PartiallyDelivered
                | OrderStatus::Delivered
        )
    }
}

impl ShipmentStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ShipmentStatus::Delivered
                | ShipmentStatus::Failed
                | ShipmentStatus::Returned
                | ShipmentStatus::Cancelled
        )
    }

    /// Counts towards a line's *dispatched* quantity.
    pub fn is_dispatched(self) -> bool {
        matches!(
            self,
            ShipmentStatus::InTransit | ShipmentStatus::OutForDelivery | ShipmentStatus::Delivered
        )
    }

    /// Holds (allocates) its quantities against the lines' due quantities.
    pub fn holds_allocation(self) -> bool {
        !matches!(
            self,
            ShipmentStatus::Cancelled | ShipmentStatus::Failed | ShipmentStatus::Returned
        )
    }
}

impl ReturnStatus {
    /// Open until refunded or rejected.
    pub fn is_open(self) -> bool {
        !matches!(self, ReturnStatus::Refunded | ReturnStatus::Rejected)
    }

    /// Counts against the delivered quantity.
    pub fn holds_quantity(self) -> bool {
        self != ReturnStatus::Rejected
    }
}

/// Command × order status (DESIGN.md §4): may `command` run while the order is `status`?
pub fn command_allowed(command: Command, status: OrderStatus) -> bool {
    use Command as C;
    use OrderStatus as S;
    match command {
        C::CreateOrder => false,
        C::AssignOrderReviewer | C::ApproveOrder | C::RejectOrder => status == S::Pending,
        C::CancelOrder => matches!(status, S::Pending | S::Confirmed),
        C::CancelOrderLines => matches!(
            status,
            S::Pending | S::Confirmed | S::PartiallyShipped | S::PartiallyDelivered
        ),
        C::MarkOrderPaid => !matches!(status, S::Rejected | S::Cancelled | S::Completed),
        C::CreateShipment
        | C::ConfirmShipment
        | C::PurchaseLabel
        | C::VoidLabel
        | C::DispatchShipment
        | C::UpdateShipmentTracking
        | C::CancelShipment
        | C::MarkShipmentDelivered => status.is_rolled_up(),
        // A return exists only once something was delivered, and completion needs every return
        // closed, so these are exactly the statuses a return can be open in.
        C::RequestReturn
        | C::ApproveReturn
        | C::RejectReturn
        | C::ReceiveReturn
        | C::RefundReturn
        | C::BuyReturnLabel
        | C::VoidReturnLabel
        | C::UpdateReturnTracking => {
            matches!(status, S::PartiallyDelivered | S::Delivered)
        }
        C::RefundOrder => status != S::Rejected,
        C::CompleteOrder => status == S::Delivered,
    }
}

/// An explicit move of the order status (the roll-up moves are computed, see `roll_up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderMove {
    Approve,
    Reject,
    Cancel,
    Complete,
}

pub fn order_transition(from: OrderStatus, mv: OrderMove) -> Option<OrderStatus> {
    use OrderMove as M;
    use OrderStatus as S;
    match (from, mv) {
        (S::Pending, M::Approve) => Some(S::Confirmed),
        (S::Pending, M::Reject) => Some(S::Rejected),
        (S::Pending | S::Confirmed, M::Cancel) => Some(S::Cancelled),
        (S::Delivered, M::Complete) => Some(S::Completed),
        _ => None,
    }
}

/// A move of the payment status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMove {
    MarkPaid,
    /// A refund that leaves something paid and unrefunded.
    RefundPart,
    /// A refund that brings the refunded total to the paid amount.
    RefundRest,
}

pub fn payment_transition(from: PaymentStatus, mv: PaymentMove) -> Option<PaymentStatus> {
    use PaymentMove as M;
    use PaymentStatus as P;
    match (from, mv) {
        (P::Unpaid, M::MarkPaid) => Some(P::Paid),
        (P::Paid | P::PartiallyRefunded, M::RefundPart) => Some(P::PartiallyRefunded),
        (P::Paid | P::PartiallyRefunded, M::RefundRest) => Some(P::Refunded),
        _ => None,
    }
}

/// A move of a shipment: a user's command or a carrier's tracking status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipmentMove {
    Confirm,
    PurchaseLabel,
    /// `dispatchShipment`, or tracking `in_transit`.
    InTransit,
    OutForDelivery,
    /// `markShipmentDelivered`, or tracking `delivered`.
    Delivered,
    Failure,
    Returned,
    Cancel,
}

impl ShipmentMove {
    /// The move a tracking status asks for (`pre_transit` asks for none).
    /// The move that takes a bought shipment to `status` (a roll-up of its packages').
    pub fn to_status(status: ShipmentStatus) -> Option<ShipmentMove> {
        match status {
            ShipmentStatus::InTransit => Some(ShipmentMove::InTransit),
            ShipmentStatus::OutForDelivery => Some(ShipmentMove::OutForDelivery),
            ShipmentStatus::Delivered => Some(ShipmentMove::Delivered),
            ShipmentStatus::Failed => Some(ShipmentMove::Failure),
            ShipmentStatus::Returned => Some(ShipmentMove::Returned),
            _ => None,
        }
    }

    pub fn from_tracking(status: TrackingStatus) -> Option<ShipmentMove> {
        match status {
            TrackingStatus::PreTransit => None,
            TrackingStatus::InTransit => Some(ShipmentMove::InTransit),
            TrackingStatus::OutForDelivery => Some(ShipmentMove::OutForDelivery),
            TrackingStatus::Delivered => Some(ShipmentMove::Delivered),
            TrackingStatus::Failure => Some(ShipmentMove::Failure),
            TrackingStatus::Returned => Some(ShipmentMove::Returned),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentMove::Confirm => "CONFIRMED",
            ShipmentMove::PurchaseLabel => "LABEL_PURCHASED",
            ShipmentMove::InTransit => "IN_TRANSIT",
            ShipmentMove::OutForDelivery => "OUT_FOR_DELIVERY",
            ShipmentMove::Delivered => "DELIVERED",
            ShipmentMove::Failure => "FAILED",
            ShipmentMove::Returned => "RETURNED",
            ShipmentMove::Cancel => "CANCELLED",
        }
    }
}

pub fn shipment_transition(from: ShipmentStatus, mv: ShipmentMove) -> Option<ShipmentStatus> {
    use ShipmentMove as M;
    use ShipmentStatus as S;
    match (from, mv) {
        (S::Pending, M::Confirm) => Some(S::Confirmed),
        (S::Confirmed, M::PurchaseLabel) => Some(S::LabelPurchased),
        (S::Confirmed | S::LabelPurchased, M::InTransit) => Some(S::InTransit),
        (S::Confirmed | S::LabelPurchased | S::InTransit, M::OutForDelivery) => {
            Some(S::OutForDelivery)
        }
        (S::Confirmed | S::LabelPurchased | S::InTransit | S::OutForDelivery, M::Delivered) => {
            Some(S::Delivered)
        }
        (S::LabelPurchased | S::InTransit | S::OutForDelivery, M::Failure) => Some(S::Failed),
        (S::LabelPurchased | S::InTransit | S::OutForDelivery, M::Returned) => Some(S::Returned),
        (S::Pending | S::Confirmed | S::LabelPurchased, M::Cancel) => Some(S::Cancelled),
        _ => None,
    }
}

str_enum!(
    /// Where one package of a shipment is, once its label is bought (issue 28: a shipment of
    /// several packages, each with its own label and tracking number).
    PackageStatus {
        LabelPurchased => "LABEL_PURCHASED",
        InTransit => "IN_TRANSIT",
        OutForDelivery => "OUT_FOR_DELIVERY",
        Delivered => "DELIVERED",
        Failed => "FAILED",
        Returned => "RETURNED",
    }
);

impl PackageStatus {
    /// A bought shipment's status as its one package's (`None` before the label, or cancelled).
    pub fn of_shipment(status: ShipmentStatus) -> Option<Self> {
        use ShipmentStatus as S;
        match status {
            S::LabelPurchased => Some(PackageStatus::LabelPurchased),
            S::InTransit => Some(PackageStatus::InTransit),
            S::OutForDelivery => Some(PackageStatus::OutForDelivery),
            S::Delivered => Some(PackageStatus::Delivered),
            S::Failed => Some(PackageStatus::Failed),
            S::Returned => Some(PackageStatus::Returned),
            S::Pending | S::Confirmed | S::Cancelled => None,
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PackageStatus::Delivered | PackageStatus::Failed | PackageStatus::Returned
        )
    }

    /// The tracking status that brings a package here (LABEL_PURCHASED: none moves back to it,
    /// `PreTransit` is ignored).
    pub fn tracking(self) -> TrackingStatus {
        match self {
            PackageStatus::LabelPurchased => TrackingStatus::PreTransit,
            PackageStatus::InTransit => TrackingStatus::InTransit,
            PackageStatus::OutForDelivery => TrackingStatus::OutForDelivery,
            PackageStatus::Delivered => TrackingStatus::Delivered,
            PackageStatus::Failed => TrackingStatus::Failure,
            PackageStatus::Returned => TrackingStatus::Returned,
        }
    }
}

/// A package's move on a carrier's tracking status: the same table as a shipment's (never
/// backwards; a terminal package stays where it is).
pub fn package_transition(from: PackageStatus, status: TrackingStatus) -> Option<PackageStatus> {
    use PackageStatus as P;
    use TrackingStatus as T;
    match (from, status) {
        (P::LabelPurchased, T::InTransit) => Some(P::InTransit),
        (P::LabelPurchased | P::InTransit, T::OutForDelivery) => Some(P::OutForDelivery),
        (P::LabelPurchased | P::InTransit | P::OutForDelivery, T::Delivered) => Some(P::Delivered),
        (P::LabelPurchased | P::InTransit | P::OutForDelivery, T::Failure) => Some(P::Failed),
        (P::LabelPurchased | P::InTransit | P::OutForDelivery, T::Returned) => Some(P::Returned),
        _ => None,
    }
}

/// A shipment's status from its packages' (a shipment whose labels are bought):
///
/// - every package DELIVERED: DELIVERED — and only then;
/// - some package still on its way: OUT_FOR_DELIVERY when every package still on its way is out
///   for delivery, else IN_TRANSIT once any package has moved (scanned, or reached an end), else
///   LABEL_PURCHASED;
/// - every package at an end but not all delivered (the mixed terminal states): FAILED when any
///   package FAILED (a lost parcel needs a person: a claim, a reshipment), else RETURNED (some
///   came back to the shipper; what was delivered stays delivered on its package).
///
/// Packages only move forward, and so does this roll-up: a later state of the packages never
/// rolls the shipment back (the property test in `tests/domain/packages.rs`).
pub fn shipment_of_packages(packages: &[PackageStatus]) -> Option<ShipmentStatus> {
    use PackageStatus as P;
    if packages.is_empty() {
        return None;
    }
    let on_the_way: Vec<PackageStatus> = packages
        .iter()
        .copied()
        .filter(|p| !p.is_terminal())
        .collect();
    if on_the_way.is_empty() {
        return Some(if packages.iter().all(|p| *p == P::Delivered) {
            ShipmentStatus::Delivered
        } else if packages.contains(&P::Failed) {
            ShipmentStatus::Failed
        } else {
            ShipmentStatus::Returned
        });
    }
    let moved = packages.iter().any(|p| *p != P::LabelPurchased);
    Some(if on_the_way.iter().all(|p| *p == P::OutForDelivery) {
        ShipmentStatus::OutForDelivery
    } else if moved {
        ShipmentStatus::InTransit
    } else {
        ShipmentStatus::LabelPurchased
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnMove {
    Approve,
    Reject,
    Receive,
    Refund,
}

impl ReturnMove {
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnMove::Approve => "APPROVED",
            ReturnMove::Reject => "REJECTED",
            ReturnMove::Receive => "RECEIVED",
            ReturnMove::Refund => "REFUNDED",
        }
    }
}

pub fn return_transition(from: ReturnStatus, mv: ReturnMove) -> Option<ReturnStatus> {
    use ReturnMove as M;
    use ReturnStatus as R;
    match (from, mv) {
        (R::Requested, M::Approve) => Some(R::Approved),
        (R::Requested, M::Reject) => Some(R::Rejected),
        (R::Approved, M::Receive) => Some(R::Received),
        (R::Received, M::Refund) => Some(R::Refunded),
        _ => None,
    }
}

/// How an intent was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntentOutcome {
    /// The carrier did it; the outcome is on the shipment.
    Completed,
    /// The carrier refused it (nothing was bought or voided).
    Refused,
    /// The carrier never did it and no call can still be in flight.
    Abandoned,
    /// The carrier cannot tell (it offers no lookup): the intent stays, `UNKNOWN`, for a person.
    Unknown,
    /// The carrier took it and is still making it: the intent stays, `QUEUED`, and is looked
    /// up by the carrier's id of it until the carrier finishes (never made again meanwhile).
    Queued,
}
