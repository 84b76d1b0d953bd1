//! The Lambda functions' metrics: CloudWatch Embedded Metric Format, one JSON document per
//! label set written to standard output after each invocation (CloudWatch Logs extracts the
//! metrics; no API call, nothing to wait for).

use metrics_cloudwatch_embedded::{Builder, Collector};

/// The namespace the template's alarms read.
pub const NAMESPACE: &str = "TenantOMS";

/// The process's EMF recorder.
pub struct Emf(&'static Collector);

impl Emf {
    /// Installs the recorder for this process (once), every document naming `function` (the
    /// deployed function's name: what the template's alarms name).
    pub fn install(function: impl Into<String>) -> Result<Self, String> {
        let emf = Builder::new()
            .cloudwatch_namespace(NAMESPACE)
            .with_dimension("function", function.into())
            .init()
            .map(Emf)
            .map_err(|e| format!("cannot install the EMF recorder: {e}"))?;
        crate::describe();
        Ok(emf)
    }

    /// Writes what was recorded since the last flush as EMF lines to `out`.
    pub fn flush_to(&self, out: impl std::io::Write) -> std::io::Result<()> {
        self.0.flush(out)
    }

    /// Writes what was recorded since the last flush to standard output (the function's log).
    pub fn flush(&self) {
        if let Err(e) = self.flush_to(std::io::stdout().lock()) {
            eprintln!("EMF flush failed: {e}");
        }
    }
}
