//! EasyPost's webhook signature, checked against a vector computed the way EasyPost's client
//! libraries verify it: HMAC-SHA256 over the raw body, keyed with the NFKD-normalized secret.

use auth::webhook::{SignatureError, easypost_signature, verify_easypost};
use secrecy::SecretString;

use crate::support::fixture;

/// `hmac.new(unicodedata.normalize("NFKD", "sécret").encode(), body, sha256)`.
const WITH_NFKD: &str =
    "hmac-sha256-hex=38f3f53c103713df81616a0a186d77141957323ec21d5fe9363db93840f527db";
/// The same without the normalization step (`"sécret".encode()` as the key).
const WITHOUT_NFKD: &str =
    "hmac-sha256-hex=7f1669d6699d0b937cc1e69402423bdd2be0a8bcf571d34a8116765f1741219b";

#[test]
fn easypost_signatures_verify_as_easypost_computes_them() {
    let body = fixture("easypost-event-body.json");
    // "sécret" with a precomposed é (U+00E9), as EasyPost's own test spells it.
    let secret = SecretString::from("s\u{e9}cret".to_owned());
    assert_eq!(easypost_signature(&secret, body.as_bytes()), WITH_NFKD);
    assert_eq!(
        verify_easypost(
            Some(WITH_NFKD),
            body.as_bytes(),
            std::slice::from_ref(&secret)
        ),
        Ok(())
    );
    // A signature made without normalizing the secret is refused.
    assert_eq!(
        verify_easypost(
            Some(WITHOUT_NFKD),
            body.as_bytes(),
            std::slice::from_ref(&secret)
        ),
        Err(SignatureError::Mismatch)
    );
    // One byte of the body changed.
    let tampered = body.replacen("in_transit", "in_transiT", 1);
    assert_eq!(
        verify_easypost(
            Some(WITH_NFKD),
            tampered.as_bytes(),
            std::slice::from_ref(&secret)
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_easypost(Some("sha256=abc"), body.as_bytes(), &[secret]),
        Err(SignatureError::Malformed)
    );
}
