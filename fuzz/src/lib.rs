//! What the fuzz targets share: one demo deployment per process (the API router over an
//! in-memory embedded store, the demo tenant signing in with the dev IdP, both webhook hooks
//! signed by our scheme), and a runtime to drive it. Built once, on the first input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, LazyLock};

use auth::VerifierConfig;
use domain::access::Role;
use store::cursor::{CursorKey, Cursors};
use testkit::WebhookEnv;

pub struct Env {
    pub rt: tokio::runtime::Runtime,
    pub web: WebhookEnv,
    /// A staff token of the demo tenant (valid for the hour a run lasts at most).
    pub staff: String,
    /// The verifier of a second deployment over the same store, for calling it directly.
    pub verifier: Arc<auth::Verifier>,
}

pub static ENV: LazyLock<Env> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let web = rt.block_on(WebhookEnv::new());
    let staff = testkit::demo_token(&web.idp, web.clock.as_ref(), Role::Staff);
    let services = app::services(
        web.store.clone(),
        web.clock.clone(),
        VerifierConfig {
            dev_mode: true,
            ..VerifierConfig::default()
        },
        Cursors::new(CursorKey::from_bytes(&[3; 32]).unwrap()),
        None,
    )
    .unwrap();
    Env {
        rt,
        web,
        staff,
        verifier: services.verifier,
    }
});

/// A response status a fuzz input may get: anything but a server error.
pub fn assert_not_5xx(status: u16, body: &str) {
    assert!(status < 500, "server error {status}: {body}");
}

/// The deployment's clock, in seconds.
pub fn now_secs() -> i64 {
    ENV.web.clock.now_secs()
}
