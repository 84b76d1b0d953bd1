//! Carrier credentials: each (tenant, gateway, account) is a chain of immutable versions with
//! non-overlapping windows, and a head item whose revision every change of the chain moves on.
//!
//! The rules hold in the store, not by a read-then-write race: a change is computed from the
//! chain as read at revision N and written in one transaction conditioned on the head still
//! being at N (and, when it closes a version, on that version still being open). So of 50
//! concurrent rotations exactly one commits; the others see a conflict and nothing of theirs
//! is written. There is no update path: a version item is written whole once, and closing its
//! window (`thru`) rewrites it from the stored version with `thru` set, nothing else.

use std::sync::Arc;

use domain::Timestamp;
use domain::audit::AuditRecord;
use domain::gateway::{
    CredentialVersion, GatewayConfig, check_no_overlap, check_window, open_version,
};
use domain::ids::{AccountId, CarrierCode, CredentialId};

use crate::TenantScope;
use crate::item::{Item, Value};
use crate::keys;
use crate::port::{Condition, ItemStore, Query, SkRange, WriteAction};
use crate::schema;

use super::registry::saas_audit_action;
use super::{RepoError, RepoResult, from_json, to_json};

/// One account's versions, oldest first, and the revision they were read at (0: no chain yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub versions: Vec<CredentialVersion>,
    pub rev: i64,
}

impl Chain {
    pub fn find(&self, id: CredentialId) -> Option<&CredentialVersion> {
        self.versions.iter().find(|v| v.id == id)
    }
}

