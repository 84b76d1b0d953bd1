//! Every key of the single table (DESIGN.md §3), built here and nowhere else.
//!
//! Each function takes validated newtypes only (no `#`, no control characters, bounded length),
//! every prefix ends in `#` so `T#ab#` never matches `T#abc#`, numbers are zero-padded and times
//! fixed-width UTC, so byte order is numeric and time order.

use domain::Timestamp;
use domain::ids::{
    AccountId, ApiKeyId, AuditId, CarrierCode, ExternalRef, IdempotencyKey, Issuer, OperationName,
    OrderId, PlanName, Subject, TenantId, TrackingNumber, VendorId,
};
use domain::order::{CarrierTarget, OrderStatus};

use domain::tenant::EventSource;
use domain::webhook::WebhookHook;

use crate::item::Key;

fn key(pk: String, sk: impl Into<String>) -> Key {
    Key::new(pk, sk.into())
}

/// The partition prefix of everything a tenant owns: `T#{tenant}#`.
pub fn tenant_prefix(tenant: &TenantId) -> String {
    format!("T#{tenant}#")
}

// ----- orders -----

fn order_pk(tenant: &TenantId, order: OrderId) -> String {
    format!("T#{tenant}#O#{order}#")
}

/// The order aggregate.
pub fn order(tenant: &TenantId, order: OrderId) -> Key {
    key(order_pk(tenant, order), "ORDER")
}

/// One audit record of an order.
pub fn order_audit(tenant: &TenantId, order: OrderId, id: AuditId) -> Key {
    key(order_pk(tenant, order), format!("AUDIT#{id}"))
}

/// The order partition and the sort-key prefix of its audit records.
pub fn order_audit_prefix(tenant: &TenantId, order: OrderId) -> (String, String) {
    (order_pk(tenant, order), "AUDIT#".to_owned())
}

/// The outbox item of the command that took the order to `version`.
pub fn outbox(tenant: &TenantId, order: OrderId, version: u64) -> Key {
    key(order_pk(tenant, order), format!("EVT#{version:010}"))
}

/// Whether `key` is an outbox item (what the table's stream feeds the relay).
pub fn is_outbox(key: &Key) -> bool {
    key.pk.starts_with("T#") && key.pk.contains("#O#") && key.sk.starts_with("EVT#")
}

/// The local relay's queue: one pointer per outbox item not yet published, in commit order
/// (an order's versions in order within the same millisecond). Embedded store only.
pub const OUTBOX_PENDING: &str = "OUTBOX#PENDING#";

/// The pointer to one outbox item.
pub fn outbox_pending(at: Timestamp, tenant: &TenantId, order: OrderId, version: u64) -> Key {
    key(
        OUTBOX_PENDING.to_owned(),
        format!("{}#{tenant}#{order}#{version:010}", at.fixed_width()),
    )
}

/// GSI1 partition: a tenant's orders on one write shard.
pub fn orders_by_tenant(tenant: &TenantId, shard: u32) -> String {
    format!("T#{tenant}#ORDERS#{shard:04}#")
}

/// GSI2 partition: a tenant's orders in one status on one write shard.
pub fn orders_by_status(tenant: &TenantId, status: OrderStatus, shard: u32) -> String {
    format!("T#{tenant}#S#{status}#{shard:04}#")
}

/// GSI3 partition: a tenant's orders by last change on one write shard.
pub fn orders_by_update(tenant: &TenantId, shard: u32) -> String {
    format!("T#{tenant}#U#{shard:04}#")
}

/// Sort key of an order in a time-ordered listing: `{time}#{order}`.
pub fn order_time_sk(at: Timestamp, order: OrderId) -> String {
    format!("{}#{order}", at.fixed_width())
}

/// The lowest and highest sort key of orders at `at` (for time-range listings).
pub fn time_sk_bounds(at: Timestamp) -> (String, String) {
    let t = at.fixed_width();
    (format!("{t}#"), format!("{t}#~"))
}

