//! Carrier usage rows, read by time (written by the order repository in the commits of the
//! purchases and voids they record).

use std::sync::Arc;

use app::ports::{RepoResult, UsageLog};
use async_trait::async_trait;
use domain::Timestamp;
use domain::ids::TenantId;
use domain::usage::CarrierUsage;

use crate::keys;
use crate::port::{ItemStore, Query, SkRange};

use super::from_json;

#[derive(Clone)]
pub struct UsageRepository {
    store: Arc<dyn ItemStore>,
}

impl UsageRepository {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl UsageLog for UsageRepository {
    async fn usage(
        &self,
        tenant: &TenantId,
        from: Timestamp,
        to: Timestamp,
    ) -> RepoResult<Vec<CarrierUsage>> {
        let mut q = Query::partition(keys::carrier_usage_pk(tenant), 1_000);
        // Rows at `to` sort after its fixed-width time followed by '#': `Before` excludes them.
        q.sk = SkRange::Between(
            keys::carrier_usage_from(from),
            format!("{}#", keys::carrier_usage_from(to)),
        );
        let mut rows = Vec::new();
        loop {
            let page = self.store.query(&q).await?;
            for item in &page.items {
                let row: CarrierUsage = from_json(item.require_s("data")?)?;
                if row.at >= from && row.at < to {
                    rows.push(row);
                }
            }
            match page.next {
                Some(next) => q.start = Some(next),
                None => break,
            }
        }
        Ok(rows)
    }
}
