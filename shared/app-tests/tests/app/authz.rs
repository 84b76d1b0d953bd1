//! The permission matrix over every (plan, role, operation) cell, and the scope rules, with real
//! dev-IdP tokens through the real verifier.

use app::ports::{Registry, TenantAuditLog};
use std::sync::Arc;

use app::ports::PageRequest;
use app::{Authorizer, AuthzError, Target, authorize};
use auth::dev::DevIdp;
use auth::directory::CachedDirectory;
use auth::{AuthError, Caller, Identity, PlatformAdmin, Verifier, VerifierConfig};
use domain::Timestamp;
use domain::access::{Operation, OperationKind, Plan, Role};
use domain::audit::{AuditOutcome, AuditRecord, AuditTarget};
use domain::ids::{AuditId, PlanName, Subject, TenantId, VendorId};
use domain::tenant::{TenantProfile, TenantStatus};
use store::cursor::{CursorKey, Cursors};
use store::embedded::EmbeddedStore;
use store::repo::{RegistryRepository, TenantAuditRepository};
use store::{Clock, FixedShards, ManualClock, TenantScope};

const NOW: i64 = 1_795_478_400;

/// DESIGN.md §5's role table, transcribed independently of `domain::access::role_permits`.
fn role_may(role: Role, op: Operation) -> bool {
    use Operation::*;
    let reads = [
        Viewer,
        ReadOrder,
        ReadOrderByExternalRef,
        ListOrders,
        ReadOrderAuditLog,
        ReadTenantConfig,
    ];
    let orders = [
        CreateOrder,
        AssignOrderReviewer,
        ApproveOrder,
        RejectOrder,
        CancelOrder,
        CancelOrderLines,
        MarkOrderPaid,
        CompleteOrder,
        MarkShipmentDelivered,
        WebhookAddOrder,
        ConsumeTenantEvents,
    ];
    let shipments = [
        CreateShipment,
        ConfirmShipment,
        DispatchShipment,
        UpdateShipmentTracking,
        CancelShipment,
        GetRates,
        BuyLabel,
        VoidLabel,
        TrackShipment,
        ValidateAddress,
        WebhookShipmentTracker,
    ];
    let returns = [
        RequestReturn,
        ApproveReturn,
        RejectReturn,
        ReceiveReturn,
        RefundReturn,
        RefundOrder,
        ReturnShippingRates,
        BuyReturnLabel,
        VoidReturnLabel,
    ];
    let admin = [
        ReadAuditLog,
        ListCarrierCredentials,
        UpdateTenantConfig,
        RegisterCarrierCredential,
        RotateCarrierCredential,
        ExpireCarrierCredential,
        ListApiKeys,
        CreateApiKey,
        RevokeApiKey,
        ReconcileLabels,
        ReadCarrierUsage,
    ];
    let platform = [
        CreateTenant,
        ListTenants,
        ShowTenant,
        SuspendTenant,
        ActivateTenant,
        SetTenantPlan,
        SetPlan,
        SetIdp,
        ReadSaasAudit,
        SetWebhook,
        SetEventSource,
        SetGateway,
        ListGateways,
        SignWebhookBody,
        ListPlatformCredentials,
        AddPlatformCredential,
        RotatePlatformCredential,
        ExpirePlatformCredential,
        OfferPlatformAccount,
        ReadPlatformCarrierUsage,
    ];
    let in_ = |set: &[Operation]| set.contains(&op);
    match role {
        Role::TenantAdmin => {
            in_(&reads) || in_(&orders) || in_(&shipments) || in_(&returns) || in_(&admin)
        }
        Role::Staff => in_(&reads) || in_(&orders) || in_(&shipments) || in_(&returns),
        // Vendors: read orders with their lines (not the tenant's settings); create, confirm,
        // dispatch, track and cancel shipments of their own lines, and rate, buy and void their
        // labels.
        Role::Vendor => {
            (in_(&reads) && op != ReadTenantConfig)
                || [
                    CreateShipment,
                    ConfirmShipment,
                    DispatchShipment,
                    UpdateShipmentTracking,
                    CancelShipment,
                    TrackShipment,
                    ValidateAddress,
                    GetRates,
                    BuyLabel,
                    VoidLabel,
                ]
                .contains(&op)
        }
        Role::ReadOnly => in_(&reads),
        Role::PlatformAdmin => in_(&platform),
    }
}

