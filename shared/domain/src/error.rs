//! The domain's one error enum. Every refusal the model can make is a variant here; the API maps
//! each to a stable code (`DomainError::code`) at the edge.

use crate::status::{CarrierAction, Command, OrderStatus};

/// What kind of object a transition was refused on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Entity {
    Order,
    Payment,
    Shipment,
    Return,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Entity::Order => "order",
            Entity::Payment => "payment",
            Entity::Shipment => "shipment",
            Entity::Return => "return",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Input that could not be parsed into a value object.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// A state machine refused the move (`to` is the target state or the command's name).
    #[error("{entity} cannot move from {from} to {to}")]
    InvalidTransition {
        entity: Entity,
        from: &'static str,
        to: &'static str,
    },

    /// The command × order-status table refused the command.
    #[error("{command} is not allowed while the order is {status}")]
    NotAllowedInStatus {
        command: Command,
        status: OrderStatus,
    },

    #[error("quantity exceeded for sku {sku}: requested {requested}, available {available}")]
    QuantityExceeded {
        sku: String,
        requested: u32,
        available: u32,
    },

    /// The amounts as written (`86.01 USD`): the error stays below the money module, whose
    /// parsing refuses with this enum.
    #[error("refund of {requested} exceeds what may be refunded ({available})")]
    RefundExceedsPaid {
        requested: String,
        available: String,
    },

    #[error("only the assigned reviewer {reviewer} may decide on this order")]
    NotAssignedReviewer { reviewer: String },

    #[error("limit exceeded: at most {max} {what}")]
    LimitExceeded { what: &'static str, max: usize },

    /// The ISO 4217 codes.
    #[error("currency mismatch: expected {expected}, got {found}")]
    CurrencyMismatch {
        expected: &'static str,
        found: &'static str,
    },

    #[error("amount out of range")]
    AmountOutOfRange,

    #[error("{what} {id} not found in this order")]
    NotFound { what: &'static str, id: String },

    #[error("the order has a dispatched shipment and cannot be cancelled")]
    ShipmentDispatched,

    #[error("the order has an open return")]
    OpenReturn,

    #[error("payment is {status}; completion needs PAID, PARTIALLY_REFUNDED or REFUNDED")]
    PaymentNotSettled { status: &'static str },

    #[error("the command would leave nothing due on the order; cancel the order instead")]
    NothingLeftDue,

    /// A label purchase or void is in flight for the shipment; nothing else moves it until its
    /// outcome is committed (or looked up at the carrier).
    #[error("a label {} is in progress for this shipment", action_noun(*.action))]
    CarrierCallInProgress { action: CarrierAction },

    /// The intent a carrier outcome was to be committed against is no longer on the shipment.
    #[error("the shipment's carrier call {intent} is no longer open")]
    IntentClosed { intent: String },

    /// The carrier's address check found the address undeliverable (`verify: STRICT`).
    #[error("the carrier cannot deliver to this address ({field}): {reason}")]
    AddressInvalid { field: &'static str, reason: String },

    /// A shipment that crosses a border has no customs declaration: refused before any carrier
    /// call.
    #[error(
        "the shipment crosses a border ({from} → {to}) and needs customs: contents, items with HS codes, values and origin"
    )]
    CustomsRequired { from: String, to: String },
}

fn action_noun(a: CarrierAction) -> &'static str {
    match a {
        CarrierAction::Purchase => "purchase",
        CarrierAction::Void => "void",
    }
}

impl DomainError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DomainError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// A stable, SCREAMING_CASE code for API clients (`userErrors.code`).
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Invalid { .. } => "INVALID_INPUT",
            DomainError::InvalidTransition { .. } => "INVALID_TRANSITION",
            DomainError::NotAllowedInStatus { .. } => "NOT_ALLOWED_IN_STATUS",
            DomainError::QuantityExceeded { .. } => "QUANTITY_EXCEEDED",
            DomainError::RefundExceedsPaid { .. } => "REFUND_EXCEEDS_PAID",
            DomainError::NotAssignedReviewer { .. } => "NOT_ASSIGNED_REVIEWER",
            DomainError::LimitExceeded { .. } => "LIMIT_EXCEEDED",
            DomainError::CurrencyMismatch { .. } => "CURRENCY_MISMATCH",
            DomainError::AmountOutOfRange => "AMOUNT_OUT_OF_RANGE",
            DomainError::NotFound { .. } => "NOT_FOUND",
            DomainError::ShipmentDispatched => "SHIPMENT_DISPATCHED",
            DomainError::OpenReturn => "OPEN_RETURN",
            DomainError::PaymentNotSettled { .. } => "PAYMENT_NOT_SETTLED",
            DomainError::NothingLeftDue => "NOTHING_LEFT_DUE",
            DomainError::CarrierCallInProgress {
                action: CarrierAction::Purchase,
            } => "PURCHASE_IN_PROGRESS",
            DomainError::CarrierCallInProgress {
                action: CarrierAction::Void,
            } => "VOID_IN_PROGRESS",
            DomainError::IntentClosed { .. } => "INTENT_CLOSED",
            DomainError::AddressInvalid { .. } => "ADDRESS_INVALID",
            DomainError::CustomsRequired { .. } => "CUSTOMS_REQUIRED",
        }
    }

    /// The input field the error is about, when there is one (`userErrors.field`).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DomainError::Invalid { field, .. } | DomainError::AddressInvalid { field, .. } => {
                Some(field)
            }
            DomainError::CustomsRequired { .. } => Some("customs"),
            _ => None,
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
