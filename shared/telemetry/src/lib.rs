//! What the service measures, in one place. Every crate records through the helpers here, so a
//! metric's name, unit and labels are written once; labels are bounded sets (an operation of
//! the schema, an error code, a carrier kind), never a tenant id, a user or a free text.
//!
//! Recording goes through the `metrics` facade: without an installed recorder (tests, tools)
//! it costs a relaxed load and nothing else. `oms serve` installs the Prometheus exporter
//! (`prometheus` feature, `GET /metrics`); the Lambda functions the CloudWatch Embedded Metric
//! Format emitter (`emf` feature: one JSON log line per invocation, no API call).

#[cfg(feature = "emf")]
pub mod emf;
#[cfg(feature = "prometheus")]
pub mod prometheus;
#[cfg(feature = "otlp")]
pub mod traces;

use std::time::Duration;

/// The metric names (Prometheus style: `oms_` prefix, unit suffix).
pub mod names {
    /// Counter: API requests by `operation` and `outcome`.
    pub const REQUESTS: &str = "oms_requests_total";
    /// Histogram: API request latency by `operation`.
    pub const REQUEST_SECONDS: &str = "oms_request_duration_seconds";
    /// Histogram: every API request's latency, all operations together (unlabelled: what the
    /// template's p99 alarm reads from a function's EMF documents).
    pub const API_SECONDS: &str = "oms_api_latency_seconds";
    /// Histogram: how long a store commit took (a group commit: the batch's).
    pub const STORE_COMMIT_SECONDS: &str = "oms_store_commit_duration_seconds";
    /// Histogram: how many transactions one group commit carried.
    pub const STORE_COMMIT_BATCH: &str = "oms_store_commit_batch_size";
    /// Gauge: outbox records waiting for the relay after its last pass.
    pub const RELAY_BACKLOG: &str = "oms_relay_backlog";
    /// Histogram: from an outbox record's commit to its publication.
    pub const RELAY_LAG_SECONDS: &str = "oms_relay_lag_seconds";
    /// Counter: notification attempts by `outcome`.
    pub const NOTIFICATIONS: &str = "oms_notifications_total";
    /// Counter: carrier calls by `carrier` (kind), `call` and `outcome`.
    pub const CARRIER_CALLS: &str = "oms_carrier_calls_total";
    /// Histogram: carrier call latency by `carrier` and `call`.
    pub const CARRIER_SECONDS: &str = "oms_carrier_call_duration_seconds";
    /// Counter: carrier calls that failed on the carrier's side (unreachable or failing,
    /// refusing our credentials, rate limiting us), unlabelled: what the template's alarm reads.
    pub const CARRIER_ERRORS: &str = "oms_carrier_errors_total";
    /// Counter: cache lookups by `cache` (`jwks`, `token`, `directory`) and `result`.
    pub const CACHE_LOOKUPS: &str = "oms_cache_lookups_total";
}

/// Says what each metric is (the `# HELP` lines of `/metrics`); called once by an exporter.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(names::REQUESTS, "API requests by operation and outcome");
    describe_histogram!(
        names::REQUEST_SECONDS,
        Unit::Seconds,
        "API request latency by operation"
    );
    describe_histogram!(
        names::API_SECONDS,
        Unit::Seconds,
        "API request latency, all operations"
    );
    describe_counter!(
        names::CARRIER_ERRORS,
        "Carrier calls failed on the carrier's side"
    );
    describe_histogram!(
        names::STORE_COMMIT_SECONDS,
        Unit::Seconds,
        "Store commit latency"
    );
    describe_histogram!(names::STORE_COMMIT_BATCH, "Transactions per group commit");
    describe_gauge!(
        names::RELAY_BACKLOG,
        "Outbox records left waiting by the last relay pass"
    );
    describe_histogram!(
        names::RELAY_LAG_SECONDS,
        Unit::Seconds,
        "Outbox commit to publication"
    );
    describe_counter!(names::NOTIFICATIONS, "Notification attempts by outcome");
    describe_counter!(
        names::CARRIER_CALLS,
        "Carrier calls by carrier, call and outcome"
    );
    describe_histogram!(
        names::CARRIER_SECONDS,
        Unit::Seconds,
        "Carrier call latency"
    );
    describe_counter!(names::CACHE_LOOKUPS, "Cache lookups by cache and result");
}

/// An outcome label when nothing went wrong.
pub const OK: &str = "ok";

/// One API request (a GraphQL operation, or a webhook delivery): `operation` is a name of the
/// schema's bounded set (the caller's own operation names are never used), `outcome` `ok` or
/// an error code.
pub fn request(operation: &'static str, outcome: &str, took: Duration) {
    metrics::counter!(names::REQUESTS, "operation" => operation, "outcome" => outcome.to_owned())
        .increment(1);
    metrics::histogram!(names::REQUEST_SECONDS, "operation" => operation)
        .record(took.as_secs_f64());
    metrics::histogram!(names::API_SECONDS).record(took.as_secs_f64());
}

/// One store commit of `batch` transactions.
pub fn store_commit(batch: usize, took: Duration) {
    metrics::histogram!(names::STORE_COMMIT_SECONDS).record(took.as_secs_f64());
    // A batch count is small: the f64 is exact.
    #[allow(clippy::cast_precision_loss)]
    metrics::histogram!(names::STORE_COMMIT_BATCH).record(batch as f64);
}

/// A relay pass: what it left waiting, and how long each published record had waited.
pub fn relay_pass(backlog: usize, lags: impl IntoIterator<Item = Duration>) {
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!(names::RELAY_BACKLOG).set(backlog as f64);
    let lag = metrics::histogram!(names::RELAY_LAG_SECONDS);
    for l in lags {
        lag.record(l.as_secs_f64());
    }
}

/// One notification attempt and how it ended (`delivered`, `retry`, `dropped`, …).
pub fn notification(outcome: &'static str) {
    metrics::counter!(names::NOTIFICATIONS, "outcome" => outcome).increment(1);
}

/// One carrier call: the carrier's kind (`easypost`, …), the call (`rate`, `buy`, …) and
/// `ok` or the error's code.
pub fn carrier_call(carrier: &'static str, call: &'static str, outcome: &str, took: Duration) {
    metrics::counter!(
        names::CARRIER_CALLS,
        "carrier" => carrier, "call" => call, "outcome" => outcome.to_owned()
    )
    .increment(1);
    metrics::histogram!(names::CARRIER_SECONDS, "carrier" => carrier, "call" => call)
        .record(took.as_secs_f64());
    if CARRIER_SIDE.contains(&outcome) {
        metrics::counter!(names::CARRIER_ERRORS).increment(1);
    }
}

/// The outcomes of a carrier call that are the carrier's failing, not the request's
/// (`CarrierError::code`): what an operator is paged for.
const CARRIER_SIDE: [&str; 3] = ["carrier_unavailable", "carrier_auth_failed", "rate_limited"];

/// One cache lookup: `cache` is `jwks`, `token` or `directory`.
pub fn cache(cache: &'static str, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!(names::CACHE_LOOKUPS, "cache" => cache, "result" => result).increment(1);
}
