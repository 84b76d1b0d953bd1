//! Builds the services over a store: the cached tenant directory (which also backs listing shard
//! counts), the verifier and the use cases. `oms serve`, the Lambda functions and tests share it.

use std::sync::{Arc, Mutex};

use auth::directory::CachedDirectory;
use auth::{AuthError, Verifier, VerifierConfig};
use domain::{Clock, IdSource};
use store::ItemStore;
use store::cursor::Cursors;
use store::repo::RegistryRepository;

use crate::directory::DirectoryShards;
use crate::engine::{App, SystemIds};

/// How long tenant profiles, plans and issuers are cached.
pub const DIRECTORY_TTL_SECS: i64 = 60;

/// What an edge serves requests with.
#[derive(Clone)]
pub struct Services {
    pub app: Arc<App>,
    pub verifier: Arc<Verifier>,
}

/// The services over `store`, all reading `clock`.
pub fn services(
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    verifier: VerifierConfig,
    cursors: Cursors,
) -> Result<Services, AuthError> {
    let source = Arc::new(RegistryRepository::new(store.clone()));
    let directory = Arc::new(CachedDirectory::new(
        source,
        clock.clone(),
        DIRECTORY_TTL_SECS,
    ));
    let verifier = Verifier::new(directory.clone(), clock.clone(), verifier)?;
    let ids: Arc<Mutex<dyn IdSource + Send>> = Arc::new(Mutex::new(SystemIds));
    let shards = Arc::new(DirectoryShards(directory));
    let app = App::new(store, shards, cursors, ids, clock);
    Ok(Services {
        app: Arc::new(app),
        verifier: Arc::new(verifier),
    })
}
