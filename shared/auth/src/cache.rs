//! The verified-token cache: keyed by SHA-256 of the raw token (the token itself is not kept),
//! bounded, entries expiring at the token's `exp` (or sooner), purged when their key leaves the
//! JWKS. A repeated token skips the signature check.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::identity::Caller;

pub type TokenHash = [u8; 32];

pub fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

struct Entry {
    caller: Caller,
    expires_at: i64,
    /// (JWKS URL, kid) of the key that signed it, for purging on rotation.
    key: Option<(String, String)>,
}

pub struct TokenCache {
    capacity: usize,
    map: Mutex<HashMap<TokenHash, Entry>>,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            map: Mutex::new(HashMap::with_capacity(capacity.min(1024))),
        }
    }

    pub fn get(&self, hash: &TokenHash, now: i64) -> Option<Caller> {
        let mut map = self.map.lock().ok()?;
        let found = match map.get(hash) {
            Some(e) if e.expires_at > now => Some(e.caller.clone()),
            Some(_) => {
                map.remove(hash);
                None
            }
            None => None,
        };
        telemetry::cache("token", found.is_some());
        found
    }

    pub fn insert(
        &self,
        hash: TokenHash,
        caller: Caller,
        expires_at: i64,
        key: Option<(String, String)>,
        now: i64,
    ) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut map) = self.map.lock() else { return };
        if map.len() >= self.capacity {
            map.retain(|_, e| e.expires_at > now);
        }
        while map.len() >= self.capacity {
            // Still full of live entries: drop arbitrary ones (HashMap order is unpredictable).
            let Some(victim) = map.keys().next().copied() else {
                break;
            };
            map.remove(&victim);
        }
        map.insert(
            hash,
            Entry {
                caller,
                expires_at,
                key,
            },
        );
    }

    /// Forgets every token signed with this key.
    pub fn purge_key(&self, url: &str, kid: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, e| e.key.as_ref().is_none_or(|(u, k)| u != url || k != kid));
        }
    }

    /// Forgets every token (the registry changed: a suspension applies to the next request).
    pub fn clear(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
