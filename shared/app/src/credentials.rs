//! Carrier credentials (the UniShip model), a tenant's and the platform's alike: versions with
//! validity windows, added, rotated and expired — never edited — and their secrets kept in the
//! secret store, write-only. [`Book`] makes every change, for either owner; the tenant's use
//! cases are here, the platform's in `platform`. Which account a carrier call uses (the tenant's
//! own, or a platform account offered to its plan) is decided here too.
//!
//! Each version's secret fields are one secret (JSON of the fields), stored under the purpose
//! `carrier:{gateway}:{account}:{version id}`: the secret store binds owner and purpose into
//! the encryption, so a ciphertext moved to another record does not open. The version keeps
//! the reference and a fingerprint; no read, log or error ever carries a secret.
//!
//! A change is checked whole first — catalogue, URLs under the outbound policy, window, overlap
//! with the chain as read — and only then is its secret stored; when the change then does not
//! land (a concurrent change won, the store refused it), the secret is deleted in the same call,
//! so no refused change leaves a secret behind.

use domain::Timestamp;
use domain::access::Operation;
use domain::audit::AuditRecord;
use domain::gateway::{
    AccountRef, CredentialVersion, GatewayConfig, GatewayMode, effective_at, fingerprint,
};
use domain::ids::{AccountId, CarrierCode, CredentialId};
use domain::webhook::SecretRef;
use secrecy::ExposeSecret;

use crate::context::RequestCtx;
use crate::engine::App;
use crate::error::{AppError, AppResult};
pub use crate::ports::carrier::{CredentialSecrets, EffectiveCredentials};
use crate::ports::{ChainError, CredentialStore, GatewayCatalogue, Owner};
use auth::Identity;
use domain::ids::Subject;
use domain::outbound::OutboundPolicy;
use domain::ports::SecretStore;

/// A new version's fields (add, or rotate: then `from` is the rotation time).
#[derive(Debug, Clone)]
pub struct NewCredentials {
    pub gateway: CarrierCode,
    pub account: AccountId,
    pub mode: GatewayMode,
    /// Defaults to the catalogue's URL for the mode.
    pub base_url: Option<String>,
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub token_url: Option<String>,
    /// The tenant's account number at the carrier (required for FedEx).
    pub account_number: Option<String>,
    /// The client id of a separate tracking key pair (its secret: `track_client_secret`).
    pub track_client_id: Option<String>,
    pub description: Option<String>,
    /// Defaults to now.
    pub from: Option<Timestamp>,
    pub thru: Option<Timestamp>,
    pub secrets: CredentialSecrets,
}

fn chain_error(e: ChainError) -> AppError {
    match e {
        ChainError::Changed => {
            AppError::Conflict("the credentials changed meanwhile; retry".into())
        }
        ChainError::AlreadyClosed => AppError::Invalid {
            field: "id".into(),
            message: "the version is already expired".into(),
        },
        ChainError::Invalid(d) => AppError::from(d),
        ChainError::Repo(r) => AppError::from(r),
    }
}

/// What a carrier call is for: new business (a quote, a purchase) needs a platform account
/// still offered to the tenant's plan; a follow-up of a purchase (its lookup, its void,
/// tracking) uses the account that bought the label, offered or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierUse {
    NewBusiness,
    FollowUp,
}

fn not_effective(message: String) -> AppError {
    AppError::Carrier {
        code: "connection_not_effective",
        message,
    }
}

/// The secret-store purpose of a version's secrets.
pub fn secret_purpose(gateway: &CarrierCode, account: &AccountId, id: CredentialId) -> String {
    format!("carrier:{gateway}:{account}:{id}")
}

