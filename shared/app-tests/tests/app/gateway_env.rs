//! A tenant's carrier gateway over an in-memory store: the catalogue's `easypost`, a tenant
//! admin of `acme`, the use cases under a chosen outbound policy and secret store.

use app::ports::CredentialStore;
use app::ports::Owner;
use std::sync::{Arc, Mutex};

use app::credentials::{CredentialSecrets, NewCredentials, secret_purpose};
use app::ports::carrier::CarrierConnector;
use app::{App, RequestCtx, SystemIds};
use auth::{Caller, Identity};
use domain::access::{Plan, Role};
use domain::audit::{Actor, ActorKind, AuditOutcome, AuditRecord, AuditTarget};
use domain::gateway::{
    CarrierKind, CredentialVersion, GatewayAuthType, GatewayConfig, GatewayMode,
};
use domain::ids::AuditId;
use domain::ids::{AccountId, CarrierCode, CredentialId, PlanName, Subject, TenantId};
use domain::outbound::OutboundPolicy;
use domain::ports::SecretStore;
use domain::{Clock, IdSource, ManualClock, Timestamp};
use secrecy::SecretString;
use store::cursor::{CursorKey, Cursors};
use store::embedded::EmbeddedStore;
use store::repo::{CredentialRepository, TenantAuditRepository};
use store::{FixedShards, ItemStore, TenantScope};

pub(crate) const NOW: i64 = 1_795_478_400;
pub(crate) const KEY: &str = "EZTK-test-key-0123456789abcdef";

pub(crate) struct GatewayEnv {
    pub app: App,
    pub store: Arc<dyn ItemStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub clock: ManualClock,
    pub rc: RequestCtx,
}

impl GatewayEnv {
    /// The use cases under `policy`, secrets in `secrets`, carriers reached through
    /// `connector` (if any); `easypost` in the catalogue at `https://api.easypost.com`.
    pub async fn new(
        policy: OutboundPolicy,
        secrets: Arc<dyn SecretStore>,
        connector: Option<Arc<dyn CarrierConnector>>,
    ) -> Self {
        let clock = ManualClock::at(NOW);
        let clock_dyn: Arc<dyn Clock> = Arc::new(clock.clone());
        let store: Arc<dyn ItemStore> =
            Arc::new(EmbeddedStore::in_memory(clock_dyn.clone()).unwrap());
        app::platform::Platform::new(
            store::repo::platform_repositories(store.clone()),
            clock_dyn.clone(),
            Subject::parse("cli:test").unwrap(),
            None,
        )
        .set_gateway(GatewayConfig {
            id: gateway(),
            name: "EasyPost".into(),
            kind: CarrierKind::Easypost,
            sandbox_url: "https://api.easypost.com".into(),
            production_url: "https://api.easypost.com".into(),
            auth_type: GatewayAuthType::ApiKey,
            offers: Vec::new(),
        })
        .await
        .unwrap();
        let ids: Arc<Mutex<dyn IdSource + Send>> = Arc::new(Mutex::new(SystemIds));
        let mut app = App::new(
            store::repo::repositories(
                store.clone(),
                Arc::new(FixedShards::new(1)),
                Cursors::new(CursorKey::from_bytes(&[9; 32]).unwrap()),
            ),
            ids,
            clock_dyn,
        )
        .with_secrets(secrets.clone())
        .with_outbound(policy);
        if let Some(c) = connector {
            app = app.with_connector(c);
        }
        let identity = Identity::for_tests(
            "acme",
            "admin",
            &[Role::TenantAdmin],
            None,
            Plan::everything(PlanName::parse("gold").unwrap()),
        );
        Self {
            app,
            store,
            secrets,
            clock,
            rc: RequestCtx {
                caller: Caller::Tenant(identity),
                request_id: "req-test".into(),
            },
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A version of `account` written into the store directly, without the checks of the use
    /// cases (as a URL set before the policy, or by any other path, would be); its secret is
    /// stored as the use case stores it.
    pub async fn write_raw(&self, account: &str, base_url: &str) -> CredentialVersion {
        let account = AccountId::parse(account).unwrap();
        let id = CredentialId::from_ulid(ulid::Ulid::new());
        let tenant = TenantId::parse("acme").unwrap();
        let sealed = SecretString::from(format!(r#"{{"apiKey":"{KEY}"}}"#));
        let secret = self
            .secrets
            .put(&tenant, &secret_purpose(&gateway(), &account, id), &sealed)
            .await
            .unwrap();
        let version = CredentialVersion {
            id,
            tenant,
            gateway: gateway(),
            account,
            mode: GatewayMode::Sandbox,
            auth_type: GatewayAuthType::ApiKey,
            base_url: base_url.into(),
            username: None,
            client_id: None,
            token_url: None,
            account_number: None,
            track_client_id: None,
            secret,
            fingerprint: "…cdef".into(),
            from: Timestamp::from_unix_millis((NOW - 60) * 1000).unwrap(),
            thru: None,
            description: None,
            created_by: Subject::parse("raw").unwrap(),
            created_at: self.now(),
        };
        write_version(&self.store, &version).await.unwrap();
        version
    }
}

/// Adds `version` to its chain through the repository alone (no use case, no secret).
pub(crate) async fn write_version(
    store: &Arc<dyn ItemStore>,
    version: &CredentialVersion,
) -> Result<(), app::ports::ChainError> {
    let repo = raw_repository(store);
    let scope = TenantScope::for_tests(version.tenant.as_str());
    let chain = repo
        .chain(Owner::Tenant(&scope), &version.gateway, &version.account)
        .await?;
    repo.add(
        Owner::Tenant(&scope),
        &chain,
        version,
        &raw_audit(&scope, &version.id.to_string()),
    )
    .await
}

/// The credential repository over `store`, for writes that go around the use cases.
pub(crate) fn raw_repository(store: &Arc<dyn ItemStore>) -> CredentialRepository {
    let audit = TenantAuditRepository::new(
        store.clone(),
        Arc::new(FixedShards::new(1)),
        Cursors::new(CursorKey::from_bytes(&[9; 32]).unwrap()),
    );
    CredentialRepository::new(store.clone(), audit)
}

/// The tenant audit record of a write that goes around the use cases.
pub(crate) fn raw_audit(scope: &TenantScope, target: &str) -> AuditRecord {
    AuditRecord {
        id: AuditId::from_ulid(ulid::Ulid::new()),
        tenant: Some(scope.tenant().clone()),
        actor: Actor {
            kind: ActorKind::User,
            subject: Subject::parse("raw").unwrap(),
        },
        action: "raw".into(),
        target: AuditTarget {
            kind: "carrierCredential".into(),
            id: target.to_owned(),
        },
        at: Timestamp::from_unix_millis(1_000).unwrap(),
        request_id: "raw".into(),
        outcome: AuditOutcome::Success,
        version: None,
    }
}

pub(crate) fn gateway() -> CarrierCode {
    CarrierCode::parse("easypost").unwrap()
}

/// A new version of `account` with an API key, at `base_url` (the catalogue's if `None`).
pub(crate) fn credentials(account: &str, base_url: Option<&str>) -> NewCredentials {
    NewCredentials {
        gateway: gateway(),
        account: AccountId::parse(account).unwrap(),
        mode: GatewayMode::Sandbox,
        base_url: base_url.map(str::to_owned),
        username: None,
        client_id: None,
        token_url: None,
        account_number: None,
        track_client_id: None,
        description: None,
        from: None,
        thru: None,
        secrets: CredentialSecrets {
            api_key: Some(SecretString::from(KEY.to_owned())),
            ..CredentialSecrets::default()
        },
    }
}
