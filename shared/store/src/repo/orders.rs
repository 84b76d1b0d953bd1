//! Orders: the aggregate item with its index attributes, audit records, outbox events, the
//! external-reference item, one item per vendor, tracking claims, open-intent entries and
//! carrier usage rows — all written in one transaction per command.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::ports::{
    CommandWrite, GatewayLabel, OrderListing, OrderPage, OrderStore, OrderSummary, Page,
    PageRequest, RepoError, RepoResult, ShardCounts, StoredOrder, TrackingClaim, TrackingIndex,
    VendorLine, VendorOrderPage, VendorOrderSummary,
};
use async_trait::async_trait;
use domain::audit::AuditRecord;
use domain::config::TenantConfig;
use domain::events::DomainEvent;
use domain::ids::{
    CarrierCode, ExternalRef, OrderId, ReturnId, ShipmentId, TenantId, TrackingNumber, VendorId,
};
use domain::order::{CarrierTarget, Order, OrderStatus};
use domain::{Money, Timestamp};

use crate::TenantScope;
use crate::cursor::Cursors;
use crate::item::Item;
use crate::keys;
use crate::port::{Condition, ItemStore, Query, SkRange, WriteAction};
use crate::schema::{self, Index};

use super::audit::TenantAuditRepository;
use super::listing::{Listing, read_page};
use super::{Role, from_json, map_cancel, to_json};

/// How long outbox items live after the relay could have published them: longer than the
/// relay's dead-letter queue keeps a message (14 days), so that a dead letter can always be
/// checked against its item.
pub const OUTBOX_TTL_SECS: i64 = 15 * 24 * 3600;

/// The write shard an order lands on: its id's random bits modulo the tenant's shard count at
/// creation. The order keeps it for life.
pub fn shard_of(order: OrderId, shards: u32) -> u32 {
    let random = order.ulid().random();
    u32::try_from(random % u128::from(shards.max(1))).unwrap_or(0)
}

/// The attribute naming the command that wrote the order item.
const COMMAND: &str = "command";

/// The attribute every tracking item's condition compares: `keys::tracking_owner`.
const OWNER: &str = "owner";

fn time_range(from: Option<Timestamp>, to: Option<Timestamp>) -> SkRange {
    match (from, to) {
        (None, None) => SkRange::All,
        (from, to) => SkRange::Between(
            from.map_or_else(|| "0".to_owned(), |f| keys::time_sk_bounds(f).0),
            to.map_or_else(|| "~".to_owned(), |t| keys::time_sk_bounds(t).1),
        ),
    }
}

fn opt(t: Option<Timestamp>) -> String {
    t.map_or_else(String::new, |t| t.fixed_width())
}

/// The order repository.
#[derive(Clone)]
pub struct OrderRepository {
    store: Arc<dyn ItemStore>,
    /// Where a command's tenant audit records go, in the command's transaction.
    audit: TenantAuditRepository,
    shards: Arc<dyn ShardCounts>,
    cursors: Cursors,
}

fn check_tenant(scope: &TenantScope, order: &Order) -> RepoResult<()> {
    if order.tenant() == scope.tenant() {
        Ok(())
    } else {
        Err(RepoError::WrongTenant)
    }
}

fn vendor_lines(order: &Order) -> BTreeMap<VendorId, Vec<VendorLine>> {
    let mut out: BTreeMap<VendorId, Vec<VendorLine>> = BTreeMap::new();
    for l in order.lines() {
        out.entry(l.vendor.clone()).or_default().push(VendorLine {
            sku: l.sku.to_string(),
            quantity: l.quantity.get(),
            due: l.due(),
        });
    }
    out
}

impl OrderRepository {
    pub fn new(store: Arc<dyn ItemStore>, shards: Arc<dyn ShardCounts>, cursors: Cursors) -> Self {
        Self {
            audit: TenantAuditRepository::new(store.clone(), shards.clone(), cursors.clone()),
            store,
            shards,
            cursors,
        }
    }