fn plans() -> Vec<Plan> {
    use Operation::*;
    let name = |s: &str| PlanName::parse(s).unwrap();
    vec![
        Plan::new(
            name("starter"),
            [
                Viewer,
                ReadOrder,
                ListOrders,
                CreateOrder,
                ApproveOrder,
                RejectOrder,
                CreateShipment,
                DispatchShipment,
                MarkShipmentDelivered,
            ],
        )
        .unwrap(),
        Plan::new(
            name("standard"),
            Operation::ALL.iter().copied().filter(|o| {
                o.kind() != OperationKind::Platform
                    && !matches!(
                        o,
                        RegisterCarrierCredential | RotateCarrierCredential | BuyLabel | GetRates
                    )
            }),
        )
        .unwrap(),
        Plan::everything(name("enterprise")),
    ]
}

#[test]
fn every_plan_role_operation_cell() {
    let mut cells = 0;
    for plan in plans() {
        for &role in &[Role::TenantAdmin, Role::Staff, Role::Vendor, Role::ReadOnly] {
            let identity = Identity::for_tests("acme", "u", &[role], Some("v1"), plan.clone());
            let caller = Caller::Tenant(identity);
            for &op in Operation::ALL {
                let expected = plan.permits(op) && role_may(role, op);
                let got = authorize(&caller, op, Target::Tenant);
                if expected {
                    assert_eq!(
                        got,
                        Ok(()),
                        "{} / {} / {}",
                        plan.name,
                        role.as_str(),
                        op.as_str()
                    );
                } else {
                    assert_eq!(
                        got,
                        Err(AuthzError::Forbidden {
                            operation: op.as_str()
                        }),
                        "{} / {} / {}",
                        plan.name,
                        role.as_str(),
                        op.as_str()
                    );
                }
                cells += 1;
            }
        }
    }
    // The platform admin: platform operations only, never tenant data.
    let platform = Caller::Platform(PlatformAdmin::for_tests("root"));
    for &op in Operation::ALL {
        let target = if op.kind() == OperationKind::Platform {
            Target::Platform
        } else {
            Target::Tenant
        };
        let got = authorize(&platform, op, target);
        assert_eq!(
            got.is_ok(),
            role_may(Role::PlatformAdmin, op),
            "platform / {}",
            op.as_str()
        );
        cells += 1;
    }
    assert_eq!(cells, 3 * 4 * Operation::ALL.len() + Operation::ALL.len());
}

/// Every combination of tenant roles (each pair, each triple, all four): an operation is confined
/// to the vendor's lines exactly when the vendor role is held and no other held role grants it,
/// and then another vendor's order is NOT_FOUND and another vendor's lines are not the caller's.
/// No combination widens a vendor's scope beyond what its other roles grant on their own.
#[test]
fn role_combinations_never_widen_a_vendors_scope() {
    let plan = Plan::everything(PlanName::parse("enterprise").unwrap());
    let acme = TenantId::parse("acme").unwrap();
    let only_v2 = [VendorId::parse("v2").unwrap()];
    let tenant_roles = [Role::TenantAdmin, Role::Staff, Role::Vendor, Role::ReadOnly];
    let mut combos: Vec<Vec<Role>> = Vec::new();
    for mask in 1u8..16 {
        let set: Vec<Role> = (0..4)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| tenant_roles[i])
            .collect();
        if set.len() >= 2 {
            combos.push(set);
        }
    }
    assert_eq!(combos.len(), 11, "6 pairs, 4 triples, 1 quadruple");
    let mut cells = 0;
    for roles in &combos {
        let identity = Identity::for_tests("acme", "u", roles, Some("v1"), plan.clone());
        let caller = Caller::Tenant(identity.clone());
        for op in Operation::ALL.iter().copied() {
            if op.kind() == OperationKind::Platform {
                continue;
            }
            let others_grant = roles.iter().any(|r| *r != Role::Vendor && role_may(*r, op));
            let vendor_only = roles.contains(&Role::Vendor) && role_may(Role::Vendor, op);
            let confined = vendor_only && !others_grant;
            assert_eq!(
                identity.confined_for(op),
                confined,
                "{roles:?} {}",
                op.as_str()
            );
            let on_other_vendors_order = authorize(
                &caller,
                op,
                Target::Order {
                    tenant: &acme,
                    id: "o1",
                    vendors: &only_v2,
                },
            );
            let expected = if !(others_grant || vendor_only) {
                Err(AuthzError::Forbidden {
                    operation: op.as_str(),
                })
            } else if confined {
                Err(AuthzError::NotFound)
            } else {
                Ok(())
            };
            assert_eq!(
                on_other_vendors_order,
                expected,
                "{roles:?} {}",
                op.as_str()
            );
            cells += 1;
        }
        // The defect this guards: vendor + read-only may read everything (read-only grants it)
        // but its shipment writes stay on its own lines.
        if roles.as_slice() == [Role::Vendor, Role::ReadOnly] {
            assert!(!identity.confined_for(Operation::ReadOrder));
            assert!(identity.confined_for(Operation::CreateShipment));
            assert!(identity.confined_for(Operation::CancelShipment));
        }
    }
    assert!(cells > 11 * 30, "{cells}");
}