/// A vendor's index item of one order, on the order's write shard.
pub fn vendor_order(
    tenant: &TenantId,
    vendor: &VendorId,
    shard: u32,
    created_at: Timestamp,
    order: OrderId,
) -> Key {
    key(
        vendor_orders(tenant, vendor, shard),
        order_time_sk(created_at, order),
    )
}

/// The partition of a vendor's orders on one write shard (one vendor of a large tenant would
/// otherwise be one hot partition). Shard 0 keeps the key vendor items had before listings were
/// sharded, so existing items stay listed.
pub fn vendor_orders(tenant: &TenantId, vendor: &VendorId, shard: u32) -> String {
    if shard == 0 {
        format!("T#{tenant}#V#{vendor}#")
    } else {
        format!("T#{tenant}#V#{vendor}#{shard:04}#")
    }
}

/// External reference → order.
pub fn external_ref(tenant: &TenantId, r: &ExternalRef) -> Key {
    key(format!("T#{tenant}#XREF#{r}#"), "XREF")
}

/// An idempotency record, scoped by tenant, subject and operation.
pub fn idempotency(
    tenant: &TenantId,
    subject: &Subject,
    operation: &OperationName,
    k: &IdempotencyKey,
) -> Key {
    key(
        format!("T#{tenant}#IDEM#{subject}#{operation}#{k}#"),
        "IDEM",
    )
}

// ----- tracking and webhooks -----

/// A tenant's tracking number → shipment.
pub fn tenant_tracking(tenant: &TenantId, carrier: &CarrierCode, number: &TrackingNumber) -> Key {
    key(format!("T#{tenant}#TRACK#{carrier}#{number}#"), "TRACK")
}

/// The partition of a tenant's open carrier intents (label purchases and voids in flight):
/// what `oms labels reconcile` lists without reading every order.
pub fn open_intents(tenant: &TenantId) -> String {
    format!("T#{tenant}#INTENTS#")
}

/// A shipment or return within its order: the shipment's id, or `R#` and the return's.
fn target_part(target: CarrierTarget) -> String {
    match target {
        CarrierTarget::Shipment(s) => s.to_string(),
        CarrierTarget::Return(r) => format!("R#{r}"),
    }
}

/// One shipment's (or return's) open carrier intent, in its tenant's intent partition.
pub fn open_intent(tenant: &TenantId, order: OrderId, target: CarrierTarget) -> Key {
    key(
        open_intents(tenant),
        format!("{order}#{}", target_part(target)),
    )
}

/// Who holds a tracking number in either tracking index: one comparable value (tenant, order,
/// shipment or return), so a claim's condition is "absent, or owner = mine".
pub fn tracking_owner(tenant: &TenantId, order: OrderId, target: CarrierTarget) -> String {
    format!("{tenant}#{order}#{}", target_part(target))
}

/// The SaaS provider's own webhook settings, per hook (SaaS-level carrier webhooks).
pub fn saas_webhook(hook: WebhookHook) -> Key {
    key(
        format!("SAAS#WEBHOOK#{}#", hook.as_str()),
        "HOOK".to_owned(),
    )
}

/// A gateway-bought tracking number → tenant and shipment (SaaS-level carrier webhooks).
pub fn global_tracking(carrier: &CarrierCode, number: &TrackingNumber) -> Key {
    key(format!("TRACK#{carrier}#{number}#"), "TRACK")
}

// ----- tenant-level records -----

/// A tenant audit partition: one day, one shard.
pub fn tenant_audit_partition(tenant: &TenantId, day: Timestamp, shard: u32) -> String {
    format!("T#{tenant}#AUDIT#{}#{shard:04}#", day.day())
}

/// A tenant audit record.
pub fn tenant_audit(tenant: &TenantId, at: Timestamp, shard: u32, id: AuditId) -> Key {
    key(tenant_audit_partition(tenant, at, shard), id.to_string())
}

fn tenant_config_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#CFG#")
}

/// One version of the tenant config.
pub fn tenant_config_version(tenant: &TenantId, version: u32) -> Key {
    key(tenant_config_pk(tenant), format!("V#{version:010}"))
}