/// Why a chain change was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The chain changed since it was read (another change won): read it again.
    #[error("the credentials changed meanwhile")]
    Changed,
    /// The version to close is already closed.
    #[error("the version's window is already closed")]
    AlreadyClosed,
    /// The change breaks a window rule (overlap, a window that ends before it starts).
    #[error(transparent)]
    Invalid(#[from] domain::DomainError),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

#[derive(Clone)]
pub struct CredentialRepository {
    store: Arc<dyn ItemStore>,
}

fn version_item(v: &CredentialVersion) -> RepoResult<Item> {
    let mut item = Item::with_key(&keys::carrier_credential(
        &v.tenant, &v.gateway, &v.account, v.from,
    ));
    item.set("data", to_json(v)?)
        .set("open", Value::Bool(v.thru.is_none()));
    Ok(item)
}

impl CredentialRepository {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    /// The chain of one account, with its revision.
    pub async fn chain(
        &self,
        scope: &TenantScope,
        gateway: &CarrierCode,
        account: &AccountId,
    ) -> RepoResult<Chain> {
        let pk = keys::carrier_credentials(scope.tenant(), gateway, account);
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

    /// The tenant's (gateway, account) pairs that have credentials.
    pub async fn accounts(&self, scope: &TenantScope) -> RepoResult<Vec<(CarrierCode, AccountId)>> {
        let mut q = Query::partition(keys::carrier_accounts(scope.tenant()), 1_000);
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

    /// The head's write: from `chain.rev` to the next revision, conditioned on `chain.rev`.
    fn head(scope: &TenantScope, v: &CredentialVersion, chain: &Chain) -> WriteAction {
        let mut head = Item::with_key(&keys::carrier_chain(scope.tenant(), &v.gateway, &v.account));
        head.set(schema::VERSION, chain.rev + 1);
        let condition = if chain.rev == 0 {
            Condition::Absent
        } else {
            Condition::VersionEquals(chain.rev)
        };
        WriteAction::put_if(head, condition)
    }

    fn check_tenant(scope: &TenantScope, v: &CredentialVersion) -> RepoResult<()> {
        if &v.tenant != scope.tenant() {
            return Err(RepoError::WrongTenant);
        }
        Ok(())
    }

    /// Writes the transaction; a failed condition means the chain changed (or `closing` was
    /// closed meanwhile).
    async fn commit(&self, actions: Vec<WriteAction>) -> Result<(), ChainError> {
        match self.store.transact_write(actions).await {
            Ok(()) => Ok(()),
            Err(crate::StoreError::Cancelled { index, .. }) if index <= 2 => {
                Err(ChainError::Changed)
            }
            Err(e) => Err(ChainError::Repo(RepoError::from(e))),
        }
    }

    /// Why [`CredentialRepository::add`] would refuse `version` on `chain` as read, if it
    /// would (a caller checks before it does anything that must be undone on a refusal).
    pub fn check_add(
        scope: &TenantScope,
        chain: &Chain,
        version: &CredentialVersion,
    ) -> Result<(), ChainError> {
        Self::check_tenant(scope, version)?;
        check_no_overlap(&chain.versions, version.from, version.thru)?;
        Ok(())
    }

    /// Adds `version` to the chain read as `chain` — now or scheduled, its window may meet
    /// no other — with `audit` in the same transaction.
    pub async fn add(
        &self,
        scope: &TenantScope,
        chain: &Chain,
        version: &CredentialVersion,
        audit: WriteAction,
    ) -> Result<(), ChainError> {
        Self::check_add(scope, chain, version)?;
        let mut account = Item::with_key(&keys::carrier_account(
            scope.tenant(),
            &version.gateway,
            &version.account,
        ));
        account
            .set("gateway", version.gateway.as_str())
            .set("account", version.account.as_str());
        self.commit(vec![
            Self::head(scope, version, chain),
            WriteAction::put_if(version_item(version)?, Condition::Absent),
            WriteAction::put(account),
            audit,
        ])
        .await
    }

    /// Why [`CredentialRepository::rotate`] would refuse to rotate `previous` to `next` on
    /// `chain` as read, if it would.
    pub fn check_rotate(
        scope: &TenantScope,
        chain: &Chain,
        previous: &CredentialVersion,
        next: &CredentialVersion,
    ) -> Result<(), ChainError> {
        Self::check_tenant(scope, next)?;
        if open_version(&chain.versions).map(|v| v.id) != Some(previous.id) {
            return Err(ChainError::Changed);
        }
        Self::closing(scope, chain, previous, next.from)?;
        // The previous version closes at T, so the new one may meet no other from T on.
        let others: Vec<CredentialVersion> = chain
            .versions
            .iter()
            .filter(|v| v.id != previous.id)
            .cloned()
            .collect();
        check_no_overlap(&others, next.from, next.thru)?;
        Ok(())
    }

    /// Rotation: `next` (from T) is written and `previous` (the open version, as stored) gets
    /// `thru` = T, in one transaction conditioned on the chain and on `previous` still open.
    pub async fn rotate(
        &self,
        scope: &TenantScope,
        chain: &Chain,
        previous: &CredentialVersion,
        next: &CredentialVersion,
        audit: WriteAction,
    ) -> Result<(), ChainError> {
        Self::check_rotate(scope, chain, previous, next)?;
        let closed = Self::closing(scope, chain, previous, next.from)?;
        self.commit(vec![
            Self::head(scope, next, chain),
            closed,
            WriteAction::put_if(version_item(next)?, Condition::Absent),
            audit,
        ])
        .await
    }

    /// Closes `version` (as stored) at `at`: the only change a version ever gets, and once.
    pub async fn expire(
        &self,
        scope: &TenantScope,
        chain: &Chain,
        version: &CredentialVersion,
        at: Timestamp,
        audit: WriteAction,
    ) -> Result<(), ChainError> {
        let closed = Self::closing(scope, chain, version, at)?;
        self.commit(vec![Self::head(scope, version, chain), closed, audit])
            .await
    }

    /// The write that closes `version` at `at`, built from the stored version itself.
    fn closing(
        scope: &TenantScope,
        chain: &Chain,
        version: &CredentialVersion,
        at: Timestamp,
    ) -> Result<WriteAction, ChainError> {
        Self::check_tenant(scope, version)?;
        let stored = chain.find(version.id).ok_or(ChainError::Changed)?.clone();
        if stored.thru.is_some() {
            return Err(ChainError::AlreadyClosed);
        }
        check_window(stored.from, Some(at))?;
        let mut closed = stored;
        closed.thru = Some(at);
        Ok(WriteAction::put_if(
            version_item(&closed)?,
            Condition::AttributeEquals("open".into(), Value::Bool(true)),
        ))
    }

    // ----- the gateway catalogue (platform level) -----

    /// Creates or replaces a gateway of the catalogue, with the SaaS audit record.
    pub async fn put_gateway(
        &self,
        gateway: &GatewayConfig,
        audit: &AuditRecord,
    ) -> RepoResult<()> {
        let mut item = Item::with_key(&keys::gateway(&gateway.id));
        item.set("data", to_json(gateway)?);
        self.store
            .transact_write(vec![WriteAction::put(item), saas_audit_action(audit)?])
            .await
            .map_err(RepoError::from)
    }

    pub async fn gateway(&self, id: &CarrierCode) -> RepoResult<Option<GatewayConfig>> {
        match self.store.get(&keys::gateway(id)).await? {
            Some(item) => from_json(item.require_s("data")?).map(Some),
            None => Ok(None),
        }
    }

    pub async fn gateways(&self) -> RepoResult<Vec<GatewayConfig>> {
        let page = self
            .store
            .query(&Query::partition(keys::GATEWAYS, 1_000))
            .await?;
        page.items
            .iter()
            .map(|i| from_json(i.require_s("data")?))
            .collect()
    }
}
