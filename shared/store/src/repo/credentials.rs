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

use app::ports::{Chain, ChainError, CredentialStore, RepoError, RepoResult};
use async_trait::async_trait;

use domain::Timestamp;
use domain::audit::AuditRecord;
use domain::gateway::CredentialVersion;
use domain::ids::{AccountId, CarrierCode};

use crate::TenantScope;
use crate::item::{Item, Value};
use crate::keys;
use crate::port::{Condition, ItemStore, Query, SkRange, WriteAction};
use crate::schema;

use super::audit::TenantAuditRepository;
use super::{from_json, to_json};

#[derive(Clone)]
pub struct CredentialRepository {
    store: Arc<dyn ItemStore>,
    /// Where each change's tenant audit record goes, in the change's transaction.
    audit: TenantAuditRepository,
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
    pub fn new(store: Arc<dyn ItemStore>, audit: TenantAuditRepository) -> Self {
        Self { store, audit }
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

    /// Writes the transaction (the change's tenant audit record last); a failed condition
    /// means the chain changed (or the version to close was closed meanwhile).
    async fn commit(
        &self,
        scope: &TenantScope,
        mut actions: Vec<WriteAction>,
        audit: &AuditRecord,
    ) -> Result<(), ChainError> {
        actions.push(self.audit.put_action(scope, audit).await?);
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
        scope: &TenantScope,
        chain: &Chain,
        version: &CredentialVersion,
        at: Timestamp,
    ) -> Result<WriteAction, ChainError> {
        let closed = chain.closed(scope, version, at)?;
        Ok(WriteAction::put_if(
            version_item(&closed)?,
            Condition::AttributeEquals("open".into(), Value::Bool(true)),
        ))
    }
}

#[async_trait]
impl CredentialStore for CredentialRepository {
    async fn chain(
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
    async fn accounts(&self, scope: &TenantScope) -> RepoResult<Vec<(CarrierCode, AccountId)>> {
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

    async fn add(
        &self,
        scope: &TenantScope,
        chain: &Chain,
        version: &CredentialVersion,
        audit: &AuditRecord,
    ) -> Result<(), ChainError> {
        chain.check_add(scope, version)?;
        let mut account = Item::with_key(&keys::carrier_account(
            scope.tenant(),
            &version.gateway,
            &version.account,
        ));
        account
            .set("gateway", version.gateway.as_str())
            .set("account", version.account.as_str());
        let actions = vec![
            Self::head(scope, version, chain),
            WriteAction::put_if(version_item(version)?, Condition::Absent),
            WriteAction::put(account),
        ];
        self.commit(scope, actions, audit).await
    }

    /// Rotation: `next` (from T) is written and `previous` (the open version, as stored) gets
    /// `thru` = T, in one transaction conditioned on the chain and on `previous` still open.
    async fn rotate(
        &self,
        scope: &TenantScope,
        chain: &Chain,
        previous: &CredentialVersion,
        next: &CredentialVersion,
        audit: &AuditRecord,
    ) -> Result<(), ChainError> {
        chain.check_rotate(scope, previous, next)?;
        let closed = Self::closing(scope, chain, previous, next.from)?;
        let actions = vec![
            Self::head(scope, next, chain),
            closed,
            WriteAction::put_if(version_item(next)?, Condition::Absent),
        ];
        self.commit(scope, actions, audit).await
    }

    async fn expire(
        &self,
        scope: &TenantScope,
        chain: &Chain,
        version: &CredentialVersion,
        at: Timestamp,
        audit: &AuditRecord,
    ) -> Result<(), ChainError> {
        let closed = Self::closing(scope, chain, version, at)?;
        let actions = vec![Self::head(scope, version, chain), closed];
        self.commit(scope, actions, audit).await
    }
}