    fn order_item(order: &Order, shard: u32, command: Option<&str>) -> RepoResult<Item> {
        let tenant = order.tenant();
        let mut item = Item::with_key(&keys::order(tenant, order.id()));
        let created = keys::order_time_sk(order.created_at(), order.id());
        let version =
            i64::try_from(order.version()).map_err(|e| RepoError::Corrupt(e.to_string()))?;
        item.set(schema::VERSION, version)
            .set("shard", i64::from(shard))
            .set("order_id", order.id().to_string())
            .set("status", order.status().as_str())
            .set("created_at", order.created_at().fixed_width())
            .set("updated_at", order.updated_at().fixed_width())
            .set("total", order.total().to_decimal_string())
            .set("currency", order.currency().code())
            .set("customer_name", order.customer().name.as_str())
            .set("data", to_json(order)?)
            .set(Index::Gsi1.pk_attr(), keys::orders_by_tenant(tenant, shard))
            .set(Index::Gsi1.sk_attr(), created.clone())
            .set(
                Index::Gsi2.pk_attr(),
                keys::orders_by_status(tenant, order.status(), shard),
            )
            .set(Index::Gsi2.sk_attr(), created)
            .set(Index::Gsi3.pk_attr(), keys::orders_by_update(tenant, shard))
            .set(
                Index::Gsi3.sk_attr(),
                keys::order_time_sk(order.updated_at(), order.id()),
            );
        if let Some(r) = order.external_ref() {
            item.set("external_ref", r.as_str());
        }
        if let Some(c) = command {
            item.set(COMMAND, c);
        }
        Ok(item)
    }

    fn vendor_item(
        order: &Order,
        shard: u32,
        vendor: &VendorId,
        lines: &[VendorLine],
    ) -> RepoResult<Item> {
        let mut item = Item::with_key(&keys::vendor_order(
            order.tenant(),
            vendor,
            shard,
            order.created_at(),
            order.id(),
        ));
        item.set("order_id", order.id().to_string())
            .set("status", order.status().as_str())
            .set("created_at", order.created_at().fixed_width())
            .set("lines", to_json(&lines)?);
        Ok(item)
    }

    /// The writes every command shares: audit, outbox, idempotency, the open-intent index, the
    /// command's tenant audit records, the tracking claims. Pushes each with its role.
    async fn side_writes(
        &self,
        scope: &TenantScope,
        order: &Order,
        write: CommandWrite<'_>,
        actions: &mut Vec<WriteAction>,
        roles: &mut Vec<Role>,
    ) -> RepoResult<()> {
        let tenant = order.tenant();
        let now = order.updated_at();
        let pointers = self.store.needs_outbox_pointers();
        if let Some(audit) = write.audit {
            let mut item = Item::with_key(&keys::order_audit(tenant, order.id(), audit.id));
            item.set("data", to_json(audit)?);
            actions.push(WriteAction::put_if(item, Condition::Absent));
            roles.push(Role::Other);
        }
        if !write.events.is_empty() {
            let outbox = keys::outbox(tenant, order.id(), order.version());
            if pointers {
                let mut pointer = Item::with_key(&keys::outbox_pending(
                    now,
                    tenant,
                    order.id(),
                    order.version(),
                ));
                pointer
                    .set("outbox_pk", outbox.pk.as_str())
                    .set("outbox_sk", outbox.sk.as_str());
                actions.push(WriteAction::put(pointer));
                roles.push(Role::Other);
            }
            let mut item = Item::with_key(&outbox);
            item.set("events", to_json(&write.events)?)
                .set(schema::TTL, now.unix_seconds() + OUTBOX_TTL_SECS);
            actions.push(WriteAction::put_if(item, Condition::Absent));
            roles.push(Role::Other);
        }
        if let Some(rec) = write.idempotency {
            actions.push(super::idempotency::put_action(rec, tenant));
            roles.push(Role::Idempotency);
        }
        for (target, open) in write.intents {
            actions.push(Self::intent_item(scope, order.id(), target, open));
            roles.push(Role::Other);
        }
        for record in &write.tenant_audit {
            actions.push(self.audit.put_action(scope, record).await?);
            roles.push(Role::Other);
        }
        for claim in write.tracking {
            actions.push(Self::claim_action(tenant, &claim));
            roles.push(Role::Tracking(Box::new(claim)));
        }
        for row in &write.usage {
            if &row.tenant != tenant {
                return Err(RepoError::WrongTenant);
            }
            let mut item = Item::with_key(&keys::carrier_usage(tenant, row.at, &row.id));
            item.set("data", to_json(row)?);
            actions.push(WriteAction::put_if(item, Condition::Absent));
            roles.push(Role::Other);
        }
        Ok(())
    }

    fn decode(scope: &TenantScope, item: &Item) -> RepoResult<StoredOrder> {
        let order: Order = from_json(item.require_s("data")?)?;
        check_tenant(scope, &order)?;
        let shard = u32::try_from(item.require_n("shard")?)
            .map_err(|e| RepoError::Corrupt(e.to_string()))?;
        let command = item.s(COMMAND).map(str::to_owned);
        Ok(StoredOrder::new(order, shard, command))
    }

