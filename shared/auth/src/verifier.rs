//! JWT verification against the tenant's registered IdP.
//!
//! Order of checks: size (unread over 8 KiB) → verified-token cache → header (`alg`, `kid`; `jku`,
//! `x5u` and embedded `jwk` are never used) → issuer (unverified, only to find the registration)
//! → tenant (dedicated issuer, or the tenant claim of a shared one) → tenant status → algorithm
//! allowed by the registration → key by `kid` → signature, `iss`, audience → `exp`/`nbf` against
//! the injected clock → tenant claim again on verified claims → claim mapping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::Clock;
use domain::access::Role;
use domain::apikey::PresentedKey;
use domain::ids::{ApiKeyId, Issuer, Subject, TenantId};
use domain::scope::{TenantScope, VerifiedBy};
use domain::tenant::{
    AudienceClaim, IdpKeys, IdpRegistration, TenantProfile, TenantStatus, TokenAlgorithm,
};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::cache::{TokenCache, hash};
use crate::directory::Directory;
use crate::error::{AuthError, AuthResult};
use crate::identity::{Caller, Identity, PlatformAdmin};
use crate::jwks::JwksCache;
use crate::mapping::{CompiledMapping, Expr, claims_var};

/// The dev issuer (`oms token`); refused outside dev mode.
pub const DEV_ISSUER: &str = "https://dev-idp.tenantoms.localhost";

#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Allows http JWKS URLs and the dev issuer.
    pub dev_mode: bool,
    /// Clock skew allowed on `exp` and `nbf` (at most 30 s).
    pub leeway_secs: i64,
    pub max_token_bytes: usize,
    pub jwks_ttl_secs: i64,
    pub jwks_cooldown_secs: i64,
    pub token_cache_capacity: usize,
    /// How long a verified token is trusted without re-reading the directory.
    pub directory_ttl_secs: i64,
    /// The SaaS provider's own issuer, whose `platform-admin` role runs platform operations.
    pub platform: Option<IdpRegistration>,
    /// Hosts JWKS may be fetched from although they are not public https (a private IdP of
    /// `oms serve --mode production`: its config file's `outbound.allow`).
    pub outbound_allow: Vec<domain::outbound::AllowedTarget>,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self {
            dev_mode: false,
            leeway_secs: 30,
            max_token_bytes: 8 * 1024,
            jwks_ttl_secs: 600,
            jwks_cooldown_secs: 30,
            token_cache_capacity: 10_000,
            directory_ttl_secs: 60,
            platform: None,
            outbound_allow: Vec::new(),
        }
    }
}

/// A registration, compiled once (keys parsed, expressions compiled).
struct Compiled {
    registration: IdpRegistration,
    mapping: CompiledMapping,
    tenant_claim: Option<Expr>,
    pem_keys: Vec<(Option<String>, TokenAlgorithm, Arc<DecodingKey>)>,
}

impl Compiled {
    fn new(registration: &IdpRegistration) -> Result<Self, String> {
        let pem_keys = match &registration.keys {
            IdpKeys::Pem { keys } => keys
                .iter()
                .map(|k| {
                    let key = match k.algorithm {
                        TokenAlgorithm::RS256 => DecodingKey::from_rsa_pem(k.pem.as_bytes()),
                        TokenAlgorithm::ES256 => DecodingKey::from_ec_pem(k.pem.as_bytes()),
                        TokenAlgorithm::EdDSA => DecodingKey::from_ed_pem(k.pem.as_bytes()),
                    }
                    .map_err(|e| format!("key {:?}: {e}", k.kid))?;
                    Ok((k.kid.clone(), k.algorithm, Arc::new(key)))
                })
                .collect::<Result<_, String>>()?,
            IdpKeys::Jwks { .. } => Vec::new(),
        };
        Ok(Self {
            registration: registration.clone(),
            mapping: CompiledMapping::compile(&registration.claims, &registration.role_map)?,
            tenant_claim: registration
                .tenant_claim
                .as_deref()
                .map(|e| Expr::compile("tenantClaim", e))
                .transpose()?,
            pem_keys,
        })
    }
}

/// Checks a registration the way the verifier will use it (the admin CLI calls this before saving).
pub fn check_registration(registration: &IdpRegistration) -> Result<(), String> {
    registration.validate().map_err(|e| e.to_string())?;
    Compiled::new(registration).map(|_| ())
}

