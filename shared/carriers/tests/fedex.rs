//! The FedEx adapter, through the production connector, against the stateful fake FedEx: the
//! round trip (rates → label → tracking → void), the token (one for fifty waiting calls, one
//! refresh after expiry, a second refusal as `CARRIER_AUTH_FAILED`, a token endpoint down as
//! `CARRIER_UNAVAILABLE` before anything is sent), a purchase whose answer was lost found again
//! by its reference, the tracking key pair, rotation — and never a token or secret in an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use app::ports::carrier::{
    Address, Carrier, CarrierConnector, CarrierError, CredentialSecrets, EffectiveCredentials,
    Parcel, Purchase, PurchaseLookup, RateRef, ShipmentRequest, TrackStatus, VoidLookup,
    VoidOutcome,
};
use carriers::HttpConnector;
use carriers::fake_fedex::{FakeFedex, Fault, TokenFault};
use domain::Timestamp;
use domain::gateway::{
    CarrierKind, CredentialVersion, GatewayAuthType, GatewayConfig, GatewayMode,
};
use domain::ids::{AccountId, CarrierCode, CredentialId, Subject, TenantId};
use domain::outbound::OutboundPolicy;
use domain::webhook::SecretRef;
use secrecy::SecretString;

const CLIENT: &str = "l7-fedex-client-id-0001";
const SECRET: &str = "fedex-client-secret-never-shown-01";
const TRACK_CLIENT: &str = "l7-fedex-track-client-0002";
const TRACK_SECRET: &str = "fedex-track-secret-never-shown-02";
const ACCOUNT: &str = "740561073";
const REFERENCE: &str = "01JTESTPURCHASE0000000000A";

fn address(name: &str, street: &str, city: &str, state: &str, zip: &str) -> Address {
    Address {
        name: name.into(),
        company: None,
        street1: street.into(),
        street2: None,
        city: city.into(),
        state: Some(state.into()),
        zip: zip.into(),
        country: "US".into(),
        phone: Some("4155550100".into()),
        email: None,
    }
}

fn shipment() -> ShipmentRequest {
    ShipmentRequest {
        from: address(
            "Warehouse",
            "417 Montgomery St",
            "San Francisco",
            "CA",
            "94104",
        ),
        to: address("Ada Buyer", "1 Main St", "Memphis", "TN", "38117"),
        parcels: vec![Parcel {
            weight_grams: 500,
            length_mm: 200,
            width_mm: 150,
            height_mm: 100,
        }],
        reference: Some("order/shipment".into()),
        is_return: false,
        customs: None,
        options: Default::default(),
    }
}

fn purchase(rate: RateRef, reference: &str) -> Purchase {
    Purchase {
        rate,
        shipment: shipment(),
        reference: reference.into(),
    }
}

fn connector() -> HttpConnector {
    HttpConnector::new(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        OutboundPolicy::dev(),
    )
}

/// The credentials of version `n` at the fake, with the tracking pair when `track`.
fn credentials(fake: &FakeFedex, n: u128, track: bool) -> EffectiveCredentials {
    let at = Timestamp::from_unix_millis(1_700_000_000_000).unwrap();
    EffectiveCredentials {
        gateway: GatewayConfig {
            id: CarrierCode::parse("fedex").unwrap(),
            name: "FedEx (fake)".into(),
            kind: CarrierKind::Fedex,
            sandbox_url: fake.base_url(),
            production_url: fake.base_url(),
            auth_type: GatewayAuthType::Oauth2ClientCredentials,
            offers: Vec::new(),
        },
        version: CredentialVersion {
            id: CredentialId::from_ulid(ulid::Ulid::from_parts(1_700_000_000_000, n)),
            tenant: TenantId::parse("acme").unwrap(),
            gateway: CarrierCode::parse("fedex").unwrap(),
            account: AccountId::parse("main").unwrap(),
            mode: GatewayMode::Sandbox,
            auth_type: GatewayAuthType::Oauth2ClientCredentials,
            base_url: fake.base_url(),
            username: None,
            client_id: Some(CLIENT.into()),
            token_url: None,
            account_number: Some(ACCOUNT.into()),
            track_client_id: track.then(|| TRACK_CLIENT.into()),
            secret: SecretRef {
                id: "s".into(),
                version: None,
            },
            fingerprint: "…wn-01".into(),
            from: at,
            thru: None,
            description: None,
            created_by: Subject::parse("admin").unwrap(),
            created_at: at,
        },
        secrets: CredentialSecrets {
            client_secret: Some(SecretString::from(SECRET.to_owned())),
            track_client_secret: track.then(|| SecretString::from(TRACK_SECRET.to_owned())),
            ..CredentialSecrets::default()
        },
    }
}

