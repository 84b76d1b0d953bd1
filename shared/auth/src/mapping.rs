//! Claim mapping: JMESPath expressions compiled once per IdP registration, read from verified
//! claims.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use domain::access::Role;
use domain::ids::{Subject, VendorId};
use domain::tenant::ClaimMapping;

use crate::error::{AuthError, AuthResult};

/// A compiled JMESPath expression.
#[derive(Clone)]
pub struct Expr(Arc<jmespath::Expression<'static>>);

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({})", self.0.as_str())
    }
}

impl Expr {
    pub fn compile(field: &'static str, expr: &str) -> Result<Self, String> {
        jmespath::compile(expr)
            .map(|e| Expr(Arc::new(e)))
            .map_err(|e| format!("{field}: invalid JMESPath {expr:?}: {e}"))
    }

    fn search(&self, claims: &jmespath::Rcvar) -> Option<jmespath::Rcvar> {
        self.0.search(claims).ok().filter(|v| !v.is_null())
    }

    /// The expression's value as a string, if it is one.
    pub fn string(&self, claims: &jmespath::Rcvar) -> Option<String> {
        self.search(claims).and_then(|v| v.as_string().cloned())
    }

    /// A list of strings, or a space-separated string (an OAuth `scope`) split into one.
    pub fn strings(&self, claims: &jmespath::Rcvar) -> Vec<String> {
        let Some(v) = self.search(claims) else {
            return Vec::new();
        };
        if let Some(s) = v.as_string() {
            return s.split_whitespace().map(str::to_owned).collect();
        }
        v.as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_string().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Converts verified claims for searching (once per token).
pub fn claims_var(claims: &serde_json::Value) -> AuthResult<jmespath::Rcvar> {
    jmespath::Variable::try_from(claims)
        .map(jmespath::Rcvar::new)
        .map_err(|e| AuthError::Malformed(e.to_string()))
}

/// A registration's claim mapping, compiled.
#[derive(Debug, Clone)]
pub struct CompiledMapping {
    subject: Expr,
    roles: Expr,
    vendor: Option<Expr>,
    email: Option<Expr>,
    role_map: BTreeMap<String, Role>,
}

/// What the claims say about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedClaims {
    pub subject: Subject,
    pub roles: BTreeSet<Role>,
    pub vendor: Option<VendorId>,
    pub email: Option<String>,
}

impl CompiledMapping {
    pub fn compile(
        mapping: &ClaimMapping,
        role_map: &BTreeMap<String, Role>,
    ) -> Result<Self, String> {
        Ok(Self {
            subject: Expr::compile("claims.subject", &mapping.subject)?,
            roles: Expr::compile("claims.roles", &mapping.roles)?,
            vendor: mapping
                .vendor
                .as_deref()
                .map(|e| Expr::compile("claims.vendor", e))
                .transpose()?,
            email: mapping
                .email
                .as_deref()
                .map(|e| Expr::compile("claims.email", e))
                .transpose()?,
            role_map: role_map.clone(),
        })
    }

    pub fn map(&self, claims: &jmespath::Rcvar) -> AuthResult<MappedClaims> {
        let subject = self
            .subject
            .string(claims)
            .and_then(|s| Subject::parse(&s).ok())
            .ok_or(AuthError::Claim("subject"))?;
        let roles = self
            .roles
            .strings(claims)
            .iter()
            .filter_map(|name| self.role_map.get(name).copied())
            .collect();
        let vendor = match self.vendor.as_ref().and_then(|e| e.string(claims)) {
            Some(v) => Some(VendorId::parse(&v).map_err(|_| AuthError::Claim("vendor"))?),
            None => None,
        };
        let email = self.email.as_ref().and_then(|e| e.string(claims));
        Ok(MappedClaims {
            subject,
            roles,
            vendor,
            email,
        })
    }
}
