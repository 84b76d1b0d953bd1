//! Carrier credentials over GraphQL: add, list, rotate, expire; windows refused when they meet;
//! tenant-admin only; and no plaintext secret in any response, log line, error or on disk.

use std::sync::Arc;

use domain::access::Role;
use domain::gateway::{CarrierKind, GatewayAuthType, GatewayConfig};
use domain::ids::CarrierCode;
use testkit::WebhookEnv;

const KEY_1: &str = "EZTK-first-secret-0123456789abcd";
const KEY_2: &str = "EZTK-second-secret-9876543210wxyz";
const PASSWORD: &str = "p4ssw0rd-never-shown-anywhere";

async fn env() -> WebhookEnv {
    let env = WebhookEnv::build(Arc::new(domain::SystemClock), &[]).await;
    env.platform
        .set_gateway(GatewayConfig {
            id: CarrierCode::parse("easypost").unwrap(),
            name: "EasyPost".into(),
            kind: CarrierKind::Easypost,
            sandbox_url: "https://api.easypost.com".into(),
            production_url: "https://api.easypost.com".into(),
            auth_type: GatewayAuthType::ApiKey,
            offers: Vec::new(),
        })
        .await
        .unwrap();
    env
}

fn add(key: &str, extra: &str) -> String {
    format!(
        r#"mutation {{ addCarrierCredentials(input: {{ gateway: "easypost", account: "main", apiKey: "{key}", password: "{PASSWORD}" {extra} }}) {{ credential {{ id fingerprint effective from thru mode baseUrl }} userErrors {{ code field message }} }} }}"#
    )
}

