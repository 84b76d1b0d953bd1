//! Carrier credentials: each (owner, gateway, account) is a chain of immutable versions with
//! non-overlapping windows, and a head item whose revision every change of the chain moves on.
//! The owner is a tenant (its partitions, its audit) or the platform (SaaS partitions, the SaaS
//! audit).
//!
//! The rules hold in the store, not by a read-then-write race: a change is computed from the
//! chain as read at revision N and written in one transaction conditioned on the head still
//! being at N (and, when it closes a version, on that version still being open). So of 50
//! concurrent rotations exactly one commits; the others see a conflict and nothing of theirs
//! is written. There is no update path: a version item is written whole once, and closing its
//! window (`thru`) rewrites it from the stored version with `thru` set, nothing else.

use std::sync::Arc;

use app::ports::{Chain, ChainError, CredentialStore, Owner, RepoError, RepoResult};
use async_trait::async_trait;

use domain::Timestamp;
use domain::audit::AuditRecord;
use domain::gateway::CredentialVersion;
use domain::ids::{AccountId, CarrierCode};

use crate::item::{Item, Value};
use crate::keys;
use crate::port::{Condition, ItemStore, Query, SkRange, WriteAction};
use crate::schema;

use super::audit::TenantAuditRepository;
use super::registry::saas_audit_action;
use super::{from_json, to_json};

#[derive(Clone)]
pub struct CredentialRepository {
    store: Arc<dyn ItemStore>,
    /// Where each tenant change's audit record goes, in the change's transaction (none in a
    /// repository of the platform's credentials only).
    audit: Option<TenantAuditRepository>,
}

/// Where an owner's chains are.
fn partition(owner: Owner<'_>, gateway: &CarrierCode, account: &AccountId) -> String {
    match owner {
        Owner::Tenant(scope) => keys::carrier_credentials(scope.tenant(), gateway, account),
        Owner::Platform => keys::platform_carrier_credentials(gateway, account),
    }
}

fn version_item(owner: Owner<'_>, v: &CredentialVersion) -> RepoResult<Item> {
    let mut item = Item::with_key(&keys::carrier_credential(
        &partition(owner, &v.gateway, &v.account),
        v.from,
    ));
    item.set("data", to_json(v)?)
        .set("open", Value::Bool(v.thru.is_none()));
    Ok(item)
}

impl CredentialRepository {
    pub fn new(store: Arc<dyn ItemStore>, audit: TenantAuditRepository) -> Self {
        Self {
            store,
            audit: Some(audit),
        }
    }

    /// A repository of the platform's credentials only (a tenant's change is refused).
    pub fn platform(store: Arc<dyn ItemStore>) -> Self {
        Self { store, audit: None }
    }

    /// The head's write: from `chain.rev` to the next revision, conditioned on `chain.rev`.
    fn head(owner: Owner<'_>, v: &CredentialVersion, chain: &Chain) -> WriteAction {
        let mut head = Item::with_key(&keys::carrier_chain(&partition(
            owner, &v.gateway, &v.account,
        )));
        head.set(schema::VERSION, chain.rev + 1);
        let condition = if chain.rev == 0 {
            Condition::Absent
        } else {
            Condition::VersionEquals(chain.rev)
        };
        WriteAction::put_if(head, condition)
    }

    /// Writes the transaction (the change's audit record last); a failed condition means the
    /// chain changed (or the version to close was closed meanwhile).
    async fn commit(
        &self,
        owner: Owner<'_>,
        mut actions: Vec<WriteAction>,
        audit: &AuditRecord,
    ) -> Result<(), ChainError> {
        actions.push(match owner {
            Owner::Tenant(scope) => {
                let log = self.audit.as_ref().ok_or_else(|| {
                    RepoError::Corrupt(
                        "a platform credential repository took a tenant's change".into(),
                    )
                })?;
                log.put_action(scope, audit).await?
            }
            Owner::Platform => saas_audit_action(audit)?,
        });
        match self.store.transact_write(actions).await {
            Ok(()) => Ok(()),
            Err(crate::StoreError::Cancelled { index, .. }) if index <= 2 => {
                Err(ChainError::Changed)
            }
            Err(e) => Err(ChainError::Repo(RepoError::from(e))),
        }
    }

