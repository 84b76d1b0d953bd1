//! Tracking numbers have one owner, end to end against `oms serve`: two tenants whose carrier
//! answers give the same tracking number. The second label is recorded all the same, without the
//! SaaS-wide entry the first holds, and the second tenant's audit says so (naming nobody); the
//! SaaS-level carrier webhook then moves only the first tenant's shipment.

use carriers::fake::FakeCarrier;
use serde_json::{Value, json};

use crate::gateway::{confirmed, easypost_signature, first_rate, mutate, ok, shipment};
use crate::server::{Server, oms, oms_with_input};

const KEY: &str = "EZTK-e2e-track-owner-0000003333";
const SAAS_SECRET: &str = "saas-easypost-webhook-secret-02";
const BETA_SECRET: &str = "beta-easypost-webhook-secret-03";
/// What both tenants' carrier answers carry.
const SAME: &str = "EZ9999000001";

/// Buys the first quoted rate's label with an idempotency key: the shipment as bought.
async fn buy(s: &Server, staff: &str, (order, id): &(String, String), key: &str) -> Value {
    let rate = first_rate(s, staff, order, id).await;
    let bought = mutate(
        s,
        staff,
        &format!(r#"buyShippingLabel(orderId: "{order}", shipmentId: "{id}", rateId: "{rate}")"#),
        "order { shipments { id status carrier trackingNumber } }",
        Some(key),
    )
    .await;
    shipment(&bought["order"], id).clone()
}

pub(crate) async fn status_of(s: &Server, staff: &str, (order, id): &(String, String)) -> String {
    let read = s
        .gql(
            staff,
            &format!(r#"{{ order(id: "{order}") {{ shipments {{ id status }} }} }}"#),
            json!({}),
        )
        .await;
    shipment(&read.data()["order"], id)["status"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", read.raw))
        .to_owned()
}

/// The tenant audit's records of today, as its admin reads them.
async fn tenant_audit(s: &Server, admin: &str) -> Vec<Value> {
    let r = s
        .gql(
            admin,
            "{ auditLog(first: 100) { nodes { action targetKind targetId outcome reason } } }",
            json!({}),
        )
        .await;
    r.data()["auditLog"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .clone()
}

/// An EasyPost tracker event for `number`, signed with `secret`, posted to `path`.
async fn carrier_update(
    s: &Server,
    path: &str,
    secret: &str,
    number: &str,
    status: &str,
) -> String {
    let event = json!({"object": "Event", "description": "tracker.updated", "result": {"object": "Tracker", "tracking_code": number, "carrier": "USPS", "status": status}});
    let body = serde_json::to_vec(&event).unwrap();
    let (code, answer) = s
        .post_raw(
            path,
            &[
                ("content-type", "application/json".into()),
                ("x-hmac-signature", easypost_signature(secret, &body)),
            ],
            body,
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracking_number_two_tenants_labels_share_moves_only_the_first_owners_shipment() {
    let fake = FakeCarrier::easypost(KEY).await;
    let dir = tempfile::tempdir().unwrap();
    let base = fake.base_url();
    ok(oms(
        dir.path(),
        &[
            "gateway",
            "set",
            "--id",
            "easypost",
            "--kind",
            "easypost",
            "--name",
            "EasyPost (fake)",
            "--sandbox-url",
            &base,
            "--production-url",
            &base,
        ],
    ));
    for tenant in ["alpha", "beta"] {
        ok(oms(dir.path(), &["tenant", "create", tenant]));
        ok(oms_with_input(
            dir.path(),
            &[
                "carrier",
                "credentials",
                "add",
                "--tenant",
                tenant,
                "--gateway",
                "easypost",
                "--account",
                "main",
            ],
            KEY,
        ));
    }
    ok(oms_with_input(
        dir.path(),
        &[
            "webhook",
            "set",
            "--saas",
            "--hook",
            "shipment-tracker",
            "--provider",
            "easypost",
        ],
        SAAS_SECRET,
    ));
    ok(oms_with_input(
        dir.path(),
        &[
            "webhook",
            "set",
            "--tenant",
            "beta",
            "--hook",
            "shipment-tracker",
            "--provider",
            "easypost",
        ],
        BETA_SECRET,
    ));
    let s = Server::start_serving(dir, &[]);
    let (alpha, beta) = (
        s.token("alpha", "staff", None),
        s.token("beta", "staff", None),
    );
    let beta_admin = s.token("beta", "tenant-admin", None);
    let alpha_admin = s.token("alpha", "tenant-admin", None);

    // Alpha buys first: its label owns the number.
    let first = confirmed(&s, &alpha).await;
    fake.set_next_tracking_number(SAME);
    let bought = buy(&s, &alpha, &first, "alpha-buy-1").await;
    assert_eq!(
        (bought["status"].as_str(), bought["trackingNumber"].as_str()),
        (Some("LABEL_PURCHASED"), Some(SAME))
    );

    // Beta's carrier answers the same number: the label is recorded all the same …
    let second = confirmed(&s, &beta).await;
    let beta_audit_before = tenant_audit(&s, &beta_admin).await.len();
    fake.set_next_tracking_number(SAME);
    let bought = buy(&s, &beta, &second, "beta-buy-1").await;
    assert_eq!(
        (
            bought["status"].as_str(),
            bought["trackingNumber"].as_str(),
            bought["carrier"].as_str()
        ),
        (Some("LABEL_PURCHASED"), Some(SAME), Some("usps"))
    );
    assert_eq!(status_of(&s, &beta, &second).await, "LABEL_PURCHASED");
    // … and beta's audit says the number is held by another shipment, naming nobody.
    let audit = tenant_audit(&s, &beta_admin).await;
    assert_eq!(audit.len(), beta_audit_before + 1, "{audit:?}");
    let held: Vec<&Value> = audit
        .iter()
        .filter(|r| {
            r["reason"]
                .as_str()
                .is_some_and(|t| t.starts_with("TRACKING_NUMBER_TAKEN"))
        })
        .collect();
    assert_eq!(held.len(), 1, "{audit:?}");
    let record = held[0];
    assert_eq!(record["action"], "buyShippingLabel");
    assert_eq!(record["outcome"], "FAILED");
    assert_eq!(
        (record["targetKind"].as_str(), record["targetId"].as_str()),
        (Some("shipment"), Some(second.1.as_str()))
    );
    let reason = record["reason"].as_str().unwrap();
    assert!(
        reason.contains(SAME) && reason.contains("SaaS-wide"),
        "{reason}"
    );
    for other in ["alpha", first.0.as_str(), first.1.as_str()] {
        assert!(!reason.contains(other), "names {other}: {reason}");
    }
    // Alpha's audit has nothing about it.
    assert!(
        tenant_audit(&s, &alpha_admin)
            .await
            .iter()
            .all(|r| !r["reason"].as_str().unwrap_or_default().contains(SAME)),
    );

    // The SaaS-level carrier webhook moves alpha's shipment, never beta's.
    let answer = carrier_update(
        &s,
        "/webhooks/shipment-tracker",
        SAAS_SECRET,
        SAME,
        "in_transit",
    )
    .await;
    assert!(answer.contains(&first.1), "{answer}");
    assert_eq!(status_of(&s, &alpha, &first).await, "IN_TRANSIT");
    assert_eq!(status_of(&s, &beta, &second).await, "LABEL_PURCHASED");

    // Beta's own number is in beta's own index: its tenant route finds beta's shipment.
    carrier_update(
        &s,
        "/webhooks/shipment-tracker/beta",
        BETA_SECRET,
        SAME,
        "out_for_delivery",
    )
    .await;
    assert_eq!(status_of(&s, &beta, &second).await, "OUT_FOR_DELIVERY");
    assert_eq!(status_of(&s, &alpha, &first).await, "IN_TRANSIT");

    // A number nobody's label carries: 200, ignored.
    let answer = carrier_update(
        &s,
        "/webhooks/shipment-tracker",
        SAAS_SECRET,
        "EZ-NOBODY-1",
        "delivered",
    )
    .await;
    assert!(answer.contains("\"ignored\":true"), "{answer}");
}