async fn fake() -> FakeFedex {
    FakeFedex::start(CLIENT, SECRET, ACCOUNT).await
}

async fn ground(carrier: &dyn Carrier) -> RateRef {
    let quote = carrier.rates(&shipment()).await.unwrap();
    quote
        .rates
        .iter()
        .find(|r| r.service == "FedEx Ground")
        .unwrap()
        .rate
        .clone()
}

fn ships(fake: &FakeFedex) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path == "/ship/v1/shipments")
        .count()
}

#[tokio::test]
async fn rates_label_tracking_and_void() {
    let fake = fake().await;
    let c = connector().connect(&credentials(&fake, 1, false)).unwrap();

    let quote = c.rates(&shipment()).await.unwrap();
    assert_eq!(quote.rates.len(), 2, "{quote:?}");
    let g = quote
        .rates
        .iter()
        .find(|r| r.service == "FedEx Ground")
        .unwrap();
    assert_eq!(
        g.amount.to_string(),
        "12.34 USD",
        "the account rate, exactly"
    );
    assert_eq!(g.rate.rate_id, "FEDEX_GROUND:YOUR_PACKAGING");
    assert_eq!(g.carrier, "FedEx");
    assert_eq!(g.delivery_days, Some(3));
    let rate_request = &fake.requests()[1];
    assert_eq!(rate_request.path, "/rate/v1/rates/quotes");
    assert_eq!(rate_request.body["accountNumber"]["value"], ACCOUNT);
    assert_eq!(
        rate_request.body["requestedShipment"]["recipient"]["address"],
        serde_json::json!({"city": "Memphis", "stateOrProvinceCode": "TN", "postalCode": "38117", "countryCode": "US"}),
        "the Rate API's address: no street lines"
    );
    assert_eq!(
        rate_request.body["requestedShipment"]["requestedPackageLineItems"][0]["weight"],
        serde_json::json!({"units": "LB", "value": 1.2}),
        "500 g is 1.2 lb rounded up"
    );

    let label = c
        .buy_label(&purchase(g.rate.clone(), REFERENCE))
        .await
        .unwrap();
    assert_eq!(label.carrier, "FedEx");
    assert_eq!(label.label_format, "PDF");
    assert!(label.label_url.ends_with(".pdf"), "{label:?}");
    assert_eq!(label.carrier_reference, label.tracking_number);
    let made = fake.live_labels();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].reference.as_deref(), Some(REFERENCE));
    assert_eq!(made[0].service, "FEDEX_GROUND");

    let t = c.track("FedEx", &label.tracking_number).await.unwrap();
    assert_eq!(t.status, TrackStatus::PreTransit);
    fake.set_tracking(&label.tracking_number, "OD");
    let t = c.track("", &label.tracking_number).await.unwrap();
    assert_eq!(t.status, TrackStatus::OutForDelivery);
    assert_eq!(t.raw_status, "OD");
    assert_eq!(
        t.events.first().unwrap().status,
        "OC",
        "oldest first: {t:?}"
    );
    let unknown = c.track("FedEx", "794900000000").await.unwrap_err();
    assert_eq!(unknown.code(), "carrier_rejected", "{unknown}");

    assert_eq!(
        c.find_void(&label.carrier_reference).await.unwrap(),
        VoidLookup::NotVoided
    );
    assert_eq!(
        c.void_label(&label.carrier_reference).await.unwrap(),
        VoidOutcome::Refunded
    );
    assert!(fake.live_labels().is_empty());
    assert_eq!(
        c.find_void(&label.carrier_reference).await.unwrap(),
        VoidLookup::Voided(VoidOutcome::Refunded)
    );
    let again = c.void_label(&label.carrier_reference).await.unwrap_err();
    assert!(again.is_refusal(), "{again}");
    assert_eq!(fake.token_requests(), 1, "one token for every call");
    c.verify_credentials().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_rate_calls_fetch_one_token() {
    let fake = Arc::new(fake().await);
    let connector = Arc::new(connector());
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (fake, connector) = (fake.clone(), connector.clone());
            tokio::spawn(async move {
                // A carrier per call, as each request connects its own.
                let c = connector.connect(&credentials(&fake, 1, false)).unwrap();
                c.rates(&shipment()).await.unwrap().rates.len()
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 2);
    }
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn a_token_expired_mid_use_is_refreshed_once() {
    let fake = fake().await;
    let c = connector().connect(&credentials(&fake, 1, false)).unwrap();
    let rate = ground(c.as_ref()).await;
    fake.expire_tokens();
    let label = c.buy_label(&purchase(rate, REFERENCE)).await.unwrap();
    assert_eq!(fake.token_requests(), 2, "one refresh");
    assert_eq!(ships(&fake), 2, "refused once, then made");
    assert_eq!(fake.live_labels().len(), 1);
    assert_eq!(fake.live_labels()[0].tracking_number, label.tracking_number);
}

#[tokio::test]
async fn a_second_refusal_is_auth_failed_and_nothing_is_bought() {
    let fake = fake().await;
    let c = connector().connect(&credentials(&fake, 1, false)).unwrap();
    let rate = ground(c.as_ref()).await;
    fake.fail_next(Fault::Unauthorized);
    fake.fail_next(Fault::Unauthorized);
    let e = c.buy_label(&purchase(rate, REFERENCE)).await.unwrap_err();
    assert_eq!(e.code(), "carrier_auth_failed", "{e}");
    assert!(e.is_refusal(), "closed, never looked up: {e}");
    assert_eq!(fake.token_requests(), 2, "one refresh, no more");
    assert!(fake.labels().is_empty());
}

#[tokio::test]
async fn token_endpoint_down_is_unavailable_before_anything_is_sent() {
    let fake = fake().await;
    let c = connector().connect(&credentials(&fake, 1, false)).unwrap();
    fake.fail_next_token(TokenFault::Down);
    let rate = RateRef {
        rate_id: "FEDEX_GROUND:YOUR_PACKAGING".into(),
        carrier_shipment: None,
        carrier: None,
    };
    let e = c
        .buy_label(&purchase(rate.clone(), REFERENCE))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "carrier_unavailable", "{e}");
    assert!(matches!(e, CarrierError::Unreached(_)), "{e:?}");
    assert!(e.is_refusal(), "never sent: the purchase can be closed");
    assert_eq!(ships(&fake), 0);
    // A token that is not one: never sent either.
    fake.fail_next_token(TokenFault::Malformed);
    let e = c
        .buy_label(&purchase(rate.clone(), REFERENCE))
        .await
        .unwrap_err();
    assert!(matches!(e, CarrierError::Unreached(_)), "{e:?}");
    // Up again: bought.
    c.buy_label(&purchase(rate, REFERENCE)).await.unwrap();
    assert_eq!(fake.live_labels().len(), 1);
}

