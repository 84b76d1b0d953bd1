//! Issue 22, point 4: a refused credential change leaves no secret behind. Everything is
//! checked before the secret is stored (a bad URL, an overlapping window, a rotation that
//! cannot close the open version), and a change whose commit the store then refuses (a
//! concurrent change of the same account won) deletes the secret it stored, in the same call.
//! Counted on the local secrets file and on Secrets Manager (moto).

use app::ports::CredentialStore;
use app::ports::Owner;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use app::AppError;
use domain::gateway::open_version;
use domain::ids::{AccountId, CredentialId, Subject, TenantId};
use domain::outbound::OutboundPolicy;
use domain::ports::{SecretError, SecretFuture, SecretStore};
use domain::webhook::SecretRef;
use domain::{ManualClock, Timestamp};
use secrecy::SecretString;
use store::TenantScope;

use crate::gateway_env::{GatewayEnv, NOW, credentials, gateway, write_version};

type Race = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A secret store that records what it stores and, once armed, runs a racing change of a
/// chain right after it stored a secret: the change in progress then loses its commit.
struct Racing {
    inner: Arc<dyn SecretStore>,
    race: Mutex<Option<Race>>,
    /// Each secret stored: its purpose and reference.
    stored: Mutex<Vec<(String, SecretRef)>>,
}

impl Racing {
    fn new(inner: Arc<dyn SecretStore>) -> Self {
        Self {
            inner,
            race: Mutex::new(None),
            stored: Mutex::new(Vec::new()),
        }
    }

    fn arm(&self, race: impl Future<Output = ()> + Send + 'static) {
        *self.race.lock().unwrap() = Some(Box::pin(race));
    }

    fn last_stored(&self) -> (String, SecretRef) {
        self.stored.lock().unwrap().last().cloned().unwrap()
    }
}

impl SecretStore for Racing {
    fn put<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        secret: &'a SecretString,
    ) -> SecretFuture<'a, SecretRef> {
        Box::pin(async move {
            let stored = self.inner.put(tenant, purpose, secret).await?;
            self.stored
                .lock()
                .unwrap()
                .push((purpose.to_owned(), stored.clone()));
            let race = self.race.lock().unwrap().take();
            if let Some(race) = race {
                race.await;
            }
            Ok(stored)
        })
    }

    fn get<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        reference: &'a SecretRef,
    ) -> SecretFuture<'a, SecretString> {
        self.inner.get(tenant, purpose, reference)
    }

    fn delete<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        reference: &'a SecretRef,
    ) -> SecretFuture<'a, ()> {
        self.inner.delete(tenant, purpose, reference)
    }
}

/// Where the secrets are, and how many there are.
enum Counter {
    Local(Arc<secrets::LocalSecretStore>),
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        prefix: String,
    },
}

impl Counter {
    async fn count(&self) -> usize {
        match self {
            Counter::Local(store) => store.len().await,
            Counter::SecretsManager { client, prefix } => {
                let mut n = 0;
                let mut next: Option<String> = None;
                loop {
                    let page = client
                        .list_secrets()
                        .set_next_token(next.take())
                        .send()
                        .await
                        .unwrap();
                    n += page
                        .secret_list()
                        .iter()
                        .filter(|s| s.name().is_some_and(|name| name.starts_with(prefix)))
                        .count();
                    match page.next_token() {
                        Some(t) if !t.is_empty() => next = Some(t.to_owned()),
                        _ => break,
                    }
                }
                n
            }
        }
    }
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_millis(secs * 1000).unwrap()
}