/// The tenant config's current version.
pub fn tenant_config_current(tenant: &TenantId) -> Key {
    key(tenant_config_pk(tenant), "CURRENT")
}

/// The partition of carrier credentials for one gateway account.
pub fn carrier_credentials(
    tenant: &TenantId,
    gateway: &CarrierCode,
    account: &AccountId,
) -> String {
    format!("T#{tenant}#CARRIER#{gateway}#{account}#")
}

/// One immutable credential record of the chain in `partition`, valid from `from`.
pub fn carrier_credential(partition: &str, from: Timestamp) -> Key {
    key(
        partition.to_owned(),
        format!("{CARRIER_VERSION_PREFIX}{}", from.fixed_width()),
    )
}

/// The head of the credential chain in `partition`: its revision, which every change of the
/// chain moves on (so changes of one chain are serialized by a condition, never by a race).
pub fn carrier_chain(partition: &str) -> Key {
    key(partition.to_owned(), "CHAIN")
}

/// The partition of the platform's credentials for one of its gateway accounts.
pub fn platform_carrier_credentials(gateway: &CarrierCode, account: &AccountId) -> String {
    format!("SAAS#CARRIER#{gateway}#{account}#")
}

/// The platform's gateway accounts (one item per gateway and account with credentials).
pub const PLATFORM_CARRIER_ACCOUNTS: &str = "SAAS#CARRIERS#";

pub fn platform_carrier_account(gateway: &CarrierCode, account: &AccountId) -> Key {
    key(
        PLATFORM_CARRIER_ACCOUNTS.to_owned(),
        format!("{gateway}#{account}"),
    )
}

/// The sort-key prefix of a chain's versions.
pub const CARRIER_VERSION_PREFIX: &str = "FROM#";

/// A tenant's gateway accounts (one item per gateway and account with credentials).
pub fn carrier_accounts(tenant: &TenantId) -> String {
    format!("T#{tenant}#CARRIERS#")
}

pub fn carrier_account(tenant: &TenantId, gateway: &CarrierCode, account: &AccountId) -> Key {
    key(carrier_accounts(tenant), format!("{gateway}#{account}"))
}

/// A tenant's carrier usage (labels bought or voided through platform accounts), by time.
pub fn carrier_usage_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#USAGE#")
}

/// One usage row: its time, then its id (the carrier intent's).
pub fn carrier_usage(tenant: &TenantId, at: Timestamp, id: &str) -> Key {
    key(
        carrier_usage_pk(tenant),
        format!("{}#{id}", at.fixed_width()),
    )
}

/// The sort key where usage at `at` starts.
pub fn carrier_usage_from(at: Timestamp) -> String {
    at.fixed_width()
}

// ----- SaaS-level records -----

/// A tenant API key's record, found by the key's id alone (the id is part of the key's text).
pub fn api_key(id: ApiKeyId) -> Key {
    key(format!("SAAS#APIKEY#{id}#"), "KEY")
}

/// The partition listing a tenant's API keys (one entry per key, naming its id).
pub fn tenant_api_keys(tenant: &TenantId) -> String {
    format!("{}APIKEYS#", tenant_prefix(tenant))
}

pub fn tenant_api_key(tenant: &TenantId, id: ApiKeyId) -> Key {
    key(tenant_api_keys(tenant), id.to_string())
}

/// A tenant's profile (plan, status, shard count, IdPs, webhook settings).
pub fn tenant_profile(tenant: &TenantId) -> Key {
    key(format!("SAAS#TENANT#{tenant}#"), "PROFILE")
}

/// The gateway catalogue partition (the carriers the SaaS provider offers).
pub const GATEWAYS: &str = "SAAS#GATEWAYS#";

pub fn gateway(id: &CarrierCode) -> Key {
    key(GATEWAYS.to_owned(), id.as_str().to_owned())
}

/// The tenant list partition.
pub const TENANT_LIST: &str = "SAAS#TENANTS#";

/// A tenant's row in the tenant list.
pub fn tenant_list_entry(tenant: &TenantId) -> Key {
    key(TENANT_LIST.to_owned(), format!("T#{tenant}"))
}

