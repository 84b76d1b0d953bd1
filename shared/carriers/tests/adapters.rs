//! Both adapters against the stateful fakes: request shapes, response parsing, fault mapping
//! and retries, a full rates → buy → track → void round trip, and the key kept out of every
//! message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use app::ports::carrier::{
    Address, Carrier, CarrierError, Parcel, Purchase, PurchaseLookup, RateRef, Rates,
    ShipmentRequest, TrackStatus, VoidLookup, VoidOutcome,
};
use base64::Engine;
use carriers::easypost::EasyPost;
use carriers::fake::{FakeCarrier, Fault, Recorded};
use carriers::shippo::Shippo;
use carriers::{Credentials, RetryPolicy};
use domain::money::{Currency, Money};
use domain::outbound::OutboundPolicy;
use serde_json::json;

const KEY: &str = "test_key_7f3a91c0e5";

fn fast_retry(retries: u32) -> RetryPolicy {
    RetryPolicy {
        retries,
        base: Duration::from_millis(5),
    }
}

fn address(name: &str, street: &str, zip: &str) -> Address {
    Address {
        name: name.into(),
        company: None,
        street1: street.into(),
        street2: None,
        city: "San Francisco".into(),
        state: Some("CA".into()),
        zip: zip.into(),
        country: "US".into(),
        phone: Some("4153334445".into()),
        email: None,
    }
}

/// 1000 g = 35.27 oz; 300 mm = 11.81 in, 200 mm = 7.87 in, 254 mm = exactly 10 in.
/// Our reference of the purchases these tests make.
const REFERENCE: &str = "01JTESTPURCHASE0000000000A";

fn purchase(rate: RateRef) -> Purchase {
    Purchase {
        rate,
        shipment: shipment(),
        reference: REFERENCE.into(),
    }
}

fn shipment() -> ShipmentRequest {
    ShipmentRequest {
        from: Address {
            street2: Some("5th Floor".into()),
            company: Some("TenantOMS".into()),
            ..address("Warehouse", "417 Montgomery Street", "94104")
        },
        to: address("Dr. Steve Brule", "179 N Harbor Dr", "90277"),
        parcels: vec![Parcel {
            weight_grams: 1000,
            length_mm: 300,
            width_mm: 200,
            height_mm: 254,
        }],
        reference: Some("order-42".into()),
        is_return: false,
        customs: None,
        options: Default::default(),
    }
}

fn usd(amount: &str) -> Money {
    Money::parse(amount, Currency::parse("USD").unwrap()).unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    EasyPost,
    Shippo,
}

impl Api {
    async fn fake(self) -> FakeCarrier {
        match self {
            Api::EasyPost => FakeCarrier::easypost(KEY).await,
            Api::Shippo => FakeCarrier::shippo(KEY).await,
        }
    }

