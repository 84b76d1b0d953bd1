//! JWKS: fetched with reqwest, cached (default 10 minutes), refetched on an unknown `kid` at most
//! once per cool-down (default 30 s), one fetch shared by concurrent callers. Time comes from the
//! injected clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use domain::Clock;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;

use crate::error::{AuthError, AuthResult};

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// How long past its TTL a fetched key set keeps serving while its IdP cannot be reached.
pub const STALE_GRACE_SECS: i64 = 3_600;

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Arc<DecodingKey>>,
    /// The only key, for tokens without `kid` when the set has exactly one.
    single: Option<Arc<DecodingKey>>,
    fetched_at: Option<i64>,
    last_attempt: Option<i64>,
}

/// Called with (url, kid) for each key a refresh removed, so verified tokens signed with it go.
pub type OnKeyRemoved = Arc<dyn Fn(&str, &str) + Send + Sync>;

pub struct JwksCache {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    ttl_secs: i64,
    cooldown_secs: i64,
    /// Which JWKS URLs may be fetched (public https only outside dev mode, plus its allow-list).
    policy: domain::outbound::OutboundPolicy,
    sets: RwLock<HashMap<String, Arc<RwLock<Keys>>>>,
    /// One fetch at a time per URL: concurrent callers wait for it instead of fetching again.
    fetch_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    on_removed: Option<OnKeyRemoved>,
    fetches: std::sync::atomic::AtomicU64,
}

