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

fn store(prefix: &str) -> SecretsManagerStore {
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(endpoint())
        .build();
    SecretsManagerStore::new(
        aws_sdk_secretsmanager::Client::from_conf(conf),
        prefix,
        Arc::new(ManualClock::at(1_795_478_400)),
    )
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
