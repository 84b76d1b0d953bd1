//! Webhook signature schemes, each verified over the raw body bytes in constant time
//! (`Mac::verify_slice`). A refusal says only which kind it is; nothing about the secret.
//!
//! - **oms** (ours): `X-OMS-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, where
//!   `v1 = HMAC-SHA256(secret, "<t>.<raw body>")`. Several `v1` may be sent during a secret's
//!   rotation; `t` must lie within `max_age_seconds` of now, either way.
//! - **easypost**: `X-Hmac-Signature: hmac-sha256-hex=<hex>`, `HMAC-SHA256(NFKD(secret), raw
//!   body)`, as EasyPost's client libraries verify it (the secret is Unicode-normalized first).
//!   EasyPost signs no timestamp: delivery dedupe is what stops replays.
//! - **shippo**: Shippo does not sign its tracking webhooks by default, so the tenant's route
//!   carries a per-tenant token (`?token=` or `X-OMS-Webhook-Token`), compared in constant time;
//!   delivery dedupe stops replays.

use std::sync::Arc;

use domain::Clock;
use domain::ids::TenantId;
use domain::ports::SecretStore;
use domain::webhook::{WebhookHook, WebhookProvider, WebhookSetting};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;

use crate::directory::Directory;
use crate::identity::Identity;
use crate::service::{Channel, ServiceRefusal, service_identity};

type HmacSha256 = Hmac<Sha256>;

/// Our header.
pub const OMS_SIGNATURE_HEADER: &str = "x-oms-signature";
/// EasyPost's header.
pub const EASYPOST_SIGNATURE_HEADER: &str = "x-hmac-signature";
/// The per-tenant token header (the `shippo` scheme; also accepted as `?token=`).
pub const TOKEN_HEADER: &str = "x-oms-webhook-token";

/// Why a delivery's signature was refused (all are 401 at the edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no signature")]
    Missing,
    #[error("signature header is malformed")]
    Malformed,
    #[error("signature does not match")]
    Mismatch,
    #[error("signature timestamp is outside the allowed window")]
    Stale,
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_mac(),
    }
}

#[cold]
fn unreachable_mac() -> HmacSha256 {
    // `new_from_slice` only refuses key lengths HMAC does not have; a fixed key keeps this total.
    <HmacSha256 as KeyInit>::new(&Default::default())
}

/// A hex tag of at most 128 bytes (longer is malformed, not worth decoding).
fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() > 256 {
        return None;
    }
    hex::decode(s).ok()
}

/// Whether `tag` is HMAC-SHA256(key, parts…), in constant time.
fn verifies(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    let mut m = mac(key);
    for p in parts {
        m.update(p);
    }
    m.verify_slice(tag).is_ok()
}

/// The `X-OMS-Signature` value a sender sends for `body` at `t` (for `oms webhook sign`, tests).
pub fn oms_signature(secret: &SecretString, t: i64, body: &[u8]) -> String {
    let mut m = mac(secret.expose_secret().as_bytes());
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    format!("t={t},v1={}", hex::encode(m.finalize().into_bytes()))
}

/// Verifies our scheme against any of `secrets` (several during a rotation); returns `t`.
pub fn verify_oms(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    now: i64,
    max_age_seconds: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", v)) => tags.push(unhex(v).ok_or(SignatureError::Malformed)?),
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if tags.is_empty() || tags.len() > 8 {
        return Err(SignatureError::Malformed);
    }
    let t_text = t.to_string();
    let ok = secrets.iter().any(|s| {
        tags.iter().any(|tag| {
            verifies(
                s.expose_secret().as_bytes(),
                &[t_text.as_bytes(), b".", body],
                tag,
            )
        })
    });
    if !ok {
        return Err(SignatureError::Mismatch);
    }
    // Checked after the signature, so the window cannot be probed without the secret.
    if (now - t).abs() > max_age_seconds {
        return Err(SignatureError::Stale);
    }
    Ok(t)
}

/// EasyPost's key: the secret, NFKD-normalized, as UTF-8.
fn easypost_key(secret: &SecretString) -> Vec<u8> {
    secret
        .expose_secret()
        .nfkd()
        .collect::<String>()
        .into_bytes()
}

/// The `X-Hmac-Signature` value EasyPost sends for `body` (tests, the local simulator).
pub fn easypost_signature(secret: &SecretString, body: &[u8]) -> String {
    let mut m = mac(&easypost_key(secret));
    m.update(body);
    format!("hmac-sha256-hex={}", hex::encode(m.finalize().into_bytes()))
}