/// The refusals, counted in `counter` around each; the secrets the refused changes stored
/// are gone.
async fn refused_changes_leave_no_secret(inner: Arc<dyn SecretStore>, counter: Counter) {
    let racing = Arc::new(Racing::new(inner.clone()));
    let env = GatewayEnv::new(OutboundPolicy::production(), racing.clone(), None).await;
    let acme = TenantId::parse("acme").unwrap();
    let start = counter.count().await;

    // Refused before anything is stored: a URL to an internal host, a window meeting the
    // open version's, a rotation that cannot close the open version where it starts.
    let e = env
        .app
        .add_carrier_credentials(&env.rc, credentials("main", Some("https://10.0.0.1")))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AppError::Invalid { field, .. } if field == "baseUrl"),
        "{e:?}"
    );
    assert_eq!(
        counter.count().await,
        start,
        "a refused add (bad URL) stores no secret"
    );

    env.app
        .add_carrier_credentials(&env.rc, credentials("main", None))
        .await
        .unwrap();
    assert_eq!(counter.count().await, start + 1);

    let e = env
        .app
        .add_carrier_credentials(&env.rc, credentials("main", None))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AppError::Invalid { field, .. } if field == "from"),
        "{e:?}"
    );
    let e = env
        .app
        .rotate_carrier_credentials(&env.rc, credentials("main", Some("http://127.0.0.1:9001")))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AppError::Invalid { field, .. } if field == "baseUrl"),
        "{e:?}"
    );
    let mut too_early = credentials("main", None);
    too_early.from = Some(at(NOW - 3_600));
    let e = env
        .app
        .rotate_carrier_credentials(&env.rc, too_early)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_INPUT", "{e:?}");
    assert_eq!(
        counter.count().await,
        start + 1,
        "refused adds and rotations store no secret"
    );
    let mut later = credentials("main", None);
    later.from = Some(at(NOW + 60));
    env.app
        .rotate_carrier_credentials(&env.rc, later)
        .await
        .unwrap();
    assert_eq!(counter.count().await, start + 2);

    // An add the store refuses: between its check and its commit, another change writes an
    // overlapping version of the account (storing no secret). The add loses its commit, and
    // deletes the secret it stored.
    let store = env.store.clone();
    racing.arm(async move {
        let mut rival = rival_version("second", NOW - 60);
        rival.secret = SecretRef {
            id: "rival".into(),
            version: None,
        };
        write_version(&store, &rival).await.unwrap();
    });
    let mut scheduled = credentials("second", None);
    scheduled.from = Some(at(NOW + 86_400));
    let e = env
        .app
        .add_carrier_credentials(&env.rc, scheduled)
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Conflict(_)), "{e:?}");
    assert_eq!(
        counter.count().await,
        start + 2,
        "an add refused by the store leaves no secret"
    );
    assert_secret_gone(inner.as_ref(), &acme, racing.last_stored()).await;

    // A rotation the store refuses: the open version is expired meanwhile.
    env.app
        .add_carrier_credentials(&env.rc, credentials("third", None))
        .await
        .unwrap();
    assert_eq!(counter.count().await, start + 3);
    let store = env.store.clone();
    racing.arm(async move {
        let repo = crate::gateway_env::raw_repository(&store);
        let scope = TenantScope::for_tests("acme");
        let account = AccountId::parse("third").unwrap();
        let chain = repo
            .chain(Owner::Tenant(&scope), &gateway(), &account)
            .await
            .unwrap();
        let open = open_version(&chain.versions).cloned().unwrap();
        repo.expire(
            Owner::Tenant(&scope),
            &chain,
            &open,
            at(NOW + 30),
            &crate::gateway_env::raw_audit(&scope, "expire"),
        )
        .await
        .unwrap();
    });
    let mut rotation = credentials("third", None);
    rotation.from = Some(at(NOW + 60));
    let e = env
        .app
        .rotate_carrier_credentials(&env.rc, rotation)
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Conflict(_)), "{e:?}");
    assert_eq!(
        counter.count().await,
        start + 3,
        "a rotation refused by the store leaves no secret"
    );
    assert_secret_gone(inner.as_ref(), &acme, racing.last_stored()).await;

    // What stayed: the versions that were written, each with its secret.
    let versions = env.app.carrier_credentials(&env.rc, None).await.unwrap();
    let ours: Vec<_> = versions
        .iter()
        .filter(|v| v.created_by.as_str() != "raw")
        .collect();
    assert_eq!(ours.len(), 3, "{versions:?}");
    for v in ours {
        let purpose = app::credentials::secret_purpose(&v.gateway, &v.account, v.id);
        assert!(inner.get(&acme, &purpose, &v.secret).await.is_ok(), "{v:?}");
    }
}

/// The secret of a refused change is gone, not merely unreadable.
async fn assert_secret_gone(
    store: &dyn SecretStore,
    tenant: &TenantId,
    (purpose, reference): (String, SecretRef),
) {
    assert!(purpose.starts_with("carrier:easypost:"), "{purpose}");
    match store.get(tenant, &purpose, &reference).await {
        Err(SecretError::NotFound) => {}
        other => panic!(
            "the secret {reference:?} is still there: {:?}",
            other.map(|_| "…")
        ),
    }
}

fn rival_version(account: &str, from: i64) -> domain::gateway::CredentialVersion {
    use domain::gateway::{CredentialVersion, GatewayAuthType, GatewayMode};
    CredentialVersion {
        id: CredentialId::from_ulid(ulid::Ulid::new()),
        tenant: TenantId::parse("acme").unwrap(),
        gateway: gateway(),
        account: AccountId::parse(account).unwrap(),
        mode: GatewayMode::Sandbox,
        auth_type: GatewayAuthType::ApiKey,
        base_url: "https://api.easypost.com".into(),
        username: None,
        client_id: None,
        token_url: None,
        account_number: None,
        track_client_id: None,
        secret: SecretRef {
            id: String::new(),
            version: None,
        },
        fingerprint: "…cdef".into(),
        from: at(from),
        thru: None,
        description: None,
        created_by: Subject::parse("raw").unwrap(),
        created_at: at(NOW),
    }
}

#[tokio::test]
async fn refused_changes_leave_no_secret_in_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(secrets::LocalSecretStore::open(dir.path(), None).unwrap());
    refused_changes_leave_no_secret(local.clone(), Counter::Local(local)).await;
}

fn moto_endpoint() -> String {
    std::env::var("OMS_MOTO_ENDPOINT").unwrap_or_else(|_| {
        let env_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.services/env");
        std::fs::read_to_string(env_file)
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("OMS_MOTO_ENDPOINT=").map(str::to_owned))
            })
            .expect("moto is not running: run `make test`, or `scripts/services.sh start moto`")
    })
}

#[tokio::test]
async fn refused_changes_leave_no_secret_in_secrets_manager() {
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(moto_endpoint())
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(conf);
    let prefix = format!("tenantoms/app-test-{}", ulid::Ulid::new());
    let store = Arc::new(secrets::SecretsManagerStore::new(
        client.clone(),
        prefix.clone(),
        Arc::new(ManualClock::at(NOW)),
    ));
    let counter = Counter::SecretsManager {
        client,
        prefix: format!("{prefix}/"),
    };
    refused_changes_leave_no_secret(store, counter).await;
}