    fn client_with(
        self,
        base_url: &str,
        key: &str,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Box<dyn Carrier> {
        let credentials = Credentials::new(base_url, key);
        let policy = allowing(base_url);
        match self {
            Api::EasyPost => Box::new(
                EasyPost::new(credentials)
                    .with_policy(policy)
                    .with_retry(retry)
                    .with_timeout(timeout),
            ),
            Api::Shippo => Box::new(
                Shippo::new(credentials)
                    .with_policy(policy)
                    .with_retry(retry)
                    .with_timeout(timeout)
                    .with_label_poll(5, Duration::from_millis(5)),
            ),
        }
    }

    fn client(self, fake: &FakeCarrier) -> Box<dyn Carrier> {
        self.client_with(&fake.base_url(), KEY, fast_retry(3), Duration::from_secs(5))
    }

    fn debug_of_client(self, credentials: Credentials) -> String {
        match self {
            Api::EasyPost => format!("{:?}", EasyPost::new(credentials)),
            Api::Shippo => format!("{:?}", Shippo::new(credentials)),
        }
    }

    fn is_buy(self, r: &Recorded) -> bool {
        match self {
            Api::EasyPost => r.method == "POST" && r.path.ends_with("/buy"),
            Api::Shippo => r.method == "POST" && r.path == "/transactions",
        }
    }

    fn is_rates(self, r: &Recorded) -> bool {
        let path = match self {
            Api::EasyPost => "/v2/shipments",
            Api::Shippo => "/shipments",
        };
        r.method == "POST" && r.path == path
    }

    fn raw(self, status: &str) -> String {
        match self {
            Api::EasyPost => status.to_ascii_lowercase(),
            Api::Shippo => status.to_ascii_uppercase(),
        }
    }
}

fn count(fake: &FakeCarrier, what: impl Fn(&Recorded) -> bool) -> usize {
    fake.requests().iter().filter(|r| what(r)).count()
}

async fn quote(carrier: &dyn Carrier) -> Rates {
    carrier.rates(&shipment()).await.unwrap()
}

fn cheapest(rates: &Rates) -> RateRef {
    rates
        .rates
        .iter()
        .find(|r| r.carrier == "USPS")
        .expect("a USPS rate")
        .rate
        .clone()
}

/// The production policy with the allow-list opening exactly `http://host:port`'s target (the
/// fakes listen on 127.0.0.1, which the policy refuses otherwise).
fn allowing(base_url: &str) -> OutboundPolicy {
    let target = base_url.trim_start_matches("http://").trim_end_matches('/');
    OutboundPolicy::production().allowing(OutboundPolicy::parse_allow_list(target).unwrap())
}

/// A port nothing listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

// ---- Carrier-neutral behaviour, run against both fakes ------------------------------------

async fn rates_parse_exactly(api: Api) {
    let fake = api.fake().await;
    let rates = quote(api.client(&fake).as_ref()).await;
    assert_eq!(rates.rates.len(), 2, "{rates:?}");
    let usps = rates.rates.iter().find(|r| r.carrier == "USPS").unwrap();
    assert_eq!(usps.amount, usd("7.58"));
    assert_eq!(usps.amount.minor(), 758);
    assert_eq!(usps.service, "Priority");
    assert_eq!(usps.delivery_days, Some(2));
    assert!(!usps.rate.rate_id.is_empty());
    let ups = rates.rates.iter().find(|r| r.carrier == "UPS").unwrap();
    assert_eq!(
        ups.amount.minor(),
        921,
        "EasyPost's 9.21000 and Shippo's 9.21"
    );
    assert_eq!(ups.service, "Ground");
    assert_eq!(ups.delivery_days, Some(5));
    assert_eq!(rates.errors.len(), 1, "{:?}", rates.errors);
    assert_eq!(rates.errors[0].carrier, "FedEx");
    assert!(!rates.errors[0].message.is_empty());
}

async fn server_error_on_rates_is_retried(api: Api) {
    let fake = api.fake().await;
    fake.fail_next(Fault::ServerError);
    let rates = quote(api.client(&fake).as_ref()).await;
    assert_eq!(rates.rates.len(), 2);
    assert_eq!(count(&fake, |r| api.is_rates(r)), 2);
}

async fn rate_limit_is_retried_after_retry_after(api: Api) {
    let fake = api.fake().await;
    fake.fail_next(Fault::RateLimited {
        retry_after_secs: 1,
    });
    let started = Instant::now();
    let rates = quote(api.client(&fake).as_ref()).await;
    assert_eq!(rates.rates.len(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured: {:?}",
        started.elapsed()
    );
    assert_eq!(count(&fake, |r| api.is_rates(r)), 2);
}

async fn rate_limit_that_persists_is_reported(api: Api) {
    let fake = api.fake().await;
    for _ in 0..3 {
        fake.fail_next(Fault::RateLimited {
            retry_after_secs: 0,
        });
    }
    let client = api.client_with(&fake.base_url(), KEY, fast_retry(2), Duration::from_secs(5));
    let err = client.rates(&shipment()).await.unwrap_err();
    assert_eq!(
        err,
        CarrierError::RateLimited {
            retry_after_secs: Some(0)
        }
    );
    assert_eq!(err.code(), "rate_limited");
    assert!(err.is_retryable());
    assert_eq!(fake.requests().len(), 3);
}

async fn long_retry_after_is_returned_not_waited(api: Api) {
    let fake = api.fake().await;
    fake.fail_next(Fault::RateLimited {
        retry_after_secs: 120,
    });
    let started = Instant::now();
    let err = api.client(&fake).rates(&shipment()).await.unwrap_err();
    assert_eq!(
        err,
        CarrierError::RateLimited {
            retry_after_secs: Some(120)
        }
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(fake.requests().len(), 1);
}

async fn timeouts_exhaust_the_retries(api: Api) {
    let fake = api.fake().await;
    for _ in 0..3 {
        fake.fail_next(Fault::Timeout);
    }
    let client = api.client_with(
        &fake.base_url(),
        KEY,
        fast_retry(2),
        Duration::from_millis(300),
    );
    let err = client.rates(&shipment()).await.unwrap_err();
    assert!(matches!(err, CarrierError::Unavailable(_)), "{err:?}");
    assert_eq!(err.code(), "carrier_unavailable");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(fake.requests().len(), 3, "first attempt and two retries");
}

/// An answer we cannot read is reported as the carrier's, but it is no refusal: the carrier may
/// have done what was asked, so a purchase that gets one is looked up, not closed.
async fn malformed_body_is_not_a_refusal(api: Api) {
    let fake = api.fake().await;
    fake.fail_next(Fault::Malformed);
    let err = api.client(&fake).rates(&shipment()).await.unwrap_err();
    assert!(matches!(err, CarrierError::Malformed(_)), "{err:?}");
    assert_eq!(err.code(), "carrier_rejected");
    assert!(!err.is_refusal());
    assert!(err.to_string().contains("malformed"), "{err}");
    assert_eq!(fake.requests().len(), 1, "not retried");
}

/// A purchase and a void whose answers were lost are found by the lookups, which never buy or
/// void: nothing before the purchase, the label after it (the same one), the void after it.
async fn lookups_find_purchases_and_voids(api: Api) {
    let fake = api.fake().await;
    let client = api.client(&fake);
    let rates = quote(client.as_ref()).await;
    let rate = cheapest(&rates);
    assert_eq!(
        client.find_purchase(&rate, REFERENCE).await.unwrap(),
        PurchaseLookup::NotBought
    );
    // Sold, and the answer lost (the client gives up before the fake answers).
    fake.fail_next(Fault::DoThenStall);
    let short = api.client_with(
        &fake.base_url(),
        KEY,
        fast_retry(0),
        Duration::from_millis(300),
    );
    let lost = short
        .buy_label(&purchase((rate).clone()))
        .await
        .unwrap_err();
    assert!(!lost.is_refusal(), "{lost:?}");
    assert_eq!(fake.labels_sold(), 1);
    let PurchaseLookup::Bought(label) = client.find_purchase(&rate, REFERENCE).await.unwrap()
    else {
        panic!("the purchase is found");
    };
    assert_eq!(
        fake.sold_tracking_numbers(),
        vec![label.tracking_number.clone()]
    );
    assert_eq!(fake.labels_sold(), 1, "a lookup buys nothing");
    assert_eq!(
        client.find_void(&label.carrier_reference).await.unwrap(),
        VoidLookup::NotVoided
    );
    fake.fail_next(Fault::DoThenStall);
    assert!(short.void_label(&label.carrier_reference).await.is_err());
    assert_eq!(fake.labels_refunded(), 1);
    assert!(matches!(
        client.find_void(&label.carrier_reference).await.unwrap(),
        VoidLookup::Voided(_)
    ));
    let buys = fake.requests().iter().filter(|r| api.is_buy(r)).count();
    assert_eq!(buys, 1, "the lookups called no buy endpoint");
}

async fn unauthorized_is_not_retried(api: Api) {
    let fake = api.fake().await;
    fake.fail_next(Fault::Unauthorized);
    let err = api.client(&fake).rates(&shipment()).await.unwrap_err();
    assert!(matches!(err, CarrierError::AuthFailed(_)), "{err:?}");
    assert_eq!(err.code(), "carrier_auth_failed");
    assert!(!err.is_retryable());
    assert_eq!(fake.requests().len(), 1);

    let wrong = api.client_with(
        &fake.base_url(),
        "wrong_key_123",
        fast_retry(3),
        Duration::from_secs(5),
    );
    let err = wrong.rates(&shipment()).await.unwrap_err();
    assert!(matches!(err, CarrierError::AuthFailed(_)), "{err:?}");
    let expected = match api {
        Api::EasyPost => "UNAUTHORIZED",
        Api::Shippo => "Token does not exist",
    };
    assert!(
        err.to_string().contains(expected),
        "the carrier's text: {err}"
    );
    assert_eq!(fake.requests().len(), 2);
}

async fn server_error_on_buy_is_not_retried(api: Api) {
    let fake = api.fake().await;
    let client = api.client(&fake);
    let rate = cheapest(&quote(client.as_ref()).await);
    fake.fail_next(Fault::ServerError);
    let err = client
        .buy_label(&purchase((rate).clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, CarrierError::Unavailable(_)), "{err:?}");
    assert_eq!(
        count(&fake, |r| api.is_buy(r)),
        1,
        "a purchase is never repeated on 5xx"
    );
}

async fn timeout_on_buy_is_not_retried(api: Api) {
    let fake = api.fake().await;
    let client = api.client_with(
        &fake.base_url(),
        KEY,
        fast_retry(3),
        Duration::from_millis(300),
    );
    let rate = cheapest(&quote(client.as_ref()).await);
    fake.fail_next(Fault::Timeout);
    let err = client
        .buy_label(&purchase((rate).clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, CarrierError::Unavailable(_)), "{err:?}");
    assert_eq!(count(&fake, |r| api.is_buy(r)), 1);
}

async fn rate_limit_on_buy_is_retried(api: Api) {
    let fake = api.fake().await;
    let client = api.client(&fake);
    let rate = cheapest(&quote(client.as_ref()).await);
    fake.fail_next(Fault::RateLimited {
        retry_after_secs: 0,
    });
    let label = client.buy_label(&purchase((rate).clone())).await.unwrap();
    assert!(!label.tracking_number.is_empty());
    assert_eq!(
        count(&fake, |r| api.is_buy(r)),
        2,
        "a 429 means nothing was bought"
    );
}

async fn connection_refused_is_unavailable(api: Api) {
    let client = api.client_with(
        &closed_port_url(),
        KEY,
        fast_retry(2),
        Duration::from_secs(5),
    );
    let rate = RateRef {
        rate_id: "rate_1".into(),
        carrier_shipment: Some("shp_1".into()),
        carrier: None,
    };
    let err = client
        .buy_label(&purchase((rate).clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, CarrierError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("could not connect"), "{err}");
    let err = client.verify_credentials().await.unwrap_err();
    assert_eq!(err.code(), "carrier_unavailable");
}

async fn unknown_rates_and_numbers_are_rejected(api: Api) {
    let fake = api.fake().await;
    let client = api.client(&fake);
    let rates = quote(client.as_ref()).await;
    let unknown = RateRef {
        rate_id: "rate_does_not_exist".into(),
        ..cheapest(&rates)
    };
    let err = client
        .buy_label(&purchase((unknown).clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, CarrierError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains("rate_does_not_exist"), "{err}");
    let err = client.track("USPS", "NOPE0000").await.unwrap_err();
    assert!(matches!(err, CarrierError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains("404"), "{err}");
    let err = client.void_label("not_a_reference").await.unwrap_err();
    assert_eq!(err.code(), "carrier_rejected");
}

async fn verify_credentials_and_rotation(api: Api) {
    let fake = api.fake().await;
    api.client(&fake).verify_credentials().await.unwrap();
    let expected_path = match api {
        Api::EasyPost => "/v2/addresses?page_size=1",
        Api::Shippo => "/addresses?results=1",
    };
    let recorded = fake.requests();
    assert_eq!(recorded[0].method, "GET");
    assert_eq!(recorded[0].path, expected_path);

    let next = api.client_with(
        &fake.base_url(),
        "rotated_key_456",
        fast_retry(3),
        Duration::from_secs(5),
    );
    let err = next.verify_credentials().await.unwrap_err();
    assert_eq!(err.code(), "carrier_auth_failed");
    fake.accept_key("rotated_key_456");
    next.verify_credentials().await.unwrap();
    api.client(&fake).verify_credentials().await.unwrap();
}

async fn tracking_follows_set_tracking(api: Api) {
    let fake = api.fake().await;
    let client = api.client(&fake);
    let label = client
        .buy_label(&purchase((cheapest(&quote(client.as_ref()).await)).clone()))
        .await
        .unwrap();
    for (raw, want) in [
        ("in_transit", TrackStatus::InTransit),
        ("delivered", TrackStatus::Delivered),
        ("failure", TrackStatus::Failure),
    ] {
        let raw = match (api, raw) {
            (Api::Shippo, "in_transit") => "TRANSIT".to_owned(),
            _ => api.raw(raw),
        };
        fake.set_tracking(&label.tracking_number, &raw);
        let t = client
            .track(&label.carrier, &label.tracking_number)
            .await
            .unwrap();
        assert_eq!(t.status, want);
        assert_eq!(t.raw_status, raw);
        assert_eq!(t.events.len(), 1);
        assert_eq!(t.events[0].status, raw);
        assert!(t.events[0].at.is_some());
    }
}

/// The key must appear in no error text or Debug output — even when the carrier echoes it.
async fn the_key_never_leaks(api: Api) {
    let secret = "sk_live_never_print_me_Q7";
    let fake = api.fake().await;
    fake.accept_key(secret);
    // No retries: each queued fault is the answer to exactly one call.
    let client = api.client_with(
        &fake.base_url(),
        secret,
        fast_retry(0),
        Duration::from_millis(300),
    );
    let wrong_secret = "sk_live_wrong_but_secret_Z9";
    let wrong = api.client_with(
        &fake.base_url(),
        wrong_secret,
        fast_retry(0),
        Duration::from_millis(300),
    );

    let mut errors = vec![
        wrong.rates(&shipment()).await.unwrap_err(),
        wrong.verify_credentials().await.unwrap_err(),
    ];
    let rates = quote(client.as_ref()).await;
    // The fakes quote an unknown rate id back in their error text: make it the key.
    let echoed = RateRef {
        rate_id: secret.into(),
        ..cheapest(&rates)
    };
    errors.push(
        client
            .buy_label(&purchase((echoed).clone()))
            .await
            .unwrap_err(),
    );
    for fault in [
        Fault::Unauthorized,
        Fault::Malformed,
        Fault::ServerError,
        Fault::RateLimited {
            retry_after_secs: 99,
        },
        Fault::Timeout,
    ] {
        fake.fail_next(fault);
        errors.push(client.rates(&shipment()).await.unwrap_err());
    }
    errors.push(client.track("USPS", "UNKNOWN1").await.unwrap_err());
    errors.push(
        api.client_with(
            &closed_port_url(),
            secret,
            fast_retry(0),
            Duration::from_secs(2),
        )
        .verify_credentials()
        .await
        .unwrap_err(),
    );
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, CarrierError::AuthFailed(_)))
    );
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, CarrierError::Unavailable(_)))
    );
    for e in &errors {
        for shown in [e.to_string(), format!("{e:?}"), format!("{e:#?}")] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(!shown.contains(wrong_secret), "{shown}");
        }
    }
    let credentials = Credentials::new(fake.base_url(), secret);
    for shown in [
        format!("{credentials:?}"),
        format!("{credentials:#?}"),
        api.debug_of_client(credentials.clone()),
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

macro_rules! for_both_apis {
    ($($name:ident),* $(,)?) => {
        mod easypost_api {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Api::EasyPost).await
                }
            )*
        }
        mod shippo_api {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Api::Shippo).await
                }
            )*
        }
    };
}