impl App {
    /// Every version of the tenant's credentials (of one gateway, if given), oldest first per
    /// account, with fingerprints only.
    pub async fn carrier_credentials(
        &self,
        rc: &RequestCtx,
        gateway: Option<&CarrierCode>,
    ) -> AppResult<Vec<CredentialVersion>> {
        let op = Operation::ListCarrierCredentials;
        let identity = self.enter(rc, op).await?;
        Ok(versions(
            self.credentials.as_ref(),
            Owner::Tenant(identity.scope()),
            gateway,
        )
        .await?)
    }

    /// Adds a version — effective now, or scheduled — whose window meets no other.
    pub async fn add_carrier_credentials(
        &self,
        rc: &RequestCtx,
        new: NewCredentials,
    ) -> AppResult<CredentialVersion> {
        let op = Operation::RegisterCarrierCredential;
        let identity = self.enter(rc, op).await?.clone();
        let audit = |op, v: &CredentialVersion| self.credential_audit(rc, op, v);
        let author = self.author(&identity, &audit);
        self.book()?.add(&author, new).await
    }

    /// Rotation: the new version starts at `from` (default now) and the open one ends there, in
    /// one transaction; a concurrent change of the same account makes this one fail whole.
    pub async fn rotate_carrier_credentials(
        &self,
        rc: &RequestCtx,
        new: NewCredentials,
    ) -> AppResult<CredentialVersion> {
        let op = Operation::RotateCarrierCredential;
        let identity = self.enter(rc, op).await?.clone();
        let audit = |op, v: &CredentialVersion| self.credential_audit(rc, op, v);
        let author = self.author(&identity, &audit);
        self.book()?.rotate(&author, new).await
    }

    /// Ends a version's window at `at` (default now): the one change a version ever gets.
    pub async fn expire_carrier_credentials(
        &self,
        rc: &RequestCtx,
        gateway: &CarrierCode,
        account: &AccountId,
        id: CredentialId,
        at: Option<Timestamp>,
    ) -> AppResult<CredentialVersion> {
        let op = Operation::ExpireCarrierCredential;
        let identity = self.enter(rc, op).await?.clone();
        let audit = |op, v: &CredentialVersion| self.credential_audit(rc, op, v);
        let author = self.author(&identity, &audit);
        self.book()?.expire(&author, gateway, account, id, at).await
    }

    /// The tenant's carrier usage of platform accounts with `from ≤ at < to`, oldest first:
    /// every label bought through one, and every void of one as its reversal.
    pub async fn carrier_usage(
        &self,
        rc: &RequestCtx,
        from: Timestamp,
        to: Timestamp,
    ) -> AppResult<Vec<domain::usage::CarrierUsage>> {
        let identity = self.enter(rc, Operation::ReadCarrierUsage).await?;
        Ok(self.usage.usage(identity.tenant(), from, to).await?)
    }