#[test]
fn scope_rules() {
    let plan = Plan::everything(PlanName::parse("enterprise").unwrap());
    let acme = TenantId::parse("acme").unwrap();
    let other = TenantId::parse("other").unwrap();
    let v1 = VendorId::parse("v1").unwrap();
    let v2 = VendorId::parse("v2").unwrap();
    let (only_v1, only_v2, both) = ([v1.clone()], [v2.clone()], [v2.clone(), v1.clone()]);
    let order = |tenant, vendors| Target::Order {
        tenant,
        id: "o1",
        vendors,
    };
    let vendor = Caller::Tenant(Identity::for_tests(
        "acme",
        "u",
        &[Role::Vendor],
        Some("v1"),
        plan.clone(),
    ));
    // A vendor on another vendor's order: NOT_FOUND, not FORBIDDEN.
    assert_eq!(
        authorize(&vendor, Operation::ReadOrder, order(&acme, &only_v2)),
        Err(AuthzError::NotFound)
    );
    assert_eq!(
        authorize(&vendor, Operation::CreateShipment, order(&acme, &only_v2)),
        Err(AuthzError::NotFound)
    );
    assert_eq!(
        authorize(&vendor, Operation::ReadOrder, order(&acme, &both)),
        Ok(())
    );
    // A vendor without a vendor id sees no order.
    let anonymous = Caller::Tenant(Identity::for_tests(
        "acme",
        "u",
        &[Role::Vendor],
        None,
        plan.clone(),
    ));
    assert_eq!(
        authorize(&anonymous, Operation::ReadOrder, order(&acme, &only_v1)),
        Err(AuthzError::NotFound)
    );
    // Another tenant's order: NOT_FOUND for everyone.
    let admin = Caller::Tenant(Identity::for_tests(
        "acme",
        "u",
        &[Role::TenantAdmin],
        None,
        plan.clone(),
    ));
    assert_eq!(
        authorize(&admin, Operation::ReadOrder, order(&other, &only_v1)),
        Err(AuthzError::NotFound)
    );
    // Staff see every vendor's orders; a vendor who is also staff is not confined.
    let staff_vendor = Caller::Tenant(Identity::for_tests(
        "acme",
        "u",
        &[Role::Vendor, Role::Staff],
        Some("v1"),
        plan.clone(),
    ));
    assert_eq!(
        authorize(&staff_vendor, Operation::ReadOrder, order(&acme, &only_v2)),
        Ok(())
    );
    // Read-only mutating: FORBIDDEN naming the operation.
    let viewer = Caller::Tenant(Identity::for_tests(
        "acme",
        "u",
        &[Role::ReadOnly],
        None,
        plan.clone(),
    ));
    assert_eq!(
        authorize(&viewer, Operation::ApproveOrder, order(&acme, &only_v1)),
        Err(AuthzError::Forbidden {
            operation: "approveOrder"
        })
    );
    // The platform admin reading tenant data: refused.
    let platform = Caller::Platform(PlatformAdmin::for_tests("root"));
    assert_eq!(
        authorize(&platform, Operation::ReadOrder, order(&acme, &only_v1)),
        Err(AuthzError::Forbidden { operation: "order" })
    );
    // A tenant caller never runs platform operations, whatever its roles.
    assert_eq!(
        authorize(&admin, Operation::CreateTenant, Target::Platform),
        Err(AuthzError::Forbidden {
            operation: "createTenant"
        })
    );
}

