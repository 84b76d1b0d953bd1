//! The tenant directory the verifier reads: issuers, tenant profiles and plans, through a cache
//! with a short TTL (default 60 s) so a request costs no extra store round trip.
//!
//! Issuers are checked against the whole registered set, loaded once per TTL: a token from an
//! issuer nobody registered costs no store request, however many distinct ones arrive. So an
//! issuer registered in another process is accepted here within the TTL (at once in the process
//! that registered it: the platform API calls `forget`).

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use domain::Clock;
use domain::access::Plan;
use domain::ids::{Issuer, PlanName, TenantId};
use domain::tenant::{EventSource, IssuerRow, TenantProfile};
use domain::webhook::{WebhookHook, WebhookSetting};

use crate::error::{AuthError, AuthResult};
use domain::Timestamp;
use domain::apikey::ApiKey;
use domain::ids::ApiKeyId;

/// Where the directory's records come from: a port of the domain, implemented by the registry
/// repository in storage.
pub use domain::ports::DirectorySource;

#[async_trait]
pub trait Directory: Send + Sync {
    async fn issuer(&self, issuer: &Issuer) -> AuthResult<Arc<Vec<IssuerRow>>>;
    async fn tenant(&self, tenant: &TenantId) -> AuthResult<Option<Arc<TenantProfile>>>;
    async fn plan(&self, plan: &PlanName) -> AuthResult<Option<Arc<Plan>>>;
    /// The SaaS provider's own settings of a hook.
    async fn saas_webhook(&self, hook: WebhookHook) -> AuthResult<Option<Arc<WebhookSetting>>>;
    /// The tenant that registered an event source.
    async fn event_source_tenant(&self, source: &EventSource) -> AuthResult<Option<Arc<TenantId>>>;
    /// A tenant API key's record.
    async fn api_key(&self, id: ApiKeyId) -> AuthResult<Option<Arc<ApiKey>>>;
    /// Records a key's use (best effort).
    async fn api_key_used(&self, id: ApiKeyId, at: Timestamp) -> AuthResult<()>;
    /// Forgets every cached record: the registry changed in this process (the platform API),
    /// so the change applies here at once rather than within the TTL.
    fn forget(&self) {}
}

/// Most entries per positive cache. Real issuers, tenants and plans are few; when the bound is
/// reached, expired entries go first and a fresh entry is simply not cached (never a purge).
const MAX_ENTRIES: usize = 10_000;

/// Issuers read and found unknown, remembered at most, and for how long: a small LRU of its
/// own, for the issuers the registered set lists but whose rows are gone, and for every issuer
/// while the source cannot list them yet (a table from before the issuer index).
const NEGATIVE_ENTRIES: usize = 1_024;
const NEGATIVE_TTL_SECS: i64 = 30;

struct TtlMap<K, V> {
    map: Mutex<HashMap<K, (i64, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlMap<K, V> {
    fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, k: &K, now: i64, ttl: i64) -> Option<V> {
        let map = self.map.lock().ok()?;
        map.get(k)
            .filter(|(at, _)| now - at < ttl)
            .map(|(_, v)| v.clone())
    }

    fn clear(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.clear();
        }
    }

    fn put(&self, k: K, v: V, now: i64, ttl: i64) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_ENTRIES && !map.contains_key(&k) {
                map.retain(|_, (at, _)| now - *at < ttl);
                if map.len() >= MAX_ENTRIES {
                    return;
                }
            }
            map.insert(k, (now, v));
        }
    }
}

/// Issuers the registry does not know: bounded, least recently used out first, short-lived.
struct NegativeCache {
    lru: Mutex<lru::LruCache<Issuer, i64>>,
}

impl NegativeCache {
    fn new() -> Self {
        let cap =
            std::num::NonZeroUsize::new(NEGATIVE_ENTRIES).unwrap_or(std::num::NonZeroUsize::MIN);
        Self {
            lru: Mutex::new(lru::LruCache::new(cap)),
        }
    }

    fn contains(&self, issuer: &Issuer, now: i64) -> bool {
        self.lru
            .lock()
            .ok()
            .and_then(|mut l| l.get(issuer).copied())
            .is_some_and(|at| now - at < NEGATIVE_TTL_SECS)
    }

    fn put(&self, issuer: Issuer, now: i64) {
        if let Ok(mut l) = self.lru.lock() {
            l.put(issuer, now);
        }
    }

    fn clear(&self) {
        if let Ok(mut l) = self.lru.lock() {
            l.clear();
        }
    }
}

/// The set of every registered issuer, loaded whole once per TTL: an issuer outside it is
/// refused with no store request, however many distinct ones arrive.
/// The registered issuers, `None` while the source cannot list them.
type IssuerSet = Option<Arc<BTreeSet<Issuer>>>;

struct KnownIssuers {
    /// When the set was loaded, and the set.
    state: Mutex<Option<(i64, IssuerSet)>>,
    /// One load at a time: callers that find the set stale wait for the load under way.
    loading: tokio::sync::Mutex<()>,
}

