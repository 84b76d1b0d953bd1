//! Carrier accounts the platform holds, used on behalf of tenants (issue 27) over `oms serve` and
//! a fake EasyPost: platform credentials from the CLI, offered to one plan; a tenant on that
//! plan without credentials of its own rates, buys and voids through it (the carrier sees the
//! platform's key); a tenant on another plan is refused CONNECTION_NOT_EFFECTIVE with no carrier
//! call; a tenant's own credentials win unless it names `platform:<account>`; no tenant answer
//! shows the platform's secret or fingerprint.

use carriers::fake::FakeCarrier;
use serde_json::{Value, json};

use crate::gateway::{buys, confirmed, mutate, ok, set_gateway, shipment};
use crate::server::{Server, oms, oms_with_input};

const PLATFORM_KEY: &str = "EZTK-platform-held-key-000009999";
const OWN_KEY: &str = "EZTK-tenant-own-key-0000000007777";

fn basic(key: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

/// Tenants `retail` (plan `pro`, offered the platform account `shared`) and `small` (plan
/// `demo`), the gateway `easypost` at `fake`, the platform's credentials for `shared`.
fn setup(fake: &FakeCarrier) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(oms(d, &["plan", "set", "pro", "--all"]));
    ok(oms(d, &["tenant", "create", "retail", "--plan", "pro"]));
    ok(oms(d, &["tenant", "create", "small"]));
    set_gateway(d, "easypost", "EasyPost (fake)", &fake.base_url());
    let added = ok(oms_with_input(
        d,
        &[
            "carrier",
            "credentials",
            "add",
            "--platform",
            "--gateway",
            "easypost",
            "--account",
            "shared",
        ],
        PLATFORM_KEY,
    ));
    assert!(added.contains("easypost/shared"), "{added}");
    let offered = ok(oms(
        d,
        &[
            "gateway",
            "offer",
            "--id",
            "easypost",
            "--account",
            "shared",
            "--plan",
            "pro",
        ],
    ));
    assert!(
        offered.contains("platform:shared is offered to plans pro"),
        "{offered}"
    );
    let listed = ok(oms(d, &["gateway", "list"]));
    assert!(listed.contains("platform:shared=pro"), "{listed}");
    // Re-setting the gateway keeps its offers.
    set_gateway(d, "easypost", "EasyPost (fake)", &fake.base_url());
    assert!(ok(oms(d, &["gateway", "list"])).contains("platform:shared=pro"));
    let platform = ok(oms(d, &["carrier", "credentials", "list", "--platform"]));
    assert!(
        platform.contains("easypost/shared") && platform.contains("effective"),
        "{platform}"
    );
    assert!(!platform.contains(PLATFORM_KEY));
    dir
}

