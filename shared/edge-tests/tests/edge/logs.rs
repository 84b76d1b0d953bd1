//! One log capture for the whole test binary: a global subscriber, installed once, at TRACE.
//! A thread-local subscriber (`set_default`) misses callsites whose interest other tests'
//! threads cached first, and only one global default can ever be set, so every test that reads
//! the log shares this one. Other tests' lines land in it too, which only widens what a "no
//! secret in any log line" check covers.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOG: OnceLock<Buf> = OnceLock::new();

/// Installs the capture (once per process); every later log line of any test is kept.
pub fn capture() {
    LOG.get_or_init(|| {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        tracing::callsite::rebuild_interest_cache();
        buf
    });
}

/// Everything logged since the capture was installed.
pub fn captured() -> String {
    let buf = LOG.get().expect("logs::capture() first");
    String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned()
}
