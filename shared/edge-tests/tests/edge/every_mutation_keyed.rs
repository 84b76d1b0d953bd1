//! Every mutation of the schema sent twice with one `Idempotency-Key`: the second answer is a
//! replay of the first (200, the same `data` byte for byte, `"replayed": true`) and one change
//! was stored — or, for the mutations that cannot honour a key (carrier credentials and every
//! platform mutation), both answers are the documented 400 `IDEMPOTENCY_NOT_SUPPORTED` and
//! nothing was stored. The table must name every field of the schema's `Mutation` type, so a new
//! mutation fails here until its row says which of the two it is.
//!
//! The label mutations run against the fake EasyPost over HTTP, through the same router and
//! outbound client as the rest (their replays under faults — a lost answer, a failed commit, a
//! crash between the sale and the commit — are shared/app-tests/tests/app/labels.rs); the platform
//! ones are sent with a platform-admin token.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use carriers::fake::FakeCarrier;
use domain::access::Role;
use domain::gateway::{CarrierKind, GatewayAuthType, GatewayConfig};
use domain::ids::CarrierCode;
use serde_json::{Value, json};
use store::cursor::{CursorKey, Cursors};
use testkit::WebhookEnv;

use crate::idempotency::data_bytes;

const API_KEY: &str = "EZTK-every-mutation-keyed-000001";

/// Who sends a row's mutation.
#[derive(Debug, Clone, Copy)]
enum Who {
    Staff,
    Admin,
    Platform,
}

/// What one run of a row's mutation changes, and how a replay is told apart from a second run.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The order's version rises by this much: what one run of the command does (a label
    /// purchase or void is two commands: its carrier intent is committed before the call, its
    /// outcome after).
    Order(u64),
    /// One more order in the tenant's listing.
    NewOrder,
    /// One more version of the tenant's config.
    TenantConfig,
    /// Refused with HTTP 400 `IDEMPOTENCY_NOT_SUPPORTED`, both times; nothing written.
    Refused,
}

/// One step of preparing a fresh order; a row lists the steps its mutation needs.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A new PENDING order: 2 × `A` at 10.00.
    Create,
    Approve,
    Pay,
    /// A shipment of both units, with a package and a pickup (what a carrier rates).
    Ship,
    ConfirmShipment,
    /// A rate for the shipment from `shippingRates` (a read).
    Quote,
    /// The quoted label bought (with a key of its own).
    BuyLabel,
    /// The fake carrier reports the label's parcel in transit.
    CarrierInTransit,
    Dispatch,
    Deliver,
    RequestReturn,
    ApproveReturn,
    ReceiveReturn,
    /// A rate for the return's label from `returnShippingRates` (a read).
    QuoteReturn,
    /// The quoted return label bought (with a key of its own).
    BuyReturnLabel,
}

use Step::*;

