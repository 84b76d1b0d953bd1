//! The Prometheus exporter of `oms serve`: the process's recorder, rendered at `GET /metrics`.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
pub use metrics_exporter_prometheus::{PrometheusHandle, PrometheusRecorder};

/// Latency buckets in seconds: 1 ms to 10 s.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Group-commit batch sizes.
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

fn builder() -> Result<PrometheusBuilder, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_batch_size".into()), BATCH))
        .map_err(|e| e.to_string())
}

/// Installs the Prometheus recorder for this process (once) and returns what renders it.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = builder()?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    crate::describe();
    Ok(handle)
}

/// A recorder of its own, not installed (a benchmark measures with and without it).
pub fn recorder() -> Result<PrometheusRecorder, String> {
    Ok(builder()?.build_recorder())
}

/// Runs `f` with `recorder` recording what this thread measures meanwhile.
pub fn with_recorder<T>(recorder: &PrometheusRecorder, f: impl FnOnce() -> T) -> T {
    metrics::with_local_recorder(recorder, f)
}
