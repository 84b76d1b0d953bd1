//! Signed webhooks end to end over HTTP against `oms serve`: hooks configured with the CLI, an
//! order taken in, a carrier's EasyPost-signed updates moving its shipment and the order.

use secrecy::SecretString;
use serde_json::json;

use crate::server::{Server, oms_with_input};

const ADD_ORDER_SECRET: &str = "whsec-e2e-add-order-0001";
const EASYPOST_SECRET: &str = "whsec-e2e-easyp\u{f3}st-0002";

fn ok(out: std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_intake_and_carrier_updates_over_http() {
    let dir = tempfile::tempdir().unwrap();
    // No `oms serve` and no `oms init` first: the first admin command prepares the directory.
    ok(oms_with_input(
        dir.path(),
        &[
            "webhook",
            "set",
            "--tenant",
            "demo",
            "--hook",
            "add-order",
            "--provider",
            "oms",
        ],
        &format!("{ADD_ORDER_SECRET}\n"),
    ));
    ok(oms_with_input(
        dir.path(),
        &[
            "webhook",
            "set",
            "--tenant",
            "demo",
            "--hook",
            "shipment-tracker",
            "--provider",
            "easypost",
        ],
        EASYPOST_SECRET,
    ));
    // The secret store on disk holds no plaintext.
    let sealed = std::fs::read_to_string(dir.path().join("secrets.json")).unwrap();
    assert!(
        !sealed.contains(ADD_ORDER_SECRET) && !sealed.contains("whsec"),
        "{sealed}"
    );
    let s = Server::start_in(dir);
    let staff = s.token("demo", "staff", None);
    let gql = |q: String| {
        let (s, staff) = (&s, &staff);
        async move { s.gql(staff, &q, json!({})).await.body }
    };

    // A signed add-order delivery creates an order visible in GraphQL.
    let body = json!({
        "externalRef": "E2E-1",
        "currency": "USD",
        "customer": {"name": "Ana", "email": "ana@example.com"},
        "destination": {"name": "Ana", "line1": "1 Main St", "city": "Springfield", "postalCode": "62701", "country": "US"},
        "lines": [{"sku": "TEE-M", "vendor": "v1", "quantity": 1, "unitPrice": "19.99"}]
    })
    .to_string()
    .into_bytes();
    let secret = SecretString::from(ADD_ORDER_SECRET.to_owned());
    let sig = auth::webhook::oms_signature(&secret, now(), &body);
    let json_type = ("content-type", "application/json".to_owned());
    let (status, text) = s
        .post_raw(
            "/webhooks/add-order/demo",
            &[json_type.clone(), ("x-oms-signature", sig)],
            body,
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let seen = gql(r#"{ orderByExternalRef(externalRef: "E2E-1") { id status } }"#.into()).await;
    let id = seen["data"]["orderByExternalRef"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(seen["data"]["orderByExternalRef"]["status"], "PENDING");

    // Ship it with a carrier and tracking number.
    gql(format!(
        r#"mutation {{ approveOrder(orderId: "{id}") {{ order {{ status }} }} }}"#
    ))
    .await;
    let shipped = gql(format!(r#"mutation {{ createShipment(orderId: "{id}", input: {{lines: [{{sku: "TEE-M", quantity: 1}}]}}) {{ shipment {{ id }} }} }}"#)).await;
    let sid = shipped["data"]["createShipment"]["shipment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gql(format!(r#"mutation {{ confirmShipment(orderId: "{id}", shipmentId: "{sid}") {{ order {{ status }} }} }}"#)).await;
    gql(format!(r#"mutation {{ dispatchShipment(orderId: "{id}", shipmentId: "{sid}", carrier: "usps", trackingNumber: "EZ1000000001") {{ order {{ status }} }} }}"#)).await;
    let state = || {
        let q = format!(r#"{{ order(id: "{id}") {{ status version shipments {{ status }} }} }}"#);
        gql(q)
    };
    assert_eq!(
        state().await["data"]["order"]["shipments"][0]["status"],
        "IN_TRANSIT"
    );

    // EasyPost-shaped tracker events, signed as EasyPost signs them.
    let easypost = SecretString::from(EASYPOST_SECRET.to_owned());
    let event = |id: &str, status: &str| {
        json!({"id": id, "object": "Event", "description": "tracker.updated",
               "result": {"object": "Tracker", "tracking_code": "EZ1000000001", "carrier": "USPS", "status": status}})
        .to_string()
        .into_bytes()
    };
    let send = |body: Vec<u8>| {
        let sig = auth::webhook::easypost_signature(&easypost, &body);
        let headers = vec![json_type.clone(), ("x-hmac-signature", sig)];
        let s = &s;
        async move {
            s.post_raw("/webhooks/shipment-tracker/demo", &headers, body)
                .await
        }
    };
    let (status, text) = send(event("evt_1", "in_transit")).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        state().await["data"]["order"]["shipments"][0]["status"],
        "IN_TRANSIT"
    );
    let (status, text) = send(event("evt_2", "delivered")).await;
    assert_eq!(status, 200, "{text}");
    let after = state().await;
    assert_eq!(
        after["data"]["order"]["shipments"][0]["status"], "DELIVERED",
        "{after}"
    );
    assert_eq!(after["data"]["order"]["status"], "DELIVERED", "{after}");
    // The same update again changes nothing.
    let (status, _) = send(event("evt_2", "delivered")).await;
    assert_eq!(status, 200);
    let again = state().await;
    assert_eq!(
        again["data"]["order"]["version"],
        after["data"]["order"]["version"]
    );
    // A forged update is refused.
    let (status, _) = s
        .post_raw(
            "/webhooks/shipment-tracker/demo",
            &[json_type, ("x-hmac-signature", "hmac-sha256-hex=00".into())],
            event("evt_3", "returned"),
        )
        .await;
    assert_eq!(status, 401);
}
