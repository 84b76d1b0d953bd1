//! Opaque listing cursors: each shard's position, bound to the tenant and the listing, signed
//! with a server key (HMAC-SHA256) so a forged or foreign cursor is refused.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use app::ports::{RepoResult, RowCursor, RowPosition, TokenSealer};

use crate::error::{StoreError, StoreResult};
use crate::port::Continuation;

type HmacSha256 = Hmac<Sha256>;

/// The server key cursors are signed with. Never logged (Debug prints nothing of it).
#[derive(Clone)]
pub struct CursorKey(std::sync::Arc<[u8]>);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

const KEY_LEN: usize = 32;

impl CursorKey {
    /// A key from configuration (at least 32 bytes).
    pub fn from_bytes(bytes: &[u8]) -> StoreResult<Self> {
        if bytes.len() < KEY_LEN {
            return Err(StoreError::Invalid(format!(
                "cursor key must be at least {KEY_LEN} bytes"
            )));
        }
        Ok(Self(bytes.into()))
    }

    /// A random key that lives as long as this process (cursors it seals are read within it).
    pub fn random() -> StoreResult<Self> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Backend(e.to_string()))?;
        Self::from_bytes(&bytes)
    }

    /// The local key in `path`, generated (random, 32 bytes, mode 0600) on first use.
    pub fn load_or_generate(path: &Path) -> StoreResult<Self> {
        let io =
            |e: std::io::Error| StoreError::Backend(format!("cursor key {}: {e}", path.display()));
        match std::fs::read(path) {
            Ok(bytes) => Self::from_bytes(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; KEY_LEN];
                getrandom::fill(&mut bytes).map_err(|e| StoreError::Backend(e.to_string()))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut file = opts.open(path).map_err(io)?;
                std::io::Write::write_all(&mut file, &bytes).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(Self(bytes.as_slice().into()))
            }
            Err(e) => Err(io(e)),
        }
    }

    fn mac(&self) -> StoreResult<HmacSha256> {
        HmacSha256::new_from_slice(&self.0).map_err(|e| StoreError::Invalid(e.to_string()))
    }
}

/// Where one shard's listing stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardPosition {
    /// Nothing read from this shard yet.
    Start,
    /// Resume after this item.
    After(Continuation),
    /// Every item of this shard was returned.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorState {
    /// The tenant the listing belongs to.
    pub tenant: String,
    /// Which listing (kind and filters); a cursor of another listing is refused.
    pub listing: String,
    /// The last sort key returned (bounds shards added after the cursor was issued).
    pub last_sort_key: Option<String>,
    pub shards: Vec<ShardPosition>,
}

/// The position after one row of a page: signed into a cursor only when a client asks for it
/// (most clients read `nodes` or the end cursor; signing every row of a 250-row page would cost
/// more than the page's query on the embedded store).
#[derive(Debug)]
pub(crate) struct SignedPosition {
    signer: Cursors,
    state: CursorState,
}

impl SignedPosition {
    pub(crate) fn row_cursor(signer: Cursors, state: CursorState) -> RowCursor {
        RowCursor::new(std::sync::Arc::new(Self { signer, state }))
    }
}

impl RowPosition for SignedPosition {
    fn encode(&self) -> RepoResult<String> {
        Ok(self.signer.encode(&self.state)?)
    }
}

/// Signs and verifies cursors.
#[derive(Debug, Clone)]
pub struct Cursors {
    key: CursorKey,
}

impl Cursors {
    pub fn new(key: CursorKey) -> Self {
        Self { key }
    }

