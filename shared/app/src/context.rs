//! What a use case runs in: who is asking in which request, and the writes the request collects.

use std::sync::Mutex;

use crate::ports::StoredOrder;
use auth::{Caller, Identity};
use domain::access::Operation;
use domain::audit::AuditRecord;
use domain::config::TenantConfig;
use domain::events::DomainEvent;
use domain::order::Order;

use crate::error::{AppError, AppResult};

/// Who is asking, in which request.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    pub caller: Caller,
    pub request_id: String,
}

impl RequestCtx {
    /// The tenant identity; platform admins never reach tenant data.
    pub fn identity(&self, op: Operation) -> AppResult<&Identity> {
        match &self.caller {
            Caller::Tenant(id) => Ok(id),
            Caller::Platform(_) => Err(AppError::Forbidden {
                operation: op.as_str(),
            }),
        }
    }

    /// The tenant identity, if the caller is a tenant's (for views).
    pub fn tenant_identity(&self) -> Option<&Identity> {
        match &self.caller {
            Caller::Tenant(id) => Some(id),
            Caller::Platform(_) => None,
        }
    }
}

/// A command's writes, ready to commit. Orders are boxed: a pending write moves once.
#[derive(Debug, Clone)]
pub enum Pending {
    Create {
        identity: Identity,
        order: Box<Order>,
        events: Vec<DomainEvent>,
        audit: AuditRecord,
    },
    Update {
        identity: Identity,
        before: Box<StoredOrder>,
        after: Box<Order>,
        events: Vec<DomainEvent>,
        audit: AuditRecord,
        /// The shipments' claims on tracking numbers.
        tracking: Vec<crate::ports::TrackingClaim>,
        /// Where those numbers come from: what a number held by another shipment does.
        numbers: NumberSource,
        /// Shipments whose carrier intent opened (`true`) or closed (`false`).
        intents: Vec<(domain::order::CarrierTarget, bool)>,
        /// Carrier usage rows of platform accounts, in the same transaction.
        usage: Vec<domain::usage::CarrierUsage>,
    },
    Config {
        identity: Identity,
        current: Box<TenantConfig>,
        new: Box<TenantConfig>,
        audit: AuditRecord,
    },
}

/// Where a command's tracking numbers come from, which decides what a number another shipment
/// holds does to the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberSource {
    /// Typed by a user (`dispatchShipment`, `updateShipmentTracking`): the command is refused
    /// with `TRACKING_NUMBER_TAKEN` and writes nothing.
    User,
    /// A carrier's answer (a bought label, a carrier's tracking report): what happened at the
    /// carrier is recorded all the same, without the index entry another shipment holds, and the
    /// tenant audit says so.
    Carrier,
}

impl NumberSource {
    /// Where the tracking numbers of `op` come from.
    pub fn of(op: Operation) -> Self {
        match op {
            Operation::BuyLabel
            | Operation::BuyReturnLabel
            | Operation::TrackShipment
            | Operation::WebhookShipmentTracker => NumberSource::Carrier,
            _ => NumberSource::User,
        }
    }
}

/// Collects a request's writes. A keyed request (idempotency key, webhook delivery id) defers its
/// one command's commit until the response is known, so the stored response commits in the same
/// transaction.
#[derive(Debug, Default)]
pub struct UnitOfWork {
    defer: bool,
    /// The request's idempotency key, when it has one (a carrier intent remembers it, so the
    /// request's retries complete what the first attempt started).
    key: Option<String>,
    pending: Mutex<Option<Pending>>,
}

impl UnitOfWork {
    pub fn immediate() -> Self {
        Self::default()
    }

    pub fn deferred() -> Self {
        Self {
            defer: true,
            ..Self::default()
        }
    }

    /// Deferred, for the request with idempotency key `key`.
    pub fn keyed(key: &str) -> Self {
        Self {
            defer: true,
            key: Some(key.to_owned()),
            ..Self::default()
        }
    }

    /// The request's idempotency key, if it has one.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Whether the writes wait for a keyed request (one with an `Idempotency-Key`) to commit them.
    pub fn is_deferred(&self) -> bool {
        self.defer
    }

    /// Holds a command's writes for the keyed commit; one command per keyed request.
    pub(crate) fn hold(&self, pending: Pending) -> AppResult<()> {
        let mut slot = self
            .pending
            .lock()
            .map_err(|_| AppError::internal("unit of work poisoned"))?;
        if slot.is_some() {
            return Err(AppError::Invalid {
                field: "mutation".into(),
                message: "one command per idempotent request".into(),
            });
        }
        *slot = Some(pending);
        Ok(())
    }

    pub(crate) fn take_pending(&self) -> Option<Pending> {
        self.pending.lock().ok().and_then(|mut p| p.take())
    }
}
