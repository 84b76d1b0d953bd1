//! The local development identity provider: an ES256 key pair generated once and kept in the data
//! directory, its JWKS document, registrations for tenants (a shared issuer: the `tenant` claim
//! picks the tenant) and for the platform admin, and token minting for `oms token`.
//! Refused outside dev mode.

use std::collections::BTreeMap;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use domain::access::Role;
use domain::ids::{Issuer, Subject, TenantId, VendorId};
use domain::tenant::{
    AudienceClaim, ClaimMapping, IdpKeys, IdpRegistration, PemKey, TokenAlgorithm,
};
use jsonwebtoken::{EncodingKey, Header};
use sha2::{Digest, Sha256};

use crate::verifier::DEV_ISSUER;

/// The dev issuer for platform-admin tokens.
pub const DEV_PLATFORM_ISSUER: &str = "https://dev-idp.tenantoms.localhost/platform";
/// The audience dev tokens carry.
pub const DEV_AUDIENCE: &str = "tenantoms-dev";

/// SubjectPublicKeyInfo header of an uncompressed P-256 public key.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum DevIdpError {
    #[error("dev IdP key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("cannot sign a token: {0}")]
    Sign(String),
}

pub struct DevIdp {
    pkcs8: Vec<u8>,
    /// Uncompressed public point: 0x04 ‖ X ‖ Y.
    public: Vec<u8>,
    kid: String,
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DevIdp(kid {})", self.kid)
    }
}

impl DevIdp {
    /// The key in `dir/dev-idp.pk8`, generated (mode 0600) on first use.
    pub fn load_or_generate(dir: &Path) -> Result<Self, DevIdpError> {
        let path = dir.join("dev-idp.pk8");
        let err = |reason: String| DevIdpError::Key {
            path: path.display().to_string(),
            reason,
        };
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = EcdsaKeyPair::generate_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &SystemRandom::new(),
                )
                .map_err(|e| err(e.to_string()))?;
                std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut file = opts.open(&path).map_err(|e| err(e.to_string()))?;
                std::io::Write::write_all(&mut file, doc.as_ref())
                    .map_err(|e| err(e.to_string()))?;
                file.sync_all().map_err(|e| err(e.to_string()))?;
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(err(e.to_string())),
        };
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .map_err(|e| err(e.to_string()))?;
        let public = pair.public_key().as_ref().to_vec();
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&public)[..12]);
        Ok(Self { pkcs8, public, kid })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as PEM (SubjectPublicKeyInfo).
    pub fn public_pem(&self) -> String {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.public);
        let b64 = STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    /// The JWKS document served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        let (x, y) = self.public[1..].split_at(32);
        serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }]})
    }

    fn keys(&self) -> IdpKeys {
        IdpKeys::Pem {
            keys: vec![PemKey {
                kid: Some(self.kid.clone()),
                algorithm: TokenAlgorithm::ES256,
                pem: self.public_pem(),
            }],
        }
    }

    /// The registration every dev tenant gets: the shared dev issuer, tenant claim `tenant`.
    pub fn registration(&self) -> Result<IdpRegistration, DevIdpError> {
        let role_map: BTreeMap<String, Role> =
            [Role::TenantAdmin, Role::Staff, Role::Vendor, Role::ReadOnly]
                .iter()
                .map(|r| (r.as_str().to_owned(), *r))
                .collect();
        Ok(IdpRegistration {
            issuer: Issuer::parse(DEV_ISSUER).map_err(|e| DevIdpError::Sign(e.to_string()))?,
            shared: true,
            tenant_claim: Some("tenant".into()),
            tenant_claim_value: None,
            audience_claim: AudienceClaim::Aud,
            audiences: vec![DEV_AUDIENCE.into()],
            algorithms: vec![TokenAlgorithm::ES256],
            keys: self.keys(),
            claims: ClaimMapping {
                subject: "sub".into(),
                roles: "roles".into(),
                vendor: Some("vendor_id".into()),
                email: Some("email".into()),
            },
            role_map,
        })
    }

    /// The registration of the dev platform issuer (deployment config in dev mode).
    pub fn platform_registration(&self) -> Result<IdpRegistration, DevIdpError> {
        let mut reg = self.registration()?;
        reg.issuer =
            Issuer::parse(DEV_PLATFORM_ISSUER).map_err(|e| DevIdpError::Sign(e.to_string()))?;
        reg.shared = false;
        reg.tenant_claim = None;
        reg.role_map =
            BTreeMap::from([(Role::PlatformAdmin.as_str().to_owned(), Role::PlatformAdmin)]);
        Ok(reg)
    }

    /// Signs any claims with the dev key (tests that need another issuer than the dev one).
    pub fn sign_claims(&self, claims: &serde_json::Value) -> Result<String, DevIdpError> {
        self.sign(claims)
    }

    fn sign(&self, claims: &serde_json::Value) -> Result<String, DevIdpError> {
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.pkcs8))
            .map_err(|e| DevIdpError::Sign(e.to_string()))
    }

    /// A token for a user of `tenant`, valid for `ttl_secs` from `now` (epoch seconds).
    pub fn mint(
        &self,
        tenant: &TenantId,
        role: Role,
        vendor: Option<&VendorId>,
        subject: Option<&Subject>,
        now: i64,
        ttl_secs: i64,
    ) -> Result<String, DevIdpError> {
        let sub = subject.map_or_else(
            || match vendor {
                Some(v) => format!("dev-{}-{v}", role.as_str()),
                None => format!("dev-{}", role.as_str()),
            },
            |s| s.to_string(),
        );
        let mut claims = serde_json::json!({
            "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": sub, "tenant": tenant.as_str(),
            "roles": [role.as_str()], "email": format!("{sub}@dev.tenantoms.localhost"),
            "iat": now, "nbf": now, "exp": now + ttl_secs,
        });
        if let Some(v) = vendor {
            claims["vendor_id"] = serde_json::Value::String(v.to_string());
        }
        self.sign(&claims)
    }

    /// A platform-admin token.
    pub fn mint_platform(
        &self,
        subject: &str,
        now: i64,
        ttl_secs: i64,
    ) -> Result<String, DevIdpError> {
        self.sign(&serde_json::json!({
            "iss": DEV_PLATFORM_ISSUER, "aud": DEV_AUDIENCE, "sub": subject,
            "roles": [Role::PlatformAdmin.as_str()], "iat": now, "nbf": now, "exp": now + ttl_secs,
        }))
    }
}
