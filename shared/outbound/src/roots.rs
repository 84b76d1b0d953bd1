//! The system's root certificates, read once per process and shared by every outbound HTTPS
//! client: reqwest's (JWKS, carriers, notifications) and the AWS SDK's. Left to themselves, each
//! reqwest client and the SDK read the certificate directory on their own (about 150 file opens
//! each, at every cold start).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

/// The roots as read, keeping only the certificates rustls accepts as trust anchors.
struct Roots {
    ders: Vec<CertificateDer<'static>>,
    store: Arc<RootCertStore>,
}

static LOADS: AtomicUsize = AtomicUsize::new(0);

static ROOTS: LazyLock<Roots> = LazyLock::new(|| {
    LOADS.fetch_add(1, Ordering::SeqCst);
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!("a root certificate could not be read: {error}");
    }
    let mut store = RootCertStore::empty();
    let mut ders = Vec::new();
    for der in found.certs {
        if store.add(der.clone()).is_ok() {
            ders.push(der);
        }
    }
    if ders.is_empty() {
        tracing::warn!("no root certificates were found: every HTTPS call will fail");
    }
    Roots {
        ders,
        store: Arc::new(store),
    }
});

/// How many times this process has read the system's roots (once, after the first use).
pub fn loads() -> usize {
    LOADS.load(Ordering::SeqCst)
}

/// How many root certificates are trusted.
pub fn count() -> usize {
    ROOTS.ders.len()
}

/// A rustls client configuration over the shared roots (reqwest's preconfigured TLS). Fails only
/// if the aws-lc-rs provider supports none of the safe protocol versions.
pub fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(ROOTS.store.clone())
        .with_no_client_auth())
}

/// The shared roots as one PEM bundle (the AWS SDK's trust store takes PEM).
pub fn pem_bundle() -> String {
    let pems: Vec<pem::Pem> = ROOTS
        .ders
        .iter()
        .map(|der| pem::Pem::new("CERTIFICATE", der.as_ref().to_vec()))
        .collect();
    pem::encode_many(&pems)
}