impl KnownIssuers {
    fn new() -> Self {
        Self {
            state: Mutex::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self, now: i64, ttl: i64) -> Option<IssuerSet> {
        let state = self.state.lock().ok()?;
        state
            .as_ref()
            .filter(|(at, _)| now - at < ttl)
            .map(|(_, set)| set.clone())
    }

    fn clear(&self) {
        if let Ok(mut state) = self.state.lock() {
            *state = None;
        }
    }
}

/// The directory over its source (the registry repository), cached.
pub struct CachedDirectory {
    registry: Arc<dyn DirectorySource>,
    clock: Arc<dyn Clock>,
    ttl_secs: i64,
    issuers: TtlMap<Issuer, Arc<Vec<IssuerRow>>>,
    known_issuers: KnownIssuers,
    unknown_issuers: NegativeCache,
    tenants: TtlMap<TenantId, Option<Arc<TenantProfile>>>,
    plans: TtlMap<PlanName, Option<Arc<Plan>>>,
    saas_webhooks: TtlMap<WebhookHook, Option<Arc<WebhookSetting>>>,
    event_sources: TtlMap<EventSource, Option<Arc<TenantId>>>,
    api_keys: TtlMap<ApiKeyId, Option<Arc<ApiKey>>>,
}

fn unavailable(e: impl std::fmt::Display) -> AuthError {
    AuthError::Directory(e.to_string())
}

impl CachedDirectory {
    pub fn new(registry: Arc<dyn DirectorySource>, clock: Arc<dyn Clock>, ttl_secs: i64) -> Self {
        Self {
            registry,
            clock,
            ttl_secs,
            issuers: TtlMap::new(),
            known_issuers: KnownIssuers::new(),
            unknown_issuers: NegativeCache::new(),
            tenants: TtlMap::new(),
            plans: TtlMap::new(),
            saas_webhooks: TtlMap::new(),
            event_sources: TtlMap::new(),
            api_keys: TtlMap::new(),
        }
    }
}

impl CachedDirectory {
    /// The set of registered issuers, no older than the TTL.
    async fn known_issuers(&self, now: i64) -> AuthResult<IssuerSet> {
        if let Some(set) = self.known_issuers.fresh(now, self.ttl_secs) {
            return Ok(set);
        }
        let _one_load = self.known_issuers.loading.lock().await;
        if let Some(set) = self.known_issuers.fresh(now, self.ttl_secs) {
            return Ok(set);
        }
        let set = self
            .registry
            .known_issuers()
            .await
            .map_err(unavailable)?
            .map(Arc::new);
        if let Ok(mut state) = self.known_issuers.state.lock() {
            *state = Some((now, set.clone()));
        }
        Ok(set)
    }

    /// A record through its cache: fresh from the map, or `fetch`ed and remembered (absence
    /// too, for the TTL).
    async fn cached<'a, K, V>(
        &self,
        map: &TtlMap<K, Option<Arc<V>>>,
        key: &K,
        fetch: impl FnOnce() -> domain::ports::PortFuture<'a, Option<V>>,
    ) -> AuthResult<Option<Arc<V>>>
    where
        K: Eq + Hash + Clone,
    {
        let now = self.clock.now_secs();
        let hit = map.get(key, now, self.ttl_secs);
        telemetry::cache("directory", hit.is_some());
        if let Some(v) = hit {
            return Ok(v);
        }
        let v = fetch().await.map_err(unavailable)?.map(Arc::new);
        map.put(key.clone(), v.clone(), now, self.ttl_secs);
        Ok(v)
    }
}

#[async_trait]
impl Directory for CachedDirectory {
    async fn issuer(&self, issuer: &Issuer) -> AuthResult<Arc<Vec<IssuerRow>>> {
        let now = self.clock.now_secs();
        if let Some(v) = self.issuers.get(issuer, now, self.ttl_secs) {
            return Ok(v);
        }
        let listed = self.known_issuers(now).await?;
        if listed.is_some_and(|set| !set.contains(issuer)) {
            return Ok(Arc::new(Vec::new()));
        }
        // Listed (or no list yet): read its rows. An issuer listed but gone meanwhile is
        // remembered as unknown for a while.
        if self.unknown_issuers.contains(issuer, now) {
            return Ok(Arc::new(Vec::new()));
        }
        let rows = Arc::new(
            self.registry
                .issuer_rows(issuer)
                .await
                .map_err(unavailable)?,
        );
        if rows.is_empty() {
            self.unknown_issuers.put(issuer.clone(), now);
        } else {
            self.issuers
                .put(issuer.clone(), rows.clone(), now, self.ttl_secs);
        }
        Ok(rows)
    }

    async fn tenant(&self, tenant: &TenantId) -> AuthResult<Option<Arc<TenantProfile>>> {
        self.cached(&self.tenants, tenant, || self.registry.profile(tenant))
            .await
    }

    async fn plan(&self, plan: &PlanName) -> AuthResult<Option<Arc<Plan>>> {
        self.cached(&self.plans, plan, || self.registry.plan(plan))
            .await
    }

    async fn saas_webhook(&self, hook: WebhookHook) -> AuthResult<Option<Arc<WebhookSetting>>> {
        self.cached(&self.saas_webhooks, &hook, || {
            self.registry.saas_webhook(hook)
        })
        .await
    }

    fn forget(&self) {
        self.issuers.clear();
        self.known_issuers.clear();
        self.unknown_issuers.clear();
        self.tenants.clear();
        self.plans.clear();
        self.saas_webhooks.clear();
        self.event_sources.clear();
        self.api_keys.clear();
    }

    async fn api_key(&self, id: ApiKeyId) -> AuthResult<Option<Arc<ApiKey>>> {
        self.cached(&self.api_keys, &id, || self.registry.api_key(id))
            .await
    }

    async fn api_key_used(&self, id: ApiKeyId, at: Timestamp) -> AuthResult<()> {
        self.registry
            .api_key_used(id, at)
            .await
            .map_err(unavailable)
    }

    async fn event_source_tenant(&self, source: &EventSource) -> AuthResult<Option<Arc<TenantId>>> {
        self.cached(&self.event_sources, source, || {
            self.registry.event_source_tenant(source)
        })
        .await
    }
}
