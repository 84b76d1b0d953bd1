//! Tenant API keys: how a tenant's own systems (an ERP, a storefront, a warehouse script) call
//! the API without a user's token. A key is `oms_{stage}_{id}_{secret}`: a prefix secret
//! scanners recognise, the key's id (so one read finds its record), and 256 random bits. Only a
//! hash of the whole text is kept; the text is shown once, when the key is created.
//!
//! A key acts with one role (and, for a vendor key, one vendor) within the tenant's plan, for
//! a window `[from, thru)` like carrier credentials; revoking it closes the window now.

use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::clock::Timestamp;
use crate::error::{DomainError, DomainResult};
use crate::ids::{ApiKeyId, Subject, TenantId, VendorId};

/// The longest key name.
pub const MAX_NAME: usize = 100;

/// Keys a tenant may hold at once (open or scheduled windows).
pub const MAX_KEYS: usize = 100;

/// Where a key works: the production stage's keys and every other stage's differ in prefix, so
/// a test key pasted into production (or leaked from a test system) is recognised at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStage {
    Live,
    Test,
}

impl KeyStage {
    /// The keys of a deployment stage: live for `prod`, test for every other (`dev`,
    /// `staging`, a developer's own).
    pub fn of_deployment(stage: &str) -> Self {
        if stage == "prod" {
            KeyStage::Live
        } else {
            KeyStage::Test
        }
    }

    /// The text every key of this stage starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            KeyStage::Live => "oms_live_",
            KeyStage::Test => "oms_test_",
        }
    }
}

/// A key as presented by a caller, split into its parts (nothing verified yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresentedKey {
    pub stage: KeyStage,
    pub id: ApiKeyId,
}

impl PresentedKey {
    /// The length of a key's text: prefix (9), id (26), `_`, secret (43: 32 bytes base64url).
    pub const LEN: usize = 9 + 26 + 1 + 43;

    /// Whether `text` looks like one of our keys at all (its prefix).
    pub fn is_key(text: &str) -> bool {
        text.starts_with("oms_")
    }

    /// The stage and id of a key's text, if it has the shape of one.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != Self::LEN || !text.is_ascii() {
            return None;
        }
        let stage = [KeyStage::Live, KeyStage::Test]
            .into_iter()
            .find(|s| text.starts_with(s.prefix()))?;
        let rest = &text[stage.prefix().len()..];
        let (id, secret) = rest.split_at_checked(26)?;
        let secret = secret.strip_prefix('_')?;
        if secret.len() != 43
            || !secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let id = ApiKeyId::parse(id).ok()?;
        Some(Self { stage, id })
    }
}

/// A key's record: everything but its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant: TenantId,
    pub name: String,
    pub stage: KeyStage,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<VendorId>,
    pub from: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thru: Option<Timestamp>,
    /// SHA-256 of the key's text, lower-case hex.
    pub hash: String,
    pub created_by: Subject,
    pub created_at: Timestamp,
}