    /// The write that closes `version` at `at`, built from the stored version itself and
    /// conditioned on it still being open.
    fn closing(
        owner: Owner<'_>,
        chain: &Chain,
        version: &CredentialVersion,
        at: Timestamp,
    ) -> Result<WriteAction, ChainError> {
        let closed = chain.closed(owner, version, at)?;
        Ok(WriteAction::put_if(
            version_item(owner, &closed)?,
            Condition::AttributeEquals("open".into(), Value::Bool(true)),
        ))
    }
}

#[async_trait]
impl CredentialStore for CredentialRepository {
    async fn chain(
        &self,
        owner: Owner<'_>,
        gateway: &CarrierCode,
        account: &AccountId,
    ) -> RepoResult<Chain> {
        let pk = partition(owner, gateway, account);
        let mut q = Query::partition(pk, 1_000);
        let mut chain = Chain {
            versions: Vec::new(),
            rev: 0,
        };
        loop {
            let page = self.store.query(&q).await?;
            for item in &page.items {
                let key = item.key()?;
                if key.sk.starts_with(keys::CARRIER_VERSION_PREFIX) {
                    chain.versions.push(from_json(item.require_s("data")?)?);
                } else {
                    chain.rev = item.require_n(schema::VERSION)?;
                }
            }
            match page.next {
                Some(next) => q.start = Some(next),
                None => break,
            }
        }
        Ok(chain)
    }

    /// The owner's (gateway, account) pairs that have credentials.
    async fn accounts(&self, owner: Owner<'_>) -> RepoResult<Vec<(CarrierCode, AccountId)>> {
        let pk = match owner {
            Owner::Tenant(scope) => keys::carrier_accounts(scope.tenant()),
            Owner::Platform => keys::PLATFORM_CARRIER_ACCOUNTS.to_owned(),
        };
        let mut q = Query::partition(pk, 1_000);
        q.sk = SkRange::All;
        let page = self.store.query(&q).await?;
        page.items
            .iter()
            .map(|i| {
                let gateway = CarrierCode::parse(i.require_s("gateway")?)
                    .map_err(|e| RepoError::Corrupt(e.to_string()))?;
                let account = AccountId::parse(i.require_s("account")?)
                    .map_err(|e| RepoError::Corrupt(e.to_string()))?;
                Ok((gateway, account))
            })
            .collect()
    }

    async fn add(
        &self,
        owner: Owner<'_>,
        chain: &Chain,
        version: &CredentialVersion,
        audit: &AuditRecord,
    ) -> Result<(), ChainError> {
        chain.check_add(owner, version)?;
        let mut account = Item::with_key(&match owner {
            Owner::Tenant(scope) => {
                keys::carrier_account(scope.tenant(), &version.gateway, &version.account)
            }
            Owner::Platform => keys::platform_carrier_account(&version.gateway, &version.account),
        });
        account
            .set("gateway", version.gateway.as_str())
            .set("account", version.account.as_str());
        let actions = vec![
            Self::head(owner, version, chain),
            WriteAction::put_if(version_item(owner, version)?, Condition::Absent),
            WriteAction::put(account),
        ];
        self.commit(owner, actions, audit).await
    }

    /// Rotation: `next` (from T) is written and `previous` (the open version, as stored) gets
    /// `thru` = T, in one transaction conditioned on the chain and on `previous` still open.
    async fn rotate(
        &self,
        owner: Owner<'_>,
        chain: &Chain,
        previous: &CredentialVersion,
        next: &CredentialVersion,
        audit: &AuditRecord,
    ) -> Result<(), ChainError> {
        chain.check_rotate(owner, previous, next)?;
        let closed = Self::closing(owner, chain, previous, next.from)?;
        let actions = vec![
            Self::head(owner, next, chain),
            closed,
            WriteAction::put_if(version_item(owner, next)?, Condition::Absent),
        ];
        self.commit(owner, actions, audit).await
    }

    async fn expire(
        &self,
        owner: Owner<'_>,
        chain: &Chain,
        version: &CredentialVersion,
        at: Timestamp,
        audit: &AuditRecord,
    ) -> Result<(), ChainError> {
        let closed = Self::closing(owner, chain, version, at)?;
        let actions = vec![Self::head(owner, version, chain), closed];
        self.commit(owner, actions, audit).await
    }
}