fn rates(order: &str, shipment: &str, account: Option<&str>) -> String {
    let account = account
        .map(|a| format!(r#", account: "{a}""#))
        .unwrap_or_default();
    format!(
        r#"{{ shippingRates(orderId: "{order}", shipmentId: "{shipment}", gateway: "easypost"{account}) {{ rates {{ id }} }} }}"#
    )
}

fn first_id(r: &Value) -> String {
    r["data"]["shippingRates"]["rates"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned()
}

/// The authorization of the fake's last request.
fn last_key(fake: &FakeCarrier) -> Option<String> {
    fake.requests().last().and_then(|r| r.authorization.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_account_serves_the_plans_it_is_offered_to() {
    let fake = FakeCarrier::easypost(PLATFORM_KEY).await;
    fake.accept_key(OWN_KEY);
    let s = Server::start_serving(setup(&fake), &[]);
    let staff = s.token("retail", "staff", None);
    let admin = s.token("retail", "tenant-admin", None);
    let mut answers = Vec::new();

    // No credentials of its own: the platform's account, which the carrier sees.
    let (order, sid) = confirmed(&s, &staff).await;
    let quoted = s.gql(&staff, &rates(&order, &sid, None), json!({})).await;
    let rate = first_id(&quoted.body);
    assert_eq!(last_key(&fake), Some(basic(PLATFORM_KEY)));
    answers.push(quoted.raw);
    let bought = mutate(
        &s,
        &staff,
        &format!(r#"buyShippingLabel(orderId: "{order}", shipmentId: "{sid}", rateId: "{rate}")"#),
        "order { shipments { id status trackingNumber } }",
        Some("platform-buy-1"),
    )
    .await;
    assert_eq!(
        shipment(&bought["order"], &sid)["status"],
        "LABEL_PURCHASED"
    );
    let sold = buys(&fake);
    assert_eq!(sold.len(), 1);
    assert_eq!(sold[0].authorization, Some(basic(PLATFORM_KEY)));
    answers.push(bought.to_string());
    // Two more through it, named explicitly this time.
    for n in 2..=3 {
        let (o, sh) = confirmed(&s, &staff).await;
        let named = s
            .gql(&staff, &rates(&o, &sh, Some("platform:shared")), json!({}))
            .await;
        let rate = first_id(&named.body);
        assert_eq!(last_key(&fake), Some(basic(PLATFORM_KEY)));
        answers.push(named.raw);
        mutate(
            &s,
            &staff,
            &format!(r#"buyShippingLabel(orderId: "{o}", shipmentId: "{sh}", rateId: "{rate}")"#),
            "order { id }",
            Some(&format!("platform-buy-{n}")),
        )
        .await;
    }
    assert_eq!(buys(&fake).len(), 3);
    let (order2, sid2) = confirmed(&s, &staff).await;
    // Voided through the account that bought it.
    let voided = mutate(
        &s,
        &staff,
        &format!(r#"voidShippingLabel(orderId: "{order}", shipmentId: "{sid}")"#),
        "order { shipments { id status } }",
        Some("platform-void-1"),
    )
    .await;
    assert_eq!(shipment(&voided["order"], &sid)["status"], "CANCELLED");
    let refund = fake
        .requests()
        .into_iter()
        .rfind(|r| r.path.ends_with("/refund"))
        .unwrap();
    assert_eq!(refund.authorization, Some(basic(PLATFORM_KEY)));

    // Usage: 3 purchases and 1 reversal, 3 × 7.58 − 7.58; the tenant's own, paged.
    let usage = "{ carrierUsage(first: 3) { edges { cursor node { kind account amount { amount currency } orderId } } pageInfo { hasNextPage endCursor } totals { amount currency } } }";
    let mine = s.gql(&admin, usage, json!({})).await;
    let u = &mine.body["data"]["carrierUsage"];
    assert_eq!(
        u["totals"],
        json!([{"amount": "15.16", "currency": "USD"}]),
        "{}",
        mine.raw
    );
    assert_eq!(u["edges"].as_array().map(Vec::len), Some(3), "{}", mine.raw);
    assert_eq!(u["pageInfo"]["hasNextPage"], true);
    assert_eq!(u["edges"][0]["node"]["account"], "platform:shared");
    let after = u["pageInfo"]["endCursor"].as_str().unwrap();
    let rest = s
        .gql(
            &admin,
            &format!(r#"{{ carrierUsage(after: "{after}") {{ nodes {{ kind orderId amount {{ amount }} }} pageInfo {{ hasNextPage }} }} }}"#),
            json!({}),
        )
        .await;
    let rest = &rest.body["data"]["carrierUsage"];
    assert_eq!(
        rest["nodes"],
        json!([{"kind": "REVERSAL", "orderId": order, "amount": {"amount": "7.58"}}])
    );
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    let kinds: Vec<&str> = u["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["PURCHASE"; 3]);
    // Staff may not read it; another tenant sees none of it; the platform admin sees it under
    // this tenant.
    let r = s
        .gql(&staff, "{ carrierUsage { totals { amount } } }", json!({}))
        .await;
    assert_eq!(r.code(), Some("FORBIDDEN"), "{}", r.raw);
    let other = s.token("small", "tenant-admin", None);
    let theirs = s
        .gql(
            &other,
            "{ carrierUsage { nodes { id } totals { amount } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        theirs.body["data"]["carrierUsage"],
        json!({"nodes": [], "totals": []}),
        "{}",
        theirs.raw
    );
    let root = s.token("retail", "platform-admin", None);
    // The platform's credentials over the platform API: listed with fingerprints, added, offered;
    // a tenant's admin may do none of it.
    let listed = s
        .gql(&root, r#"{ platformCarrierCredentials(gateway: "easypost") { account fingerprint effective } }"#, json!({}))
        .await;
    assert_eq!(
        listed.body["data"]["platformCarrierCredentials"],
        json!([{"account": "shared", "fingerprint": "…9999", "effective": true}]),
        "{}",
        listed.raw
    );
    let added = s
        .gql(
            &root,
            r#"mutation { addPlatformCarrierCredentials(input: {gateway: "easypost", account: "second", apiKey: "EZTK-platform-second-key-00000042"}) { credential { account fingerprint } userErrors { code } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        added.body["data"]["addPlatformCarrierCredentials"]["credential"],
        json!({"account": "second", "fingerprint": "…0042"}),
        "{}",
        added.raw
    );
    let offered = s
        .gql(
            &root,
            r#"mutation { offerPlatformAccount(gateway: "easypost", account: "second", plans: ["pro"]) { account plans userErrors { code } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        offered.body["data"]["offerPlatformAccount"],
        json!({"account": "platform:second", "plans": ["pro"], "userErrors": []}),
        "{}",
        offered.raw
    );
    let unknown_plan = s
        .gql(
            &root,
            r#"mutation { offerPlatformAccount(gateway: "easypost", account: "second", plans: ["nope"]) { userErrors { code field } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        unknown_plan.body["data"]["offerPlatformAccount"]["userErrors"][0]["field"][0], "plan",
        "{}",
        unknown_plan.raw
    );
    for q in [
        r#"{ platformCarrierCredentials { account } }"#,
        r#"mutation { offerPlatformAccount(gateway: "easypost", account: "shared", plans: ["demo"]) { plans } }"#,
    ] {
        let r = s.gql(&admin, q, json!({})).await;
        assert_eq!(r.code(), Some("FORBIDDEN"), "{}", r.raw);
    }
    // Two platform accounts offered now and none of its own yet: naming none is ambiguous.
    let ambiguous = s.gql(&staff, &rates(&order2, &sid2, None), json!({})).await;
    assert_eq!(ambiguous.code(), Some("INVALID_INPUT"), "{}", ambiguous.raw);
    assert!(
        ambiguous.raw.contains("platform:shared, platform:second"),
        "{}",
        ambiguous.raw
    );
    let billed = s
        .gql(
            &root,
            r#"{ platformCarrierUsage(tenant: "retail") { nodes { kind } totals { amount currency } } }"#,
            json!({}),
        )
        .await;
    let b = &billed.body["data"]["platformCarrierUsage"];
    assert_eq!(
        b["nodes"].as_array().map(Vec::len),
        Some(4),
        "{}",
        billed.raw
    );
    assert_eq!(b["totals"], json!([{"amount": "15.16", "currency": "USD"}]));
    let none = s
        .gql(
            &root,
            r#"{ platformCarrierUsage(tenant: "small") { nodes { kind } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        none.body["data"]["platformCarrierUsage"]["nodes"],
        json!([]),
        "{}",
        none.raw
    );
    let r = s
        .gql(
            &admin,
            r#"{ platformCarrierUsage(tenant: "retail") { totals { amount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("FORBIDDEN"), "{}", r.raw);

    // Its own credentials win when it names no account; `platform:shared` still reaches the
    // platform's.
    mutate(
        &s,
        &admin,
        &format!(r#"addCarrierCredentials(input: {{gateway: "easypost", account: "main", apiKey: "{OWN_KEY}"}})"#),
        "credential { id }",
        None,
    )
    .await;
    let own = s.gql(&staff, &rates(&order2, &sid2, None), json!({})).await;
    first_id(&own.body);
    assert_eq!(last_key(&fake), Some(basic(OWN_KEY)));
    let platform = s
        .gql(
            &staff,
            &rates(&order2, &sid2, Some("platform:shared")),
            json!({}),
        )
        .await;
    first_id(&platform.body);
    assert_eq!(last_key(&fake), Some(basic(PLATFORM_KEY)));
    answers.extend([own.raw, platform.raw]);

    // The tenant's credential listing is its own: nothing of the platform's.
    let listed = s
        .gql(
            &admin,
            "{ carrierCredentials { account fingerprint } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed.body["data"]["carrierCredentials"],
        json!([{"account": "main", "fingerprint": "…7777"}]),
        "{}",
        listed.raw
    );
    answers.push(listed.raw);
    for a in &answers {
        assert!(!a.contains(PLATFORM_KEY) && !a.contains("…9999"), "{a}");
    }

    // A tenant on a plan the account is not offered to: refused, nothing sent.
    let small = s.token("small", "staff", None);
    let (o, sh) = confirmed(&s, &small).await;
    let before = fake.requests().len();
    for account in [Some("platform:shared"), None] {
        let r = s.gql(&small, &rates(&o, &sh, account), json!({})).await;
        assert_eq!(
            r.body["errors"][0]["extensions"]["code"], "CONNECTION_NOT_EFFECTIVE",
            "{}",
            r.raw
        );
    }
    assert_eq!(fake.requests().len(), before, "no carrier call");
}
