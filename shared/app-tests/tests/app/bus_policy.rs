//! The event bus's resource policy, read as EventBridge reads it: each registered account may
//! put exactly its registered sources, nobody may put ours, and an account with nothing
//! registered is not named.

use app::platform::event_bus_policy;
use domain::tenant::EventSource;
use proptest::prelude::*;

const BUS: &str = "arn:aws:events:us-east-1:111111111111:event-bus/tenantoms-prod";

/// Whether `policy` lets `account` put an event with `source` on `BUS`.
fn allows(policy: &serde_json::Value, account: &str, source: &str) -> bool {
    policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|st| {
            st["Effect"] == "Allow"
                && st["Action"] == "events:PutEvents"
                && st["Resource"] == BUS
                && st["Principal"]["AWS"] == account
                && st["Condition"]["StringEquals"]["events:source"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|x| x == source))
        })
}

fn source(account: &str, source: &str) -> EventSource {
    EventSource::parse(account, source).unwrap()
}

#[test]
fn each_account_puts_only_its_registered_sources() {
    let registered = [
        source("222222222222", "com.acme.orders"),
        source("222222222222", "com.acme.returns"),
        source("333333333333", "com.globex.orders"),
        source("222222222222", "com.acme.orders"),
    ];
    let policy = event_bus_policy(BUS, &registered);
    assert_eq!(policy["Version"], "2012-10-17");
    assert_eq!(policy["Statement"].as_array().unwrap().len(), 2, "{policy}");
    for s in &registered {
        assert!(allows(&policy, &s.account, &s.source), "{s}");
    }
    assert!(
        !allows(&policy, "333333333333", "com.acme.orders"),
        "another's source"
    );
    assert!(!allows(&policy, "222222222222", "tenantoms"), "ours");
    assert!(
        !allows(&policy, "444444444444", "com.acme.orders"),
        "an outsider"
    );
    // Every condition is a plain list of exact sources: no wildcard, no `tenantoms`.
    let text = policy.to_string();
    assert!(!text.contains('*'), "{text}");
    assert!(!text.contains("tenantoms\""), "{text}");
    // Nothing registered: no statement, so only the deployment's own roles may put.
    assert_eq!(
        event_bus_policy(BUS, &[])["Statement"],
        serde_json::json!([])
    );
}

proptest! {
    #[test]
    fn a_pair_is_allowed_exactly_when_registered(
        pairs in proptest::collection::vec((0u8..4, 0u8..4), 0..12),
        probe in (0u8..4, 0u8..4),
    ) {
        let account = |a: u8| format!("55555555555{a}");
        let src = |s: u8| format!("com.tenant{s}.orders");
        let registered: Vec<EventSource> =
            pairs.iter().map(|(a, s)| source(&account(*a), &src(*s))).collect();
        let policy = event_bus_policy(BUS, &registered);
        let want = pairs.contains(&probe);
        prop_assert_eq!(allows(&policy, &account(probe.0), &src(probe.1)), want);
        prop_assert!(!allows(&policy, &account(probe.0), "tenantoms"));
    }
}
