//! The dev IdP: its JWKS document, its tenant and platform registrations.

use auth::dev::DevIdp;
use auth::{AuthError, Caller, VerifierConfig};
use domain::access::Role;
use domain::ids::{TenantId, VendorId};
use domain::tenant::IdpKeys;

use crate::support::*;

#[tokio::test]
async fn dev_tokens_verify_through_the_served_jwks_document() {
    let dir = tempfile::tempdir().unwrap();
    let idp = DevIdp::load_or_generate(dir.path()).unwrap();
    assert_eq!(
        DevIdp::load_or_generate(dir.path()).unwrap().kid(),
        idp.kid(),
        "the key is kept"
    );
    let server = JwksServer::start(&[]).await;
    *server.doc.lock().unwrap() = idp.jwks().to_string();
    let mut reg = idp.registration().unwrap();
    reg.keys = IdpKeys::Jwks {
        url: server.url.clone(),
    };
    let env = env(
        vec![profile("acme", vec![reg])],
        VerifierConfig {
            dev_mode: true,
            ..VerifierConfig::default()
        },
    )
    .await;
    let acme = TenantId::parse("acme").unwrap();
    let token = idp
        .mint(
            &acme,
            Role::Vendor,
            Some(&VendorId::parse("v1").unwrap()),
            None,
            NOW,
            600,
        )
        .unwrap();
    let Caller::Tenant(id) = env.verifier.verify_token(&token).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        (id.tenant().as_str(), id.vendor().map(|v| v.as_str())),
        ("acme", Some("v1"))
    );
    assert_eq!(server.hits(), 1);
    // Another tenant's name in the tenant claim finds no registration.
    let other = idp
        .mint(
            &TenantId::parse("other").unwrap(),
            Role::Staff,
            None,
            None,
            NOW,
            600,
        )
        .unwrap();
    assert_eq!(
        env.verifier.verify_token(&other).await.unwrap_err(),
        AuthError::UnknownTenant
    );
}

#[tokio::test]
async fn platform_admin_tokens_come_from_the_platform_issuer_only() {
    let dir = tempfile::tempdir().unwrap();
    let idp = DevIdp::load_or_generate(dir.path()).unwrap();
    let config = VerifierConfig {
        dev_mode: true,
        platform: Some(idp.platform_registration().unwrap()),
        ..VerifierConfig::default()
    };
    let env = env(
        vec![profile("acme", vec![idp.registration().unwrap()])],
        config,
    )
    .await;
    let root = env
        .verifier
        .verify_token(&idp.mint_platform("root", NOW, 600).unwrap())
        .await
        .unwrap();
    assert!(matches!(root, Caller::Platform(ref p) if p.subject().as_str() == "root"));
    // A tenant token, even of a tenant admin, is never a platform caller.
    let admin = idp
        .mint(
            &TenantId::parse("acme").unwrap(),
            Role::TenantAdmin,
            None,
            None,
            NOW,
            600,
        )
        .unwrap();
    assert!(matches!(
        env.verifier.verify_token(&admin).await.unwrap(),
        Caller::Tenant(_)
    ));
    // A tenant IdP may not grant platform-admin.
    let mut reg = idp.registration().unwrap();
    reg.role_map
        .insert("platform-admin".into(), Role::PlatformAdmin);
    assert!(auth::check_registration(&reg).is_err());
}
