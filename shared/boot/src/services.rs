//! The one composition root of the services: the store's registry behind the cached tenant
//! directory (which also backs listing shard counts), the verifiers, the carriers behind the
//! guarded outbound client, and the use cases over them. `oms serve`, the Lambda functions and
//! tests share it.

use std::sync::{Arc, Mutex};

use app::directory::DirectoryShards;
use app::{App, Services, SystemIds};
use auth::directory::CachedDirectory;
use auth::service::EventSourceVerifier;
use auth::webhook::WebhookVerifier;
use auth::{AuthError, Verifier, VerifierConfig};
use domain::apikey::KeyStage;
use domain::outbound::OutboundPolicy;
use domain::ports::SecretStore;
use domain::{Clock, IdSource};
use store::ItemStore;
use store::cursor::Cursors;
use store::repo::RegistryRepository;

/// How long tenant profiles, plans and issuers are cached.
pub const DIRECTORY_TTL_SECS: i64 = 60;

/// The services over `store`, all reading `clock`; webhooks verify with `secrets`' secrets.
/// Outbound URLs under the policy of the verifier's mode, with no allow-list.
pub fn services(
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    verifier: VerifierConfig,
    cursors: Cursors,
    secrets: Option<Arc<dyn SecretStore>>,
) -> Result<Services, AuthError> {
    let outbound = OutboundPolicy::for_mode(verifier.dev_mode);
    services_with_outbound(store, clock, verifier, cursors, secrets, outbound)
}

/// As [`services`], every URL a tenant or the catalogue sets (carrier base and token URLs, the
/// catalogue's, notification URLs) checked against `outbound` when it is set, and carrier calls
/// made through the outbound client of that policy, which checks it again on every request.
/// API keys are minted for the test stage in dev mode, the live one otherwise.
pub fn services_with_outbound(
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    verifier: VerifierConfig,
    cursors: Cursors,
    secrets: Option<Arc<dyn SecretStore>>,
    outbound: OutboundPolicy,
) -> Result<Services, AuthError> {
    let stage = if verifier.dev_mode {
        KeyStage::Test
    } else {
        KeyStage::Live
    };
    services_of_stage(store, clock, verifier, cursors, secrets, outbound, stage)
}

/// As [`services_with_outbound`], API keys minted for `stage` (a deployment's own: live only
/// in production).
pub fn services_of_stage(
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    verifier: VerifierConfig,
    cursors: Cursors,
    secrets: Option<Arc<dyn SecretStore>>,
    outbound: OutboundPolicy,
    stage: KeyStage,
) -> Result<Services, AuthError> {
    let source = Arc::new(RegistryRepository::new(store.clone()));
    let directory = Arc::new(CachedDirectory::new(
        source,
        clock.clone(),
        DIRECTORY_TTL_SECS,
    ));
    let verifier = Verifier::new(directory.clone(), clock.clone(), verifier)?;
    let webhooks = secrets
        .clone()
        .map(|s| Arc::new(WebhookVerifier::new(directory.clone(), s, clock.clone())));
    let event_sources = Arc::new(EventSourceVerifier::new(directory.clone()));
    let ids: Arc<Mutex<dyn IdSource + Send>> = Arc::new(Mutex::new(SystemIds));
    let shards = Arc::new(DirectoryShards(directory.clone()));
    // Carrier calls go through the guarded client: outside dev mode, public https only (each
    // adapter sets its own request timeout).
    let client = outbound_http::client(&outbound).map_err(AuthError::Directory)?;
    let verifier = Arc::new(verifier);
    let repos = store::repo::repositories(store, shards, cursors);
    let platform =
        app::platform::PlatformHost::new(repos.platform.clone(), clock.clone(), verifier.clone())
            .with_outbound(outbound.clone());
    let connector =
        carriers::MeteredConnector(carriers::HttpConnector::new(client, outbound.clone()));
    let mut app = App::new(repos, ids, clock)
        .with_connector(Arc::new(connector))
        .with_outbound(outbound)
        .with_key_stage(stage)
        .with_verifier(verifier.clone());
    if let Some(s) = secrets {
        app = app.with_secrets(s);
    }
    Ok(Services {
        app: Arc::new(app),
        verifier,
        webhooks,
        event_sources,
        directory,
        platform,
    })
}
