//! Label purchases and voids whose outcome is not committed (`oms labels reconcile`): a
//! tenant admin lists them and, with `lookup`, has each looked up at its carrier and settled.

use async_graphql::{Context, ID, Object, SimpleObject};

use crate::mutation::payload;
use crate::state::Req;
use crate::views::UserError;

/// An open carrier intent: a purchase or void whose outcome is not committed.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "OpenLabelIntent")]
pub struct OpenLabelIntentV {
    pub order: ID,
    /// `shipment` or `return`.
    pub kind: String,
    /// The shipment's or return's id.
    pub target: ID,
    /// `purchase` or `void`.
    pub action: String,
    /// The intent's state (`open`, `unknown`, `queued`).
    pub state: String,
    /// The Idempotency-Key of the request that opened it.
    pub key: Option<String>,
    pub opened_at: String,
    /// What the lookup did, when one was asked for.
    pub settled: Option<String>,
}

#[derive(SimpleObject, Default)]
pub struct ReconcileLabelsPayload {
    /// What was open when the call came, each with what its lookup did.
    pub intents: Vec<OpenLabelIntentV>,
    pub user_errors: Vec<UserError>,
}

crate::mutation::with_user_errors!(ReconcileLabelsPayload);

#[derive(Default)]
pub struct LabelsMutation;

#[Object]
impl LabelsMutation {
    /// The tenant's open label purchases and voids; with `lookup`, each is looked up at its
    /// carrier and settled: completed onto the shipment, closed when the carrier never did it,
    /// or left for a person when the carrier cannot tell. Tenant admins only.
    async fn reconcile_labels(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] lookup: bool,
    ) -> async_graphql::Result<ReconcileLabelsPayload> {
        let Req { app, rc, .. } = Req::of(ctx).await?;
        payload(app.reconcile_labels(&rc, lookup).await, |reports| {
            ReconcileLabelsPayload {
                intents: reports.into_iter().map(view).collect(),
                user_errors: Vec::new(),
            }
        })
    }
}

fn view(r: app::shipping::IntentReport) -> OpenLabelIntentV {
    OpenLabelIntentV {
        order: r.order.to_string().into(),
        kind: r.target.kind().to_owned(),
        target: r.target.to_string().into(),
        action: r.intent.action.as_str().to_owned(),
        state: r.intent.state.as_str().to_owned(),
        key: r.intent.key.clone(),
        opened_at: r.intent.opened_at.to_rfc3339(),
        settled: r.settled,
    }
}
