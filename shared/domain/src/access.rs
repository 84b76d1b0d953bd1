//! Who may do what: the operations of the API, our roles, and the one role table of DESIGN.md §5.
//! A caller may do what both the tenant's plan and one of its roles allow.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};
use crate::ids::PlanName;

/// Defines the `Operation` enum with its API names and kinds.
macro_rules! operations {
    ($($variant:ident => $name:literal $(was $alias:literal)? : $kind:ident),+ $(,)?) => {
        /// Every operation of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Operation {
            $(#[serde(rename = $name $(, alias = $alias)?)] $variant),+
        }

        impl Operation {
            pub const ALL: &'static [Operation] = &[$(Operation::$variant),+];

            /// The API's name for it (`createOrder`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Operation::$variant => $name),+
                }
            }

            pub fn kind(self) -> OperationKind {
                match self {
                    $(Operation::$variant => OperationKind::$kind),+
                }
            }

            pub fn parse(s: &str) -> DomainResult<Self> {
                match s {
                    $($name $(| $alias)? => Ok(Operation::$variant),)+
                    _ => Err(DomainError::invalid("operation", format!("unknown operation {s:?}"))),
                }
            }
        }
    };
}

/// What an operation touches, which decides the roles that may run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// Reads tenant data.
    Read,
    /// Reads the tenant's own settings and audit.
    AdminRead,
    /// Changes orders.
    Order,
    /// Changes shipments (vendors may, on their own lines).
    Shipment,
    /// Changes returns and refunds.
    Return,
    /// Tenant settings and carrier credentials.
    TenantAdmin,
    /// The SaaS provider's own operations; never tenant data.
    Platform,
}

operations! {
    Viewer => "viewer": Read,
    ReadOrder => "order": Read,
    ReadOrderByExternalRef => "orderByExternalRef": Read,
    ListOrders => "orders": Read,
    ReadOrderAuditLog => "orderAuditLog": Read,
    ReadTenantConfig => "tenantConfig": Read,
    ReadAuditLog => "auditLog": AdminRead,
    ListCarrierCredentials => "carrierCredentials": AdminRead,
    ListApiKeys => "apiKeys": AdminRead,
    ReadCarrierUsage => "carrierUsage": AdminRead,
    CreateOrder => "createOrder": Order,
    AssignOrderReviewer => "assignOrderReviewer": Order,
    ApproveOrder => "approveOrder": Order,
    RejectOrder => "rejectOrder": Order,
    CancelOrder => "cancelOrder": Order,
    CancelOrderLines => "cancelOrderLines": Order,
    MarkOrderPaid => "markOrderPaid": Order,
    CompleteOrder => "completeOrder": Order,
    CreateShipment => "createShipment": Shipment,
    ConfirmShipment => "confirmShipment": Shipment,
    DispatchShipment => "dispatchShipment": Shipment,
    UpdateShipmentTracking => "updateShipmentTracking": Shipment,
    CancelShipment => "cancelShipment": Shipment,
    MarkShipmentDelivered => "markShipmentDelivered": Order,
    GetRates => "shippingRates" was "getRates": Shipment,
    BuyLabel => "buyShippingLabel" was "buyLabel": Shipment,
    VoidLabel => "voidShippingLabel": Shipment,
    TrackShipment => "trackShipment": Shipment,
    ValidateAddress => "validateAddress": Shipment,
    RequestReturn => "requestReturn": Return,
    ApproveReturn => "approveReturn": Return,
    RejectReturn => "rejectReturn": Return,
    ReceiveReturn => "receiveReturn": Return,
    RefundReturn => "refundReturn": Return,
    RefundOrder => "refundOrder": Return,
    ReturnShippingRates => "returnShippingRates": Return,
    BuyReturnLabel => "buyReturnLabel": Return,
    VoidReturnLabel => "voidReturnLabel": Return,
    WebhookAddOrder => "webhookAddOrder": Order,
    WebhookShipmentTracker => "webhookShipmentTracker": Shipment,
    ConsumeTenantEvents => "tenantEvents": Order,
    UpdateTenantConfig => "updateTenantConfig": TenantAdmin,
    RegisterCarrierCredential => "addCarrierCredentials" was "registerCarrierCredential": TenantAdmin,
    RotateCarrierCredential => "rotateCarrierCredentials" was "rotateCarrierCredential": TenantAdmin,
    ExpireCarrierCredential => "expireCarrierCredentials" was "expireCarrierCredential": TenantAdmin,
    CreateApiKey => "createApiKey": TenantAdmin,
    RevokeApiKey => "revokeApiKey": TenantAdmin,
    ReconcileLabels => "reconcileLabels": TenantAdmin,
    CreateTenant => "createTenant": Platform,
    ListTenants => "tenants" was "listTenants": Platform,
    ShowTenant => "tenant" was "showTenant": Platform,
    SuspendTenant => "suspendTenant": Platform,
    ActivateTenant => "activateTenant": Platform,
    SetTenantPlan => "setTenantPlan": Platform,
    SetPlan => "setPlan": Platform,
    SetIdp => "setTenantIdp" was "setIdp": Platform,
    ReadSaasAudit => "saasAudit": Platform,
    SetWebhook => "setWebhook": Platform,
    SetEventSource => "setEventSource": Platform,
    SetGateway => "setGateway": Platform,
    ListGateways => "gateways": Platform,
    SignWebhookBody => "webhookSignature": Platform,
    ListPlatformCredentials => "platformCarrierCredentials": Platform,
    AddPlatformCredential => "addPlatformCarrierCredentials": Platform,
    RotatePlatformCredential => "rotatePlatformCarrierCredentials": Platform,
    ExpirePlatformCredential => "expirePlatformCarrierCredentials": Platform,
    OfferPlatformAccount => "offerPlatformAccount": Platform,
    ReadPlatformCarrierUsage => "platformCarrierUsage": Platform,
}