    fn summary(item: &Item) -> RepoResult<OrderSummary> {
        let corrupt = |e: domain::DomainError| RepoError::Corrupt(e.to_string());
        let currency = domain::Currency::parse(item.require_s("currency")?).map_err(corrupt)?;
        Ok(OrderSummary {
            id: OrderId::parse(item.require_s("order_id")?).map_err(corrupt)?,
            status: OrderStatus::parse(item.require_s("status")?)
                .ok_or_else(|| RepoError::Corrupt("unknown status".into()))?,
            created_at: Timestamp::parse_rfc3339(item.require_s("created_at")?).map_err(corrupt)?,
            updated_at: item
                .s("updated_at")
                .map(Timestamp::parse_rfc3339)
                .transpose()
                .map_err(corrupt)?,
            total: Money::parse(item.require_s("total")?, currency).map_err(corrupt)?,
            customer_name: item.require_s("customer_name")?.to_owned(),
            external_ref: item
                .s("external_ref")
                .map(ExternalRef::parse)
                .transpose()
                .map_err(corrupt)?,
        })
    }

    /// The events of the command that took the order to `version` (the outbox item).
    pub async fn outbox(
        &self,
        scope: &TenantScope,
        id: OrderId,
        version: u64,
    ) -> RepoResult<Vec<DomainEvent>> {
        match self
            .store
            .get(&keys::outbox(scope.tenant(), id, version))
            .await?
        {
            Some(item) => from_json(item.require_s("events")?),
            None => Ok(Vec::new()),
        }
    }

    /// The conditional put of a claim: the item names its owner (tenant, order, shipment) and is
    /// written only if absent, expired, or already that owner's.
    fn claim_action(tenant: &TenantId, claim: &TrackingClaim) -> WriteAction {
        let key = match claim.index {
            TrackingIndex::Tenant => keys::tenant_tracking(tenant, &claim.carrier, &claim.number),
            TrackingIndex::Global => keys::global_tracking(&claim.carrier, &claim.number),
        };
        let owner = keys::tracking_owner(tenant, claim.order, claim.target);
        let mut item = Item::with_key(&key);
        item.set(OWNER, owner.as_str())
            .set("tenant", tenant.as_str())
            .set("order_id", claim.order.to_string());
        set_target(&mut item, claim.target);
        WriteAction::put_if(
            item,
            Condition::AbsentOrAttributeEquals(OWNER.into(), owner.into()),
        )
    }

    /// The tenant-scoped tracking-number item of a shipment (for carrier webhooks), as an action
    /// of a transaction; conditional like every claim.
    pub fn tracking_item(
        scope: &TenantScope,
        carrier: &CarrierCode,
        number: &TrackingNumber,
        order: OrderId,
        shipment: ShipmentId,
    ) -> WriteAction {
        let claim = TrackingClaim {
            index: TrackingIndex::Tenant,
            carrier: carrier.clone(),
            number: number.clone(),
            order,
            target: shipment.into(),
        };
        Self::claim_action(scope.tenant(), &claim)
    }

    /// The SaaS-wide item of a tracking number bought through the gateway (never one a user
    /// typed in), as an action of a transaction; conditional like every claim.
    pub fn global_tracking_item(
        scope: &TenantScope,
        carrier: &CarrierCode,
        number: &TrackingNumber,
        order: OrderId,
        shipment: ShipmentId,
    ) -> WriteAction {
        let claim = TrackingClaim {
            index: TrackingIndex::Global,
            carrier: carrier.clone(),
            number: number.clone(),
            order,
            target: shipment.into(),
        };
        Self::claim_action(scope.tenant(), &claim)
    }

    /// The index item of a shipment's (or return's) open carrier intent (written with the
    /// intent, deleted with its outcome), as an action of the command's transaction.
    pub fn intent_item(
        scope: &TenantScope,
        order: OrderId,
        target: CarrierTarget,
        open: bool,
    ) -> WriteAction {
        let key = keys::open_intent(scope.tenant(), order, target);
        if open {
            let mut item = Item::with_key(&key);
            item.set("order_id", order.to_string());
            set_target(&mut item, target);
            WriteAction::put(item)
        } else {
            WriteAction::Delete {
                key,
                condition: None,
            }
        }
    }