/// Verifies EasyPost's scheme against any of `secrets`.
pub fn verify_easypost(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let tag = header
        .trim()
        .strip_prefix("hmac-sha256-hex=")
        .and_then(unhex)
        .ok_or(SignatureError::Malformed)?;
    if secrets
        .iter()
        .any(|s| verifies(&easypost_key(s), &[body], &tag))
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies a per-tenant token (the `shippo` scheme) against any of `secrets`, in constant time:
/// both sides are compared as HMACs under a fixed key, so neither length nor content leaks.
pub fn verify_token(
    presented: Option<&str>,
    secrets: &[SecretString],
) -> Result<(), SignatureError> {
    let presented = presented.ok_or(SignatureError::Missing)?;
    let digest = |v: &[u8]| {
        let mut m = mac(b"oms-webhook-token");
        m.update(v);
        m.finalize().into_bytes()
    };
    let theirs = digest(presented.as_bytes());
    if secrets.iter().any(|s| {
        verifies(
            b"oms-webhook-token",
            &[s.expose_secret().as_bytes()],
            &theirs,
        )
    }) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Why a delivery was refused before anything else happened.
#[derive(Debug, thiserror::Error)]
pub enum WebhookRefusal {
    /// No such tenant, or the tenant has not configured this hook.
    #[error("no such webhook")]
    UnknownHook,
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The signature holds, but the tenant is suspended.
    #[error("the tenant is suspended")]
    Suspended,
    /// The directory or the secret store cannot answer now.
    #[error("webhook verification unavailable: {0}")]
    Unavailable(String),
}

/// What a delivery brings for verification: its raw body and how to read its headers and the
/// route's token.
pub struct Delivery<'a> {
    pub tenant: &'a TenantId,
    pub hook: WebhookHook,
    pub body: &'a [u8],
    /// A header's value by lower-case name.
    pub header: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// The `?token=` of the route, if any.
    pub token: Option<&'a str>,
}

/// A verified delivery: the service identity it acts as, and how the tenant's hook reads it.
pub struct Verified {
    pub identity: Identity,
    pub provider: WebhookProvider,
    /// JMESPath to the tracking number (the provider's default when none is set).
    pub tracking_reference: Option<String>,
}

/// What a carrier's tracking payload says, as text (normalized by the use case's table).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackingFields {
    pub number: Option<String>,
    pub carrier: Option<String>,
    pub status: Option<String>,
}

/// Reads a carrier payload: the tracking number through the tenant's JMESPath (or the
/// provider's default), carrier and status from the provider's documented places.
pub fn read_tracking(
    provider: WebhookProvider,
    tracking_reference: Option<&str>,
    payload: &serde_json::Value,
) -> Result<TrackingFields, String> {
    let (number, carrier, status) = match provider {
        WebhookProvider::Easypost => ("result.tracking_code", "result.carrier", "result.status"),
        WebhookProvider::Shippo => (
            "data.tracking_number",
            "data.carrier",
            "data.tracking_status.status",
        ),
        WebhookProvider::Oms => ("trackingNumber", "carrier", "status"),
    };
    let var = jmespath::Variable::try_from(payload.clone()).map_err(|e| e.to_string())?;
    let var = std::sync::Arc::new(var);
    let read = |field: &'static str, expr: &str| -> Result<Option<String>, String> {
        Ok(crate::mapping::Expr::compile(field, expr)?.string(&var))
    };
    Ok(TrackingFields {
        number: read("trackingReference", tracking_reference.unwrap_or(number))?,
        carrier: read("carrier", carrier)?,
        status: read("status", status)?,
    })
}

/// Verifies signed deliveries with the tenant's configured scheme and secrets, and builds the
/// service identity they act as: subject `webhook:<hook>`, the staff role, the tenant's plan
/// (which must include the hook's operation), audited as an integration.
pub struct WebhookVerifier {
    directory: Arc<dyn Directory>,
    secrets: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
}

