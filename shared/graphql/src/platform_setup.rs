//! The platform admin's set-up of what tenants reach: signed webhooks, event sources and the
//! gateway catalogue — the operations `oms webhook`, `oms events source` and `oms gateway` run,
//! so they work through a running `oms serve` as through the store. Platform callers only, each
//! admitted first like the rest of the platform API.

use app::AppError;
use app::platform::WebhookRequest;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use domain::access::Operation;
use domain::gateway::{CarrierKind, GatewayAuthType, GatewayConfig};
use domain::ids::{CarrierCode, TenantId};
use domain::tenant::EventSource;
use domain::webhook::{WebhookHook, WebhookProvider};
use secrecy::SecretString;

use crate::mutation::payload;
use crate::platform::{TenantPayload, admitted, tenant_payload};
use crate::views::UserError;

/// A signed hook's configuration. The secret is write-only: no query returns it.
#[derive(InputObject)]
pub struct WebhookInput {
    /// The tenant whose hook this is; omitted: the SaaS provider's own shipment-tracker hook
    /// (`POST /webhooks/shipment-tracker`).
    pub tenant: Option<ID>,
    /// `add-order` or `shipment-tracker`.
    pub hook: String,
    /// `oms`, `easypost` or `shippo`.
    pub provider: String,
    /// At least 16 characters. The secret it replaces stays valid until the next rotation.
    pub secret: String,
    /// How old (or how far ahead) a signed timestamp may be, in seconds (300 by default).
    pub max_age_seconds: Option<i64>,
    /// JMESPath to the tracking number in a carrier's payload (shipment-tracker).
    pub tracking_reference: Option<String>,
}

/// A hook as configured (never its secret).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Webhook")]
pub struct WebhookV {
    /// The tenant, or null for the SaaS provider's own hook.
    pub tenant: Option<ID>,
    pub hook: String,
    pub provider: String,
    pub max_age_seconds: i64,
}

#[derive(SimpleObject, Default)]
pub struct WebhookPayload {
    pub webhook: Option<WebhookV>,
    pub user_errors: Vec<UserError>,
}

/// The header a sender of `body` must send at `at` (`oms webhook sign`).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "WebhookSignature")]
pub struct WebhookSignatureV {
    /// `X-OMS-Signature` or `X-Hmac-Signature`.
    pub header: String,
    pub value: String,
}

/// A gateway of the catalogue (the carriers tenants may use).
#[derive(InputObject)]
pub struct GatewayInput {
    pub id: String,
    /// `easypost`, `shippo` or `fedex`.
    pub kind: String,
    pub name: String,
    /// The kind's documented sandbox host by default.
    pub sandbox_url: Option<String>,
    /// The kind's documented production host by default.
    pub production_url: Option<String>,
    /// `api-key`, `basic` or `oauth2-client-credentials`; by default what the kind uses.
    pub auth_type: Option<String>,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "PlatformOffer")]