/// Our roles. Each tenant maps its IdP's role names onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    TenantAdmin,
    Staff,
    Vendor,
    ReadOnly,
    /// The SaaS provider's platform admin (its own issuer only).
    PlatformAdmin,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::TenantAdmin,
        Role::Staff,
        Role::Vendor,
        Role::ReadOnly,
        Role::PlatformAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::TenantAdmin => "tenant-admin",
            Role::Staff => "staff",
            Role::Vendor => "vendor",
            Role::ReadOnly => "read-only",
            Role::PlatformAdmin => "platform-admin",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::invalid("role", format!("unknown role {s:?}")))
    }
}

/// The role table of DESIGN.md §5, in one place: may `role` run `op` (plan permitting)?
///
/// | role | may |
/// |---|---|
/// | tenant-admin | everything of the tenant: orders, shipments, returns, settings, credentials |
/// | staff | reads, order, shipment, return and refund operations |
/// | vendor | reads (confined to orders with its lines), shipments of its own lines |
/// | read-only | reads |
/// | platform-admin | tenants, plans, IdPs; never tenant data |
pub fn role_permits(role: Role, op: Operation) -> bool {
    use OperationKind as K;
    let kind = op.kind();
    match role {
        Role::TenantAdmin => kind != K::Platform,
        Role::Staff => matches!(kind, K::Read | K::Order | K::Shipment | K::Return),
        Role::Vendor => match kind {
            K::Read => op != Operation::ReadTenantConfig,
            // Vendors rate, buy, void and track labels of their own shipments.
            K::Shipment => op != Operation::WebhookShipmentTracker,
            _ => false,
        },
        Role::ReadOnly => kind == K::Read,
        Role::PlatformAdmin => kind == K::Platform,
    }
}

/// Whether a caller with `roles` runs `op` confined to its vendor's lines: the vendor role grants
/// `op` and no other of its roles does. A write only the vendor role allows is confined
/// whatever read role comes with it; a read that read-only also grants is not.
pub fn confined_to_vendor(roles: &BTreeSet<Role>, op: Operation) -> bool {
    roles.contains(&Role::Vendor)
        && role_permits(Role::Vendor, op)
        && !roles
            .iter()
            .any(|r| *r != Role::Vendor && role_permits(*r, op))
}