/// Checks the platform issuer's registration (deployment configuration): it compiles; unlike a
/// tenant's, it may grant `platform-admin`.
pub fn check_platform_registration(registration: &IdpRegistration) -> Result<(), String> {
    Compiled::new(registration).map(|_| ())
}

fn algorithm(a: TokenAlgorithm) -> Algorithm {
    match a {
        TokenAlgorithm::RS256 => Algorithm::RS256,
        TokenAlgorithm::ES256 => Algorithm::ES256,
        TokenAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}

type CompiledAt = (domain::Timestamp, Arc<Compiled>);

pub struct Verifier {
    directory: Arc<dyn Directory>,
    jwks: Arc<JwksCache>,
    cache: Arc<TokenCache>,
    clock: Arc<dyn Clock>,
    config: VerifierConfig,
    /// Compiled registrations by (tenant, issuer), valid while the profile is unchanged.
    compiled: Mutex<HashMap<(TenantId, String), CompiledAt>>,
    platform: Option<Arc<Compiled>>,
    tenant_claims: Mutex<HashMap<String, Expr>>,
    /// When this process last recorded each API key's use (at most once a minute per key).
    key_uses: Arc<Mutex<HashMap<ApiKeyId, i64>>>,
}

/// How often a key's use is recorded, at most.
const KEY_USE_EVERY_SECS: i64 = 60;

/// The bearer token of an `Authorization` header value.
fn bearer(header: Option<&str>) -> AuthResult<&str> {
    let value = header.ok_or(AuthError::MissingToken)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token.trim())
}

impl Verifier {
    pub fn new(
        directory: Arc<dyn Directory>,
        clock: Arc<dyn Clock>,
        mut config: VerifierConfig,
    ) -> AuthResult<Self> {
        config.leeway_secs = config.leeway_secs.clamp(0, 30);
        let cache = Arc::new(TokenCache::new(config.token_cache_capacity));
        let purge = cache.clone();
        let jwks = JwksCache::new(
            clock.clone(),
            config.jwks_ttl_secs,
            config.jwks_cooldown_secs,
            domain::outbound::OutboundPolicy::for_mode(config.dev_mode)
                .allowing(config.outbound_allow.iter().cloned()),
        )?
        .on_key_removed(Arc::new(move |url, kid| purge.purge_key(url, kid)));
        let platform = match &config.platform {
            Some(reg) => Some(Arc::new(Compiled::new(reg).map_err(AuthError::Directory)?)),
            None => None,
        };
        Ok(Self {
            directory,
            jwks: Arc::new(jwks),
            cache,
            clock,
            config,
            compiled: Mutex::default(),
            platform,
            tenant_claims: Mutex::default(),
            key_uses: Arc::default(),
        })
    }

    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    pub fn token_cache(&self) -> &TokenCache {
        &self.cache
    }

    /// The registry changed in this process (the platform API): verified tokens and directory
    /// records are read again, so a suspension or a new tenant applies to the next request.
    pub fn forget(&self) {
        self.cache.clear();
        self.directory.forget();
    }

    /// The caller of a request that came through `oms serve`'s owner-only admin socket: the
    /// transport vouches (whoever can open the socket owns the data directory and could open the
    /// store itself), so no token is read. `actor` is whom the audit names (`cli:$USER`); with a
    /// tenant, the caller acts as that tenant's admin within its plan, as the admin CLI does
    /// over the store ([`crate::service::Channel::AdminCli`]); else as the platform admin.
    pub async fn local_admin(&self, actor: &str, tenant: Option<&TenantId>) -> AuthResult<Caller> {
        let Some(tenant) = tenant else {
            let subject = Subject::parse(actor).map_err(|_| AuthError::Claim("actor"))?;
            return Ok(Caller::Platform(PlatformAdmin::new(subject)));
        };
        use crate::service::{Channel, ServiceRefusal, service_identity};
        match service_identity(self.directory.as_ref(), tenant, actor, Channel::AdminCli).await {
            Ok(identity) => Ok(Caller::Tenant(identity)),
            Err(ServiceRefusal::UnknownTenant) => Err(AuthError::UnknownTenant),
            Err(ServiceRefusal::Suspended) => Err(AuthError::TenantSuspended),
            Err(ServiceRefusal::Unavailable(e)) => Err(AuthError::Directory(e)),
        }
    }