for_both_apis!(
    rates_parse_exactly,
    server_error_on_rates_is_retried,
    rate_limit_is_retried_after_retry_after,
    rate_limit_that_persists_is_reported,
    long_retry_after_is_returned_not_waited,
    timeouts_exhaust_the_retries,
    malformed_body_is_not_a_refusal,
    lookups_find_purchases_and_voids,
    unauthorized_is_not_retried,
    server_error_on_buy_is_not_retried,
    timeout_on_buy_is_not_retried,
    rate_limit_on_buy_is_retried,
    connection_refused_is_unavailable,
    unknown_rates_and_numbers_are_rejected,
    verify_credentials_and_rotation,
    tracking_follows_set_tracking,
    the_key_never_leaks,
);

// ---- EasyPost specifics ------------------------------------------------------------------

#[tokio::test]
async fn easypost_request_shape() {
    let fake = FakeCarrier::easypost(KEY).await;
    quote(Api::EasyPost.client(&fake).as_ref()).await;
    let recorded = fake.requests();
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v2/shipments");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"));
    assert_eq!(
        r.authorization.as_deref(),
        Some(format!("Basic {basic}").as_str())
    );
    let s = &r.body["shipment"];
    assert!(s.is_object(), "wrapped in `shipment`: {}", r.body);
    assert_eq!(
        s["parcel"],
        json!({"weight": 35.3, "length": 11.9, "width": 7.9, "height": 10.0}),
        "ounces and inches, rounded up to a tenth"
    );
    assert_eq!(
        s["to_address"],
        json!({"name": "Dr. Steve Brule", "street1": "179 N Harbor Dr", "city": "San Francisco",
            "state": "CA", "zip": "90277", "country": "US", "phone": "4153334445"}),
        "absent fields left out"
    );
    assert_eq!(s["from_address"]["street2"], "5th Floor");
    assert_eq!(s["from_address"]["company"], "TenantOMS");
    assert_eq!(s["reference"], "order-42");
}

