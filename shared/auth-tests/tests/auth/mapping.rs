//! Claim mapping with real-shaped payloads of Keycloak, Cognito (id and access), Auth0 and a
//! client-credentials token.

use std::collections::BTreeMap;

use auth::Caller;
use domain::access::Role;
use domain::tenant::{AudienceClaim, ClaimMapping, IdpRegistration};
use jsonwebtoken::Algorithm;

use crate::support::*;

fn roles(pairs: &[(&str, Role)]) -> BTreeMap<String, Role> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Registers `reg` for tenant `acme`, signs the fixture payload with key a1 and verifies it.
async fn verify_fixture(payload: &str, reg: IdpRegistration) -> auth::Identity {
    let env = env(
        vec![profile("acme", vec![reg])],
        auth::VerifierConfig::default(),
    )
    .await;
    let claims = fixture_json(payload);
    let token = sign(Algorithm::RS256, "rsa-a.key.pem", Some("a1"), &claims);
    match env.verifier.verify_token(&token).await {
        Ok(Caller::Tenant(id)) => id,
        other => panic!("{payload}: {other:?}"),
    }
}

fn base(issuer: &str) -> IdpRegistration {
    let mut r = pem_registration(issuer, "a1", "rsa-a.pub.pem");
    r.tenant_claim = None;
    r
}

#[tokio::test]
async fn keycloak_realm_roles() {
    let mut reg = base("https://idp.acme.example/realms/acme");
    reg.claims = ClaimMapping {
        subject: "sub".into(),
        roles: "realm_access.roles".into(),
        vendor: Some("vendor_id".into()),
        email: Some("email".into()),
    };
    reg.role_map = roles(&[("oms-staff", Role::Staff)]);
    let id = verify_fixture("keycloak-access.json", reg).await;
    assert_eq!(
        id.subject().as_str(),
        "0b7d2c9e-4f1a-4e8b-9d3c-6a5e1f2b8c47"
    );
    assert_eq!(
        id.roles().iter().copied().collect::<Vec<_>>(),
        [Role::Staff]
    );
    assert_eq!(id.vendor().map(|v| v.as_str()), Some("v-100"));
    assert_eq!(id.email(), Some("sam.staff@acme.example"));
}

#[tokio::test]
async fn cognito_id_token_groups_and_tenant_attribute() {
    let mut reg = base("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example");
    reg.audiences = vec!["5example1clientid".into()];
    reg.tenant_claim = Some("\"custom:tenant_id\"".into());
    reg.claims = ClaimMapping {
        subject: "sub".into(),
        roles: "\"cognito:groups\"".into(),
        vendor: Some("\"custom:vendor_id\"".into()),
        email: Some("email".into()),
    };
    reg.role_map = roles(&[("tenant-admins", Role::TenantAdmin)]);
    let id = verify_fixture("cognito-id.json", reg).await;
    assert_eq!(id.tenant().as_str(), "acme");
    assert_eq!(
        id.roles().iter().copied().collect::<Vec<_>>(),
        [Role::TenantAdmin]
    );
    assert_eq!(id.vendor().map(|v| v.as_str()), Some("v-100"));
}

#[tokio::test]
async fn cognito_access_token_audience_is_client_id() {
    let mut reg = base("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example");
    reg.audience_claim = AudienceClaim::ClientId;
    reg.audiences = vec!["5example1clientid".into()];
    reg.claims = ClaimMapping {
        subject: "sub".into(),
        roles: "\"cognito:groups\"".into(),
        vendor: None,
        email: None,
    };
    reg.role_map = roles(&[("staff", Role::Staff)]);
    let id = verify_fixture("cognito-access.json", reg.clone()).await;
    assert_eq!(
        id.roles().iter().copied().collect::<Vec<_>>(),
        [Role::Staff]
    );
    assert_eq!(id.email(), None);
    // Another app client's access token is refused.
    reg.audiences = vec!["another-client".into()];
    let env = env(
        vec![profile("acme", vec![reg])],
        auth::VerifierConfig::default(),
    )
    .await;
    let token = sign(
        Algorithm::RS256,
        "rsa-a.key.pem",
        Some("a1"),
        &fixture_json("cognito-access.json"),
    );
    assert_eq!(
        env.verifier.verify_token(&token).await.unwrap_err(),
        auth::AuthError::WrongAudience
    );
}

#[tokio::test]
async fn auth0_organizations_and_namespaced_claims() {
    let mut reg = base("https://acme.us.auth0.com/");
    reg.shared = true;
    reg.tenant_claim = Some("org_id".into());
    reg.tenant_claim_value = Some("org_Acme123".into());
    reg.audiences = vec!["https://api.tenantoms.example".into()];
    reg.claims = ClaimMapping {
        subject: "sub".into(),
        roles: "\"https://tenantoms.example/roles\"".into(),
        vendor: Some("\"https://tenantoms.example/vendor_id\"".into()),
        email: Some("\"https://tenantoms.example/email\"".into()),
    };
    reg.role_map = roles(&[("vendor", Role::Vendor)]);
    let id = verify_fixture("auth0.json", reg).await;
    assert_eq!(id.tenant().as_str(), "acme");
    assert_eq!(id.subject().as_str(), "auth0|abc123");
    assert_eq!(
        id.roles().iter().copied().collect::<Vec<_>>(),
        [Role::Vendor]
    );
    assert_eq!(id.vendor().map(|v| v.as_str()), Some("v-7"));
    assert!(id.vendor_confined());
    assert_eq!(id.email(), Some("vera.vendor@vendor7.example"));
}

#[tokio::test]
async fn client_credentials_roles_come_from_scopes() {
    let mut reg = base("https://acme.us.auth0.com/");
    reg.audiences = vec!["https://api.tenantoms.example".into()];
    reg.claims = ClaimMapping {
        subject: "sub".into(),
        roles: "scope".into(),
        vendor: None,
        email: None,
    };
    reg.role_map = roles(&[("oms/staff", Role::Staff), ("oms/admin", Role::TenantAdmin)]);
    let id = verify_fixture("client-credentials.json", reg).await;
    assert_eq!(id.subject().as_str(), "svc-intake@clients");
    assert_eq!(
        id.roles().iter().copied().collect::<Vec<_>>(),
        [Role::Staff]
    );
}

#[tokio::test]
async fn unmapped_roles_give_no_role() {
    let mut reg = base("https://idp.acme.example/realms/acme");
    reg.claims.roles = "realm_access.roles".into();
    reg.role_map = roles(&[("something-else", Role::TenantAdmin)]);
    let id = verify_fixture("keycloak-access.json", reg).await;
    assert!(id.roles().is_empty());
}

#[test]
fn invalid_expressions_are_refused_when_registering() {
    let mut reg = base("https://idp.acme.example/realms/acme");
    reg.claims.roles = "cognito:groups".into(); // unquoted ':' is not JMESPath
    assert!(auth::check_registration(&reg).is_err());
    reg.claims.roles = "\"cognito:groups\"".into();
    assert!(auth::check_registration(&reg).is_ok());
}
