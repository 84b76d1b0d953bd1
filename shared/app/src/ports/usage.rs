//! Carrier usage rows (labels bought or voided through platform-held accounts), written in the
//! commits of the purchases and voids they record (`CommandWrite::usage`) and read by time.

use async_trait::async_trait;
use domain::Timestamp;
use domain::ids::TenantId;
use domain::usage::CarrierUsage;

use super::error::RepoResult;

/// Where carrier usage is read.
#[async_trait]
pub trait UsageLog: Send + Sync {
    /// The tenant's usage rows with `from ≤ at < to`, oldest first.
    async fn usage(
        &self,
        tenant: &TenantId,
        from: Timestamp,
        to: Timestamp,
    ) -> RepoResult<Vec<CarrierUsage>>;
}