#[tokio::test]
async fn easypost_round_trip() {
    let fake = FakeCarrier::easypost(KEY).await;
    let client = Api::EasyPost.client(&fake);
    let rates = quote(client.as_ref()).await;
    let rate = cheapest(&rates);
    let shp = rate
        .carrier_shipment
        .clone()
        .expect("EasyPost rates name their shipment");
    assert!(shp.starts_with("shp_"), "{shp}");
    assert!(rate.rate_id.starts_with("rate_"));

    let label = client.buy_label(&purchase((rate).clone())).await.unwrap();
    assert!(label.tracking_number.starts_with("EZ"), "{label:?}");
    assert_eq!(label.carrier, "USPS");
    assert_eq!(label.label_format, "PNG");
    assert!(
        label.label_url.starts_with(&fake.base_url()) && label.label_url.ends_with(".png"),
        "the fake serves the label: {}",
        label.label_url
    );
    assert_eq!(label.carrier_reference, shp);
    let buy = fake
        .requests()
        .into_iter()
        .find(|r| Api::EasyPost.is_buy(r))
        .unwrap();
    assert_eq!(buy.path, format!("/v2/shipments/{shp}/buy"));
    assert_eq!(buy.body, json!({"rate": {"id": rate.rate_id}}));

    let t = client
        .track(&label.carrier, &label.tracking_number)
        .await
        .unwrap();
    assert_eq!(
        (t.status, t.raw_status.as_str()),
        (TrackStatus::PreTransit, "pre_transit")
    );
    let track = fake.requests().into_iter().last().unwrap();
    assert_eq!(
        (track.method.as_str(), track.path.as_str()),
        ("POST", "/v2/trackers")
    );
    assert_eq!(
        track.body,
        json!({"tracker": {"tracking_code": label.tracking_number, "carrier": "USPS"}})
    );
    fake.set_tracking(&label.tracking_number, "available_for_pickup");
    let t = client
        .track(&label.carrier, &label.tracking_number)
        .await
        .unwrap();
    assert_eq!(t.status, TrackStatus::OutForDelivery);

    // Bought once only.
    let err = client
        .buy_label(&purchase((rate).clone()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SHIPMENT.POSTAGE.EXISTS"), "{err}");
    assert_eq!(err.code(), "carrier_rejected");

    assert_eq!(
        client.void_label(&label.carrier_reference).await.unwrap(),
        VoidOutcome::Submitted
    );
    let void = fake.requests().into_iter().last().unwrap();
    assert_eq!(
        (void.method.as_str(), void.path.as_str()),
        ("POST", format!("/v2/shipments/{shp}/refund").as_str())
    );
    // An empty JSON object, as EasyPost's own clients send.
    assert_eq!(void.body, json!({}));
}

#[tokio::test]
async fn easypost_rate_of_another_shipment_is_rejected() {
    let fake = FakeCarrier::easypost(KEY).await;
    let client = Api::EasyPost.client(&fake);
    let first = cheapest(&quote(client.as_ref()).await);
    let second = cheapest(&quote(client.as_ref()).await);
    let mixed = RateRef {
        rate_id: first.rate_id,
        carrier_shipment: second.carrier_shipment,
        carrier: None,
    };
    let err = client
        .buy_label(&purchase((mixed).clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, CarrierError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains("422"), "{err}");

    let without_shipment = RateRef {
        rate_id: second.rate_id,
        carrier_shipment: None,
        carrier: None,
    };
    let before = fake.requests().len();
    let err = client
        .buy_label(&purchase((without_shipment).clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "carrier_rejected");
    assert_eq!(
        fake.requests().len(),
        before,
        "refused before calling EasyPost"
    );
}

// ---- Shippo specifics --------------------------------------------------------------------

#[tokio::test]
async fn shippo_request_shape() {
    let fake = FakeCarrier::shippo(KEY).await;
    quote(Api::Shippo.client(&fake).as_ref()).await;
    let recorded = fake.requests();
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/shipments");
    assert_eq!(
        r.authorization.as_deref(),
        Some(format!("ShippoToken {KEY}").as_str())
    );
    assert!(r.body.get("shipment").is_none(), "unwrapped: {}", r.body);
    assert_eq!(r.body["async"], false);
    assert_eq!(
        r.body["parcels"],
        json!([{"length": "300", "width": "200", "height": "254", "distance_unit": "mm",
            "weight": "1000", "mass_unit": "g"}]),
        "exact metric values as strings"
    );
    assert_eq!(r.body["address_to"]["zip"], "90277");
    assert!(r.body["address_to"].get("email").is_none());
    assert_eq!(r.body["address_from"]["street2"], "5th Floor");
    assert_eq!(r.body["metadata"], "order-42");
}

#[tokio::test]
async fn shippo_round_trip() {
    let fake = FakeCarrier::shippo(KEY).await;
    let client = Api::Shippo.client(&fake);
    let rate = cheapest(&quote(client.as_ref()).await);

    let label = client.buy_label(&purchase((rate).clone())).await.unwrap();
    assert!(
        label.tracking_number.chars().all(|c| c.is_ascii_digit()),
        "{label:?}"
    );
    assert_eq!(
        label.carrier, "usps",
        "the quote's carrier, as Shippo's carrier token (the answer names the rate by id only)"
    );
    assert_eq!(label.label_format, "PDF");
    assert!(
        label.label_url.starts_with(&fake.base_url()),
        "{}",
        label.label_url
    );
    let buy = fake
        .requests()
        .into_iter()
        .find(|r| Api::Shippo.is_buy(r))
        .unwrap();
    assert_eq!(
        buy.body,
        json!({"rate": rate.rate_id, "label_file_type": "PDF", "async": false,
            "metadata": REFERENCE})
    );
    assert_eq!(label.carrier_reference.len(), 32);

    let t = client
        .track(&label.carrier, &label.tracking_number)
        .await
        .unwrap();
    assert_eq!(
        (t.status, t.raw_status.as_str()),
        (TrackStatus::PreTransit, "PRE_TRANSIT")
    );
    let track = fake.requests().into_iter().last().unwrap();
    assert_eq!(track.method, "GET");
    assert_eq!(
        track.path,
        format!("/tracks/usps/{}", label.tracking_number)
    );
    fake.set_tracking(&label.tracking_number, "RETURNED");
    let t = client
        .track(&label.carrier, &label.tracking_number)
        .await
        .unwrap();
    assert_eq!(t.status, TrackStatus::Returned);

    assert_eq!(
        client.void_label(&label.carrier_reference).await.unwrap(),
        VoidOutcome::Refunded
    );
    let void = fake.requests().into_iter().last().unwrap();
    assert_eq!(
        (void.method.as_str(), void.path.as_str()),
        ("POST", "/refunds")
    );
    assert_eq!(
        void.body,
        json!({"transaction": label.carrier_reference, "async": false})
    );
}

fn transaction_lookups(fake: &FakeCarrier) -> Vec<Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/transactions/"))
        .collect()
}

#[tokio::test]
async fn shippo_queued_purchase_is_polled() {
    let fake = FakeCarrier::shippo(KEY).await;
    fake.queue_labels(Some(0));
    let client = Api::Shippo.client(&fake);
    let label = client
        .buy_label(&purchase((cheapest(&quote(client.as_ref()).await)).clone()))
        .await
        .unwrap();
    assert!(!label.tracking_number.is_empty());
    assert_eq!(label.carrier, "usps", "the quote's carrier");
    let lookups = transaction_lookups(&fake);
    assert_eq!(lookups.len(), 1);
    assert_eq!(
        lookups[0].path,
        format!("/transactions/{}", label.carrier_reference)
    );
}

/// A purchase still queued when the polls run out is `Queued` with the transaction's id (never
/// bought again); looked up by that id it is pending, then the label once Shippo made it.
#[tokio::test]
async fn shippo_purchase_queued_past_the_polls_is_found_by_its_id() {
    let fake = FakeCarrier::shippo(KEY).await;
    fake.queue_labels(Some(100));
    let client = Api::Shippo.client(&fake);
    let rate = cheapest(&quote(client.as_ref()).await);
    let err = client.buy_label(&purchase(rate.clone())).await.unwrap_err();
    let CarrierError::Queued { carrier_ref } = &err else {
        panic!("{err:?}");
    };
    assert!(!err.is_refusal() && !err.is_retryable(), "{err:?}");
    assert_eq!(count(&fake, |r| Api::Shippo.is_buy(r)), 1);
    assert_eq!(transaction_lookups(&fake).len(), 5, "the client's 5 polls");
    assert_eq!(
        client.find_queued(&rate, carrier_ref).await.unwrap(),
        PurchaseLookup::Pending
    );
    // The lost-answer lookup finds it too, queued, by our reference in its metadata.
    assert_eq!(
        client.find_purchase(&rate, REFERENCE).await.unwrap(),
        PurchaseLookup::Pending
    );
    fake.finish_queued();
    let PurchaseLookup::Bought(label) = client.find_queued(&rate, carrier_ref).await.unwrap()
    else {
        panic!("made once Shippo finished");
    };
    assert_eq!(&label.carrier_reference, carrier_ref);
    assert_eq!(label.carrier, "usps");
    assert_eq!(
        count(&fake, |r| Api::Shippo.is_buy(r)),
        1,
        "never bought again"
    );
    assert_eq!(fake.labels_sold(), 1);
}

/// A rate id without the quote's carrier (one issued before it was carried) still records the
/// carrier: the rate is looked up. And a label stored under `shippo` names its carrier once its
/// transaction is looked up; one stored under its carrier asks nothing.
#[tokio::test]
async fn shippo_carrier_from_the_rate_when_the_quote_did_not_carry_it() {
    let fake = FakeCarrier::shippo(KEY).await;
    let client = Api::Shippo.client(&fake);
    let mut rate = cheapest(&quote(client.as_ref()).await);
    assert_eq!(rate.carrier.as_deref(), Some("usps"));
    rate.carrier = None;
    let label = client.buy_label(&purchase(rate.clone())).await.unwrap();
    assert_eq!(label.carrier, "usps");
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == format!("/rates/{}", rate.rate_id)),
        "the rate was looked up"
    );
    let before = fake.requests().len();
    assert_eq!(
        client
            .carrier_of_label("usps", &label.carrier_reference)
            .await
            .unwrap(),
        None
    );
    assert_eq!(fake.requests().len(), before, "nothing asked");
    assert_eq!(
        client
            .carrier_of_label("shippo", &label.carrier_reference)
            .await
            .unwrap()
            .as_deref(),
        Some("usps")
    );
}

#[tokio::test]
async fn shippo_failed_purchase_is_rejected_with_its_messages() {
    let fake = FakeCarrier::shippo(KEY).await;
    let client = Api::Shippo.client(&fake);
    let rate = cheapest(&quote(client.as_ref()).await);
    client.buy_label(&purchase((rate).clone())).await.unwrap();
    // The fake answers a second purchase of one rate with a transaction in status ERROR.
    let err = client
        .buy_label(&purchase((rate).clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, CarrierError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains("already been purchased"), "{err}");
}

#[tokio::test]
async fn shippo_field_errors_are_the_message() {
    let fake = FakeCarrier::shippo(KEY).await;
    let client = Api::Shippo.client(&fake);
    let err = client
        .buy_label(&purchase(
            (RateRef {
                rate_id: "0123".into(),
                carrier_shipment: None,
                carrier: None,
            })
            .clone(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "carrier_rejected");
    // The field errors of the 400 body, parsed; never the raw body.
    let text = err.to_string();
    assert!(text.contains("Shippo answered 400: rate: "), "{text}");
    assert!(!text.contains('{') && !text.contains('['), "{text}");
}

fn three_parcels() -> ShipmentRequest {
    let mut s = shipment();
    let one = s.parcels[0];
    s.parcels = vec![
        one,
        Parcel {
            weight_grams: 2000,
            ..one
        },
        Parcel {
            weight_grams: 3000,
            ..one
        },
    ];
    s
}

/// Shippo: three `parcels` on one shipment, one purchase, a transaction (label and number) per
/// parcel gathered in the shipment's parcel order; the lookup finds the whole purchase.
#[tokio::test]
async fn shippo_three_parcels_are_one_purchase_with_three_labels() {
    let fake = FakeCarrier::shippo(KEY).await;
    let client = Api::Shippo.client(&fake);
    assert!(client.multi_piece());
    let three = three_parcels();
    let rates = client.rates(&three).await.unwrap();
    let created = fake.requests().into_iter().last().unwrap();
    assert_eq!(created.body["parcels"].as_array().unwrap().len(), 3);
    assert_eq!(created.body["parcels"][2]["weight"], "3000");
    let rate = cheapest(&rates);
    let label = client
        .buy_label(&Purchase {
            rate: rate.clone(),
            shipment: three,
            reference: REFERENCE.into(),
        })
        .await
        .unwrap();
    assert_eq!(count(&fake, |r| Api::Shippo.is_buy(r)), 1, "one purchase");
    assert_eq!(fake.labels_sold(), 3, "a label per parcel");
    let numbers: Vec<String> = label
        .packages
        .iter()
        .map(|p| p.tracking_number.clone())
        .collect();
    let mut sold = fake.sold_tracking_numbers();
    sold.sort();
    let mut ours = numbers.clone();
    ours.sort();
    assert_eq!(ours, sold);
    assert_eq!(label.tracking_number, numbers[0], "the master's");
    assert!(
        label
            .packages
            .iter()
            .all(|p| p.label_url.starts_with(&fake.base_url()))
    );
    assert_eq!(label.carrier, "usps");
    let PurchaseLookup::Bought(found) = client.find_purchase(&rate, REFERENCE).await.unwrap()
    else {
        panic!("found");
    };
    assert_eq!(
        found.packages, label.packages,
        "the same labels, in the same order"
    );
}

/// EasyPost's shipment holds one parcel: several are refused before any call (they are bought
/// one by one instead).
#[tokio::test]
async fn easypost_refuses_several_parcels_without_a_call() {
    let fake = FakeCarrier::easypost(KEY).await;
    let client = Api::EasyPost.client(&fake);
    assert!(!client.multi_piece());
    let err = client.rates(&three_parcels()).await.unwrap_err();
    assert_eq!(err.code(), "not_supported", "{err}");
    let mut none = shipment();
    none.parcels.clear();
    assert_eq!(
        client.rates(&none).await.unwrap_err().code(),
        "carrier_rejected"
    );
    assert!(fake.requests().is_empty());
}

/// A return: the request's real direction (from the customer to the warehouse).
fn a_return() -> ShipmentRequest {
    let outbound = shipment();
    ShipmentRequest {
        from: outbound.to.clone(),
        to: outbound.from.clone(),
        is_return: true,
        ..outbound
    }
}

/// EasyPost and Shippo take a return's outbound addresses and swap them themselves: the fake
/// receives the customer as `to`, the warehouse as `from`, and the return flag; and the label
/// is bought as any other.
#[tokio::test]
async fn return_labels_send_the_outbound_addresses_and_the_flag() {
    for api in [Api::EasyPost, Api::Shippo] {
        let fake = api.fake().await;
        let client = api.client(&fake);
        let ret = a_return();
        let rates = client.rates(&ret).await.unwrap();
        let created = fake.requests().into_iter().last().unwrap();
        let (body, to, from, flag) = match api {
            Api::EasyPost => (
                &created.body["shipment"],
                "to_address",
                "from_address",
                "/shipment/is_return",
            ),
            Api::Shippo => (
                &created.body,
                "address_to",
                "address_from",
                "/extra/is_return",
            ),
        };
        assert_eq!(
            body[to]["zip"],
            ret.from.zip.as_str(),
            "{api:?}: to is the customer"
        );
        assert_eq!(
            body[from]["zip"],
            ret.to.zip.as_str(),
            "{api:?}: from is the warehouse"
        );
        assert_eq!(created.body.pointer(flag), Some(&json!(true)), "{api:?}");
        let label = client
            .buy_label(&Purchase {
                rate: cheapest(&rates),
                shipment: ret,
                reference: REFERENCE.into(),
            })
            .await
            .unwrap();
        assert!(!label.tracking_number.is_empty());
        // An outbound request carries no flag.
        client.rates(&shipment()).await.unwrap();
        let outbound = fake.requests().into_iter().last().unwrap();
        assert_eq!(outbound.body.pointer(flag), None, "{api:?}");
    }
}
