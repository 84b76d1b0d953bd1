//! Ports the outer layers meet at, stated in domain terms. No I/O here: a port is a trait whose
//! futures are boxed by hand (the domain takes no async crate); storage implements it, the
//! verifier reads through it.

use std::future::Future;
use std::pin::Pin;

use secrecy::SecretString;

use crate::access::Plan;
use crate::ids::{Issuer, PlanName, TenantId};
use crate::tenant::{EventSource, IssuerRow, TenantProfile};
use crate::webhook::{SecretRef, WebhookHook, WebhookSetting};

/// A failure of a port's implementation, kept whole for the logs.
pub type PortError = Box<dyn std::error::Error + Send + Sync>;

/// The future a port method returns.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PortError>> + Send + 'a>>;

/// The SaaS directory the verifier reads: issuers, tenant profiles, plans (the registry).
pub trait DirectorySource: Send + Sync {
    /// The tenants an issuer serves (one row for a dedicated issuer, one per tenant if shared).
    fn issuer_rows<'a>(&'a self, issuer: &'a Issuer) -> PortFuture<'a, Vec<IssuerRow>>;
    /// Every registered issuer, or `None` when the source cannot list them yet (the caller
    /// then asks `issuer_rows` per issuer).
    fn known_issuers<'a>(&'a self) -> PortFuture<'a, Option<std::collections::BTreeSet<Issuer>>>;
    fn profile<'a>(&'a self, tenant: &'a TenantId) -> PortFuture<'a, Option<TenantProfile>>;
    fn plan<'a>(&'a self, plan: &'a PlanName) -> PortFuture<'a, Option<Plan>>;
    /// The SaaS provider's own settings of a hook (SaaS-level carrier webhooks).
    fn saas_webhook<'a>(&'a self, hook: WebhookHook) -> PortFuture<'a, Option<WebhookSetting>>;
    /// The tenant that registered an event source, if any.
    fn event_source_tenant<'a>(
        &'a self,
        source: &'a EventSource,
    ) -> PortFuture<'a, Option<TenantId>>;
    /// A tenant API key's record, if the key exists.
    fn api_key<'a>(
        &'a self,
        id: crate::ids::ApiKeyId,
    ) -> PortFuture<'a, Option<crate::apikey::ApiKey>>;
    /// Records that a key was used at `at` (best effort; callers write at most once a minute).
    fn api_key_used<'a>(
        &'a self,
        id: crate::ids::ApiKeyId,
        at: crate::Timestamp,
    ) -> PortFuture<'a, ()>;
}

/// Why a secret could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no such secret")]
    NotFound,
    /// The ciphertext does not open under this tenant, purpose and key: moved, altered, or a
    /// wrong master key.
    #[error("the secret cannot be opened (moved, altered, or a wrong key)")]
    Sealed,
    #[error("secret store: {0}")]
    Backend(String),
}

/// The future a secret store method returns.
pub type SecretFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SecretError>> + Send + 'a>>;

/// Secrets kept by reference: the table holds the reference, the store the secret. Each secret
/// is bound to its tenant and purpose (a reference presented for another fails). Implemented by
/// `shared/secrets` (a local envelope-encrypted file; AWS Secrets Manager).
pub trait SecretStore: Send + Sync {
    /// Stores `secret` for `tenant`'s `purpose` (`webhook:add-order`, …) as a new secret.
    fn put<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        secret: &'a SecretString,
    ) -> SecretFuture<'a, SecretRef>;

    fn get<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        reference: &'a SecretRef,
    ) -> SecretFuture<'a, SecretString>;

    /// Deletes the secret `reference` names, at once and for good (no recovery window): what
    /// a change that stored a secret and then failed calls, so that no secret outlives the
    /// change it was stored for. Deleting a secret that is not there is not an error. Like
    /// `get`, a reference presented for another tenant or purpose is refused.
    fn delete<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        reference: &'a SecretRef,
    ) -> SecretFuture<'a, ()>;
}

/// Why events could not be published at all (per-event failures are in [`Published`]).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("event bus: {0}")]
    Bus(String),
}

/// What a publish call did, by index into the slice given: the events that could not be
/// published after the adapter's own retries (to be tried again later), and those the bus
/// refused for good (too large, malformed: trying again cannot help).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    pub failed: Vec<usize>,
    pub rejected: Vec<Rejected>,
}

impl Published {
    /// Every event went out.
    pub fn all(&self) -> bool {
        self.failed.is_empty() && self.rejected.is_empty()
    }
}

/// An event the bus refused for good, and why (the bus's own code and message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub index: usize,
    pub reason: String,
}

/// The future a publisher returns.
pub type PublishFuture<'a, T = Published> =
    Pin<Box<dyn Future<Output = Result<T, PublishError>> + Send + 'a>>;

/// Where domain events go out (EventBridge on AWS, Redis Streams or in-process locally).
/// At least once: a consumer dedupes by event id.
pub trait EventPublisher: Send + Sync {
    fn publish<'a>(&'a self, events: &'a [crate::events::DomainEvent]) -> PublishFuture<'a>;
}

/// An event that cannot be applied, kept for an operator: why, and the event as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// A stable reason code (`malformed`, `unregistered_source`, `refused`, …).
    pub reason: String,
    /// What exactly was wrong, for the operator (never a secret).
    pub detail: String,
    /// The event's id, when it could be read.
    pub event_id: Option<String>,
    /// The event as received.
    pub body: String,
}

/// Where events that cannot be applied go (an SQS queue on AWS, a Redis stream locally), so a
/// poison event is kept once and never retried forever.
pub trait DeadLetters: Send + Sync {
    fn dead_letter<'a>(&'a self, letter: &'a DeadLetter) -> PublishFuture<'a, ()>;
}

/// One outbound POST (a signed notification): the URL, extra headers, the exact body.
#[derive(Debug, Clone)]
pub struct OutboundPost<'a> {
    pub url: &'a str,
    pub headers: Vec<(&'static str, String)>,
    pub body: &'a [u8],
}

/// Why an outbound POST did not land.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Never worth retrying: a URL the guard refuses (scheme, private or metadata address), or
    /// a receiver that answered 4xx (other than 408 and 429).
    #[error("refused: {0}")]
    Refused(String),
    /// Worth retrying: unreachable, timed out, 408, 429 or 5xx.
    #[error("failed: {0}")]
    Failed(String),
}

/// The future a sender returns: the receiver's status on success.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<u16, SendError>> + Send + 'a>>;

/// Sends notifications out (an HTTP client with the SSRF guard, in `outbound_http`).
pub trait NotificationSender: Send + Sync {
    fn post<'a>(&'a self, request: OutboundPost<'a>) -> SendFuture<'a>;
}
