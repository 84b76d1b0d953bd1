//! The platform's gateway catalogue: which carrier gateways tenants may hold credentials for.

use std::sync::Arc;

use app::ports::{GatewayCatalogue, RepoError, RepoResult};
use async_trait::async_trait;
use domain::audit::AuditRecord;
use domain::gateway::GatewayConfig;
use domain::ids::CarrierCode;

use crate::item::Item;
use crate::keys;
use crate::port::{ItemStore, Query, WriteAction};

use super::registry::saas_audit_action;
use super::{from_json, to_json};

#[derive(Clone)]
pub struct GatewayCatalogRepository {
    store: Arc<dyn ItemStore>,
}

impl GatewayCatalogRepository {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl GatewayCatalogue for GatewayCatalogRepository {
    /// Creates or replaces a gateway of the catalogue, with the SaaS audit record.
    async fn put_gateway(&self, gateway: &GatewayConfig, audit: &AuditRecord) -> RepoResult<()> {
        let mut item = Item::with_key(&keys::gateway(&gateway.id));
        item.set("data", to_json(gateway)?);
        self.store
            .transact_write(vec![WriteAction::put(item), saas_audit_action(audit)?])
            .await
            .map_err(RepoError::from)
    }

    async fn gateway(&self, id: &CarrierCode) -> RepoResult<Option<GatewayConfig>> {
        match self.store.get(&keys::gateway(id)).await? {
            Some(item) => from_json(item.require_s("data")?).map(Some),
            None => Ok(None),
        }
    }

    async fn gateways(&self) -> RepoResult<Vec<GatewayConfig>> {
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
