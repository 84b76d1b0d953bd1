//! The `event-consumer` function's edge: one EventBridge event in. Tenant events (any
//! registered source) go to [`crate::tenant::TenantEventConsumer`]; an event that claims a
//! reserved source (`tenantoms`, `aws.*`) is forged here and dead-lettered: our own events reach
//! the notifier only, through the notifications queue ([`not_ours`] is its check).

use std::sync::Arc;

use crate::tenant::{Consumed, Retry, TenantEventConsumer};

/// The `event-consumer` function: tenant events (any registered source) are applied; an event
/// that claims a reserved source (`tenantoms`, `aws.*`) is forged here: our own events reach
/// the notifier only, through the notifications queue.
pub struct EventFunction {
    pub tenant_events: TenantEventConsumer,
    pub dead_letters: Arc<dyn domain::ports::DeadLetters>,
}

/// The account a function runs in, from its ARN (`arn:aws:lambda:{region}:{account}:function:…`).
pub fn account_of(function_arn: &str) -> Option<&str> {
    function_arn
        .split(':')
        .nth(4)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
}

/// The dead-letter reason of an event that claims a source it may not use.
pub const FORGED_SOURCE: &str = "forged_source";

/// Why an event is not one of our own domain events, if it is not: our source (`tenantoms`),
/// put by this function's own account (EventBridge sets `account` to the putter's, which the
/// putter cannot choose). The notifier takes only these.
pub fn not_ours(event: &serde_json::Value, function_arn: &str) -> Option<String> {
    let source = event["source"].as_str().unwrap_or_default();
    if source != domain::events::EVENT_SOURCE {
        return Some(format!(
            "source `{source}` is not ours (`{}`)",
            domain::events::EVENT_SOURCE
        ));
    }
    let from = event["account"].as_str().unwrap_or_default();
    match account_of(function_arn) {
        Some(own) if own == from => None,
        Some(own) => Some(format!(
            "source `{source}` put by account `{from}`, not by this deployment's ({own})"
        )),
        None => Some(format!(
            "source `{source}`: this function's own account is unknown, so no event can prove it is ours"
        )),
    }
}

/// Why a tenant event claims a source it may not: `aws.*` (no AWS service event is routed
/// here) or ours (our events go to the notifier, never to the intake).
fn forged(event: &serde_json::Value) -> Option<String> {
    let source = event["source"].as_str().unwrap_or_default();
    if source.starts_with("aws.") {
        return Some(format!("source `{source}` is reserved to AWS services"));
    }
    if source == domain::events::EVENT_SOURCE {
        let from = event["account"].as_str().unwrap_or_default();
        return Some(format!(
            "source `{source}` (account `{from}`) is ours: our events reach the notifier only, never the event consumer"
        ));
    }
    None
}

/// One EventBridge invocation: the outcome as JSON, or an error (a failure of the system) so
/// that Lambda retries the event and, after its retries, sends it to the function's on-failure
/// destination.
pub async fn handle_event(
    function: &EventFunction,
    event: serde_json::Value,
) -> Result<serde_json::Value, Retry> {
    if let Some(why) = forged(&event) {
        tracing::warn!(reason = FORGED_SOURCE, detail = %why, "an event with a reserved source was dead-lettered");
        let letter = domain::ports::DeadLetter {
            reason: FORGED_SOURCE.to_owned(),
            detail: why,
            event_id: event["id"].as_str().map(str::to_owned),
            body: event.to_string(),
        };
        function
            .dead_letters
            .dead_letter(&letter)
            .await
            .map_err(|e| Retry(e.to_string()))?;
        return Ok(serde_json::json!({ "outcome": "dead_lettered", "reason": FORGED_SOURCE }));
    }
    let outcome = function.tenant_events.consume(&event.to_string()).await?;
    Ok(match outcome {
        Consumed::Applied => serde_json::json!({ "outcome": "applied" }),
        Consumed::Duplicate => serde_json::json!({ "outcome": "duplicate" }),
        Consumed::DeadLettered(reason) => {
            serde_json::json!({ "outcome": "dead_lettered", "reason": reason })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:notifier";

    fn event(source: &str, account: &str) -> serde_json::Value {
        serde_json::json!({ "source": source, "account": account })
    }

    #[test]
    fn only_our_own_account_may_use_our_source() {
        assert_eq!(account_of(ARN), Some("123456789012"));
        assert_eq!(account_of("arn:aws:lambda:us-east-1::function:x"), None);
        assert!(not_ours(&event("tenantoms", "123456789012"), ARN).is_none());
        let why = not_ours(&event("tenantoms", "999999999999"), ARN).unwrap_or_default();
        assert!(why.contains("999999999999"), "{why}");
        assert!(not_ours(&event("com.acme.orders", "123456789012"), ARN).is_some());
        assert!(not_ours(&event("tenantoms", "123456789012"), "not an arn").is_some());
    }

    #[test]
    fn the_intake_takes_no_reserved_source() {
        assert!(forged(&event("com.acme.orders", "999999999999")).is_none());
        assert!(forged(&event("tenantoms", "123456789012")).is_some());
        assert!(forged(&event("aws.s3", "123456789012")).is_some());
    }
}
