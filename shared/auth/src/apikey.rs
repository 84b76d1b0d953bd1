//! Tenant API keys: minting a key's text (shown once) and checking a presented one against its
//! record. Only SHA-256 of the text is kept: the text holds 256 random bits, so a slow password
//! hash would add nothing but cost per request.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::apikey::{ApiKey, KeyStage};
use domain::ids::ApiKeyId;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::error::{AuthError, AuthResult};

/// A new key's text and the hash its record keeps.
pub struct MintedKey {
    pub text: SecretString,
    pub hash: String,
}

impl std::fmt::Debug for MintedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedKey")
            .field("hash", &self.hash)
            .finish()
    }
}

/// SHA-256 of a key's text, lower-case hex.
pub fn key_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The text of a new key `id` of `stage`: `oms_{stage}_{id}_{43 characters of 256 random bits}`.
pub fn mint(stage: KeyStage, id: ApiKeyId) -> AuthResult<MintedKey> {
    let mut secret = [0u8; 32];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| AuthError::Directory("no randomness for a key".into()))?;
    let text = format!("{}{id}_{}", stage.prefix(), URL_SAFE_NO_PAD.encode(secret));
    let hash = key_hash(&text);
    Ok(MintedKey {
        text: SecretString::from(text),
        hash,
    })
}

/// Whether `text` is the key `record` was made for (hashes compared in constant time).
pub fn matches(record: &ApiKey, text: &str) -> bool {
    let presented = key_hash(text);
    aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_bytes(), record.hash.as_bytes())
        .is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use domain::apikey::PresentedKey;
    use secrecy::ExposeSecret;

    #[test]
    fn minted_keys_parse_and_differ() {
        let id = ApiKeyId::parse("01HZZZZZZZZZZZZZZZZZZZZZZZ").unwrap();
        let a = mint(KeyStage::Live, id).unwrap();
        let b = mint(KeyStage::Live, id).unwrap();
        assert_ne!(a.text.expose_secret(), b.text.expose_secret());
        let parsed = PresentedKey::parse(a.text.expose_secret()).unwrap();
        assert_eq!((parsed.stage, parsed.id), (KeyStage::Live, id));
        assert!(a.text.expose_secret().starts_with("oms_live_"));
        assert_eq!(a.hash, key_hash(a.text.expose_secret()));
        assert!(!format!("{a:?}").contains(a.text.expose_secret()));
    }
}
