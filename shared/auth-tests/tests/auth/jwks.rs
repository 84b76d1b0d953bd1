//! JWKS against a local HTTP server (dev mode), driven by the injected clock.

use std::sync::Arc;

use jsonwebtoken::Algorithm;

use crate::support::*;

fn token_a2() -> String {
    sign(
        Algorithm::RS256,
        "rsa-a2.key.pem",
        Some("a2"),
        &claims(ISS_A, "oms-api", "user-2"),
    )
}

#[tokio::test]
async fn a_new_kid_is_picked_up_without_restart() {
    let server = JwksServer::start(&["rsa-a.jwk.json"]).await;
    let env = jwks_tenant(&server.url).await;
    env.verifier
        .verify_token(&token_a(serde_json::json!({})))
        .await
        .unwrap();
    server.serve(&["rsa-a.jwk.json", "rsa-a2.jwk.json"]);
    env.clock.advance(30);
    env.verifier.verify_token(&token_a2()).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_unknown_kids_cause_one_fetch() {
    let server = JwksServer::start(&["rsa-a.jwk.json"]).await;
    let env = jwks_tenant(&server.url).await;
    env.verifier
        .verify_token(&token_a(serde_json::json!({})))
        .await
        .unwrap();
    assert_eq!(server.hits(), 1);
    server.serve(&["rsa-a.jwk.json", "rsa-a2.jwk.json"]);
    env.clock.advance(31);
    let mut tasks = Vec::new();
    for n in 0..100 {
        let verifier = Arc::clone(&env.verifier);
        // Distinct tokens, so none is answered from the verified-token cache.
        let t = sign(
            Algorithm::RS256,
            "rsa-a2.key.pem",
            Some("a2"),
            &claims(ISS_A, "oms-api", &format!("user-{n}")),
        );
        tasks.push(tokio::spawn(async move { verifier.verify_token(&t).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        server.hits(),
        2,
        "exactly one fetch for 100 concurrent verifications"
    );
    assert_eq!(env.verifier.jwks().fetch_count(), 2);
}

#[tokio::test]
async fn the_cool_down_holds() {
    let server = JwksServer::start(&["rsa-a.jwk.json"]).await;
    let env = jwks_tenant(&server.url).await;
    env.verifier
        .verify_token(&token_a(serde_json::json!({})))
        .await
        .unwrap();
    let unknown = || {
        sign(
            Algorithm::RS256,
            "attacker.key.pem",
            Some("zzz"),
            &claims(ISS_A, "oms-api", "x"),
        )
    };
    // Inside the first 30 s nothing is refetched, however many unknown kids arrive.
    for _ in 0..5 {
        assert!(env.verifier.verify_token(&unknown()).await.is_err());
    }
    env.clock.advance(29);
    assert!(env.verifier.verify_token(&unknown()).await.is_err());
    assert_eq!(server.hits(), 1);
    env.clock.advance(1);
    assert!(env.verifier.verify_token(&unknown()).await.is_err());
    assert_eq!(server.hits(), 2, "one refetch once the cool-down passed");
    assert!(env.verifier.verify_token(&unknown()).await.is_err());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn keys_expire_after_the_ttl_and_are_refetched() {
    let server = JwksServer::start(&["rsa-a.jwk.json"]).await;
    let env = jwks_tenant(&server.url).await;
    for n in 0..3 {
        let t = token_a(serde_json::json!({"sub": format!("u{n}")}));
        env.verifier.verify_token(&t).await.unwrap();
    }
    assert_eq!(server.hits(), 1, "cached for ten minutes");
    env.clock.advance(600);
    env.verifier
        .verify_token(&token_a(
            serde_json::json!({"sub": "later", "exp": NOW + 1200}),
        ))
        .await
        .unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn production_refuses_plain_http_jwks() {
    let server = JwksServer::start(&["rsa-a.jwk.json"]).await;
    let mut reg = pem_registration(ISS_A, "a1", "rsa-a.pub.pem");
    reg.keys = domain::tenant::IdpKeys::Jwks {
        url: server.url.clone(),
    };
    let env = env(
        vec![profile("a", vec![reg])],
        auth::VerifierConfig::default(),
    )
    .await;
    let err = env
        .verifier
        .verify_token(&token_a(serde_json::json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, auth::AuthError::KeysUnavailable(_)),
        "{err:?}"
    );
    assert_eq!(server.hits(), 0);
}

/// The IdP goes down after the keys expire: the stale keys keep serving within the grace period,
/// one fetch is attempted per cool-down (not one per request), and past the grace period
/// authentication is refused as unavailable.
#[tokio::test]
async fn stale_keys_serve_through_an_idp_outage_with_one_fetch_per_cool_down() {
    let server = JwksServer::start(&["rsa-a.jwk.json"]).await;
    let env = jwks_tenant(&server.url).await;
    let token =
        |n: u32| token_a(serde_json::json!({ "jti": format!("t{n}"), "exp": NOW + 100_000 }));
    env.verifier.verify_token(&token(0)).await.unwrap();
    assert_eq!(server.hits(), 1);
    // The IdP now answers garbage; the keys pass their 10-minute TTL.
    *server.doc.lock().unwrap() = "down".into();
    env.clock.advance(601);
    for n in 1..=50 {
        env.verifier.verify_token(&token(n)).await.unwrap();
    }
    assert_eq!(
        server.hits(),
        2,
        "one refetch for fifty requests within the cool-down"
    );
    env.clock.advance(31);
    for n in 51..=60 {
        env.verifier.verify_token(&token(n)).await.unwrap();
    }
    assert_eq!(server.hits(), 3, "one more after the cool-down");
    // Past the grace period (an hour beyond the TTL) the stale keys are not trusted.
    env.clock.advance(auth::jwks::STALE_GRACE_SECS);
    let err = env.verifier.verify_token(&token(99)).await.unwrap_err();
    assert_eq!(err.code(), "SERVICE_UNAVAILABLE", "{err:?}");
}