    /// How many outbox and audit items an order has (tests and diagnostics).
    pub async fn count_side_items(
        &self,
        scope: &TenantScope,
        id: OrderId,
    ) -> RepoResult<(usize, usize)> {
        let pk = keys::order(scope.tenant(), id).pk;
        let mut q = Query::partition(pk, 1_000);
        let (mut audits, mut outbox) = (0, 0);
        loop {
            let page = self.store.query(&q).await?;
            for item in &page.items {
                let sk = item.require_s(schema::SK)?;
                if sk.starts_with("AUDIT#") {
                    audits += 1;
                } else if sk.starts_with("EVT#") {
                    outbox += 1;
                }
            }
            match page.next {
                Some(n) => q.start = Some(n),
                None => break,
            }
        }
        Ok((audits, outbox))
    }
}

#[async_trait]
impl OrderStore for OrderRepository {
    /// Saves a new order (version 1) with everything its creation writes, in one transaction.
    async fn create(
        &self,
        scope: &TenantScope,
        order: &Order,
        write: CommandWrite<'_>,
    ) -> RepoResult<()> {
        check_tenant(scope, order)?;
        let shards = self.shards.shard_count(scope.tenant()).await?;
        let shard = shard_of(order.id(), shards);
        let command = write.audit.map(|a| a.id.to_string());
        let mut actions = vec![WriteAction::put_if(
            Self::order_item(order, shard, command.as_deref())?,
            Condition::Absent,
        )];
        let mut roles = vec![Role::Order { expected: None }];
        if let Some(r) = order.external_ref() {
            let mut item = Item::with_key(&keys::external_ref(scope.tenant(), r));
            item.set("order_id", order.id().to_string());
            actions.push(WriteAction::put_if(item, Condition::Absent));
            roles.push(Role::ExternalRef);
        }
        for (vendor, lines) in vendor_lines(order) {
            actions.push(WriteAction::put(Self::vendor_item(
                order, shard, &vendor, &lines,
            )?));
            roles.push(Role::Other);
        }
        self.side_writes(scope, order, write, &mut actions, &mut roles)
            .await?;
        let xref = order.external_ref().map(ExternalRef::to_string);
        self.store
            .transact_write(actions)
            .await
            .map_err(|e| map_cancel(e, &roles, xref.as_deref()))
    }

    /// Saves a changed order if nobody else changed it since `before` was loaded (optimistic lock
    /// on `version`), with its audit, outbox and the vendor items that changed, in one transaction.
    async fn update(
        &self,
        scope: &TenantScope,
        before: &StoredOrder,
        after: &Order,
        write: CommandWrite<'_>,
    ) -> RepoResult<()> {
        check_tenant(scope, after)?;
        if before.order.id() != after.id() {
            return Err(RepoError::Corrupt("update of another order".into()));
        }
        let expected = before.order.version();
        let expected_n = i64::try_from(expected).map_err(|e| RepoError::Corrupt(e.to_string()))?;
        let command = write.audit.map(|a| a.id.to_string());
        let mut actions = vec![WriteAction::put_if(
            Self::order_item(after, before.shard(), command.as_deref())?,
            Condition::VersionEquals(expected_n),
        )];
        let mut roles = vec![Role::Order {
            expected: Some(expected),
        }];
        let old_lines = vendor_lines(&before.order);
        for (vendor, lines) in vendor_lines(after) {
            let unchanged =
                before.order.status() == after.status() && old_lines.get(&vendor) == Some(&lines);
            if !unchanged {
                actions.push(WriteAction::put(Self::vendor_item(
                    after,
                    before.shard(),
                    &vendor,
                    &lines,
                )?));
                roles.push(Role::Other);
            }
        }
        self.side_writes(scope, after, write, &mut actions, &mut roles)
            .await?;
        self.store
            .transact_write(actions)
            .await
            .map_err(|e| map_cancel(e, &roles, None))?;
        Ok(())
    }

    /// One `GetItem`.
    async fn load(&self, scope: &TenantScope, id: OrderId) -> RepoResult<Option<StoredOrder>> {
        match self.store.get(&keys::order(scope.tenant(), id)).await? {
            Some(item) => Self::decode(scope, &item).map(Some),
            None => Ok(None),
        }
    }

    /// The order and the tenant's current config in one `BatchGetItem`.
    async fn load_with_config(
        &self,
        scope: &TenantScope,
        id: OrderId,
    ) -> RepoResult<(Option<StoredOrder>, TenantConfig)> {
        let keys = [
            keys::order(scope.tenant(), id),
            keys::tenant_config_current(scope.tenant()),
        ];
        let mut got = self.store.batch_get(&keys).await?.into_iter();
        let order = match got.next().flatten() {
            Some(item) => Some(Self::decode(scope, &item)?),
            None => None,
        };
        let config = match got.next().flatten() {
            Some(item) => super::config::decode(&item)?,
            None => TenantConfig::default(),
        };
        Ok((order, config))
    }