#[tokio::test]
async fn credentials_are_versioned_windowed_and_their_secrets_never_shown() {
    crate::logs::capture();

    let env = env().await;
    let mut seen: Vec<String> = Vec::new();
    let admin = async |q: &str| env.graphql_as("demo", Role::TenantAdmin, q).await;

    // Add: effective now, a fingerprint, no secret.
    let added = admin(&add(KEY_1, "")).await;
    seen.push(added.to_string());
    let c = &added["data"]["addCarrierCredentials"]["credential"];
    assert_eq!(c["fingerprint"], "…abcd", "{added}");
    assert_eq!(c["effective"], true);
    assert_eq!(c["mode"], "SANDBOX");
    assert_eq!(
        c["baseUrl"], "https://api.easypost.com",
        "the catalogue's default"
    );
    let first = c["id"].as_str().unwrap().to_owned();

    // A second open version would overlap: refused, naming the version to rotate.
    let overlap = admin(&add(KEY_2, "")).await;
    seen.push(overlap.to_string());
    let e = &overlap["data"]["addCarrierCredentials"]["userErrors"][0];
    assert_eq!(e["code"], "INVALID_INPUT", "{overlap}");
    assert!(e["message"].as_str().unwrap().contains(&first), "{overlap}");

    // Rotate: the new version in force, the first closed where it starts.
    let rotated = admin(&format!(
        r#"mutation {{ rotateCarrierCredentials(input: {{ gateway: "easypost", account: "main", apiKey: "{KEY_2}" }}) {{ credential {{ id fingerprint effective from }} userErrors {{ code message }} }} }}"#
    ))
    .await;
    seen.push(rotated.to_string());
    let r = &rotated["data"]["rotateCarrierCredentials"]["credential"];
    assert_eq!(r["fingerprint"], "…wxyz", "{rotated}");
    let second = r["id"].as_str().unwrap().to_owned();
    let listed = admin(
        r#"{ carrierCredentials(gateway: "easypost") { id fingerprint effective from thru } }"#,
    )
    .await;
    seen.push(listed.to_string());
    let versions = listed["data"]["carrierCredentials"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{listed}");
    assert_eq!(versions[0]["id"], first.as_str());
    assert_eq!(
        versions[0]["thru"], r["from"],
        "closed where the rotation starts"
    );
    assert_eq!(versions[0]["effective"], false);
    assert_eq!(versions[1]["effective"], true);

    // Expire: once.
    let expire = format!(
        r#"mutation {{ expireCarrierCredentials(gateway: "easypost", account: "main", id: "{second}") {{ credential {{ thru effective }} userErrors {{ code message }} }} }}"#
    );
    let expired = admin(&expire).await;
    seen.push(expired.to_string());
    assert!(
        expired["data"]["expireCarrierCredentials"]["credential"]["thru"].is_string(),
        "{expired}"
    );
    let again = admin(&expire).await;
    seen.push(again.to_string());
    assert_eq!(
        again["data"]["expireCarrierCredentials"]["userErrors"][0]["message"],
        "invalid id: the version is already expired",
        "{again}"
    );

    // Not the tenant admin: refused; no secret → a clear input error.
    let staff = env.graphql_as("demo", Role::Staff, &add(KEY_1, "")).await;
    seen.push(staff.to_string());
    assert_eq!(
        staff["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{staff}"
    );
    let vendor_list = env
        .graphql_as("demo", Role::Vendor, "{ carrierCredentials { id } }")
        .await;
    assert_eq!(vendor_list["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let no_secret = admin(
        r#"mutation { addCarrierCredentials(input: { gateway: "easypost", account: "other" }) { credential { id } userErrors { field message } } }"#,
    )
    .await;
    seen.push(no_secret.to_string());
    assert_eq!(
        no_secret["data"]["addCarrierCredentials"]["userErrors"][0]["field"][0], "apiKey",
        "{no_secret}"
    );
    let unknown = admin(
        r#"mutation { addCarrierCredentials(input: { gateway: "fedex", account: "main", apiKey: "x-0123456789abcdef" }) { userErrors { field message } } }"#,
    )
    .await;
    assert_eq!(
        unknown["data"]["addCarrierCredentials"]["userErrors"][0]["field"][0], "gateway",
        "{unknown}"
    );

    // The secrets are where they belong: usable by the carrier calls, and nowhere else.
    let audit = admin(r#"{ auditLog(first: 50) { nodes { action targetId outcome } } }"#).await;
    seen.push(audit.to_string());
    let actions: Vec<&str> = audit["data"]["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["action"].as_str())
        .collect();
    for a in [
        "addCarrierCredentials",
        "rotateCarrierCredentials",
        "expireCarrierCredentials",
    ] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    let on_disk = std::fs::read_to_string(env.dir.path().join("secrets.json")).unwrap();
    let logs = crate::logs::captured();
    assert!(
        logs.contains("addCarrierCredentials"),
        "the test captured the log"
    );
    for secret in [KEY_1, KEY_2, PASSWORD] {
        for (what, text) in [("logs", &logs), ("secrets file", &on_disk)] {
            assert!(!text.contains(secret), "{what} contain a secret");
        }
        for r in &seen {
            assert!(!r.contains(secret), "a response contains a secret: {r}");
        }
    }
}

#[tokio::test]
async fn a_credential_ciphertext_moved_to_another_version_does_not_open() {
    use domain::ids::{AccountId, CredentialId, TenantId};
    use secrecy::{ExposeSecret, SecretString};
    let env = env().await;
    let secrets = env.secrets();
    let (gateway, account) = (
        CarrierCode::parse("easypost").unwrap(),
        AccountId::parse("main").unwrap(),
    );
    let (a, b) = (
        CredentialId::from_ulid(ulid::Ulid::from_parts(1, 1)),
        CredentialId::from_ulid(ulid::Ulid::from_parts(1, 2)),
    );
    let tenant = TenantId::parse("demo").unwrap();
    let purpose_a = app::credentials::secret_purpose(&gateway, &account, a);
    let purpose_b = app::credentials::secret_purpose(&gateway, &account, b);
    let r = secrets
        .put(&tenant, &purpose_a, &SecretString::from(KEY_1.to_owned()))
        .await
        .unwrap();
    let back = secrets.get(&tenant, &purpose_a, &r).await.unwrap();
    assert_eq!(back.expose_secret(), KEY_1);
    assert!(
        secrets.get(&tenant, &purpose_b, &r).await.is_err(),
        "another version"
    );
    let other = TenantId::parse("other").unwrap();
    assert!(
        secrets.get(&other, &purpose_a, &r).await.is_err(),
        "another tenant"
    );
}

/// Outside dev mode — the outbound policy's, whatever the verifier's (dev tokens sign in here)
/// — `addCarrierCredentials` refuses a base URL to an internal host, naming the field, and
/// stores no secret for it.
#[tokio::test]
async fn internal_carrier_urls_are_refused_over_graphql() {
    use store::cursor::{CursorKey, Cursors};
    let env = env().await;
    let services = boot::services_with_outbound(
        env.store.clone(),
        env.clock.clone(),
        auth::VerifierConfig {
            dev_mode: true,
            ..auth::VerifierConfig::default()
        },
        Cursors::new(CursorKey::from_bytes(&[7; 32]).unwrap()),
        Some(env.secrets()),
        domain::outbound::OutboundPolicy::production(),
    )
    .unwrap();
    let router = http_edge::router(graphql::api_state(services), testkit::production_http());
    let token = testkit::demo_token(&env.idp, env.clock.as_ref(), Role::TenantAdmin);
    // The local store's file: one entry per secret (none yet: no file).
    let secrets_on_disk = || match std::fs::read_to_string(env.dir.path().join("secrets.json")) {
        Ok(text) => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
            .unwrap()
            .len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => panic!("{e}"),
    };
    let before = secrets_on_disk();
    for url in [
        "http://127.0.0.1:9001",
        "https://10.0.0.1",
        "https://169.254.169.254",
        "https://[::1]:9001",
    ] {
        let query = add(KEY_1, &format!(r#", baseUrl: "{url}""#));
        let (_, body, _) =
            testkit::post_graphql(&router, &token, &[], serde_json::json!({ "query": query }))
                .await;
        let payload = &body["data"]["addCarrierCredentials"];
        assert!(payload["credential"].is_null(), "{url}: {body}");
        let e = &payload["userErrors"][0];
        assert_eq!(e["code"], "INVALID_INPUT", "{url}: {body}");
        assert_eq!(e["field"][0], "baseUrl", "{url}: {body}");
    }
    assert_eq!(
        secrets_on_disk(),
        before,
        "no secret stored for a refused add"
    );
    let query = add(KEY_1, r#", baseUrl: "https://api.easypost.com/v2""#);
    let (_, body, _) =
        testkit::post_graphql(&router, &token, &[], serde_json::json!({ "query": query })).await;
    assert_eq!(
        body["data"]["addCarrierCredentials"]["userErrors"],
        serde_json::json!([]),
        "{body}"
    );
    assert_eq!(secrets_on_disk(), before + 1);
}