    /// Verifies the `Authorization` header's bearer token.
    pub async fn verify(&self, authorization: Option<&str>) -> AuthResult<Caller> {
        let token = bearer(authorization)?;
        self.verify_token(token).await
    }

    pub async fn verify_token(&self, token: &str) -> AuthResult<Caller> {
        if token.len() > self.config.max_token_bytes {
            return Err(AuthError::TooLarge(token.len()));
        }
        let now = self.clock.now_secs();
        let digest = hash(token);
        if let Some(caller) = self.cache.get(&digest, now) {
            if let Caller::Tenant(identity) = &caller {
                self.note_key_use(identity, now);
            }
            return Ok(caller);
        }
        if PresentedKey::is_key(token) {
            return self.verify_api_key(token, digest, now).await;
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
        ) {
            return Err(AuthError::AlgorithmNotAllowed);
        }
        // Only to find the registration; every claim is checked again once the signature holds.
        let unverified: serde_json::Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|e| AuthError::Malformed(e.to_string()))?;
        let iss = unverified
            .get("iss")
            .and_then(|v| v.as_str())
            .ok_or(AuthError::Claim("iss"))?;
        let issuer = Issuer::parse(iss).map_err(|_| AuthError::UnknownIssuer)?;
        if issuer.as_str() == DEV_ISSUER && !self.config.dev_mode {
            return Err(AuthError::UnknownIssuer);
        }

        if let Some(platform) = self
            .platform
            .as_ref()
            .filter(|p| p.registration.issuer == issuer)
        {
            let claims = unverified;
            let key = self
                .check_signature(token, &header, platform, &claims)
                .await?;
            let mapped = platform.mapping.map(&claims_var(&claims)?)?;
            if !mapped.roles.contains(&Role::PlatformAdmin) {
                return Err(AuthError::Claim("roles"));
            }
            let caller = Caller::Platform(PlatformAdmin::new(mapped.subject));
            self.remember(digest, &caller, &claims, key, now);
            return Ok(caller);
        }