    /// The order an external reference names.
    async fn id_by_external_ref(
        &self,
        scope: &TenantScope,
        r: &ExternalRef,
    ) -> RepoResult<Option<OrderId>> {
        match self
            .store
            .get(&keys::external_ref(scope.tenant(), r))
            .await?
        {
            Some(item) => OrderId::parse(item.require_s("order_id")?)
                .map(Some)
                .map_err(|e| RepoError::Corrupt(e.to_string())),
            None => Ok(None),
        }
    }

    /// A page of the tenant's orders, over every write shard (one `Query` per shard).
    async fn list(
        &self,
        scope: &TenantScope,
        listing: &OrderListing,
        page: &PageRequest,
    ) -> RepoResult<OrderPage> {
        let tenant = scope.tenant();
        let shards = self.shards.shard_count(tenant).await?;
        let (index, partitions, range, forward, id): (Index, Vec<String>, SkRange, bool, String) =
            match listing {
                OrderListing::ByCreated { from, to } => (
                    Index::Gsi1,
                    (0..shards)
                        .map(|s| keys::orders_by_tenant(tenant, s))
                        .collect(),
                    time_range(*from, *to),
                    false,
                    format!("orders:created:{}:{}", opt(*from), opt(*to)),
                ),
                OrderListing::ByStatus { status, from, to } => (
                    Index::Gsi2,
                    (0..shards)
                        .map(|s| keys::orders_by_status(tenant, *status, s))
                        .collect(),
                    time_range(*from, *to),
                    false,
                    format!("orders:status:{status}:{}:{}", opt(*from), opt(*to)),
                ),
                OrderListing::ChangedSince { after } => (
                    Index::Gsi3,
                    (0..shards)
                        .map(|s| keys::orders_by_update(tenant, s))
                        .collect(),
                    SkRange::After(keys::time_sk_bounds(*after).1),
                    true,
                    format!("orders:changed:{}", after.fixed_width()),
                ),
            };
        let listing = Listing {
            index: Some(index),
            partitions,
            range,
            forward,
            id,
            tenant: tenant.as_str(),
        };
        read_page(self.store.as_ref(), &self.cursors, &listing, page)
            .await?
            .try_map(Self::summary)
    }

    /// A page of one vendor's orders, newest first, within a creation window and, for
    /// `ByStatus`, of one status (the vendor items carry it; a page may then hold fewer than
    /// `first` rows while more follow). `ChangedSince` is not a vendor listing: the vendor items
    /// are not rewritten on every change, so they cannot answer it.
    async fn list_by_vendor(
        &self,
        scope: &TenantScope,
        vendor: &VendorId,
        listing: &OrderListing,
        page: &PageRequest,
    ) -> RepoResult<VendorOrderPage> {
        /// Raw pages read at most to find rows of the asked status.
        const MAX_PAGES: usize = 10;
        let tenant = scope.tenant();
        let shards = self.shards.shard_count(tenant).await?;
        let opt = |t: Option<Timestamp>| t.map_or_else(String::new, |t| t.fixed_width());
        let (from, to, status) = match listing {
            OrderListing::ByCreated { from, to } => (*from, *to, None),
            OrderListing::ByStatus { status, from, to } => (*from, *to, Some(*status)),
            OrderListing::ChangedSince { .. } => {
                return Err(RepoError::InvalidPage(
                    "updatedAfter is not available in a vendor's listing".into(),
                ));
            }
        };
        let listing = Listing {
            index: None,
            partitions: (0..shards)
                .map(|s| keys::vendor_orders(tenant, vendor, s))
                .collect(),
            range: time_range(from, to),
            forward: false,
            id: format!(
                "vendor:{vendor}:{}:{}:{}",
                status.map_or("", |s| s.as_str()),
                opt(from),
                opt(to)
            ),
            tenant: tenant.as_str(),
        };
        let corrupt = |e: domain::DomainError| RepoError::Corrupt(e.to_string());
        let row = |item: &Item| -> RepoResult<VendorOrderSummary> {
            Ok(VendorOrderSummary {
                id: OrderId::parse(item.require_s("order_id")?).map_err(corrupt)?,
                status: OrderStatus::parse(item.require_s("status")?)
                    .ok_or_else(|| RepoError::Corrupt("unknown status".into()))?,
                created_at: Timestamp::parse_rfc3339(item.require_s("created_at")?)
                    .map_err(corrupt)?,
                lines: from_json(item.require_s("lines")?)?,
            })
        };
        let mut out = VendorOrderPage::empty();
        let mut next = page.clone();
        for _ in 0..MAX_PAGES {
            let mut got = read_page(self.store.as_ref(), &self.cursors, &listing, &next)
                .await?
                .try_map(row)?;
            got.retain(|r| status.is_none_or(|s| s == r.status));
            let end_cursor = got.end_cursor.take();
            out.extend(got);
            match end_cursor {
                Some(c) if out.rows.is_empty() => next.after = Some(c),
                end_cursor => {
                    out.end_cursor = end_cursor;
                    return Ok(out);
                }
            }
        }
        out.end_cursor = next.after;
        Ok(out)
    }

