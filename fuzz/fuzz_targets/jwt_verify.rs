//! Bearer tokens: any text, tokens forged from any header and claims, and tokens the dev IdP
//! really signed over fuzzed claims. Nothing panics; a forged token is never accepted; a
//! signed one is accepted only as a user of the demo tenant, with the dev issuer and audience,
//! in its validity window.
#![no_main]

use arbitrary::Arbitrary;
use auth::dev::DEV_AUDIENCE;
use auth::{Caller, DEV_ISSUER};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use oms_fuzz::{ENV, now_secs};

#[derive(Arbitrary, Debug)]
struct Claims {
    dev_issuer: bool,
    iss: String,
    dev_audience: bool,
    aud: String,
    sub: Option<String>,
    tenant: Option<String>,
    roles: Vec<String>,
    vendor: Option<String>,
    exp_delta: i16,
    nbf_delta: i16,
    /// Merged in when it parses as a JSON object (claims of any shape).
    extra: String,
}

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any `Authorization` header value.
    Header(String),
    /// A token assembled from any header, claims and signature bytes.
    Forged {
        header: String,
        claims: String,
        signature: Vec<u8>,
    },
    /// Claims the dev key signed.
    Signed(Claims),
}

fuzz_target!(|input: Input| {
    let verifier = &ENV.verifier;
    match input {
        Input::Header(value) => {
            // A mutation of a valid seed token may still be valid: only "no panic" holds here.
            let _ = ENV.rt.block_on(verifier.verify(Some(&value)));
        }
        Input::Forged {
            header,
            claims,
            signature,
        } => {
            let token = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(claims),
                URL_SAFE_NO_PAD.encode(signature)
            );
            let verdict = ENV.rt.block_on(verifier.verify_token(&token));
            assert!(verdict.is_err(), "a forged token was accepted: {token}");
        }
        Input::Signed(c) => {
            let now = now_secs();
            let iss = if c.dev_issuer {
                DEV_ISSUER.to_owned()
            } else {
                c.iss
            };
            let aud = if c.dev_audience {
                DEV_AUDIENCE.to_owned()
            } else {
                c.aud
            };
            let exp = now + i64::from(c.exp_delta);
            let nbf = now + i64::from(c.nbf_delta);
            let mut claims = serde_json::json!({
                "iss": iss, "aud": aud, "sub": c.sub, "tenant": c.tenant, "roles": c.roles,
                "vendor_id": c.vendor, "iat": now, "nbf": nbf, "exp": exp,
            });
            if let Ok(serde_json::Value::Object(extra)) = serde_json::from_str(&c.extra) {
                for (k, v) in extra {
                    claims[k] = v;
                }
            }
            let Ok(token) = ENV.web.idp.sign_claims(&claims) else {
                return;
            };
            let Ok(caller) = ENV.rt.block_on(verifier.verify_token(&token)) else {
                return;
            };
            let Caller::Tenant(identity) = caller else {
                panic!("a dev-signed token became a platform admin: {claims}");
            };
            assert_eq!(identity.tenant().as_str(), "demo", "{claims}");
            assert_eq!(claims["iss"], DEV_ISSUER, "{claims}");
            assert_eq!(claims["tenant"], "demo", "{claims}");
            let leeway = 30;
            let exp = claims["exp"].as_i64().unwrap_or(i64::MIN);
            assert!(
                exp + leeway >= now,
                "an expired token was accepted: {claims}"
            );
            if let Some(nbf) = claims["nbf"].as_i64() {
                assert!(
                    nbf - leeway <= now,
                    "a not-yet-valid token was accepted: {claims}"
                );
            }
        }
    }
});