const PENDING: &[Step] = &[Create];
const CONFIRMED: &[Step] = &[Create, Approve];
const PAID: &[Step] = &[Create, Approve, Pay];
const SHIPMENT: &[Step] = &[Create, Approve, Pay, Ship];
const SHIPMENT_CONFIRMED: &[Step] = &[Create, Approve, Pay, Ship, ConfirmShipment];
const QUOTED: &[Step] = &[Create, Approve, Pay, Ship, ConfirmShipment, Quote];
const LABELLED: &[Step] = &[Create, Approve, Pay, Ship, ConfirmShipment, Quote, BuyLabel];
const LABEL_IN_TRANSIT: &[Step] = &[
    Create,
    Approve,
    Pay,
    Ship,
    ConfirmShipment,
    Quote,
    BuyLabel,
    CarrierInTransit,
];
const DISPATCHED: &[Step] = &[Create, Approve, Pay, Ship, ConfirmShipment, Dispatch];
const DELIVERED: &[Step] = &[
    Create,
    Approve,
    Pay,
    Ship,
    ConfirmShipment,
    Dispatch,
    Deliver,
];
const RETURN_REQUESTED: &[Step] = &[
    Create,
    Approve,
    Pay,
    Ship,
    ConfirmShipment,
    Dispatch,
    Deliver,
    RequestReturn,
];
const RETURN_APPROVED: &[Step] = &[
    Create,
    Approve,
    Pay,
    Ship,
    ConfirmShipment,
    Dispatch,
    Deliver,
    RequestReturn,
    ApproveReturn,
];
const RETURN_QUOTED: &[Step] = &[
    Create,
    Approve,
    Pay,
    Ship,
    ConfirmShipment,
    Dispatch,
    Deliver,
    RequestReturn,
    ApproveReturn,
    QuoteReturn,
];
const RETURN_LABELLED: &[Step] = &[
    Create,
    Approve,
    Pay,
    Ship,
    ConfirmShipment,
    Dispatch,
    Deliver,
    RequestReturn,
    ApproveReturn,
    QuoteReturn,
    BuyReturnLabel,
];
const RETURN_RECEIVED: &[Step] = &[
    Create,
    Approve,
    Pay,
    Ship,
    ConfirmShipment,
    Dispatch,
    Deliver,
    RequestReturn,
    ApproveReturn,
    ReceiveReturn,
];

/// What the steps made.
#[derive(Debug, Default)]
struct Fixture {
    order: Option<String>,
    shipment: Option<String>,
    ret: Option<String>,
    rate: Option<String>,
    tracking: Option<String>,
    /// The tenant's carrier credential (made once, for every row).
    credential: String,
}

fn made<'a>(v: &'a Option<String>, what: &str) -> &'a str {
    v.as_deref()
        .unwrap_or_else(|| panic!("the row's steps make no {what}"))
}