/// The SaaS audit partition of one day.
pub fn saas_audit_day(at: Timestamp) -> String {
    format!("SAAS#AUDIT#{}#", at.day())
}

/// A SaaS audit record (platform admin actions).
pub fn saas_audit(at: Timestamp, id: AuditId) -> Key {
    key(saas_audit_day(at), id.to_string())
}

/// A plan.
pub fn plan(plan: &PlanName) -> Key {
    key(format!("SAAS#PLAN#{plan}#"), "PLAN")
}

/// The partition of an issuer's tenant rows.
pub fn issuer_tenants(issuer: &Issuer) -> String {
    format!("SAAS#ISS#{issuer}#")
}

/// Who holds an issuer: one item per issuer, `dedicated:{tenant}` or `shared`, so that a
/// dedicated issuer belongs to one tenant (its own partition: the issuer's rows stay a clean
/// partition of tenant rows).
pub fn issuer_claim(issuer: &Issuer) -> Key {
    key(format!("SAAS#ISSCLAIM#{issuer}#"), "CLAIM".to_owned())
}

/// The claim on an event source: which tenant registered it (one tenant per source).
pub fn event_source(source: &EventSource) -> Key {
    key(
        format!("SAAS#EVSRC#{}#{}#", source.account, source.source),
        "CLAIM".to_owned(),
    )
}

/// The index of every registered issuer: one item per issuer and tenant, so the directory can
/// load the whole set at once and refuse an issuer it does not hold without a store read.
pub const ISSUER_INDEX: &str = "SAAS#ISSUERS#";

/// The index item of one issuer of one tenant.
pub fn issuer_index_entry(issuer: &Issuer, tenant: &TenantId) -> Key {
    key(ISSUER_INDEX.to_owned(), format!("I#{issuer}#T#{tenant}"))
}

/// The marker saying the issuer index holds every issuer (written after the backfill of a
/// table that predates the index).
pub fn issuer_index_built() -> Key {
    key(ISSUER_INDEX.to_owned(), "BUILT".to_owned())
}

/// An issuer → tenant row.
pub fn issuer_tenant(issuer: &Issuer, tenant: &TenantId) -> Key {
    key(issuer_tenants(issuer), format!("T#{tenant}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    #[test]
    fn tenant_prefixes_never_match_longer_ids() {
        let ab = order(&t("ab"), OrderId::from_ulid(ulid::Ulid::from_parts(1, 1)));
        assert!(ab.pk.starts_with(&tenant_prefix(&t("ab"))));
        assert!(!ab.pk.starts_with(&tenant_prefix(&t("a"))));
        assert!(!orders_by_tenant(&t("abc"), 0).starts_with(&tenant_prefix(&t("ab"))));
    }

    #[test]
    fn numbers_and_times_are_fixed_width() {
        let id = OrderId::from_ulid(ulid::Ulid::from_parts(1, 1));
        assert_eq!(outbox(&t("a"), id, 7).sk, "EVT#0000000007");
        assert!(is_outbox(&outbox(&t("a"), id, 7)));
        assert!(!is_outbox(&order(&t("a"), id)));
        assert!(!is_outbox(&order_audit(
            &t("a"),
            id,
            AuditId::from_ulid(ulid::Ulid::nil())
        )));
        assert!(outbox(&t("a"), id, 9).sk < outbox(&t("a"), id, 10).sk);
        assert_eq!(tenant_config_version(&t("a"), 3).sk, "V#0000000003");
        let v = |s: &str| VendorId::parse(s).unwrap();
        assert_eq!(vendor_orders(&t("a"), &v("v"), 0), "T#a#V#v#");
        assert_eq!(vendor_orders(&t("a"), &v("v"), 1), "T#a#V#v#0001#");
        // No vendor id can look like another's shard suffix.
        assert!(VendorId::parse("v#0001").is_err());
        let ts = Timestamp::parse_rfc3339("2026-11-24T10:00:00Z").unwrap();
        assert_eq!(
            order_time_sk(ts, id),
            format!("2026-11-24T10:00:00.000Z#{id}")
        );
    }
}