#[tokio::test]
async fn a_lost_purchase_answer_is_found_by_its_reference() {
    let fake = fake().await;
    let c = connector().connect(&credentials(&fake, 1, false)).unwrap();
    let rate = ground(c.as_ref()).await;
    assert_eq!(
        c.find_purchase(&rate, REFERENCE).await.unwrap(),
        PurchaseLookup::NotBought
    );
    fake.fail_next(Fault::DoThenServerError);
    let e = c
        .buy_label(&purchase(rate.clone(), REFERENCE))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "carrier_unavailable", "{e}");
    assert!(
        !e.is_refusal(),
        "a 5xx after the request may have bought it"
    );
    assert_eq!(ships(&fake), 1, "a purchase is never retried on a 5xx");
    let PurchaseLookup::Bought(found) = c.find_purchase(&rate, REFERENCE).await.unwrap() else {
        panic!("the label is found by its reference");
    };
    let made = fake.live_labels();
    assert_eq!(made.len(), 1);
    assert_eq!(found.tracking_number, made[0].tracking_number);
    assert_eq!(found.carrier_reference, made[0].tracking_number);
    assert_eq!(
        found.label_url, "",
        "FedEx returns the document only with the purchase"
    );
    assert_eq!(
        c.find_purchase(&rate, "01JANOTHERPURCHASE00000000")
            .await
            .unwrap(),
        PurchaseLookup::NotBought
    );
    // A cancelled label is no purchase to take.
    c.void_label(&found.carrier_reference).await.unwrap();
    assert_eq!(
        c.find_purchase(&rate, REFERENCE).await.unwrap(),
        PurchaseLookup::NotBought
    );
}