impl Fixture {
    fn order(&self) -> &str {
        made(&self.order, "order")
    }
    fn shipment(&self) -> &str {
        made(&self.shipment, "shipment")
    }
    fn ret(&self) -> &str {
        made(&self.ret, "return")
    }
    fn rate(&self) -> &str {
        made(&self.rate, "rate")
    }
    fn tracking(&self) -> &str {
        made(&self.tracking, "tracking number")
    }
    /// `orderId: "…", shipmentId: "…"`.
    fn on_shipment(&self) -> String {
        format!(
            r#"orderId: "{}", shipmentId: "{}""#,
            self.order(),
            self.shipment()
        )
    }
    /// `orderId: "…", returnId: "…"`.
    fn on_return(&self) -> String {
        format!(r#"orderId: "{}", returnId: "{}""#, self.order(), self.ret())
    }
}

/// One mutation of the schema: who sends it, the state it needs, its arguments, what it does.
struct Row {
    field: &'static str,
    who: Who,
    steps: &'static [Step],
    args: fn(&Fixture) -> String,
    expect: Expect,
}

const ORDER_INPUT: &str = r#"{currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 2, unitPrice: "10.00"}]}"#;
const SHIPMENT_INPUT: &str = r#"{lines: [{sku: "A", quantity: 2}], package: {weightGrams: 500, lengthMm: 200, widthMm: 150, heightMm: 100}, pickup: {address: {name: "Warehouse", line1: "417 Montgomery St", city: "San Francisco", region: "CA", postalCode: "94104", country: "US"}, windowStart: "2030-01-01T09:00:00Z", windowEnd: "2030-01-01T17:00:00Z"}}"#;
const CREDENTIALS_INPUT: &str =
    r#"{gateway: "easypost", account: "main", apiKey: "EZTK-never-stored-0000000000002"}"#;

fn table() -> Vec<Row> {
    use Expect::*;
    use Who::*;
    let order = |f: &Fixture| format!(r#"(orderId: "{}")"#, f.order());
    let shipment = |f: &Fixture| format!("({})", f.on_shipment());
    let ret = |f: &Fixture| format!("({})", f.on_return());
    #[rustfmt::skip]
    let rows = vec![
        Row { field: "createOrder", who: Staff, steps: &[], expect: NewOrder,
            args: |_| format!("(input: {ORDER_INPUT})") },
        Row { field: "assignOrderReviewer", who: Staff, steps: PENDING, expect: Order(1),
            args: |f| format!(r#"(orderId: "{}", reviewer: "rev-1", comments: "look")"#, f.order()) },
        Row { field: "approveOrder", who: Staff, steps: PENDING, expect: Order(1), args: order },
        Row { field: "rejectOrder", who: Staff, steps: PENDING, expect: Order(1),
            args: |f| format!(r#"(orderId: "{}", reason: "fraud")"#, f.order()) },
        Row { field: "cancelOrder", who: Staff, steps: CONFIRMED, expect: Order(1),
            args: |f| format!(r#"(orderId: "{}", reason: "changed mind")"#, f.order()) },
        Row { field: "cancelOrderLines", who: Staff, steps: PENDING, expect: Order(1),
            args: |f| format!(r#"(orderId: "{}", lines: [{{sku: "A", quantity: 1}}], reason: "out of stock")"#, f.order()) },
        Row { field: "markOrderPaid", who: Staff, steps: CONFIRMED, expect: Order(1),
            args: |f| format!(r#"(orderId: "{}", paymentReference: "pay-1")"#, f.order()) },
        Row { field: "createShipment", who: Staff, steps: PAID, expect: Order(1),
            args: |f| format!(r#"(orderId: "{}", input: {SHIPMENT_INPUT})"#, f.order()) },
        Row { field: "confirmShipment", who: Staff, steps: SHIPMENT, expect: Order(1), args: shipment },
        Row { field: "dispatchShipment", who: Staff, steps: SHIPMENT_CONFIRMED, expect: Order(1),
            args: |f| format!(r#"({}, carrier: "fedex", trackingNumber: "794600000001")"#, f.on_shipment()) },
        Row { field: "updateShipmentTracking", who: Staff, steps: DISPATCHED, expect: Order(1),
            args: |f| format!("({}, status: OUT_FOR_DELIVERY)", f.on_shipment()) },
        Row { field: "cancelShipment", who: Staff, steps: SHIPMENT, expect: Order(1), args: shipment },
        Row { field: "markShipmentDelivered", who: Staff, steps: DISPATCHED, expect: Order(1), args: shipment },
        Row { field: "requestReturn", who: Staff, steps: DELIVERED, expect: Order(1),
            args: |f| format!(r#"(orderId: "{}", lines: [{{sku: "A", quantity: 1}}], reason: "damaged")"#, f.order()) },
        Row { field: "approveReturn", who: Staff, steps: RETURN_REQUESTED, expect: Order(1), args: ret },
        Row { field: "rejectReturn", who: Staff, steps: RETURN_REQUESTED, expect: Order(1), args: ret },
        Row { field: "receiveReturn", who: Staff, steps: RETURN_APPROVED, expect: Order(1), args: ret },
        Row { field: "refundReturn", who: Staff, steps: RETURN_RECEIVED, expect: Order(1), args: ret },
        Row { field: "refundOrder", who: Staff, steps: PAID, expect: Order(1),
            args: |f| format!(r#"(orderId: "{}", amount: "1.00", reason: "goodwill")"#, f.order()) },
        Row { field: "completeOrder", who: Staff, steps: DELIVERED, expect: Order(1), args: order },
        Row { field: "updateTenantConfig", who: Admin, steps: &[], expect: TenantConfig,
            args: |_| r#"(input: {restockingFeeBps: 500, maxRefunds: [{amount: "100.00", currency: "USD"}]})"#.into() },
        Row { field: "addCarrierCredentials", who: Admin, steps: &[], expect: Refused,
            args: |_| format!("(input: {CREDENTIALS_INPUT})") },
        Row { field: "rotateCarrierCredentials", who: Admin, steps: &[], expect: Refused,
            args: |_| format!("(input: {CREDENTIALS_INPUT})") },
        Row { field: "expireCarrierCredentials", who: Admin, steps: &[], expect: Refused,
            args: |f| format!(r#"(gateway: "easypost", account: "main", id: "{}")"#, f.credential) },
        Row { field: "createApiKey", who: Admin, steps: &[], expect: Refused,
            args: |_| r#"(input: {name: "ERP", role: STAFF})"#.into() },
        Row { field: "revokeApiKey", who: Admin, steps: &[], expect: Refused,
            args: |_| r#"(id: "01HZZZZZZZZZZZZZZZZZZZZZZZ")"#.into() },
        Row { field: "reconcileLabels", who: Admin, steps: &[], expect: Refused,
            args: |_| "(lookup: false)".into() },
        Row { field: "buyShippingLabel", who: Staff, steps: QUOTED, expect: Order(2),
            args: |f| format!(r#"({}, rateId: "{}")"#, f.on_shipment(), f.rate()) },
        Row { field: "voidShippingLabel", who: Staff, steps: LABELLED, expect: Order(2), args: shipment },
        Row { field: "trackShipment", who: Staff, steps: LABEL_IN_TRANSIT, expect: Order(1), args: shipment },
        Row { field: "buyReturnLabel", who: Staff, steps: RETURN_QUOTED, expect: Order(2),
            args: |f| format!(r#"({}, rateId: "{}")"#, f.on_return(), f.rate()) },
        Row { field: "voidReturnLabel", who: Staff, steps: RETURN_LABELLED, expect: Order(2), args: ret },
        Row { field: "createTenant", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(input: {id: "acme", plan: "demo"})"#.into() },
        Row { field: "suspendTenant", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(id: "demo")"#.into() },
        Row { field: "activateTenant", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(id: "demo")"#.into() },
        Row { field: "setTenantPlan", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(id: "demo", plan: "demo")"#.into() },
        Row { field: "setPlan", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(name: "gold", all: true)"#.into() },
        Row { field: "setTenantIdp", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(id: "demo", registration: {issuer: "https://idp.example.com"})"#.into() },
        Row { field: "addPlatformCarrierCredentials", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(input: {gateway: "easypost", account: "shared", apiKey: "EZTK-platform-0000000000001"})"#.into() },
        Row { field: "rotatePlatformCarrierCredentials", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(input: {gateway: "easypost", account: "shared", apiKey: "EZTK-platform-0000000000002"})"#.into() },
        Row { field: "expirePlatformCarrierCredentials", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(gateway: "easypost", account: "shared", id: "01HZZZZZZZZZZZZZZZZZZZZZZZ")"#.into() },
        Row { field: "offerPlatformAccount", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(gateway: "easypost", account: "shared", plans: ["demo"])"#.into() },
        Row { field: "setWebhook", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(input: {tenant: "demo", hook: "add-order", provider: "oms", secret: "0123456789abcdef-keyed"})"#.into() },
        Row { field: "setEventSource", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(tenant: "demo", account: "123456789012", source: "com.demo.orders")"#.into() },
        Row { field: "setGateway", who: Platform, steps: &[], expect: Refused,
            args: |_| r#"(input: {id: "ep2", kind: "easypost", name: "EasyPost 2"})"#.into() },
    ];
    rows
}

/// The fields of the `Mutation` type of the schema the code builds.
fn schema_mutations() -> BTreeSet<String> {
    let doc = async_graphql::parser::parse_schema(graphql::sdl()).unwrap();
    let fields = doc
        .definitions
        .iter()
        .find_map(|d| match d {
            TypeSystemDefinition::Type(t) if t.node.name.node == "Mutation" => match &t.node.kind {
                TypeKind::Object(o) => Some(&o.fields),
                _ => None,
            },
            _ => None,
        })
        .expect("the schema has a Mutation object type");
    fields
        .iter()
        .map(|f| f.node.name.node.to_string())
        .collect()
}

/// The demo tenant behind a router that also accepts the dev platform issuer, with the fake
/// EasyPost in the gateway catalogue and one credential of the tenant's for it.
struct Env {
    base: WebhookEnv,
    router: axum::Router,
    fake: FakeCarrier,
    credential: String,
}

/// A response: (HTTP status, body, body text).
type Answer = (u16, Value, String);

impl Env {
    async fn new() -> Self {
        let base = WebhookEnv::build(Arc::new(domain::SystemClock), &[]).await;
        let verifier = auth::VerifierConfig {
            dev_mode: true,
            platform: Some(base.idp.platform_registration().unwrap()),
            ..auth::VerifierConfig::default()
        };
        // The fake carrier listens on loopback http: dev mode's outbound policy lets it in.
        let services = boot::services_with_outbound(
            base.store.clone(),
            base.clock.clone(),
            verifier,
            Cursors::new(CursorKey::from_bytes(&[3; 32]).unwrap()),
            Some(base.secrets()),
            domain::outbound::OutboundPolicy::for_mode(true),
        )
        .unwrap();
        let router = http_edge::router(graphql::api_state(services), testkit::production_http());
        let fake = FakeCarrier::easypost(API_KEY).await;
        app::platform::Platform::new(
            store::repo::platform_repositories(base.store.clone()),
            base.clock.clone(),
            domain::ids::Subject::parse("cli:test").unwrap(),
            None,
        )
        .with_outbound(domain::outbound::OutboundPolicy::for_mode(true))
        .set_gateway(GatewayConfig {
            id: CarrierCode::parse("easypost").unwrap(),
            name: "EasyPost (fake)".into(),
            kind: CarrierKind::Easypost,
            sandbox_url: fake.base_url(),
            production_url: fake.base_url(),
            auth_type: GatewayAuthType::ApiKey,
            offers: Vec::new(),
        })
        .await
        .unwrap();
        let mut env = Self {
            base,
            router,
            fake,
            credential: String::new(),
        };
        let added = env
            .mutate(
                Who::Admin,
                "addCarrierCredentials",
                &format!(
                    r#"(input: {{gateway: "easypost", account: "main", apiKey: "{API_KEY}"}})"#
                ),
                "credential { id }",
            )
            .await;
        env.credential = added["credential"]["id"].as_str().unwrap().to_owned();
        env
    }

    fn token(&self, who: Who) -> String {
        let (idp, clock) = (&self.base.idp, self.base.clock.as_ref());
        match who {
            Who::Staff => testkit::demo_token(idp, clock, Role::Staff),
            Who::Admin => testkit::demo_token(idp, clock, Role::TenantAdmin),
            Who::Platform => idp
                .mint_platform("ops@example.com", clock.now_secs(), 3_600)
                .unwrap(),
        }
    }

    async fn send(&self, who: Who, query: &str, key: Option<&str>) -> Answer {
        let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
        testkit::post_graphql(
            &self.router,
            &self.token(who),
            &headers,
            json!({ "query": query }),
        )
        .await
    }

    /// A read that must succeed: its `data`.
    async fn read(&self, who: Who, query: &str) -> Value {
        let (status, body, text) = self.send(who, query, None).await;
        assert!(status == 200 && body["errors"].is_null(), "{query}: {text}");
        body["data"].clone()
    }

    /// An unkeyed mutation that must succeed: its payload.
    async fn mutate(&self, who: Who, field: &str, args: &str, selection: &str) -> Value {
        self.mutate_keyed(who, field, args, selection, None).await
    }

    async fn mutate_keyed(
        &self,
        who: Who,
        field: &str,
        args: &str,
        selection: &str,
        key: Option<&str>,
    ) -> Value {
        let query = mutation(field, args, selection);
        let (status, body, text) = self.send(who, &query, key).await;
        let payload = &body["data"][field];
        assert!(
            status == 200 && body["errors"].is_null() && payload["userErrors"] == json!([]),
            "{field}: {text}"
        );
        payload.clone()
    }

    /// The first rate id `field` (`shippingRates`, `returnShippingRates`) quotes for `on` (its
    /// arguments naming the order and the shipment or return) from the account `main`.
    async fn first_rate(&self, field: &str, on: String) -> String {
        let q = format!(
            r#"{{ {field}({on}, gateway: "easypost", account: "main") {{ rates {{ id }} }} }}"#
        );
        let rates = self.read(Who::Staff, &q).await;
        rates[field]["rates"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no rate: {rates}"))
            .to_owned()
    }

    /// A fresh order prepared by `steps`.
    async fn prepare(&self, steps: &[Step]) -> Fixture {
        let mut f = Fixture {
            credential: self.credential.clone(),
            ..Fixture::default()
        };
        for step in steps {
            self.step(&mut f, *step).await;
        }
        f
    }

    async fn step(&self, f: &mut Fixture, step: Step) {
        let run = async |field: &str, args: String, selection: &str| {
            self.mutate(Who::Staff, field, &args, selection).await
        };
        let order = || format!(r#"(orderId: "{}")"#, f.order());
        let shipment = || format!("({})", f.on_shipment());
        let ret = || format!("({})", f.on_return());
        match step {
            Create => {
                let p = run(
                    "createOrder",
                    format!("(input: {ORDER_INPUT})"),
                    "order { id }",
                )
                .await;
                f.order = p["order"]["id"].as_str().map(str::to_owned);
            }
            Approve => {
                run("approveOrder", order(), "order { id }").await;
            }
            Pay => {
                let args = format!(r#"(orderId: "{}", paymentReference: "p-1")"#, f.order());
                run("markOrderPaid", args, "order { id }").await;
            }
            Ship => {
                let args = format!(r#"(orderId: "{}", input: {SHIPMENT_INPUT})"#, f.order());
                let p = run("createShipment", args, "shipment { id }").await;
                f.shipment = p["shipment"]["id"].as_str().map(str::to_owned);
            }
            ConfirmShipment => {
                run("confirmShipment", shipment(), "order { id }").await;
            }
            Quote => f.rate = Some(self.first_rate("shippingRates", f.on_shipment()).await),
            BuyLabel => {
                let args = format!(r#"({}, rateId: "{}")"#, f.on_shipment(), f.rate());
                let key = format!("step-buy-{}", f.shipment());
                let selection = "order { shipments { id trackingNumber } }";
                let p = self
                    .mutate_keyed(Who::Staff, "buyShippingLabel", &args, selection, Some(&key))
                    .await;
                f.tracking = shipment_of(&p["order"], f.shipment())["trackingNumber"]
                    .as_str()
                    .map(str::to_owned);
            }
            CarrierInTransit => self.fake.set_tracking(f.tracking(), "in_transit"),
            Dispatch => {
                // Each shipment its own number: a number is held by one shipment only.
                let args = format!(
                    r#"({}, carrier: "fedex", trackingNumber: "DSP{}")"#,
                    f.on_shipment(),
                    f.shipment()
                );
                run("dispatchShipment", args, "order { id }").await;
            }
            Deliver => {
                run("markShipmentDelivered", shipment(), "order { id }").await;
            }
            RequestReturn => {
                let args = format!(
                    r#"(orderId: "{}", lines: [{{sku: "A", quantity: 1}}], reason: "damaged")"#,
                    f.order()
                );
                let p = run("requestReturn", args, "return { id }").await;
                f.ret = p["return"]["id"].as_str().map(str::to_owned);
            }
            ApproveReturn => {
                run("approveReturn", ret(), "order { id }").await;
            }
            ReceiveReturn => {
                run("receiveReturn", ret(), "order { id }").await;
            }
            QuoteReturn => {
                f.rate = Some(self.first_rate("returnShippingRates", f.on_return()).await);
            }
            BuyReturnLabel => {
                let args = format!(r#"({}, rateId: "{}")"#, f.on_return(), f.rate());
                let key = format!("step-buy-{}", f.ret());
                let selection = "order { returns { id label { trackingNumber } } }";
                let p = self
                    .mutate_keyed(Who::Staff, "buyReturnLabel", &args, selection, Some(&key))
                    .await;
                assert!(
                    p["order"]["returns"][0]["label"]["trackingNumber"].is_string(),
                    "{p}"
                );
            }
        }
    }

    /// The number a row's one change raises: the order's version, the tenant's order count or
    /// its config version (none for a refused row).
    async fn counter(&self, expect: Expect, f: &Fixture) -> u64 {
        let (query, pointer) = match expect {
            Expect::Order(_) => (
                format!(r#"{{ order(id: "{}") {{ version }} }}"#, f.order()),
                "/order/version",
            ),
            Expect::TenantConfig => (
                "{ tenantConfig { version } }".into(),
                "/tenantConfig/version",
            ),
            Expect::NewOrder => {
                let data = self
                    .read(Who::Staff, "{ orders(first: 250) { nodes { id } } }")
                    .await;
                let n = data["orders"]["nodes"].as_array().map(Vec::len);
                return n.unwrap_or_else(|| panic!("{data}")) as u64;
            }
            Expect::Refused => return 0,
        };
        let data = self.read(Who::Admin, &query).await;
        data.pointer(pointer)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{data}"))
    }

    /// What a refused row could have changed, as its sender reads it: the tenant's credentials
    /// and API keys, or the platform's tenants.
    async fn snapshot(&self, who: Who) -> Value {
        let query = match who {
            Who::Platform => {
                "{ tenants { nodes { id name status plan shards updatedAt idps { issuer } } } }"
            }
            Who::Staff | Who::Admin => {
                "{ carrierCredentials { id account fingerprint from thru effective } apiKeys { id thru } tenantConfig { version } }"
            }
        };
        self.read(who, query).await
    }
}

fn mutation(field: &str, args: &str, selection: &str) -> String {
    format!("mutation {{ {field}{args} {{ {selection} userErrors {{ code field message }} }} }}")
}

fn shipment_of<'a>(order: &'a Value, id: &str) -> &'a Value {
    order["shipments"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no shipment {id} in {order}"))
}

/// What a row selects from its payload: what the replay must repeat byte for byte.
fn selection(expect: Expect) -> &'static str {
    match expect {
        Expect::Order(_) | Expect::NewOrder => "order { id version status }",
        Expect::TenantConfig => "tenantConfig { version restockingFeeBps }",
        Expect::Refused => "",
    }
}

/// The carrier's books: what it was asked, sold and refunded.
fn carrier_books(fake: &FakeCarrier) -> (usize, usize, usize) {
    (
        fake.requests().len(),
        fake.labels_sold(),
        fake.labels_refunded(),
    )
}

/// Sends `row`'s mutation twice with one key on freshly prepared state, and checks the replay
/// (or the refusal) and that exactly one change (or none) was stored.
async fn check(env: &Env, row: &Row) {
    let f = env.prepare(row.steps).await;
    let query = mutation(row.field, &(row.args)(&f), selection(row.expect));
    let key = format!("every-{}", row.field);
    let field = row.field;
    let before = env.counter(row.expect, &f).await;
    let refused = matches!(row.expect, Expect::Refused);
    let snapshot = if refused {
        env.snapshot(row.who).await
    } else {
        Value::Null
    };
    let (writes, books) = (env.base.store.writes(), carrier_books(&env.fake));

    let (s1, first, t1) = env.send(row.who, &query, Some(&key)).await;
    let (writes1, books1) = (env.base.store.writes(), carrier_books(&env.fake));
    let (s2, second, t2) = env.send(row.who, &query, Some(&key)).await;
    let after = env.counter(row.expect, &f).await;

    if refused {
        for (status, body, text) in [(s1, &first, &t1), (s2, &second, &t2)] {
            assert_eq!(status, 400, "{field}: {text}");
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "IDEMPOTENCY_NOT_SUPPORTED",
                "{field}: {text}"
            );
            assert!(body["data"].is_null(), "{field}: {text}");
        }
        assert_eq!(env.base.store.writes(), writes, "{field}: a refusal wrote");
        assert_eq!(env.snapshot(row.who).await, snapshot, "{field}: changed");
        assert_eq!(
            carrier_books(&env.fake),
            books,
            "{field}: called the carrier"
        );
        return;
    }
    let bump = match row.expect {
        Expect::Order(n) => n,
        _ => 1,
    };
    // The first send ran: no errors, no user errors, one change committed with its record.
    assert_eq!(s1, 200, "{field}: {t1}");
    assert!(first["errors"].is_null(), "{field}: {t1}");
    assert_eq!(
        first["data"][field]["userErrors"],
        json!([]),
        "{field}: {t1}"
    );
    assert_ne!(first["extensions"]["replayed"], true, "{field}: {t1}");
    assert_eq!(
        (writes1 - writes) as u64,
        bump,
        "{field}: one transaction per command of the run"
    );
    // The second is the first's answer, and did nothing.
    assert_eq!(s2, 200, "{field}: {t2}");
    assert_eq!(second["extensions"]["replayed"], true, "{field}: {t2}");
    assert!(second["errors"].is_null(), "{field}: {t2}");
    assert_eq!(
        data_bytes(&t2),
        data_bytes(&t1),
        "{field}: the replay differs"
    );
    assert_eq!(
        env.base.store.writes(),
        writes1,
        "{field}: the replay wrote"
    );
    assert_eq!(
        carrier_books(&env.fake),
        books1,
        "{field}: the replay called the carrier"
    );
    // Exactly one change stored, and the first answer shows it.
    assert_eq!(after, before + bump, "{field}: {t1}");
    match row.expect {
        Expect::Order(_) => assert_eq!(
            first["data"][field]["order"]["version"].as_u64(),
            Some(after),
            "{field}: {t1}"
        ),
        Expect::TenantConfig => assert_eq!(
            first["data"][field]["tenantConfig"]["version"].as_u64(),
            Some(after),
            "{field}: {t1}"
        ),
        Expect::NewOrder | Expect::Refused => {}
    }
    // The carrier did what one run does.
    let (_, sold, refunded) = carrier_books(&env.fake);
    let (sold0, refunded0) = (books.1, books.2);
    let (want_sold, want_refunded) = match field {
        "buyShippingLabel" | "buyReturnLabel" => (1, 0),
        "voidShippingLabel" | "voidReturnLabel" => (0, 1),
        _ => (0, 0),
    };
    assert_eq!(
        (sold - sold0, refunded - refunded0),
        (want_sold, want_refunded),
        "{field}: labels sold and refunded"
    );
}

#[test]
fn the_table_names_every_mutation_of_the_schema_once() {
    let rows = table();
    let named: Vec<&str> = rows.iter().map(|r| r.field).collect();
    let unique: BTreeSet<String> = named.iter().map(|f| (*f).to_owned()).collect();
    assert_eq!(unique.len(), named.len(), "a mutation has two rows");
    let schema = schema_mutations();
    let missing: Vec<&String> = schema.difference(&unique).collect();
    let unknown: Vec<&String> = unique.difference(&schema).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "rows missing for {missing:?}; rows for no mutation of the schema: {unknown:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_sent_twice_with_one_key_replays_one_change_or_is_refused() {
    let env = Env::new().await;
    // The platform token is a real one: it reads what the platform mutations would change.
    let tenants = env
        .read(Who::Platform, "{ tenants { nodes { id } } }")
        .await;
    assert_eq!(tenants["tenants"]["nodes"][0]["id"], "demo", "{tenants}");
    for row in table() {
        check(&env, &row).await;
    }
}