/// A plan of the SaaS provider: the tenant operations its tenants may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub name: PlanName,
    pub operations: BTreeSet<Operation>,
}

impl Plan {
    /// A plan; platform operations are never part of a tenant plan.
    pub fn new(
        name: PlanName,
        operations: impl IntoIterator<Item = Operation>,
    ) -> DomainResult<Self> {
        let operations: BTreeSet<Operation> = operations.into_iter().collect();
        if let Some(op) = operations
            .iter()
            .find(|o| o.kind() == OperationKind::Platform)
        {
            return Err(DomainError::invalid(
                "plan.operations",
                format!(
                    "{} is a platform operation, not part of a tenant plan",
                    op.as_str()
                ),
            ));
        }
        Ok(Self { name, operations })
    }

    /// Every tenant operation.
    pub fn everything(name: PlanName) -> Self {
        Self {
            name,
            operations: Operation::ALL
                .iter()
                .copied()
                .filter(|o| o.kind() != OperationKind::Platform)
                .collect(),
        }
    }

    pub fn permits(&self, op: Operation) -> bool {
        self.operations.contains(&op)
    }

    /// The operations a plan request names: every tenant operation (`all`), or the listed
    /// API names; exactly one of the two. (`Plan::new` refuses platform operations.)
    pub fn requested_operations(
        all: bool,
        names: &[impl AsRef<str>],
    ) -> DomainResult<Vec<Operation>> {
        match (all, names.is_empty()) {
            (true, true) => Ok(Operation::ALL
                .iter()
                .copied()
                .filter(|o| o.kind() != OperationKind::Platform)
                .collect()),
            (true, false) => Err(DomainError::invalid(
                "plan.operations",
                "give every operation (all) or a list of operations, not both",
            )),
            (false, true) => Err(DomainError::invalid(
                "plan.operations",
                "give every operation (all) or a list of operations",
            )),
            (false, false) => names
                .iter()
                .map(|n| Operation::parse(n.as_ref().trim()))
                .collect(),
        }
    }
}

/// Plan ∩ roles: may a caller with `roles` on `plan` run `op`?
pub fn permitted(plan: &Plan, roles: &BTreeSet<Role>, op: Operation) -> bool {
    plan.permits(op) && roles.iter().any(|r| role_permits(*r, op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_operations_still_read_their_old_names() {
        // Plans stored before the rename keep working.
        let old: Operation = serde_json::from_str("\"buyLabel\"").unwrap();
        assert_eq!(old, Operation::BuyLabel);
        assert_eq!(serde_json::to_string(&old).unwrap(), "\"buyShippingLabel\"");
        assert_eq!(Operation::parse("getRates").unwrap(), Operation::GetRates);
        for (old, now) in [
            (
                "registerCarrierCredential",
                Operation::RegisterCarrierCredential,
            ),
            (
                "rotateCarrierCredential",
                Operation::RotateCarrierCredential,
            ),
            (
                "expireCarrierCredential",
                Operation::ExpireCarrierCredential,
            ),
            ("listTenants", Operation::ListTenants),
            ("showTenant", Operation::ShowTenant),
            ("setIdp", Operation::SetIdp),
        ] {
            let read: Operation = serde_json::from_str(&format!("\"{old}\"")).unwrap();
            assert_eq!((read, Operation::parse(old).unwrap()), (now, now), "{old}");
        }
        assert_eq!(
            Operation::RegisterCarrierCredential.as_str(),
            "addCarrierCredentials"
        );
        assert_eq!(Operation::SetIdp.as_str(), "setTenantIdp");
    }

    #[test]
    fn names_round_trip_and_platform_stays_out_of_plans() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.as_str()).unwrap(), *op);
        }
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), *role);
        }
        let name = PlanName::parse("p").unwrap();
        assert!(Plan::new(name.clone(), [Operation::CreateTenant]).is_err());
        assert!(!Plan::everything(name).permits(Operation::CreateTenant));
    }
}