fn platform_audit(n: u128) -> AuditRecord {
    let id = AuditId::from_ulid(ulid::Ulid::from_parts(NOW as u64 * 1000, n));
    let at = Timestamp::from_unix_millis(NOW * 1000).unwrap();
    let target = AuditTarget {
        kind: "tenant".into(),
        id: "acme".into(),
    };
    AuditRecord::platform_action(
        id,
        Subject::parse("root").unwrap(),
        "createTenant",
        target,
        None,
        at,
        "t".into(),
    )
}

/// Dev-IdP tokens through the real verifier, then the authorizer: a suspended tenant is refused
/// everything, and denials land in the tenant audit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_callers_denials_are_audited_and_suspension_refuses_everything() {
    let dir = tempfile::tempdir().unwrap();
    let idp = DevIdp::load_or_generate(dir.path()).unwrap();
    let clock = ManualClock::at(NOW);
    let clock_dyn: Arc<dyn Clock> = Arc::new(clock.clone());
    let store = Arc::new(EmbeddedStore::in_memory(clock_dyn.clone()).unwrap());
    let registry = RegistryRepository::new(store.clone());
    let plan = plans().remove(0); // starter
    registry.put_plan(&plan, &platform_audit(1)).await.unwrap();
    let now = Timestamp::from_unix_millis(NOW * 1000).unwrap();
    let mut profile = TenantProfile::new(
        TenantId::parse("acme").unwrap(),
        "Acme",
        plan.name.clone(),
        now,
    )
    .unwrap();
    profile.set_idp(idp.registration().unwrap(), now).unwrap();
    let stored = registry.create(&profile, &platform_audit(2)).await.unwrap();
    let directory = Arc::new(CachedDirectory::new(
        Arc::new(registry.clone()),
        clock_dyn.clone(),
        60,
    ));
    let verifier = Verifier::new(
        directory,
        clock_dyn.clone(),
        VerifierConfig {
            dev_mode: true,
            ..VerifierConfig::default()
        },
    )
    .unwrap();

    let acme = TenantId::parse("acme").unwrap();
    let token = idp
        .mint(&acme, Role::ReadOnly, None, None, NOW, 3600)
        .unwrap();
    let caller = verifier.verify_token(&token).await.unwrap();
    let audit = TenantAuditRepository::new(
        store.clone(),
        Arc::new(FixedShards::new(1)),
        Cursors::new(CursorKey::from_bytes(&[1; 32]).unwrap()),
    );
    let ids: Arc<std::sync::Mutex<dyn domain::IdSource + Send>> =
        Arc::new(std::sync::Mutex::new(domain::SeqIds::default()));
    let authorizer = Authorizer::new(Arc::new(audit.clone()), ids);
    authorizer
        .authorize(&caller, Operation::ReadOrder, Target::Tenant, "req-1", now)
        .await
        .unwrap();
    let denied = authorizer
        .authorize(
            &caller,
            Operation::ApproveOrder,
            Target::Tenant,
            "req-2",
            now,
        )
        .await;
    assert_eq!(
        denied,
        Err(AuthzError::Forbidden {
            operation: "approveOrder"
        })
    );
    let records = audit
        .list_day(
            &TenantScope::for_tests("acme"),
            now,
            &PageRequest::first(10),
        )
        .await
        .unwrap()
        .rows;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].action, "approveOrder");
    assert_eq!(records[0].request_id, "req-2");
    assert_eq!(
        records[0].outcome,
        AuditOutcome::Denied {
            reason: "FORBIDDEN".into()
        }
    );
    // Plan ∩ role: a staff member on the starter plan cannot refund.
    let staff = verifier
        .verify_token(&idp.mint(&acme, Role::Staff, None, None, NOW, 3600).unwrap())
        .await
        .unwrap();
    assert_eq!(
        authorize(&staff, Operation::RefundOrder, Target::Tenant),
        Err(AuthzError::Forbidden {
            operation: "refundOrder"
        })
    );

    // Suspended: every token of the tenant is refused (once the directory cache expires).
    let mut suspended = stored.profile.clone();
    suspended.status = TenantStatus::Suspended;
    registry
        .update(&stored, &suspended, &platform_audit(3))
        .await
        .unwrap();
    clock.advance(61);
    for role in [Role::TenantAdmin, Role::Staff, Role::Vendor, Role::ReadOnly] {
        let t = idp
            .mint(
                &acme,
                role,
                Some(&VendorId::parse("v1").unwrap()),
                None,
                NOW + 61,
                3600,
            )
            .unwrap();
        assert_eq!(
            verifier.verify_token(&t).await.unwrap_err(),
            AuthError::TenantSuspended
        );
    }
}