impl WebhookVerifier {
    pub fn new(
        directory: Arc<dyn Directory>,
        secrets: Arc<dyn SecretStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            directory,
            secrets,
            clock,
        }
    }

    /// The purpose a hook's secrets are stored under (bound into their encryption).
    pub fn purpose(hook: WebhookHook) -> String {
        format!("webhook:{}", hook.as_str())
    }

    /// The tenant id that holds the SaaS provider's own webhook secrets (`oms tenant create`
    /// refuses it).
    pub fn platform_tenant() -> Result<TenantId, WebhookRefusal> {
        TenantId::parse(PLATFORM_TENANT).map_err(|e| WebhookRefusal::Unavailable(e.to_string()))
    }

    /// Checks a delivery's signature against a hook's setting and secrets.
    async fn check(
        &self,
        owner: &TenantId,
        purpose: &str,
        setting: &WebhookSetting,
        d: &Delivery<'_>,
    ) -> Result<(), WebhookRefusal> {
        let unavailable = |e: &dyn std::fmt::Display| WebhookRefusal::Unavailable(e.to_string());
        let mut secrets = Vec::with_capacity(setting.secrets.len());
        for r in &setting.secrets {
            let s = self
                .secrets
                .get(owner, purpose, r)
                .await
                .map_err(|e| unavailable(&e))?;
            secrets.push(s);
        }
        match setting.provider {
            WebhookProvider::Oms => {
                let header = (d.header)(OMS_SIGNATURE_HEADER);
                verify_oms(
                    header.as_deref(),
                    d.body,
                    &secrets,
                    self.clock.now_secs(),
                    setting.max_age_seconds,
                )?;
            }
            WebhookProvider::Easypost => {
                let header = (d.header)(EASYPOST_SIGNATURE_HEADER);
                verify_easypost(header.as_deref(), d.body, &secrets)?;
            }
            WebhookProvider::Shippo => {
                let header = (d.header)(TOKEN_HEADER);
                verify_token(d.token.or(header.as_deref()), &secrets)?;
            }
        }
        Ok(())
    }

    /// A tenant's delivery: its own hook's scheme and secrets.
    pub async fn verify(&self, d: &Delivery<'_>) -> Result<Verified, WebhookRefusal> {
        let unavailable = |e: &dyn std::fmt::Display| WebhookRefusal::Unavailable(e.to_string());
        let profile = self
            .directory
            .tenant(d.tenant)
            .await
            .map_err(|e| unavailable(&e))?
            .ok_or(WebhookRefusal::UnknownHook)?;
        let setting = profile
            .webhooks
            .get(&d.hook)
            .ok_or(WebhookRefusal::UnknownHook)?;
        self.check(d.tenant, &Self::purpose(d.hook), setting, d)
            .await?;
        let identity = self.service_identity(d.tenant, d.hook).await?;
        Ok(Verified {
            identity,
            provider: setting.provider,
            tracking_reference: setting.tracking_reference.clone(),
        })
    }

    /// A SaaS-level delivery (`d.tenant` is ignored): the SaaS provider's own scheme and secrets
    /// for the hook. The tenant is not known yet; [`SaasDelivery::identity_for`] gives it once
    /// the gateway's own records have named it.
    pub async fn verify_saas(&self, d: &Delivery<'_>) -> Result<SaasDelivery<'_>, WebhookRefusal> {
        let setting = self
            .directory
            .saas_webhook(d.hook)
            .await
            .map_err(|e| WebhookRefusal::Unavailable(e.to_string()))?
            .ok_or(WebhookRefusal::UnknownHook)?;
        self.check(
            &Self::platform_tenant()?,
            &Self::saas_purpose(d.hook),
            &setting,
            d,
        )
        .await?;
        Ok(SaasDelivery {
            verifier: self,
            hook: d.hook,
            provider: setting.provider,
        })
    }

    /// The purpose the SaaS provider's own hook secrets are stored under.
    pub fn saas_purpose(hook: WebhookHook) -> String {
        format!("saas-webhook:{}", hook.as_str())
    }

    /// The service identity a verified delivery acts as in `tenant`.
    async fn service_identity(
        &self,
        tenant: &TenantId,
        hook: WebhookHook,
    ) -> Result<Identity, WebhookRefusal> {
        let subject = Self::purpose(hook);
        service_identity(self.directory.as_ref(), tenant, &subject, Channel::Webhook)
            .await
            .map_err(|e| match e {
                ServiceRefusal::UnknownTenant => WebhookRefusal::UnknownHook,
                ServiceRefusal::Suspended => WebhookRefusal::Suspended,
                ServiceRefusal::Unavailable(e) => WebhookRefusal::Unavailable(e),
            })
    }
}

/// The tenant id reserved for the SaaS provider's own secrets.
pub const PLATFORM_TENANT: &str = "platform";

/// A verified SaaS-level delivery, not yet tied to a tenant.
pub struct SaasDelivery<'v> {
    verifier: &'v WebhookVerifier,
    hook: WebhookHook,
    pub provider: WebhookProvider,
}

impl SaasDelivery<'_> {
    /// The service identity in `tenant`: call only with a tenant the gateway's own records
    /// (the global tracking index of labels it bought) name for this delivery.
    pub async fn identity_for(&self, tenant: &TenantId) -> Result<Identity, WebhookRefusal> {
        self.verifier.service_identity(tenant, self.hook).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn oms_round_trip_window_and_rotation() {
        let (old, new) = (secret("old-secret"), secret("new-secret"));
        let body = br#"{"externalRef":"A-1"}"#;
        let h = oms_signature(&new, 1_000, body);
        assert_eq!(
            verify_oms(Some(&h), body, &[old.clone(), new.clone()], 1_100, 300),
            Ok(1_000)
        );
        // Two v1 during a rotation: either secret verifies.
        let both = format!(
            "{h},v1={}",
            oms_signature(&old, 1_000, body)
                .split("v1=")
                .nth(1)
                .unwrap()
        );
        assert!(verify_oms(Some(&both), body, std::slice::from_ref(&old), 1_000, 300).is_ok());
        assert_eq!(
            verify_oms(Some(&h), body, std::slice::from_ref(&new), 1_301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_oms(Some(&h), body, std::slice::from_ref(&new), 699, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_oms(Some(&h), b"{}", std::slice::from_ref(&new), 1_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_oms(Some(&h), body, &[old], 1_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_oms(None, body, std::slice::from_ref(&new), 1_000, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_oms(Some("v1=zz"), body, &[new], 1_000, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn tokens_compare_whole() {
        let s = [secret("tok-123")];
        assert!(verify_token(Some("tok-123"), &s).is_ok());
        assert_eq!(
            verify_token(Some("tok-12"), &s),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify_token(None, &s), Err(SignatureError::Missing));
    }
}
