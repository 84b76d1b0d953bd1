//! What an edge serves requests with: the use cases, the verifiers and the cached tenant
//! directory they read. Built by the composition root (`boot::services`).

use std::sync::Arc;

use auth::Verifier;
use auth::directory::Directory;
use auth::service::EventSourceVerifier;
use auth::webhook::WebhookVerifier;

use crate::engine::App;

/// What an edge serves requests with.
#[derive(Clone)]
pub struct Services {
    pub app: Arc<App>,
    pub verifier: Arc<Verifier>,
    /// Signed webhooks, when a secret store is configured.
    pub webhooks: Option<Arc<WebhookVerifier>>,
    /// Tenant events, named by their registered sources.
    pub event_sources: Arc<EventSourceVerifier>,
    /// The cached tenant directory the verifiers read.
    pub directory: Arc<dyn Directory>,
    /// The platform admin's use cases, for platform tokens.
    pub platform: crate::platform::PlatformHost,
}