impl ApiKey {
    /// Checks what a new key may be: a name, a tenant role (a vendor exactly for the vendor
    /// role), a window that ends after it starts.
    pub fn check(&self) -> DomainResult<()> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(DomainError::invalid(
                "name",
                format!("1 to {MAX_NAME} printable characters"),
            ));
        }
        if self.role == Role::PlatformAdmin {
            return Err(DomainError::invalid(
                "role",
                "a tenant's key cannot hold the platform-admin role",
            ));
        }
        if (self.role == Role::Vendor) != self.vendor.is_some() {
            return Err(DomainError::invalid(
                "vendor",
                "a vendor key names its vendor; other keys name none",
            ));
        }
        if let Some(thru) = self.thru
            && thru <= self.from
        {
            return Err(DomainError::invalid("thru", "must be after from"));
        }
        Ok(())
    }

    /// Whether the key works at `at`: within `[from, thru)`.
    pub fn in_force_at(&self, at: Timestamp) -> bool {
        self.from <= at && self.thru.is_none_or(|t| at < t)
    }

    /// What lists show of the key's text: its prefix and id, never the secret.
    pub fn shown_prefix(&self) -> String {
        format!("{}{}", self.stage.prefix(), self.id)
    }

    /// The key revoked at `at`: its window closed then (a scheduled key never starts; a key
    /// already closed earlier keeps its end).
    pub fn revoked_at(&self, at: Timestamp) -> Self {
        let thru = match self.thru {
            Some(t) if t <= at => t,
            _ => at.max(self.from),
        };
        Self {
            thru: Some(thru),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn text(stage: KeyStage, id: &str, secret: &str) -> String {
        format!("{}{id}_{secret}", stage.prefix())
    }

    fn key(from: i64, thru: Option<i64>) -> ApiKey {
        let t = |s: i64| Timestamp::from_unix_millis(s * 1_000).unwrap();
        ApiKey {
            id: ApiKeyId::parse("01HZZZZZZZZZZZZZZZZZZZZZZZ").unwrap(),
            tenant: TenantId::parse("acme").unwrap(),
            name: "ERP".into(),
            stage: KeyStage::Live,
            role: Role::Staff,
            vendor: None,
            from: t(from),
            thru: thru.map(t),
            hash: "00".into(),
            created_by: Subject::parse("admin").unwrap(),
            created_at: t(from),
        }
    }

    #[test]
    fn windows_and_revocation() {
        let t = |s: i64| Timestamp::from_unix_millis(s * 1_000).unwrap();
        let k = key(100, Some(200));
        assert!(!k.in_force_at(t(99)));
        assert!(k.in_force_at(t(100)));
        assert!(k.in_force_at(t(199)));
        assert!(!k.in_force_at(t(200)));
        // Revoked while in force: closes now; before it starts: never starts; after it ended:
        // keeps its end.
        assert_eq!(k.revoked_at(t(150)).thru, Some(t(150)));
        assert_eq!(k.revoked_at(t(50)).thru, Some(t(100)));
        assert!(!k.revoked_at(t(50)).in_force_at(t(100)));
        assert_eq!(k.revoked_at(t(300)).thru, Some(t(200)));
        assert_eq!(key(100, None).revoked_at(t(150)).thru, Some(t(150)));
    }

    #[test]
    fn what_a_key_may_be() {
        assert!(key(100, None).check().is_ok());
        let bad = [
            ApiKey {
                name: " ".into(),
                ..key(100, None)
            },
            ApiKey {
                name: "x".repeat(MAX_NAME + 1),
                ..key(100, None)
            },
            ApiKey {
                role: Role::PlatformAdmin,
                ..key(100, None)
            },
            ApiKey {
                role: Role::Vendor,
                ..key(100, None)
            },
            ApiKey {
                vendor: Some(VendorId::parse("v1").unwrap()),
                ..key(100, None)
            },
            key(100, Some(100)),
        ];
        for k in bad {
            assert!(k.check().is_err(), "{k:?}");
        }
        let vendor = ApiKey {
            role: Role::Vendor,
            vendor: Some(VendorId::parse("v1").unwrap()),
            ..key(100, None)
        };
        assert!(vendor.check().is_ok());
    }

    #[test]
    fn only_production_mints_live_keys() {
        assert_eq!(KeyStage::of_deployment("prod"), KeyStage::Live);
        for stage in ["dev", "staging", "prod2", "ana"] {
            assert_eq!(KeyStage::of_deployment(stage), KeyStage::Test, "{stage}");
        }
    }

    #[test]
    fn keys_parse_by_shape() {
        let id = "01HZZZZZZZZZZZZZZZZZZZZZZZ";
        let secret = "a".repeat(43);
        let k = PresentedKey::parse(&text(KeyStage::Live, id, &secret)).unwrap();
        assert_eq!((k.stage, k.id.to_string()), (KeyStage::Live, id.to_owned()));
        assert!(PresentedKey::parse(&text(KeyStage::Test, id, &secret)).is_some());
        for bad in [
            text(KeyStage::Live, id, &"a".repeat(42)),
            text(KeyStage::Live, id, &"a".repeat(44)),
            text(KeyStage::Live, "01HZZZZZZZZZZZZZZZZZZZZZZ!", &secret),
            text(KeyStage::Live, id, &format!("{}=", "a".repeat(42))),
            format!("oms_prod_{id}_{secret}"),
            String::new(),
        ] {
            assert_eq!(PresentedKey::parse(&bad), None, "{bad}");
        }
    }
}
