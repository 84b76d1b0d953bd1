//! The tenant directory the verifier reads: issuers, tenant profiles and plans, through a cache
//! with a short TTL (default 60 s) so a request costs no extra store round trip.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use domain::Clock;
use domain::access::Plan;
use domain::ids::{Issuer, PlanName, TenantId};
use domain::tenant::{IssuerRow, TenantProfile};

use crate::error::{AuthError, AuthResult};

/// Where the directory's records come from: a port of the domain, implemented by the registry
/// repository in storage.
pub use domain::ports::DirectorySource;

#[async_trait]
pub trait Directory: Send + Sync {
    async fn issuer(&self, issuer: &Issuer) -> AuthResult<Arc<Vec<IssuerRow>>>;
    async fn tenant(&self, tenant: &TenantId) -> AuthResult<Option<Arc<TenantProfile>>>;
    async fn plan(&self, plan: &PlanName) -> AuthResult<Option<Arc<Plan>>>;
}

/// Most entries per cache (unknown issuers must not grow it without bound).
const MAX_ENTRIES: usize = 10_000;

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

    fn put(&self, k: K, v: V, now: i64) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(k, (now, v));
        }
    }
}

/// The directory over its source (the registry repository), cached.
pub struct CachedDirectory {
    registry: Arc<dyn DirectorySource>,
    clock: Arc<dyn Clock>,
    ttl_secs: i64,
    issuers: TtlMap<Issuer, Arc<Vec<IssuerRow>>>,
    tenants: TtlMap<TenantId, Option<Arc<TenantProfile>>>,
    plans: TtlMap<PlanName, Option<Arc<Plan>>>,
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
            tenants: TtlMap::new(),
            plans: TtlMap::new(),
        }
    }
}

#[async_trait]
impl Directory for CachedDirectory {
    async fn issuer(&self, issuer: &Issuer) -> AuthResult<Arc<Vec<IssuerRow>>> {
        let now = self.clock.now_secs();
        if let Some(v) = self.issuers.get(issuer, now, self.ttl_secs) {
            return Ok(v);
        }
        let rows = Arc::new(
            self.registry
                .issuer_rows(issuer)
                .await
                .map_err(unavailable)?,
        );
        self.issuers.put(issuer.clone(), rows.clone(), now);
        Ok(rows)
    }

    async fn tenant(&self, tenant: &TenantId) -> AuthResult<Option<Arc<TenantProfile>>> {
        let now = self.clock.now_secs();
        if let Some(v) = self.tenants.get(tenant, now, self.ttl_secs) {
            return Ok(v);
        }
        let profile = self
            .registry
            .profile(tenant)
            .await
            .map_err(unavailable)?
            .map(Arc::new);
        self.tenants.put(tenant.clone(), profile.clone(), now);
        Ok(profile)
    }

    async fn plan(&self, plan: &PlanName) -> AuthResult<Option<Arc<Plan>>> {
        let now = self.clock.now_secs();
        if let Some(v) = self.plans.get(plan, now, self.ttl_secs) {
            return Ok(v);
        }
        let p = self
            .registry
            .plan(plan)
            .await
            .map_err(unavailable)?
            .map(Arc::new);
        self.plans.put(plan.clone(), p.clone(), now);
        Ok(p)
    }
}