        // The same parsed claims serve before and after the signature check: they are the bytes
        // the signature covers, so once it holds they are verified.
        let claims = unverified;
        let var = claims_var(&claims)?;
        let (tenant, profile) = self.pick_tenant(&issuer, &var).await?;
        let compiled = self.compiled(&profile, &issuer)?;
        let key = self
            .check_signature(token, &header, &compiled, &claims)
            .await?;
        // Only a caller whose signature holds learns that its tenant is suspended.
        if profile.status == TenantStatus::Suspended {
            return Err(AuthError::TenantSuspended);
        }
        self.check_tenant_claim(&compiled, &tenant, &var)?;
        let mapped = compiled.mapping.map(&var)?;
        let plan = self.directory.plan(&profile.plan).await?.ok_or_else(|| {
            AuthError::Directory(format!(
                "plan {} of tenant {tenant} is missing",
                profile.plan
            ))
        })?;
        let identity = Identity::new(
            TenantScope::from_verified(tenant, VerifiedBy::Jwt),
            mapped.subject,
            mapped.roles,
            mapped.vendor,
            mapped.email,
            plan,
            Some(issuer),
        );
        let caller = Caller::Tenant(identity);
        self.remember(digest, &caller, &claims, key, now);
        Ok(caller)
    }

    /// A tenant API key: its record by the id in its text, the hash compared in constant time,
    /// its window, its tenant's status and plan; then the same identity a user with its role
    /// (and vendor) would have, remembered like a token for the directory's TTL.
    async fn verify_api_key(
        &self,
        token: &str,
        digest: crate::cache::TokenHash,
        now: i64,
    ) -> AuthResult<Caller> {
        let presented = PresentedKey::parse(token)
            .ok_or_else(|| AuthError::Malformed("not an API key".into()))?;
        let record = self
            .directory
            .api_key(presented.id)
            .await?
            .ok_or_else(|| AuthError::Invalid("unknown API key".into()))?;
        if !crate::apikey::matches(&record, token) {
            return Err(AuthError::Invalid("API key does not match".into()));
        }
        let at = self.clock.now();
        if at < record.from {
            return Err(AuthError::NotYetValid);
        }
        if !record.in_force_at(at) {
            return Err(AuthError::Expired);
        }
        let profile = self
            .directory
            .tenant(&record.tenant)
            .await?
            .ok_or(AuthError::UnknownTenant)?;
        if profile.status == TenantStatus::Suspended {
            return Err(AuthError::KeyOfSuspendedTenant);
        }
        let plan = self.directory.plan(&profile.plan).await?.ok_or_else(|| {
            AuthError::Directory(format!(
                "plan {} of tenant {} is missing",
                profile.plan, record.tenant
            ))
        })?;
        let subject = Subject::parse(&format!("apikey:{}", record.id))
            .map_err(|e| AuthError::Directory(e.to_string()))?;
        let identity = Identity::new(
            TenantScope::from_verified(record.tenant.clone(), VerifiedBy::ApiKey),
            subject,
            std::iter::once(record.role).collect(),
            record.vendor.clone(),
            None,
            plan,
            None,
        );
        self.note_key_use(&identity, now);
        let caller = Caller::Tenant(identity);
        let mut until = now + self.config.directory_ttl_secs;
        if let Some(thru) = record.thru {
            until = until.min(thru.unix_seconds());
        }
        self.cache.insert(digest, caller.clone(), until, None, now);
        Ok(caller)
    }

    /// Records an API key's use off the request's path, at most once a minute per key and
    /// process.
    fn note_key_use(&self, identity: &Identity, now: i64) {
        if identity.scope().verified_by() != VerifiedBy::ApiKey {
            return;
        }
        let Some(id) = identity
            .subject()
            .as_str()
            .strip_prefix("apikey:")
            .and_then(|id| ApiKeyId::parse(id).ok())
        else {
            return;
        };
        {
            let Ok(mut uses) = self.key_uses.lock() else {
                return;
            };
            if uses
                .get(&id)
                .is_some_and(|at| now - at < KEY_USE_EVERY_SECS)
            {
                return;
            }
            uses.insert(id, now);
        }
        let (directory, at) = (self.directory.clone(), self.clock.now());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = directory.api_key_used(id, at).await {
                    tracing::warn!(api_key = %id, error = %e, "could not record an API key's use");
                }
            });
        }
    }

    fn remember(
        &self,
        digest: crate::cache::TokenHash,
        caller: &Caller,
        claims: &serde_json::Value,
        key: Option<(String, String)>,
        now: i64,
    ) {
        let exp = claims
            .get("exp")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(now);
        let until = exp.min(now + self.config.directory_ttl_secs);
        self.cache.insert(digest, caller.clone(), until, key, now);
    }

    /// The tenant a token is for, and its profile.
    async fn pick_tenant(
        &self,
        issuer: &Issuer,
        claims: &jmespath::Rcvar,
    ) -> AuthResult<(TenantId, Arc<TenantProfile>)> {
        let rows = self.directory.issuer(issuer).await?;
        let row = match rows.as_slice() {
            [] => return Err(AuthError::UnknownIssuer),
            [only] if !only.shared => only,
            shared => {
                let mut found = None;
                for row in shared {
                    let Some(expr) = &row.tenant_claim else {
                        continue;
                    };
                    let expr = self.tenant_claim_expr(expr)?;
                    if expr.string(claims).as_deref() == Some(row.claim_value.as_str()) {
                        found = Some(row);
                        break;
                    }
                }
                found.ok_or(AuthError::UnknownTenant)?
            }
        };
        let profile = self
            .directory
            .tenant(&row.tenant)
            .await?
            .ok_or(AuthError::UnknownTenant)?;
        Ok((row.tenant.clone(), profile))
    }

    fn tenant_claim_expr(&self, expr: &str) -> AuthResult<Expr> {
        let mut map = self
            .tenant_claims
            .lock()
            .map_err(|_| AuthError::Directory("poisoned".into()))?;
        if let Some(e) = map.get(expr) {
            return Ok(e.clone());
        }
        let compiled = Expr::compile("tenantClaim", expr).map_err(AuthError::Directory)?;
        if map.len() > 1_000 {
            map.clear();
        }
        map.insert(expr.to_owned(), compiled.clone());
        Ok(compiled)
    }

    /// A dedicated issuer's tenant claim, when present, must agree; a shared issuer's must match.
    fn check_tenant_claim(
        &self,
        compiled: &Compiled,
        tenant: &TenantId,
        claims: &jmespath::Rcvar,
    ) -> AuthResult<()> {
        let reg = &compiled.registration;
        let Some(expr) = &compiled.tenant_claim else {
            return if reg.shared {
                Err(AuthError::UnknownTenant)
            } else {
                Ok(())
            };
        };
        match expr.string(claims) {
            Some(v) if v == reg.claim_value_for(tenant) => Ok(()),
            Some(_) => Err(AuthError::TenantMismatch),
            None if reg.shared => Err(AuthError::UnknownTenant),
            None => Ok(()),
        }
    }

    fn compiled(&self, profile: &TenantProfile, issuer: &Issuer) -> AuthResult<Arc<Compiled>> {
        let key = (profile.id.clone(), issuer.to_string());
        let mut map = self
            .compiled
            .lock()
            .map_err(|_| AuthError::Directory("poisoned".into()))?;
        if let Some((at, c)) = map.get(&key)
            && *at == profile.updated_at
        {
            return Ok(c.clone());
        }
        let reg = profile.idp(issuer).ok_or(AuthError::UnknownIssuer)?;
        let compiled = Arc::new(Compiled::new(reg).map_err(AuthError::Directory)?);
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(key, (profile.updated_at, compiled.clone()));
        Ok(compiled)
    }

    /// Signature (over the token's own bytes), issuer and audience; then `exp`/`nbf` against the
    /// injected clock. Returns the (JWKS URL, kid) of the key used, for cache purging.
    async fn check_signature(
        &self,
        token: &str,
        header: &jsonwebtoken::Header,
        compiled: &Compiled,
        claims: &serde_json::Value,
    ) -> AuthResult<Option<(String, String)>> {
        let reg = &compiled.registration;
        let allowed = reg.algorithms.iter().any(|a| algorithm(*a) == header.alg);
        if !allowed {
            return Err(AuthError::AlgorithmNotAllowed);
        }
        let kid = header.kid.as_deref();
        let (key, key_id) = match &reg.keys {
            IdpKeys::Pem { .. } => {
                let candidates: Vec<_> = compiled
                    .pem_keys
                    .iter()
                    .filter(|(k, alg, _)| {
                        algorithm(*alg) == header.alg && (kid.is_none() || k.as_deref() == kid)
                    })
                    .collect();
                match candidates.as_slice() {
                    [(_, _, key)] => (key.clone(), None),
                    _ => return Err(AuthError::UnknownKey),
                }
            }
            IdpKeys::Jwks { url } => {
                let key = self.jwks.key(url, kid).await?;
                (key, kid.map(|k| (url.clone(), k.to_owned())))
            }
        };
        let (message, signature) = token
            .rsplit_once('.')
            .ok_or_else(|| AuthError::Malformed("no signature".into()))?;
        match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, header.alg) {
            Ok(true) => {}
            Ok(false) => return Err(AuthError::Invalid("signature".into())),
            Err(e) => return Err(AuthError::Invalid(format!("{:?}", e.kind()))),
        }
        if claims.get("iss").and_then(|v| v.as_str()) != Some(reg.issuer.as_str()) {
            return Err(AuthError::UnknownIssuer);
        }
        let accepted = |a: &str| reg.audiences.iter().any(|x| x == a);
        let audience_ok = match reg.audience_claim {
            AudienceClaim::Aud => match claims.get("aud") {
                Some(serde_json::Value::String(a)) => accepted(a),
                Some(serde_json::Value::Array(items)) => {
                    items.iter().any(|a| a.as_str().is_some_and(accepted))
                }
                _ => false,
            },
            AudienceClaim::ClientId => claims
                .get("client_id")
                .and_then(|v| v.as_str())
                .is_some_and(accepted),
        };
        if !audience_ok {
            return Err(AuthError::WrongAudience);
        }
        let now = self.clock.now_secs();
        let leeway = self.config.leeway_secs;
        let exp = claims
            .get("exp")
            .and_then(serde_json::Value::as_i64)
            .ok_or(AuthError::Claim("exp"))?;
        if now > exp + leeway {
            return Err(AuthError::Expired);
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = nbf.as_i64().ok_or(AuthError::Claim("nbf"))?;
            if now + leeway < nbf {
                return Err(AuthError::NotYetValid);
            }
        }
        Ok(key_id)
    }
}