/// How long one JWKS fetch may take.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl JwksCache {
    pub fn new(
        clock: Arc<dyn Clock>,
        ttl_secs: i64,
        cooldown_secs: i64,
        policy: domain::outbound::OutboundPolicy,
    ) -> AuthResult<Self> {
        let http = outbound_http::client(&policy).map_err(AuthError::KeysUnavailable)?;
        Ok(Self {
            http,
            clock,
            ttl_secs,
            cooldown_secs,
            policy,
            sets: RwLock::default(),
            fetch_locks: Mutex::default(),
            on_removed: None,
            fetches: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub fn on_key_removed(mut self, f: OnKeyRemoved) -> Self {
        self.on_removed = Some(f);
        self
    }

    /// How many JWKS documents were fetched (diagnostics and tests).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn set(&self, url: &str) -> Arc<RwLock<Keys>> {
        if let Some(s) = self.sets.read().ok().and_then(|m| m.get(url).cloned()) {
            return s;
        }
        let mut map = match self.sets.write() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.entry(url.to_owned()).or_default().clone()
    }

    fn lookup(keys: &Keys, kid: Option<&str>) -> Option<Arc<DecodingKey>> {
        match kid {
            Some(k) => keys.by_kid.get(k).cloned(),
            None => keys.single.clone(),
        }
    }

    fn fresh(&self, keys: &Keys, now: i64) -> bool {
        keys.fetched_at.is_some_and(|t| now - t < self.ttl_secs)
    }

    /// The key from a set fetched within the TTL, if it has it.
    fn cached(
        &self,
        set: &RwLock<Keys>,
        kid: Option<&str>,
        now: i64,
    ) -> AuthResult<Option<Arc<DecodingKey>>> {
        let keys = set
            .read()
            .map_err(|_| AuthError::KeysUnavailable("poisoned".into()))?;
        Ok(if self.fresh(&keys, now) {
            Self::lookup(&keys, kid)
        } else {
            None
        })
    }

    /// Keys fetched within the TTL plus the grace period (served while the IdP is unreachable).
    fn usable(&self, keys: &Keys, now: i64) -> bool {
        keys.fetched_at
            .is_some_and(|t| now - t < self.ttl_secs + STALE_GRACE_SECS)
    }

    /// The key for `kid` (or the only key when the token has none).
    ///
    /// Past the TTL, one caller refetches (at most once per cool-down) while the others keep
    /// using the stale keys within the grace period instead of waiting for the fetch; an unknown
    /// `kid` refetches at most once per cool-down too; a failed fetch never repeats before the
    /// cool-down ends.
    pub async fn key(&self, url: &str, kid: Option<&str>) -> AuthResult<Arc<DecodingKey>> {
        let set = self.set(url);
        let now = self.clock.now_secs();
        let cached = self.cached(&set, kid, now)?;
        telemetry::cache("jwks", cached.is_some());
        if let Some(key) = cached {
            return Ok(key);
        }
        let lock = {
            let mut locks = self
                .fetch_locks
                .lock()
                .map_err(|_| AuthError::KeysUnavailable("poisoned".into()))?;
            locks.entry(url.to_owned()).or_default().clone()
        };
        let stale_key = {
            let keys = set
                .read()
                .map_err(|_| AuthError::KeysUnavailable("poisoned".into()))?;
            self.usable(&keys, now)
                .then(|| Self::lookup(&keys, kid))
                .flatten()
        };
        let _guard = match (stale_key, lock.clone().try_lock_owned()) {
            // A refresh is in flight: the stale key serves meanwhile.
            (Some(key), Err(_)) => return Ok(key),
            (_, Ok(guard)) => guard,
            (None, Err(_)) => lock.lock_owned().await,
        };
        // Someone may have fetched while we waited: decide again under the lock.
        let now = self.clock.now_secs();
        if let Some(key) = self.cached(&set, kid, now)? {
            return Ok(key);
        }
        let cooled_down = set
            .read()
            .map_err(|_| AuthError::KeysUnavailable("poisoned".into()))?
            .last_attempt
            .is_none_or(|t| now - t >= self.cooldown_secs);
        if cooled_down {
            self.refresh(url, &set, now).await?;
        }
        let keys = set
            .read()
            .map_err(|_| AuthError::KeysUnavailable("poisoned".into()))?;
        if !self.usable(&keys, now) {
            return Err(AuthError::KeysUnavailable(
                "no key set fetched within the grace period".into(),
            ));
        }
        Self::lookup(&keys, kid).ok_or(AuthError::UnknownKey)
    }

    async fn refresh(&self, url: &str, set: &RwLock<Keys>, now: i64) -> AuthResult<()> {
        if let Ok(mut keys) = set.write() {
            keys.last_attempt = Some(now);
        }
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let fetched = self.fetch(url).await;
        let doc = match fetched {
            Ok(doc) => doc,
            Err(e) => {
                let have_keys = set.read().is_ok_and(|k| self.usable(&k, now));
                tracing::warn!(jwks_url = url, error = %e, keep_old_keys = have_keys, "JWKS fetch failed");
                // Keep serving the keys we have; without any, authentication cannot proceed.
                return if have_keys {
                    Ok(())
                } else {
                    Err(AuthError::KeysUnavailable(e))
                };
            }
        };
        let mut by_kid = HashMap::new();
        let mut all = Vec::new();
        for jwk in &doc.keys {
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let key = Arc::new(key);
            if let Some(kid) = &jwk.common.key_id {
                by_kid.insert(kid.clone(), key.clone());
            }
            all.push(key);
        }
        let removed: Vec<String> = {
            let mut keys = set
                .write()
                .map_err(|_| AuthError::KeysUnavailable("poisoned".into()))?;
            let removed = keys
                .by_kid
                .keys()
                .filter(|k| !by_kid.contains_key(*k))
                .cloned()
                .collect();
            keys.single = if all.len() == 1 { all.pop() } else { None };
            keys.by_kid = by_kid;
            keys.fetched_at = Some(now);
            removed
        };
        if let Some(f) = &self.on_removed {
            for kid in &removed {
                f(url, kid);
            }
        }
        Ok(())
    }

    async fn fetch(&self, url: &str) -> Result<JwkSet, String> {
        let url = outbound_http::check(&self.policy, url)?;
        let resp = self
            .http
            .get(url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_JWKS_BYTES {
            return Err("JWKS document too large".into());
        }
        serde_json::from_slice(&body).map_err(|e| format!("not a JWKS document: {e}"))
    }
}
