//! The verified-token cache.

use std::sync::Arc;

use auth::cache::{TokenCache, hash};
use auth::{AuthError, Caller, PlatformAdmin};

use crate::support::*;

#[tokio::test]
async fn an_expired_token_is_refused_even_when_cached() {
    let env = two_tenants().await;
    let t = token_a(serde_json::json!({"exp": NOW + 40}));
    env.verifier.verify_token(&t).await.unwrap();
    assert_eq!(env.verifier.token_cache().len(), 1);
    env.clock.advance(39);
    env.verifier.verify_token(&t).await.unwrap();
    env.clock.advance(32); // past exp + leeway
    assert_eq!(
        env.verifier.verify_token(&t).await.unwrap_err(),
        AuthError::Expired
    );
}

#[tokio::test]
async fn a_repeated_token_skips_the_signature_check() {
    let env = two_tenants().await;
    let t = token_a(serde_json::json!({}));
    let first = env.verifier.verify_token(&t).await.unwrap();
    assert_eq!(env.verifier.verify_token(&t).await.unwrap(), first);
    assert_eq!(env.verifier.token_cache().len(), 1);
}

#[test]
fn the_cache_never_grows_past_its_bound() {
    let cache = TokenCache::new(100);
    let caller = Caller::Platform(PlatformAdmin::for_tests("root"));
    for n in 0..1_000 {
        cache.insert(
            hash(&format!("token-{n}")),
            caller.clone(),
            NOW + 100,
            None,
            NOW,
        );
        assert!(cache.len() <= 100);
    }
    // Expired entries make room before live ones are dropped, and are never returned.
    let c = Arc::new(TokenCache::new(10));
    for n in 0..10 {
        c.insert(
            hash(&format!("old-{n}")),
            caller.clone(),
            NOW + 1,
            None,
            NOW,
        );
    }
    c.insert(hash("fresh"), caller.clone(), NOW + 100, None, NOW + 5);
    assert!(c.get(&hash("fresh"), NOW + 5).is_some());
    assert!(c.get(&hash("old-1"), NOW + 5).is_none());
    // Purging a rotated key removes exactly its tokens.
    c.insert(
        hash("k1"),
        caller.clone(),
        NOW + 100,
        Some(("u".into(), "k1".into())),
        NOW,
    );
    c.insert(
        hash("k2"),
        caller.clone(),
        NOW + 100,
        Some(("u".into(), "k2".into())),
        NOW,
    );
    c.purge_key("u", "k1");
    assert!(c.get(&hash("k1"), NOW).is_none());
    assert!(c.get(&hash("k2"), NOW).is_some());
}