    /// A page of an order's audit records, oldest first.
    async fn audit_log(
        &self,
        scope: &TenantScope,
        id: OrderId,
        page: &PageRequest,
    ) -> RepoResult<Page<AuditRecord>> {
        let (pk, prefix) = keys::order_audit_prefix(scope.tenant(), id);
        let listing = Listing {
            index: None,
            partitions: vec![pk],
            range: SkRange::Prefix(prefix),
            forward: true,
            id: format!("order-audit:{id}"),
            tenant: scope.tenant().as_str(),
        };
        read_page(self.store.as_ref(), &self.cursors, &listing, page)
            .await?
            .try_map(|i| from_json(i.require_s("data")?))
    }

    /// The shipments and returns of the tenant with an open carrier intent, in order.
    async fn open_intents(&self, scope: &TenantScope) -> RepoResult<Vec<(OrderId, CarrierTarget)>> {
        let mut q = Query::partition(keys::open_intents(scope.tenant()), 1_000);
        let mut out = Vec::new();
        loop {
            let page = self.store.query(&q).await?;
            for item in &page.items {
                out.push((
                    OrderId::parse(item.require_s("order_id")?).map_err(corrupt)?,
                    target_of(item)?,
                ));
            }
            match page.next {
                Some(n) => q.start = Some(n),
                None => break,
            }
        }
        Ok(out)
    }

    /// The shipment whose gateway-bought label carries this tracking number, if any: read from
    /// the global item alone (no tenant's own tracking item has a say).
    async fn gateway_label(
        &self,
        carrier: &CarrierCode,
        number: &TrackingNumber,
    ) -> RepoResult<Option<GatewayLabel>> {
        let Some(item) = self
            .store
            .get(&keys::global_tracking(carrier, number))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(GatewayLabel {
            tenant: TenantId::parse(item.require_s("tenant")?).map_err(corrupt)?,
            order: OrderId::parse(item.require_s("order_id")?).map_err(corrupt)?,
            target: target_of(&item)?,
        }))
    }

    /// The shipment (or return) a tenant's tracking number names, if any (one `GetItem`).
    async fn by_tracking_number(
        &self,
        scope: &TenantScope,
        carrier: &CarrierCode,
        number: &TrackingNumber,
    ) -> RepoResult<Option<(OrderId, CarrierTarget)>> {
        let key = keys::tenant_tracking(scope.tenant(), carrier, number);
        let Some(item) = self.store.get(&key).await? else {
            return Ok(None);
        };
        Ok(Some((
            OrderId::parse(item.require_s("order_id")?).map_err(corrupt)?,
            target_of(&item)?,
        )))
    }
}

fn corrupt(e: domain::DomainError) -> RepoError {
    RepoError::Corrupt(e.to_string())
}

/// Names a shipment (`shipment_id`) or a return (`return_id`) on an index item.
fn set_target(item: &mut Item, target: CarrierTarget) {
    match target {
        CarrierTarget::Shipment(s) => item.set("shipment_id", s.to_string()),
        CarrierTarget::Return(r) => item.set("return_id", r.to_string()),
    };
}

/// The shipment or return an index item names.
fn target_of(item: &Item) -> RepoResult<CarrierTarget> {
    match item.s("return_id") {
        Some(r) => Ok(CarrierTarget::Return(ReturnId::parse(r).map_err(corrupt)?)),
        None => Ok(CarrierTarget::Shipment(
            ShipmentId::parse(item.require_s("shipment_id")?).map_err(corrupt)?,
        )),
    }
}