pub struct PlatformOfferV {
    pub account: String,
    pub plans: Vec<String>,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Gateway")]
pub struct GatewayV {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub auth_type: String,
    pub sandbox_url: String,
    pub production_url: String,
    /// The platform's accounts of this gateway and the plans they are offered to.
    pub offers: Vec<PlatformOfferV>,
}

impl From<&GatewayConfig> for GatewayV {
    fn from(g: &GatewayConfig) -> Self {
        Self {
            id: g.id.to_string(),
            name: g.name.clone(),
            kind: g.kind.as_str().to_owned(),
            auth_type: g.auth_type.as_str().to_owned(),
            sandbox_url: g.sandbox_url.clone(),
            production_url: g.production_url.clone(),
            offers: g
                .offers
                .iter()
                .map(|o| PlatformOfferV {
                    account: o.account.to_string(),
                    plans: o.plans.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        }
    }
}

#[derive(SimpleObject, Default)]
pub struct GatewayPayload {
    pub gateway: Option<GatewayV>,
    pub user_errors: Vec<UserError>,
}

crate::mutation::with_user_errors!(WebhookPayload, GatewayPayload);

/// The platform admin's reads of its set-up.
#[derive(Default)]
pub struct PlatformSetupQuery;

#[Object]
impl PlatformSetupQuery {
    /// The gateway catalogue, in id order (platform admins only).
    async fn gateways(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GatewayV>> {
        let (platform, _) = admitted(ctx, Operation::ListGateways).await?;
        let all = platform
            .gateways()
            .await
            .map_err(|e| crate::errors::app_error(e.into()))?;
        Ok(all.iter().map(GatewayV::from).collect())
    }

    /// The signature header a sender of `body` to a tenant's hook must send, with the hook's
    /// current secret, at `at` (unix seconds; now by default). For testing a sender.
    async fn webhook_signature(
        &self,
        ctx: &Context<'_>,
        tenant: ID,
        hook: String,
        body: String,
        at: Option<i64>,
    ) -> async_graphql::Result<WebhookSignatureV> {
        let (platform, r) = admitted(ctx, Operation::SignWebhookBody).await?;
        let signed = async {
            let tenant = TenantId::parse(&tenant)?;
            let hook = WebhookHook::parse(&hook)?;
            let (provider, secret) = platform.webhook_secret(&tenant, hook).await?;
            let at = at.unwrap_or_else(|| r.app.now().unix_seconds());
            Ok::<_, AppError>(match provider {
                WebhookProvider::Oms => WebhookSignatureV {
                    header: "X-OMS-Signature".into(),
                    value: auth::webhook::oms_signature(&secret, at, body.as_bytes()),
                },
                WebhookProvider::Easypost => WebhookSignatureV {
                    header: "X-Hmac-Signature".into(),
                    value: auth::webhook::easypost_signature(&secret, body.as_bytes()),
                },
                WebhookProvider::Shippo => {
                    return Err(AppError::Invalid {
                        field: "hook".into(),
                        message: "shippo deliveries carry the tenant's token, not a signature"
                            .into(),
                    });
                }
            })
        };
        signed.await.map_err(crate::errors::app_error)
    }
}

/// The platform admin's changes to its set-up.
#[derive(Default)]
pub struct PlatformSetupMutation;

#[Object]
impl PlatformSetupMutation {
    /// Configures a tenant's signed hook, or (no tenant) the SaaS provider's own
    /// shipment-tracker hook.
    async fn set_webhook(
        &self,
        ctx: &Context<'_>,
        input: WebhookInput,
    ) -> async_graphql::Result<WebhookPayload> {
        let (platform, _) = admitted(ctx, Operation::SetWebhook).await?;
        let out = async {
            let hook = WebhookHook::parse(&input.hook)?;
            let provider = WebhookProvider::parse(&input.provider)?;
            if input.secret.len() < 16 {
                return Err(AppError::Invalid {
                    field: "secret".into(),
                    message: "the secret must be at least 16 characters".into(),
                });
            }
            let req = WebhookRequest {
                hook,
                provider,
                secret: SecretString::from(input.secret),
                max_age_seconds: input.max_age_seconds,
                tracking_reference: input.tracking_reference,
            };
            let (tenant, setting) = match &input.tenant {
                Some(id) => {
                    let id = TenantId::parse(id)?;
                    let p = platform.set_webhook(&id, req).await?;
                    let setting = p.webhooks.get(&hook).cloned();
                    (Some(ID::from(id.to_string())), setting)
                }
                None => (None, Some(platform.set_saas_webhook(req).await?)),
            };
            let setting = setting.ok_or_else(|| AppError::internal("the hook was not kept"))?;
            Ok(WebhookV {
                tenant,
                hook: hook.as_str().to_owned(),
                provider: setting.provider.as_str().to_owned(),
                max_age_seconds: setting.max_age_seconds,
            })
        };
        payload(out.await, |w| WebhookPayload {
            webhook: Some(w),
            user_errors: Vec::new(),
        })
    }

    /// Registers an event source for a tenant: events from this AWS account and `source` are
    /// applied to that tenant only. A source belongs to one tenant.
    async fn set_event_source(
        &self,
        ctx: &Context<'_>,
        tenant: ID,
        account: String,
        source: String,
    ) -> async_graphql::Result<TenantPayload> {
        let (platform, _) = admitted(ctx, Operation::SetEventSource).await?;
        let out = async {
            let id = TenantId::parse(&tenant)?;
            let source = EventSource::parse(&account, &source)?;
            Ok(platform.set_event_source(&id, source).await?)
        };
        tenant_payload(out.await)
    }

    /// Adds or replaces a gateway of the catalogue (its platform offers stay as they are).
    async fn set_gateway(
        &self,
        ctx: &Context<'_>,
        input: GatewayInput,
    ) -> async_graphql::Result<GatewayPayload> {
        let (platform, _) = admitted(ctx, Operation::SetGateway).await?;
        let out = async {
            let kind = CarrierKind::parse(&input.kind)?;
            let (sandbox, production) = kind.default_urls();
            let config = GatewayConfig {
                id: CarrierCode::parse(&input.id)?,
                name: input.name,
                kind,
                sandbox_url: input.sandbox_url.unwrap_or_else(|| sandbox.to_owned()),
                production_url: input
                    .production_url
                    .unwrap_or_else(|| production.to_owned()),
                auth_type: match &input.auth_type {
                    Some(a) => GatewayAuthType::parse(a)?,
                    None => kind.default_auth(),
                },
                offers: Vec::new(),
            };
            Ok(platform.set_gateway(config).await?)
        };
        payload(out.await, |g: GatewayConfig| GatewayPayload {
            gateway: Some((&g).into()),
            user_errors: Vec::new(),
        })
    }
}
