//! The one error of every carrier call. Classified by HTTP status first (carriers' error codes
//! are only partly documented), with the carrier's own text as detail — never the API key.

/// A failed carrier call. `code()` is stable and what the API layer reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// The carrier refused the credentials (401/403).
    #[error("carrier authentication failed: {0}")]
    AuthFailed(String),
    /// The carrier refused the request (400/402/404/422, a failed purchase) or answered with
    /// a body we cannot read.
    #[error("carrier rejected the request: {0}")]
    Rejected(String),
    /// The carrier answered 2xx with a body we cannot read, or one that lacks what the call
    /// must return: it may have done what was asked (a purchase), so this is no refusal.
    #[error("malformed carrier response: {0}")]
    Malformed(String),
    /// The carrier could not be reached or failed (5xx, timeouts, connection errors).
    #[error("carrier unavailable: {0}")]
    Unavailable(String),
    /// The request was never sent: the carrier could not be reached before it (its token
    /// endpoint failed, no connection). It certainly did nothing, so a purchase failing so is
    /// closed, and may be tried again.
    #[error("carrier unavailable: {0}")]
    Unreached(String),
    /// The carrier took the purchase and is still making the label (a Shippo transaction left
    /// `QUEUED`): nothing is known yet, but it must not be bought again. The carrier's own id of
    /// the purchase is kept, and `Carrier::find_queued` looks it up.
    #[error("the carrier is still making the label (its purchase {carrier_ref})")]
    Queued { carrier_ref: String },
    /// The carrier throttled us (429) and retries did not get through.
    #[error("carrier rate limit reached{}", retry_after_text(*.retry_after_secs))]
    RateLimited { retry_after_secs: Option<u64> },
    /// The carrier cannot do this.
    #[error("not supported by the carrier: {0}")]
    NotSupported(String),
    /// No credential version is effective for the tenant's carrier connection (raised by the
    /// caller that picks credentials, never by the adapters).
    #[error("no effective carrier connection: {0}")]
    ConnectionNotEffective(String),
}

fn retry_after_text(secs: Option<u64>) -> String {
    secs.map(|s| format!("; retry after {s} s"))
        .unwrap_or_default()
}

impl CarrierError {
    /// The stable code the API reports for this error.
    pub fn code(&self) -> &'static str {
        match self {
            CarrierError::AuthFailed(_) => "carrier_auth_failed",
            CarrierError::Rejected(_) | CarrierError::Malformed(_) => "carrier_rejected",
            CarrierError::Unavailable(_)
            | CarrierError::Unreached(_)
            | CarrierError::Queued { .. } => "carrier_unavailable",
            CarrierError::RateLimited { .. } => "rate_limited",
            CarrierError::NotSupported(_) => "not_supported",
            CarrierError::ConnectionNotEffective(_) => "connection_not_effective",
        }
    }

    /// Whether the carrier certainly did not do what was asked (it refused, or the call was
    /// never made): a purchase or void that failed so can be closed. Timeouts, 5xx and answers
    /// we cannot read are not refusals: the carrier may have done it, so it is looked up.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            CarrierError::AuthFailed(_)
                | CarrierError::Rejected(_)
                | CarrierError::Unreached(_)
                | CarrierError::RateLimited { .. }
                | CarrierError::NotSupported(_)
                | CarrierError::ConnectionNotEffective(_)
        )
    }

    /// Whether the same call may succeed later. (A caller retrying a purchase must first check
    /// that the carrier did not buy the label.)
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CarrierError::Unavailable(_)
                | CarrierError::Unreached(_)
                | CarrierError::RateLimited { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_retryability() {
        let cases = [
            (
                CarrierError::AuthFailed("x".into()),
                "carrier_auth_failed",
                false,
            ),
            (
                CarrierError::Rejected("x".into()),
                "carrier_rejected",
                false,
            ),
            (
                CarrierError::Malformed("x".into()),
                "carrier_rejected",
                false,
            ),
            (
                CarrierError::Unavailable("x".into()),
                "carrier_unavailable",
                true,
            ),
            (
                CarrierError::Unreached("x".into()),
                "carrier_unavailable",
                true,
            ),
            (
                CarrierError::RateLimited {
                    retry_after_secs: Some(3),
                },
                "rate_limited",
                true,
            ),
            (
                CarrierError::NotSupported("x".into()),
                "not_supported",
                false,
            ),
            // Not retryable: buying again would buy twice; it is looked up instead.
            (
                CarrierError::Queued {
                    carrier_ref: "t1".into(),
                },
                "carrier_unavailable",
                false,
            ),
            (
                CarrierError::ConnectionNotEffective("x".into()),
                "connection_not_effective",
                false,
            ),
        ];
        for (e, code, retryable) in cases {
            assert_eq!(e.code(), code);
            assert_eq!(e.is_retryable(), retryable, "{e}");
        }
    }

    #[test]
    fn only_certain_failures_are_refusals() {
        let refusals = [
            CarrierError::AuthFailed("x".into()),
            CarrierError::Rejected("x".into()),
            CarrierError::RateLimited {
                retry_after_secs: None,
            },
            CarrierError::NotSupported("x".into()),
            CarrierError::ConnectionNotEffective("x".into()),
            CarrierError::Unreached("x".into()),
        ];
        assert!(refusals.iter().all(CarrierError::is_refusal));
        // The carrier may have done it: looked up, never closed as refused.
        let unknown = [
            CarrierError::Unavailable("x".into()),
            CarrierError::Malformed("x".into()),
            CarrierError::Queued {
                carrier_ref: "t1".into(),
            },
        ];
        assert!(!unknown.iter().any(CarrierError::is_refusal));
    }

    #[test]
    fn rate_limited_message() {
        let e = CarrierError::RateLimited {
            retry_after_secs: Some(7),
        };
        assert_eq!(e.to_string(), "carrier rate limit reached; retry after 7 s");
        let e = CarrierError::RateLimited {
            retry_after_secs: None,
        };
        assert_eq!(e.to_string(), "carrier rate limit reached");
    }
}
