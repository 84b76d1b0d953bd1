//! The OAuth2 token source against a token endpoint on 127.0.0.1 that counts its requests and
//! fails on demand: one fetch for many waiting calls, reuse until shortly before expiry, one
//! refresh after a refusal, the endpoint's failures as carrier errors — and never a token or a
//! secret in an error or a `Debug`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use app::ports::carrier::CarrierError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use carriers::oauth::{ClientCredentials, EXPIRY_MARGIN_SECS, TokenSource, TokenSources};
use domain::ManualClock;
use domain::outbound::OutboundPolicy;
use secrecy::SecretString;

const SECRET: &str = "client-secret-never-shown-0001";

#[derive(Default)]
struct Endpoint {
    requests: AtomicUsize,
    /// Answer this status instead of a token (0: a token).
    fail: AtomicU16,
    /// Answer a body that is not JSON.
    malformed: std::sync::atomic::AtomicBool,
    /// Seen forms, to check what was sent.
    forms: std::sync::Mutex<Vec<String>>,
}

async fn token(State(e): State<Arc<Endpoint>>, body: String) -> axum::response::Response {
    let n = e.requests.fetch_add(1, Ordering::SeqCst) + 1;
    e.forms.lock().unwrap().push(body);
    // Slow enough that concurrent callers overlap.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    match e.fail.load(Ordering::SeqCst) {
        0 if e.malformed.load(Ordering::SeqCst) => "<html>".into_response(),
        0 => axum::Json(serde_json::json!({
            "access_token": format!("token-{n}-secret-value"),
            "token_type": "bearer",
            "expires_in": 3600,
        }))
        .into_response(),
        code => StatusCode::from_u16(code).unwrap().into_response(),
    }
}

async fn endpoint() -> (Arc<Endpoint>, String) {
    let e = Arc::new(Endpoint::default());
    let app = axum::Router::new()
        .route("/oauth/token", axum::routing::post(token))
        .with_state(e.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (e, url)
}

fn source(url: &str, clock: &ManualClock) -> TokenSource {
    TokenSource::new(
        ClientCredentials {
            token_url: url.to_owned(),
            client_id: "client-1".into(),
            client_secret: SecretString::from(SECRET.to_owned()),
        },
        reqwest::Client::new(),
        OutboundPolicy::dev(),
        Arc::new(clock.clone()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_waiting_calls_fetch_one_token() {
    let (e, url) = endpoint().await;
    let s = Arc::new(source(&url, &ManualClock::at(1_000)));
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.token().await.unwrap().expose().to_owned() })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), "token-1-secret-value");
    }
    assert_eq!(e.requests.load(Ordering::SeqCst), 1);
    let form = e.forms.lock().unwrap()[0].clone();
    assert!(form.contains("grant_type=client_credentials"), "{form}");
    assert!(form.contains("client_id=client-1"), "{form}");
}

#[tokio::test]
async fn a_token_is_reused_until_shortly_before_it_expires() {
    let (e, url) = endpoint().await;
    let clock = ManualClock::at(1_000);
    let s = source(&url, &clock);
    assert_eq!(s.token().await.unwrap().expose(), "token-1-secret-value");
    clock.advance(3_600 - EXPIRY_MARGIN_SECS - 1);
    assert_eq!(s.token().await.unwrap().expose(), "token-1-secret-value");
    clock.advance(1);
    assert_eq!(s.token().await.unwrap().expose(), "token-2-secret-value");
    assert_eq!(e.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_token_is_refreshed_once_for_every_caller() {
    let (e, url) = endpoint().await;
    let s = Arc::new(source(&url, &ManualClock::at(1_000)));
    let stale = s.token().await.unwrap();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let (s, stale) = (s.clone(), stale.clone());
            tokio::spawn(async move { s.refresh(&stale).await.unwrap().expose().to_owned() })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), "token-2-secret-value");
    }
    assert_eq!(
        e.requests.load(Ordering::SeqCst),
        2,
        "one fetch, one refresh"
    );
}

#[tokio::test]
async fn the_endpoints_failures_are_carrier_errors_without_secrets() {
    let (e, url) = endpoint().await;
    let s = source(&url, &ManualClock::at(1_000));
    for (status, code) in [
        (503, "carrier_unavailable"),
        (429, "carrier_unavailable"),
        (401, "carrier_auth_failed"),
        (400, "carrier_auth_failed"),
    ] {
        e.fail.store(status, Ordering::SeqCst);
        let err = s.token().await.unwrap_err();
        assert_eq!(err.code(), code, "{status}: {err}");
        assert!(!format!("{err} {err:?}").contains(SECRET));
    }
    e.fail.store(0, Ordering::SeqCst);
    e.malformed.store(true, Ordering::SeqCst);
    let err = s.token().await.unwrap_err();
    assert!(matches!(err, CarrierError::Malformed(_)), "{err:?}");

    // An endpoint nobody listens on.
    let down = source("http://127.0.0.1:9/oauth/token", &ManualClock::at(1_000));
    let err = down.token().await.unwrap_err();
    assert_eq!(err.code(), "carrier_unavailable", "{err}");

    // A token URL the policy refuses is never called.
    let refused = TokenSource::new(
        ClientCredentials {
            token_url: url.clone(),
            client_id: "client-1".into(),
            client_secret: SecretString::from(SECRET.to_owned()),
        },
        reqwest::Client::new(),
        OutboundPolicy::production(),
        Arc::new(ManualClock::at(1_000)),
    );
    let before = e.requests.load(Ordering::SeqCst);
    assert!(matches!(
        refused.token().await,
        Err(CarrierError::Rejected(_))
    ));
    assert_eq!(e.requests.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn debug_never_shows_a_token_or_a_secret() {
    let (_e, url) = endpoint().await;
    let s = source(&url, &ManualClock::at(1_000));
    let t = s.token().await.unwrap();
    assert!(!format!("{t:?}").contains("secret-value"));
    let c = ClientCredentials {
        token_url: url,
        client_id: "client-1".into(),
        client_secret: SecretString::from(SECRET.to_owned()),
    };
    assert!(!format!("{c:?}").contains(SECRET));
}

#[tokio::test]
async fn a_rotated_version_gets_a_source_of_its_own() {
    let (e, url) = endpoint().await;
    let clock = ManualClock::at(1_000);
    let sources = TokenSources::default();
    let creds = ClientCredentials {
        token_url: url.clone(),
        client_id: "client-1".into(),
        client_secret: SecretString::from(SECRET.to_owned()),
    };
    let a = sources.source("version-1", &creds, || source(&url, &clock));
    let again = sources.source("version-1", &creds, || source(&url, &clock));
    assert!(Arc::ptr_eq(&a, &again));
    let b = sources.source("version-2", &creds, || source(&url, &clock));
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(a.token().await.unwrap().expose(), "token-1-secret-value");
    assert_eq!(b.token().await.unwrap().expose(), "token-2-secret-value");
    assert_eq!(e.requests.load(Ordering::SeqCst), 2);
}