    fn book(&self) -> AppResult<Book<'_>> {
        Ok(Book {
            credentials: self.credentials.as_ref(),
            catalogue: self.catalogue.as_ref(),
            secrets: self.secrets()?.as_ref(),
            outbound: &self.outbound,
            now: self.now(),
            id: CredentialId::from_ulid(self.next_id()?),
        })
    }

    fn author<'a>(&self, identity: &'a Identity, audit: &'a AuditFn<'a>) -> Author<'a> {
        Author {
            owner: Owner::Tenant(identity.scope()),
            subject: identity.subject().clone(),
            audit,
        }
    }

    /// The version in force at `at` for a carrier call, with its secrets: of the tenant's own
    /// account, or of a platform account — for new business only when the catalogue offers it
    /// to the tenant's plan. Refused with `connection_not_effective` when none is in force (or
    /// offered).
    pub async fn effective_credentials(
        &self,
        rc: &RequestCtx,
        op: Operation,
        gateway: &CarrierCode,
        account: &AccountRef,
        at: Timestamp,
        use_: CarrierUse,
    ) -> AppResult<EffectiveCredentials> {
        let identity = rc.identity(op)?;
        let config = self.gateway_config(gateway).await?;
        let owner = match account {
            AccountRef::Own(_) => Owner::Tenant(identity.scope()),
            AccountRef::Platform(_) if use_ == CarrierUse::FollowUp => Owner::Platform,
            AccountRef::Platform(a) if config.offered(a, &identity.plan().name) => Owner::Platform,
            AccountRef::Platform(_) => {
                return Err(not_effective(format!(
                    "{gateway}/{account} is not offered to the tenant's plan"
                )));
            }
        };
        let a = account.account();
        let chain = self.credentials.chain(owner, gateway, a).await?;
        let version = effective_at(&chain.versions, at).cloned().ok_or_else(|| {
            not_effective(format!(
                "no credentials of {gateway}/{account} are in force at {at}"
            ))
        })?;
        let secret = self
            .secrets()?
            .get(
                &owner.id(),
                &secret_purpose(gateway, a, version.id),
                &version.secret,
            )
            .await
            .map_err(|e| AppError::internal(&format!("credential secrets: {e}")))?;
        Ok(EffectiveCredentials {
            gateway: config,
            version,
            secrets: CredentialSecrets::open(&secret)?,
        })
    }

    /// The account a carrier call uses when the request names none: the tenant's own account
    /// of `gateway` in force now, else the platform account offered to its plan; when there are
    /// several, the request must name one.
    pub(crate) async fn default_account(
        &self,
        rc: &RequestCtx,
        op: Operation,
        gateway: &CarrierCode,
    ) -> AppResult<AccountRef> {
        let identity = rc.identity(op)?;
        let now = self.now();
        let mut own = Vec::new();
        for (g, account) in self
            .credentials
            .accounts(Owner::Tenant(identity.scope()))
            .await?
        {
            if &g != gateway {
                continue;
            }
            let chain = self
                .credentials
                .chain(Owner::Tenant(identity.scope()), &g, &account)
                .await?;
            if effective_at(&chain.versions, now).is_some() {
                own.push(AccountRef::Own(account));
            }
        }
        let candidates = if own.is_empty() {
            let config = self.gateway_config(gateway).await?;
            config
                .offers_to(&identity.plan().name)
                .map(|a| AccountRef::Platform(a.clone()))
                .collect()
        } else {
            own
        };
        match candidates.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(not_effective(format!(
                "no account of {gateway} is in force for the tenant, and none of the platform's is offered to its plan"
            ))),
            several => Err(AppError::Invalid {
                field: "account".into(),
                message: format!(
                    "name an account: {}",
                    several
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    async fn gateway_config(&self, gateway: &CarrierCode) -> AppResult<GatewayConfig> {
        self.catalogue
            .gateway(gateway)
            .await?
            .ok_or_else(|| AppError::Invalid {
                field: "gateway".into(),
                message: format!("no gateway {gateway} in the catalogue"),
            })
    }

    fn credential_audit(
        &self,
        rc: &RequestCtx,
        op: Operation,
        version: &CredentialVersion,
    ) -> AppResult<AuditRecord> {
        let identity = rc.identity(op)?;
        self.audit(
            rc,
            identity,
            op,
            (
                "carrierCredential",
                format!("{}/{}/{}", version.gateway, version.account, version.id),
            ),
            None,
            self.now(),
        )
    }
}

/// Every version of `owner`'s credentials (of one gateway, if given), oldest first per account.
pub(crate) async fn versions(
    credentials: &dyn CredentialStore,
    owner: Owner<'_>,
    gateway: Option<&CarrierCode>,
) -> crate::ports::RepoResult<Vec<CredentialVersion>> {
    let mut out = Vec::new();
    for (g, account) in credentials.accounts(owner).await? {
        if gateway.is_none_or(|want| want == &g) {
            out.extend(credentials.chain(owner, &g, &account).await?.versions);
        }
    }
    Ok(out)
}

/// How a change of a chain is audited (the owner's audit record for the operation and version).
pub(crate) type AuditFn<'a> =
    dyn Fn(Operation, &CredentialVersion) -> AppResult<AuditRecord> + Send + Sync + 'a;

/// Who changes a chain: its owner, the subject a new version names as its creator, and how the
/// change is audited.
pub(crate) struct Author<'a> {
    pub owner: Owner<'a>,
    pub subject: Subject,
    pub audit: &'a AuditFn<'a>,
}

/// What a change of credentials needs, the same for a tenant's chains and the platform's.
pub(crate) struct Book<'a> {
    pub credentials: &'a dyn CredentialStore,
    pub catalogue: &'a dyn GatewayCatalogue,
    pub secrets: &'a dyn SecretStore,
    pub outbound: &'a OutboundPolicy,
    pub now: Timestamp,
    /// The id a new version gets.
    pub id: CredentialId,
}

impl Book<'_> {
    /// Adds a version whose window meets no other.
    pub(crate) async fn add(
        &self,
        author: &Author<'_>,
        new: NewCredentials,
    ) -> AppResult<CredentialVersion> {
        let chain = self
            .credentials
            .chain(author.owner, &new.gateway, &new.account)
            .await?;
        let draft = self.draft_version(author, &new).await?;
        chain.check_add(author.owner, &draft).map_err(chain_error)?;
        let audit = (author.audit)(Operation::RegisterCarrierCredential, &draft)?;
        let version = self.store_secret(author, draft, &new.secrets).await?;
        let committed = self
            .credentials
            .add(author.owner, &chain, &version, &audit)
            .await;
        self.landed_or_forgotten(author, &version, committed)
            .await?;
        Ok(version)
    }

    /// Writes the new version from its `from` and closes the open one there, at once.
    pub(crate) async fn rotate(
        &self,
        author: &Author<'_>,
        new: NewCredentials,
    ) -> AppResult<CredentialVersion> {
        let chain = self
            .credentials
            .chain(author.owner, &new.gateway, &new.account)
            .await?;
        let previous = domain::gateway::open_version(&chain.versions)
            .cloned()
            .ok_or_else(|| AppError::Invalid {
                field: "account".into(),
                message: "no open version to rotate; add one".into(),
            })?;
        let draft = self.draft_version(author, &new).await?;
        chain
            .check_rotate(author.owner, &previous, &draft)
            .map_err(chain_error)?;
        let audit = (author.audit)(Operation::RotateCarrierCredential, &draft)?;
        let version = self.store_secret(author, draft, &new.secrets).await?;
        let committed = self
            .credentials
            .rotate(author.owner, &chain, &previous, &version, &audit)
            .await;
        self.landed_or_forgotten(author, &version, committed)
            .await?;
        Ok(version)
    }

    /// Ends a version's window at `at` (default now), once.
    pub(crate) async fn expire(
        &self,
        author: &Author<'_>,
        gateway: &CarrierCode,
        account: &AccountId,
        id: CredentialId,
        at: Option<Timestamp>,
    ) -> AppResult<CredentialVersion> {
        let chain = self
            .credentials
            .chain(author.owner, gateway, account)
            .await?;
        let version = chain.find(id).cloned().ok_or(AppError::NotFound {
            what: "carrier credential",
        })?;
        let at = at.unwrap_or(self.now);
        let audit = (author.audit)(Operation::ExpireCarrierCredential, &version)?;
        self.credentials
            .expire(author.owner, &chain, &version, at, &audit)
            .await
            .map_err(chain_error)?;
        let mut closed = version;
        closed.thru = Some(at);
        Ok(closed)
    }

    /// A new version from `new`, every field checked — the URLs under the outbound policy —
    /// but its secrets not stored yet (its secret reference is empty).
    async fn draft_version(
        &self,
        author: &Author<'_>,
        new: &NewCredentials,
    ) -> AppResult<CredentialVersion> {
        let gateway = self
            .catalogue
            .gateway(&new.gateway)
            .await?
            .ok_or_else(|| AppError::Invalid {
                field: "gateway".into(),
                message: format!(
                    "no gateway {} in the catalogue (the SaaS provider adds it with `oms gateway set`)",
                    new.gateway
                ),
            })?;
        let primary = new.secrets.primary().ok_or_else(|| AppError::Invalid {
            field: "apiKey".into(),
            message: "an API key, client secret or password is required".into(),
        })?;
        let fingerprint = fingerprint(primary.expose_secret());
        let from = new.from.unwrap_or(self.now);
        domain::gateway::check_window(from, new.thru).map_err(AppError::from)?;
        let base_url = new
            .base_url
            .clone()
            .unwrap_or_else(|| gateway.base_url(new.mode).to_owned());
        let version = CredentialVersion {
            id: self.id,
            tenant: author.owner.id(),
            gateway: new.gateway.clone(),
            account: new.account.clone(),
            mode: new.mode,
            auth_type: gateway.auth_type,
            base_url,
            username: new.username.clone(),
            client_id: new.client_id.clone(),
            token_url: new.token_url.clone(),
            account_number: new.account_number.clone(),
            track_client_id: new.track_client_id.clone(),
            secret: SecretRef {
                id: String::new(),
                version: None,
            },
            fingerprint,
            from,
            thru: new.thru,
            description: new.description.clone(),
            created_by: author.subject.clone(),
            created_at: self.now,
        };
        domain::gateway::check_version(&version, self.outbound).map_err(AppError::from)?;
        domain::gateway::check_fields(
            gateway.kind,
            gateway.auth_type,
            &version,
            &new.secrets.given(),
        )
        .map_err(AppError::from)?;
        Ok(version)
    }

    /// Stores the secrets of a checked draft, bound to its owner: the version, with its secret
    /// reference.
    async fn store_secret(
        &self,
        author: &Author<'_>,
        mut draft: CredentialVersion,
        secrets: &CredentialSecrets,
    ) -> AppResult<CredentialVersion> {
        draft.secret = self
            .secrets
            .put(
                &author.owner.id(),
                &secret_purpose(&draft.gateway, &draft.account, draft.id),
                &secrets.seal()?,
            )
            .await
            .map_err(|e| AppError::internal(&format!("credential secrets: {e}")))?;
        Ok(draft)
    }

    /// The outcome of writing `version`, whose secret is stored: on a failure, whether the
    /// write landed anyway (a lost answer, a retried commit refused by its own first attempt)
    /// is read back. One that did not land has its secret deleted before the error is
    /// returned; one that did is a success. When that cannot be told, the secret is kept (a
    /// version without its secret would be worse than a secret without a version) and logged.
    async fn landed_or_forgotten(
        &self,
        author: &Author<'_>,
        version: &CredentialVersion,
        committed: Result<(), ChainError>,
    ) -> AppResult<()> {
        let Err(refused) = committed else {
            return Ok(());
        };
        let owner = author.owner.id();
        match self
            .credentials
            .chain(author.owner, &version.gateway, &version.account)
            .await
        {
            Ok(chain) if chain.find(version.id).is_some() => return Ok(()),
            Ok(_) => {
                let purpose = secret_purpose(&version.gateway, &version.account, version.id);
                if let Err(e) = self.secrets.delete(&owner, &purpose, &version.secret).await {
                    tracing::error!(
                        tenant = %owner,
                        credential = %version.id,
                        secret = %version.secret.id,
                        error = %e,
                        "the secret of a refused credential change could not be deleted"
                    );
                }
            }
            Err(e) => tracing::warn!(
                tenant = %owner,
                credential = %version.id,
                secret = %version.secret.id,
                error = %e,
                "a credential change failed and whether it landed cannot be read; its secret is kept"
            ),
        }
        Err(chain_error(refused))
    }
}
