//! The local secret store: `secrets.json` in the data directory, envelope-encrypted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use domain::ids::TenantId;
use domain::ports::{SecretError, SecretFuture, SecretStore};
use domain::webhook::SecretRef;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

const KEY_LEN: usize = 32;

/// One sealed secret as the file holds it: never a plaintext.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sealed {
    /// The data key, sealed by the master key.
    wrapped_key: String,
    key_nonce: String,
    /// The secret, sealed by the data key.
    ciphertext: String,
    nonce: String,
}

/// A file of envelope-encrypted secrets and the master key that opens them.
pub struct LocalSecretStore {
    path: PathBuf,
    master: LessSafeKey,
    /// The file's contents, written through on every change (one writer at a time).
    sealed: Mutex<BTreeMap<String, Sealed>>,
}

fn backend(e: impl std::fmt::Display) -> SecretError {
    SecretError::Backend(e.to_string())
}

fn key(bytes: &[u8]) -> Result<LessSafeKey, SecretError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| SecretError::Backend("bad key length".into()))
}

fn random<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| backend("no randomness"))?;
    Ok(b)
}

/// What binds a ciphertext to its record.
fn aad(tenant: &TenantId, purpose: &str, id: &str) -> String {
    format!("tenantoms-secret:v1:{tenant}:{purpose}:{id}")
}

fn seal(k: &LessSafeKey, aad: &str, plain: &[u8]) -> Result<(String, String), SecretError> {
    let nonce = random::<NONCE_LEN>()?;
    let mut buf = plain.to_vec();
    k.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad.as_bytes()),
        &mut buf,
    )
    .map_err(|_| backend("seal failed"))?;
    Ok((B64.encode(buf), B64.encode(nonce)))
}

fn open(k: &LessSafeKey, aad: &str, sealed: &str, nonce: &str) -> Result<Vec<u8>, SecretError> {
    let mut buf = B64.decode(sealed).map_err(|_| SecretError::Sealed)?;
    let nonce: [u8; NONCE_LEN] = B64
        .decode(nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or(SecretError::Sealed)?;
    let plain = k
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut buf,
        )
        .map_err(|_| SecretError::Sealed)?;
    Ok(plain.to_vec())
}

impl LocalSecretStore {
    /// Opens (or creates) `secrets.json` in `dir`, with the master key from `secrets.key` beside
    /// it (created, owner-only, on first use) unless `master_key` is given.
    pub fn open(dir: &Path, master_key: Option<&[u8]>) -> Result<Self, SecretError> {
        std::fs::create_dir_all(dir).map_err(backend)?;
        let master = match master_key {
            Some(k) => key(k)?,
            None => key(&load_or_create_key(&dir.join("secrets.key"))?)?,
        };
        let path = dir.join("secrets.json");
        let sealed = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(backend)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(backend(e)),
        };
        Ok(Self {
            path,
            master,
            sealed: Mutex::new(sealed),
        })
    }

    fn write(&self, all: &BTreeMap<String, Sealed>) -> Result<(), SecretError> {
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(all).map_err(backend)?).map_err(backend)?;
        std::fs::rename(&tmp, &self.path).map_err(backend)
    }
}