#[tokio::test]
async fn throttling_and_malformed_answers() {
    let fake = fake().await;
    let c = connector().connect(&credentials(&fake, 1, false)).unwrap();
    let rate = ground(c.as_ref()).await;
    // A 429 means FedEx did nothing: even a purchase is tried again.
    fake.fail_next(Fault::RateLimited {
        retry_after_secs: 0,
    });
    c.buy_label(&purchase(rate.clone(), REFERENCE))
        .await
        .unwrap();
    assert_eq!(fake.live_labels().len(), 1);
    fake.fail_next(Fault::Malformed);
    let e = c.rates(&shipment()).await.unwrap_err();
    assert!(matches!(e, CarrierError::Malformed(_)), "{e:?}");
    fake.fail_next(Fault::Malformed);
    let e = c
        .buy_label(&purchase(rate.clone(), "01JTHIRDPURCHASE0000000000"))
        .await
        .unwrap_err();
    assert!(!e.is_refusal(), "an unreadable 2xx may be a purchase: {e}");
    // A made-up rate id never reaches FedEx.
    let before = ships(&fake);
    let bad = RateRef {
        rate_id: "shp_123".into(),
        carrier_shipment: None,
        carrier: None,
    };
    let e = c.buy_label(&purchase(bad, REFERENCE)).await.unwrap_err();
    assert_eq!(e.code(), "carrier_rejected");
    let e = c
        .buy_label(&purchase(rate, "a-reference-longer-than-thirty-chars"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "carrier_rejected");
    assert_eq!(ships(&fake), before);
}

#[tokio::test]
async fn tracking_uses_the_tracking_key_pair_and_rotation_a_new_token() {
    let fake = fake().await;
    fake.accept_client(TRACK_CLIENT, TRACK_SECRET);
    let connector = connector();
    let c = connector.connect(&credentials(&fake, 1, true)).unwrap();
    let rate = ground(c.as_ref()).await;
    let label = c.buy_label(&purchase(rate, REFERENCE)).await.unwrap();
    c.track("FedEx", &label.tracking_number).await.unwrap();
    let by_path = |path: &str| {
        fake.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .map(|r| r.client_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        by_path("/track/v1/trackingnumbers"),
        vec![Some(TRACK_CLIENT.to_owned())]
    );
    assert_eq!(by_path("/ship/v1/shipments"), vec![Some(CLIENT.to_owned())]);
    assert_eq!(fake.token_requests(), 2, "one token per key pair");
    // A rotated version (a new id) never uses the old version's token.
    let rotated = connector.connect(&credentials(&fake, 2, false)).unwrap();
    rotated.rates(&shipment()).await.unwrap();
    assert_eq!(fake.token_requests(), 3);
    // The old version's token still serves the old version.
    c.rates(&shipment()).await.unwrap();
    assert_eq!(fake.token_requests(), 3);
}

#[tokio::test]
async fn wrong_client_secret_is_auth_failed_and_never_shown() {
    let fake = fake().await;
    let mut creds = credentials(&fake, 1, false);
    creds.secrets.client_secret = Some(SecretString::from("a-wrong-secret-value-0000".to_owned()));
    let c = connector().connect(&creds).unwrap();
    let e = c.rates(&shipment()).await.unwrap_err();
    assert_eq!(e.code(), "carrier_auth_failed", "{e}");
    let e2 = c.verify_credentials().await.unwrap_err();
    let shown = format!("{e} {e:?} {e2} {e2:?} {creds:?}");
    assert!(!shown.contains("a-wrong-secret-value"), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
}

#[tokio::test]
async fn no_token_or_secret_in_any_error() {
    let fake = fake().await;
    let c = connector().connect(&credentials(&fake, 1, true)).unwrap();
    let rate = ground(c.as_ref()).await;
    let mut errors = Vec::new();
    fake.fail_next(Fault::Unauthorized);
    fake.fail_next(Fault::Unauthorized);
    errors.push(c.rates(&shipment()).await.unwrap_err());
    fake.fail_next(Fault::ServerError);
    errors.push(
        c.buy_label(&purchase(rate.clone(), REFERENCE))
            .await
            .unwrap_err(),
    );
    fake.fail_next_token(TokenFault::Down);
    fake.expire_tokens();
    errors.push(c.rates(&shipment()).await.unwrap_err());
    errors.push(c.track("FedEx", "794900000000").await.unwrap_err());
    for e in &errors {
        let text = format!("{e} {e:?}");
        for secret in [SECRET, TRACK_SECRET, "eyJhbGciOiJSUzI1NiJ9"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    let debug = format!("{:?}", credentials(&fake, 1, true).secrets);
    assert!(
        !debug.contains(SECRET) && !debug.contains(TRACK_SECRET),
        "{debug}"
    );
}

/// Three parcels are one multi-piece shipment: one ship request with three line items (the
/// total weight summed), three pieces with their own numbers and labels, the master first; the
/// lookup by reference finds all three; the void cancels every piece.
#[tokio::test]
async fn three_parcels_are_one_multi_piece_shipment() {
    let fake = fake().await;
    let c = connector().connect(&credentials(&fake, 1, false)).unwrap();
    assert!(c.multi_piece());
    let mut three = shipment();
    let one = three.parcels[0];
    three.parcels = vec![
        one,
        Parcel {
            weight_grams: 1500,
            ..one
        },
        Parcel {
            weight_grams: 2500,
            ..one
        },
    ];
    let quote = c.rates(&three).await.unwrap();
    let rate = quote.rates[0].rate.clone();
    let quoted = fake.requests().into_iter().last().unwrap();
    assert_eq!(quoted.body["requestedShipment"]["totalPackageCount"], 3);
    let label = c
        .buy_label(&Purchase {
            rate: rate.clone(),
            shipment: three.clone(),
            reference: REFERENCE.into(),
        })
        .await
        .unwrap();
    assert_eq!(ships(&fake), 1, "one call for the whole shipment");
    let ship = fake
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/ship/v1/shipments")
        .unwrap();
    let items = ship.body["requestedShipment"]["requestedPackageLineItems"]
        .as_array()
        .unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[2]["weight"]["value"], 5.6,
        "2500 g in tenths of a pound, rounded up"
    );
    assert_eq!(
        ship.body["requestedShipment"]["totalWeight"], 10.0,
        "4500 g = 9.92 lb, up"
    );
    let numbers: Vec<&str> = label
        .packages
        .iter()
        .map(|p| p.tracking_number.as_str())
        .collect();
    let made: Vec<String> = fake
        .live_labels()
        .into_iter()
        .map(|l| l.tracking_number)
        .collect();
    assert_eq!(numbers, made.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(label.tracking_number, numbers[0]);
    assert_eq!(label.carrier_reference, numbers[0], "the master number");
    assert!(label.packages.iter().all(|p| p.label_url.ends_with(".pdf")));
    let PurchaseLookup::Bought(found) = c.find_purchase(&rate, REFERENCE).await.unwrap() else {
        panic!("found by reference");
    };
    assert_eq!(found.packages.len(), 3);
    assert_eq!(found.carrier_reference, label.carrier_reference);
    assert_eq!(
        c.void_label(&label.carrier_reference).await.unwrap(),
        VoidOutcome::Refunded
    );
    assert!(fake.live_labels().is_empty(), "every piece cancelled");
}

/// FedEx does not swap: a return ships from the customer (shipper) to the warehouse
/// (recipient) as `RETURN_SHIPMENT` with a printed return label.
#[tokio::test]
async fn a_return_label_ships_from_the_customer_with_the_return_service() {
    let fake = fake().await;
    let c = connector().connect(&credentials(&fake, 1, false)).unwrap();
    let outbound = shipment();
    let ret = ShipmentRequest {
        from: outbound.to.clone(),
        to: outbound.from.clone(),
        is_return: true,
        ..outbound
    };
    let rate = c.rates(&ret).await.unwrap().rates[0].rate.clone();
    let label = c
        .buy_label(&Purchase {
            rate,
            shipment: ret.clone(),
            reference: REFERENCE.into(),
        })
        .await
        .unwrap();
    assert!(!label.tracking_number.is_empty());
    let ship = fake
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/ship/v1/shipments")
        .unwrap();
    let s = &ship.body["requestedShipment"];
    assert_eq!(
        s["shipper"]["address"]["postalCode"],
        ret.from.zip.as_str(),
        "the customer ships"
    );
    assert_eq!(
        s["recipients"][0]["address"]["postalCode"],
        ret.to.zip.as_str()
    );
    assert_eq!(
        s["shipmentSpecialServices"],
        serde_json::json!({"specialServiceTypes": ["RETURN_SHIPMENT"],
            "returnShipmentDetail": {"returnType": "PRINT_RETURN_LABEL"}})
    );
}

/// FedEx's address resolution: a standardized delivery point with its classification, or the
/// 400 of an address it cannot find, answered as undeliverable (not as a failure).
#[tokio::test]
async fn fedex_resolves_an_address_or_says_it_cannot() {
    let fake = fake().await;
    let c = connector().connect(&credentials(&fake, 1, false)).unwrap();
    let good = c
        .verify_address(&address(
            "Ana",
            "417 Montgomery St",
            "San Francisco",
            "CA",
            "94104",
        ))
        .await
        .unwrap();
    assert!(good.deliverable, "{good:?}");
    assert_eq!(good.address.street1, "417 MONTGOMERY ST");
    assert_eq!(good.address.zip, "94104-1234");
    assert_eq!(good.residential, Some(true));
    let sent = fake.requests().pop().unwrap();
    assert_eq!(sent.path, "/address/v1/addresses/resolve");
    assert_eq!(
        sent.body["addressesToValidate"][0]["address"]["streetLines"][0],
        "417 Montgomery St"
    );
    let bad = c
        .verify_address(&address(
            "Ana",
            "1 Nowhere Rd",
            "Springfield",
            "IL",
            "62701",
        ))
        .await
        .unwrap();
    assert!(!bad.deliverable);
    assert_eq!(bad.messages[0].code, "STANDARDIZED.ADDRESS.NOTFOUND");
}

/// An international FedEx shipment: commodities with HS codes and values at rating and at
/// shipping, the commercial invoice asked for and returned; a ZPL label on thermal stock,
/// insured by declared value, with an adult signature; a size FedEx does not stock refused
/// without a call.
#[tokio::test]
async fn fedex_ships_customs_zpl_declared_value_and_signature() {
    use app::ports::carrier::{LabelFormat, LabelOptions, Signature};
    use domain::order::{ContentsType, Customs, CustomsItem, NonDelivery};
    let fake = fake().await;
    let c = connector().connect(&credentials(&fake, 1, false)).unwrap();
    let usd = |a: &str| domain::Money::parse(a, domain::Currency::parse("USD").unwrap()).unwrap();
    let customs = Customs::new(
        ContentsType::Merchandise,
        None,
        NonDelivery::Return,
        None,
        "Ana",
        vec![CustomsItem {
            sku: domain::ids::Sku::parse("TEE-1").unwrap(),
            description: "Cotton T-shirt".into(),
            hs_tariff_number: Some("610910".into()),
            origin_country: "US".into(),
            quantity: 2,
            value: usd("23.50"),
            weight_grams: 400,
        }],
    )
    .unwrap();
    let options = LabelOptions::new(
        Some(LabelFormat::Zpl),
        Some("4x6"),
        Some(usd("200.00")),
        Some(Signature::Adult),
    )
    .unwrap();
    let req = ShipmentRequest {
        to: Address {
            country: "CA".into(),
            ..address("Ana", "290 Bremner Blvd", "Toronto", "ON", "M5V3L9")
        },
        customs: Some(customs),
        options,
        ..shipment()
    };
    let quote = c.rates(&req).await.unwrap();
    let rated = fake.requests().pop().unwrap();
    let commodity = &rated.body["requestedShipment"]["customsClearanceDetail"]["commodities"][0];
    assert_eq!(commodity["harmonizedCode"], "610910");
    assert_eq!(commodity["customsValue"]["amount"], 23.5);
    let label = c
        .buy_label(&Purchase {
            rate: quote.rates[0].rate.clone(),
            shipment: req,
            reference: REFERENCE.into(),
        })
        .await
        .unwrap();
    let shipped = fake
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/ship/v1/shipments")
        .unwrap();
    let s = &shipped.body["requestedShipment"];
    assert_eq!(s["labelSpecification"]["imageType"], "ZPLII");
    assert_eq!(s["labelSpecification"]["labelStockType"], "STOCK_4X6");
    assert_eq!(
        s["shippingDocumentSpecification"]["shippingDocumentTypes"][0],
        "COMMERCIAL_INVOICE"
    );
    let item = &s["requestedPackageLineItems"][0];
    assert_eq!(item["declaredValue"]["amount"], 200.0);
    assert_eq!(
        item["packageSpecialServices"]["signatureOptionType"],
        "ADULT"
    );
    assert_eq!(label.label_format, "ZPL");
    assert_eq!(
        label.insurance_fee, None,
        "a declared value, priced into the rate"
    );
    let zpl = reqwest::get(&label.label_url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(zpl.starts_with(b"^XA") && zpl.ends_with(b"^XZ"));
    let invoice = label.customs_form_url.expect("the commercial invoice");
    let pdf = reqwest::get(&invoice).await.unwrap().bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));

    let before = fake.requests().len();
    let odd = LabelOptions::new(Some(LabelFormat::Pdf), Some("3x5"), None, None).unwrap();
    let err = c
        .rates(&ShipmentRequest {
            options: odd,
            ..shipment()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_supported");
    assert_eq!(fake.requests().len(), before, "no call");
}
