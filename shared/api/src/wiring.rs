//! Builds the API over a store: the cached tenant directory (which also backs listing shard
//! counts), the verifier, the use cases. `oms serve` and the graphql Lambda share it.

use std::sync::{Arc, Mutex};

use app::{App, SystemIds, SystemNow};
use auth::directory::CachedDirectory;
use auth::{AuthError, Verifier, VerifierConfig};
use store::cursor::Cursors;
use store::repo::RegistryRepository;
use store::{Clock, ItemStore};

use crate::schema::ApiState;

/// How long tenant profiles, plans and issuers are cached.
pub const DIRECTORY_TTL_SECS: i64 = 60;

pub fn api_state(
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    verifier: VerifierConfig,
    cursors: Cursors,
) -> Result<Arc<ApiState>, AuthError> {
    let directory = Arc::new(CachedDirectory::new(
        RegistryRepository::new(store.clone()),
        clock.clone(),
        DIRECTORY_TTL_SECS,
    ));
    let verifier = Verifier::new(directory.clone(), clock, verifier)?;
    let ids: Arc<Mutex<dyn domain::IdSource + Send>> = Arc::new(Mutex::new(SystemIds));
    let app = App::new(store, directory, cursors, ids, Arc::new(SystemNow));
    Ok(Arc::new(ApiState {
        app: Arc::new(app),
        verifier: Arc::new(verifier),
    }))
}