fn load_or_create_key(path: &Path) -> Result<Vec<u8>, SecretError> {
    match std::fs::read(path) {
        Ok(k) if k.len() == KEY_LEN => Ok(k),
        Ok(_) => Err(backend(format!(
            "{} is not a {KEY_LEN}-byte key",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = random::<KEY_LEN>()?;
            write_private(path, &k)?;
            Ok(k.to_vec())
        }
        Err(e) => Err(backend(e)),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SecretError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(backend)?;
    f.write_all(bytes).map_err(backend)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SecretError> {
    std::fs::write(path, bytes).map_err(backend)
}

impl LocalSecretStore {
    async fn put_sealed(
        &self,
        tenant: &TenantId,
        purpose: &str,
        secret: &SecretString,
    ) -> Result<SecretRef, SecretError> {
        let id = ulid::Ulid::new().to_string();
        let aad = aad(tenant, purpose, &id);
        let data_key = random::<KEY_LEN>()?;
        let (ciphertext, nonce) = seal(&key(&data_key)?, &aad, secret.expose_secret().as_bytes())?;
        let (wrapped_key, key_nonce) = seal(&self.master, &aad, &data_key)?;
        let mut all = self.sealed.lock().await;
        all.insert(
            id.clone(),
            Sealed {
                wrapped_key,
                key_nonce,
                ciphertext,
                nonce,
            },
        );
        self.write(&all)?;
        Ok(SecretRef { id, version: None })
    }

    async fn get_sealed(
        &self,
        tenant: &TenantId,
        purpose: &str,
        reference: &SecretRef,
    ) -> Result<SecretString, SecretError> {
        let sealed = self
            .sealed
            .lock()
            .await
            .get(&reference.id)
            .cloned()
            .ok_or(SecretError::NotFound)?;
        let aad = aad(tenant, purpose, &reference.id);
        let data_key = open(&self.master, &aad, &sealed.wrapped_key, &sealed.key_nonce)?;
        let plain = open(&key(&data_key)?, &aad, &sealed.ciphertext, &sealed.nonce)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| SecretError::Sealed)
    }

    /// Removes the record, once its data key opens under this tenant and purpose (a reference
    /// presented for another is refused, as a read is).
    async fn delete_sealed(
        &self,
        tenant: &TenantId,
        purpose: &str,
        reference: &SecretRef,
    ) -> Result<(), SecretError> {
        let mut all = self.sealed.lock().await;
        let Some(sealed) = all.get(&reference.id) else {
            return Ok(());
        };
        let aad = aad(tenant, purpose, &reference.id);
        open(&self.master, &aad, &sealed.wrapped_key, &sealed.key_nonce)?;
        all.remove(&reference.id);
        self.write(&all)
    }

    /// How many secrets the file holds.
    pub async fn len(&self) -> usize {
        self.sealed.lock().await.len()
    }

    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }
}

impl SecretStore for LocalSecretStore {
    fn put<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        secret: &'a SecretString,
    ) -> SecretFuture<'a, SecretRef> {
        Box::pin(self.put_sealed(tenant, purpose, secret))
    }

    fn get<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        reference: &'a SecretRef,
    ) -> SecretFuture<'a, SecretString> {
        Box::pin(self.get_sealed(tenant, purpose, reference))
    }

    fn delete<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        reference: &'a SecretRef,
    ) -> SecretFuture<'a, ()> {
        Box::pin(self.delete_sealed(tenant, purpose, reference))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    #[tokio::test]
    async fn round_trip_and_nothing_plain_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalSecretStore::open(dir.path(), None).unwrap();
        let secret = SecretString::from("whsec-very-secret-value".to_owned());
        let r = store
            .put(&tenant("acme"), "webhook:add-order", &secret)
            .await
            .unwrap();
        let back = store
            .get(&tenant("acme"), "webhook:add-order", &r)
            .await
            .unwrap();
        assert_eq!(back.expose_secret(), "whsec-very-secret-value");
        let file = std::fs::read_to_string(dir.path().join("secrets.json")).unwrap();
        assert!(!file.contains("very-secret"), "plaintext on disk: {file}");
        // Reopened from disk: still opens.
        let again = LocalSecretStore::open(dir.path(), None).unwrap();
        let back = again
            .get(&tenant("acme"), "webhook:add-order", &r)
            .await
            .unwrap();
        assert_eq!(back.expose_secret(), "whsec-very-secret-value");
    }

    #[tokio::test]
    async fn delete_removes_only_the_secret_of_its_tenant_and_purpose() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalSecretStore::open(dir.path(), None).unwrap();
        let secret = SecretString::from("s3cr3t".to_owned());
        let acme = tenant("acme");
        let r = store.put(&acme, "carrier:x", &secret).await.unwrap();
        let kept = store.put(&acme, "carrier:x", &secret).await.unwrap();
        assert!(matches!(
            store.delete(&tenant("other"), "carrier:x", &r).await,
            Err(SecretError::Sealed)
        ));
        assert!(matches!(
            store.delete(&acme, "carrier:y", &r).await,
            Err(SecretError::Sealed)
        ));
        assert_eq!(store.len().await, 2);
        store.delete(&acme, "carrier:x", &r).await.unwrap();
        store.delete(&acme, "carrier:x", &r).await.unwrap();
        assert!(matches!(
            store.get(&acme, "carrier:x", &r).await,
            Err(SecretError::NotFound)
        ));
        // On disk too, and the other secret still opens.
        let reopened = LocalSecretStore::open(dir.path(), None).unwrap();
        assert_eq!(reopened.len().await, 1);
        assert!(reopened.get(&acme, "carrier:x", &kept).await.is_ok());
    }

    #[tokio::test]
    async fn a_moved_reference_and_a_wrong_master_key_fail() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalSecretStore::open(dir.path(), None).unwrap();
        let secret = SecretString::from("s3cr3t".to_owned());
        let r = store
            .put(&tenant("acme"), "webhook:add-order", &secret)
            .await
            .unwrap();
        // Presented for another tenant, or another purpose: it does not open.
        assert!(matches!(
            store.get(&tenant("other"), "webhook:add-order", &r).await,
            Err(SecretError::Sealed)
        ));
        assert!(matches!(
            store
                .get(&tenant("acme"), "webhook:shipment-tracker", &r)
                .await,
            Err(SecretError::Sealed)
        ));
        // Another master key: nothing opens.
        let wrong = LocalSecretStore::open(dir.path(), Some(&[7u8; 32])).unwrap();
        assert!(matches!(
            wrong.get(&tenant("acme"), "webhook:add-order", &r).await,
            Err(SecretError::Sealed)
        ));
        // A record's ciphertext copied onto another record does not open there either.
        let r2 = store
            .put(&tenant("acme"), "webhook:add-order", &secret)
            .await
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join("secrets.json")).unwrap();
        let mut all: BTreeMap<String, Sealed> = serde_json::from_str(&text).unwrap();
        let first = all[&r.id].clone();
        all.insert(r2.id.clone(), first);
        std::fs::write(
            dir.path().join("secrets.json"),
            serde_json::to_vec(&all).unwrap(),
        )
        .unwrap();
        let reopened = LocalSecretStore::open(dir.path(), None).unwrap();
        assert!(matches!(
            reopened
                .get(&tenant("acme"), "webhook:add-order", &r2)
                .await,
            Err(SecretError::Sealed)
        ));
    }
}
