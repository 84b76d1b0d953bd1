//! Signed webhooks: the signature headers of every scheme, and bodies that carry a valid
//! signature (so they reach the add-order and tracking parsers) POSTed through the router.
//! A header verifies only when it carries the right tag; a delivery never gets a 5xx.
#![no_main]

use arbitrary::Arbitrary;
use auth::webhook::{easypost_signature, oms_signature, verify_easypost, verify_oms, verify_token};
use libfuzzer_sys::fuzz_target;
use oms_fuzz::{ENV, assert_not_5xx, now_secs};
use secrecy::SecretString;

#[derive(Arbitrary, Debug)]
enum Input {
    /// A body to `/webhooks/add-order/demo`, signed, with this delivery id.
    AddOrder {
        delivery: u32,
        body: Vec<u8>,
    },
    /// A body to `/webhooks/shipment-tracker/demo`, signed.
    Tracker {
        delivery: u32,
        body: Vec<u8>,
    },
    Oms {
        now: i64,
        header: String,
        body: Vec<u8>,
    },
    Easypost {
        header: String,
        body: Vec<u8>,
    },
    Token {
        presented: String,
    },
}

fn secret() -> SecretString {
    SecretString::from("whsec-fuzz-0123456789".to_owned())
}

/// The hex tags `header` carries after `prefix`, lower-cased.
fn tags(header: &str, prefix: &str) -> Vec<String> {
    header
        .split(',')
        .filter_map(|p| p.trim().strip_prefix(prefix))
        .map(str::to_ascii_lowercase)
        .collect()
}

fn deliver(path: &str, body: Vec<u8>, delivery: u32) {
    let env = &ENV.web;
    let signature = oms_signature(&env.secret, now_secs(), &body);
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("x-oms-signature", signature),
        ("x-oms-delivery", format!("d-{delivery}")),
    ];
    let (status, _, text) = ENV.rt.block_on(env.post(path, &headers, body));
    assert_not_5xx(status, &text);
}

fuzz_target!(|input: Input| {
    match input {
        Input::Oms { now, header, body } => {
            if let Ok(t) = verify_oms(Some(&header), &body, &[secret()], now, 300) {
                let expected = oms_signature(&secret(), t, &body);
                let tag = expected.rsplit_once("v1=").map(|(_, tag)| tag.to_owned());
                assert!(
                    tags(&header, "v1=").iter().any(|t| Some(t) == tag.as_ref()),
                    "{header:?} verified without the tag"
                );
                assert!(now.abs_diff(t) <= 300);
            }
        }
        Input::Easypost { header, body } => {
            if verify_easypost(Some(&header), &body, &[secret()]).is_ok() {
                let expected = easypost_signature(&secret(), &body);
                assert_eq!(
                    header.trim().to_ascii_lowercase(),
                    expected.to_ascii_lowercase(),
                    "{header:?} verified"
                );
            }
        }
        Input::Token { presented } => {
            if verify_token(Some(&presented), &[secret()]).is_ok() {
                assert_eq!(presented, "whsec-fuzz-0123456789");
            }
        }
        Input::AddOrder { body, delivery } => deliver("/webhooks/add-order/demo", body, delivery),
        Input::Tracker { body, delivery } => {
            deliver("/webhooks/shipment-tracker/demo", body, delivery)
        }
    }
});
