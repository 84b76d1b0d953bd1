//! The Secrets Manager adapter against moto's server (`make test` starts it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use domain::ManualClock;
use domain::ids::TenantId;
use domain::ports::{SecretError, SecretStore};
use secrecy::{ExposeSecret, SecretString};
use secrets::SecretsManagerStore;

fn endpoint() -> String {
    if let Ok(e) = std::env::var("OMS_MOTO_ENDPOINT") {
        return e;
    }
    let env_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.services/env");
    std::fs::read_to_string(env_file)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("OMS_MOTO_ENDPOINT=").map(str::to_owned))
        })
        .expect("moto is not running: run `make test`, or `scripts/services.sh start moto`")
}

fn client() -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(endpoint())
        .build();
    aws_sdk_secretsmanager::Client::from_conf(conf)
}

/// The names of the secrets listed under `prefix`, every page.
async fn names_under(prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = client()
            .list_secrets()
            .set_next_token(next.take())
            .send()
            .await
            .unwrap();
        names.extend(
            page.secret_list()
                .iter()
                .filter_map(|s| s.name())
                .filter(|n| n.starts_with(prefix))
                .map(str::to_owned),
        );
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_owned()),
            _ => return names,
        }
    }
}

fn store(prefix: &str) -> SecretsManagerStore {
    SecretsManagerStore::new(client(), prefix, Arc::new(ManualClock::at(1_795_478_400)))
}

#[tokio::test]
async fn round_trip_rotation_and_a_moved_reference() {
    let prefix = format!("tenantoms/test-{}", ulid::Ulid::new());
    let sm = store(&prefix);
    let acme = TenantId::parse("acme").unwrap();
    let first = SecretString::from("whsec-first-value".to_owned());
    let second = SecretString::from("whsec-second-value".to_owned());
    let r1 = sm.put(&acme, "webhook:add-order", &first).await.unwrap();
    let r2 = sm.put(&acme, "webhook:add-order", &second).await.unwrap();
    assert!(r1.version.is_some(), "{r1:?}");
    // Both versions stay readable during a rotation.
    let got1 = sm.get(&acme, "webhook:add-order", &r1).await.unwrap();
    let got2 = sm.get(&acme, "webhook:add-order", &r2).await.unwrap();
    assert_eq!(got1.expose_secret(), "whsec-first-value");
    assert_eq!(got2.expose_secret(), "whsec-second-value");
    // Another tenant, or another purpose, presenting the reference: refused without a read.
    let other = TenantId::parse("other").unwrap();
    assert!(matches!(
        sm.get(&other, "webhook:add-order", &r1).await,
        Err(SecretError::Sealed)
    ));
    assert!(matches!(
        sm.get(&acme, "webhook:shipment-tracker", &r1).await,
        Err(SecretError::Sealed)
    ));
    // A reference to nothing.
    let mut gone = r1.clone();
    gone.id.push_str("-missing");
    assert!(matches!(
        sm.get(&acme, "webhook:add-order", &gone).await,
        Err(SecretError::NotFound)
    ));
}

/// A secret deleted for good: gone from the listing at once (no recovery window), absent to a
/// read; deleting it again is no error; another tenant's reference is refused without a call.
#[tokio::test]
async fn delete_removes_the_secret_at_once() {
    let prefix = format!("tenantoms/test-{}", ulid::Ulid::new());
    let sm = store(&prefix);
    let acme = TenantId::parse("acme").unwrap();
    let purpose = "carrier:easypost:main:01J0000000000000000000000";
    let secret = SecretString::from("EZTK-to-be-deleted-0123456789".to_owned());
    let kept = sm.put(&acme, purpose, &secret).await.unwrap();
    let r = sm.put(&acme, purpose, &secret).await.unwrap();
    // Read once, so the cache holds it: a delete must not leave it readable from there.
    sm.get(&acme, purpose, &r).await.unwrap();
    let other = TenantId::parse("other").unwrap();
    assert!(matches!(
        sm.delete(&other, purpose, &r).await,
        Err(SecretError::Sealed)
    ));
    sm.delete(&acme, purpose, &r).await.unwrap();
    assert!(matches!(
        sm.get(&acme, purpose, &r).await,
        Err(SecretError::NotFound)
    ));
    sm.delete(&acme, purpose, &r).await.unwrap();
    assert_eq!(names_under(&prefix).await, vec![kept.id.clone()]);
    assert!(sm.get(&acme, purpose, &kept).await.is_ok());
}