    /// `base64url(json) . base64url(hmac)`.
    pub fn encode(&self, state: &CursorState) -> StoreResult<String> {
        let body = serde_json::to_vec(state).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut mac = self.key.mac()?;
        mac.update(&body);
        let tag = mac.finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&body),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// Seals `body` for `purpose` (`base64url(body) . base64url(hmac(purpose, body))`): an
    /// opaque token the API hands out and takes back (rate ids), bound to what `purpose` names.
    pub fn seal(&self, purpose: &str, body: &[u8]) -> StoreResult<String> {
        let mut mac = self.key.mac()?;
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(body),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// The body of a token sealed for exactly `purpose` (constant-time check), else `None`.
    pub fn open(&self, purpose: &str, token: &str) -> Option<Vec<u8>> {
        if token.len() > 16 * 1024 {
            return None;
        }
        let (body, tag) = token.split_once('.')?;
        let body = URL_SAFE_NO_PAD.decode(body).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.key.mac().ok()?;
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(&body);
        mac.verify_slice(&tag).ok()?;
        Some(body)
    }

    /// Verifies the signature (constant time), the tenant and the listing.
    pub fn decode(&self, cursor: &str, tenant: &str, listing: &str) -> StoreResult<CursorState> {
        let invalid = || StoreError::Invalid("invalid cursor".into());
        if cursor.len() > 16 * 1024 {
            return Err(invalid());
        }
        let (body, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        let mut mac = self.key.mac()?;
        mac.update(&body);
        mac.verify_slice(&tag).map_err(|_| invalid())?;
        let state: CursorState = serde_json::from_slice(&body).map_err(|_| invalid())?;
        if state.tenant != tenant || state.listing != listing {
            return Err(invalid());
        }
        Ok(state)
    }
}

impl TokenSealer for Cursors {
    fn seal(&self, purpose: &str, body: &[u8]) -> RepoResult<String> {
        Ok(Cursors::seal(self, purpose, body)?)
    }

    fn open(&self, purpose: &str, token: &str) -> Option<Vec<u8>> {
        Cursors::open(self, purpose, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursors(k: u8) -> Cursors {
        Cursors::new(CursorKey::from_bytes(&[k; 32]).unwrap())
    }

    fn state() -> CursorState {
        CursorState {
            tenant: "a".into(),
            listing: "orders".into(),
            last_sort_key: Some("x".into()),
            shards: vec![ShardPosition::Start, ShardPosition::Done],
        }
    }

    #[test]
    fn sealed_tokens_open_only_for_their_purpose_and_key() {
        let c = cursors(1);
        let t = c.seal("rate:a:o1:s1", b"{\"r\":1}").unwrap();
        assert_eq!(c.open("rate:a:o1:s1", &t).unwrap(), b"{\"r\":1}");
        assert!(c.open("rate:b:o1:s1", &t).is_none());
        assert!(c.open("rate:a:o1:s2", &t).is_none());
        assert!(cursors(2).open("rate:a:o1:s1", &t).is_none());
        let (body, tag) = t.split_once('.').unwrap();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(b"{\"r\":2}"));
        assert!(c.open("rate:a:o1:s1", &forged).is_none());
        assert!(c.open("rate:a:o1:s1", body).is_none());
        assert!(c.open("rate:a:o1:s1", "").is_none());
    }

    #[test]
    fn round_trips_and_refuses_forgeries() {
        let c = cursors(1);
        let s = c.encode(&state()).unwrap();
        assert_eq!(c.decode(&s, "a", "orders").unwrap(), state());
        // Another tenant, another listing, another key, a tampered body: all refused.
        assert!(c.decode(&s, "b", "orders").is_err());
        assert!(c.decode(&s, "a", "orders:status=PENDING").is_err());
        assert!(cursors(2).decode(&s, "a", "orders").is_err());
        let (body, tag) = s.split_once('.').unwrap();
        let mut forged = state();
        forged.tenant = "b".into();
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert!(
            c.decode(&format!("{forged_body}.{tag}"), "b", "orders")
                .is_err()
        );
        assert!(c.decode(body, "a", "orders").is_err());
        assert!(c.decode("garbage", "a", "orders").is_err());
    }

    #[test]
    fn short_keys_are_refused_and_local_keys_persist() {
        assert!(CursorKey::from_bytes(&[0; 16]).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/cursor.key");
        let a = CursorKey::load_or_generate(&path).unwrap();
        let b = CursorKey::load_or_generate(&path).unwrap();
        assert_eq!(a.0, b.0);
        assert_eq!(a.0.len(), 32);
        assert_eq!(format!("{a:?}"), "CursorKey(..)");
    }
}
