//! The use cases: each authorizes, reads once, applies the domain command and commits aggregate,
//! audit, outbox, index and vendor items (and the idempotency record) in one transaction.

use std::sync::{Arc, Mutex};

use auth::{Caller, Identity};
use domain::access::Operation;
use domain::audit::{AuditOutcome, AuditRecord, AuditTarget};
use domain::clock::Ctx;
use domain::config::TenantConfig;
use domain::events::DomainEvent;
use domain::ids::{AuditId, ExternalRef, OrderId, Sku, VendorId};
use domain::order::{NewOrder, Order};
use domain::{IdSource, Timestamp};
use store::cursor::Cursors;
use store::repo::{
    CommandWrite, IdempotencyRecord, IdempotencyRepository, OrderListing, OrderPage,
    OrderRepository, PageRequest, StoredOrder, TenantAuditRepository, TenantConfigRepository,
    VendorOrderPage,
};
use store::{ItemStore, ShardCounts};

use crate::authz::{Audited, Authorizer, Target, authorize, user_audit};
use crate::error::{AppError, AppResult};

/// The time use cases run at (millisecond UTC), injected.
pub trait Now: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock.
pub struct SystemNow;

impl Now for SystemNow {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_unix_millis(ms).unwrap_or_else(|_| Timestamp::from_datetime(time_epoch()))
    }
}

fn time_epoch() -> time::OffsetDateTime {
    time::OffsetDateTime::UNIX_EPOCH
}

/// ULIDs from the system clock and a CSPRNG.
pub struct SystemIds;

impl IdSource for SystemIds {
    fn next_ulid(&mut self) -> ulid::Ulid {
        ulid::Ulid::new()
    }
}

/// Who is asking, in which request.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    pub caller: Caller,
    pub request_id: String,
}

impl RequestCtx {
    /// The tenant identity; platform admins never reach tenant data.
    pub fn identity(&self, op: Operation) -> AppResult<&Identity> {
        match &self.caller {
            Caller::Tenant(id) => Ok(id),
            Caller::Platform(_) => Err(AppError::Forbidden {
                operation: op.as_str(),
            }),
        }
    }
}

/// A command's writes, ready to commit. Orders are boxed: a pending write moves once.
#[derive(Debug, Clone)]
pub enum Pending {
    Create {
        identity: Identity,
        order: Box<Order>,
        events: Vec<DomainEvent>,
        audit: AuditRecord,
    },
    Update {
        identity: Identity,
        before: Box<StoredOrder>,
        after: Box<Order>,
        events: Vec<DomainEvent>,
        audit: AuditRecord,
        /// Further items of the command (tracking numbers).
        extra: Vec<store::WriteAction>,
    },
    Config {
        identity: Identity,
        current: TenantConfig,
        new: TenantConfig,
        audit: AuditRecord,
    },
}

/// Collects a request's writes. A request with an idempotency key defers its one command's commit
/// until the response is known, so the stored response commits in the same transaction.
#[derive(Debug, Default)]
pub struct UnitOfWork {
    defer: bool,
    pending: Mutex<Option<Pending>>,
}

impl UnitOfWork {
    pub fn immediate() -> Self {
        Self::default()
    }

    pub fn deferred() -> Self {
        Self {
            defer: true,
            ..Self::default()
        }
    }

    pub fn take_pending(&self) -> Option<Pending> {
        self.pending.lock().ok().and_then(|mut p| p.take())
    }
}

/// Tracking-number items for shipments whose carrier and tracking number changed.
fn tracking_items(identity: &Identity, before: &Order, after: &Order) -> Vec<store::WriteAction> {
    after
        .shipments()
        .iter()
        .filter_map(|s| {
            let (carrier, number) = (s.carrier.as_ref()?, s.tracking_number.as_ref()?);
            let old = before.shipment(s.id);
            let unchanged = old.is_some_and(|o| {
                o.carrier.as_ref() == Some(carrier) && o.tracking_number.as_ref() == Some(number)
            });
            (!unchanged).then(|| {
                OrderRepository::tracking_item(identity.scope(), carrier, number, after.id(), s.id)
            })
        })
        .collect()
}

/// The vendor-scope rule for shipments: a vendor-confined caller acts only on its own lines.
fn check_vendor_skus<'a>(
    identity: &Identity,
    order: &Order,
    skus: impl IntoIterator<Item = &'a Sku>,
) -> AppResult<()> {
    if !identity.vendor_confined() {
        return Ok(());
    }
    let mine = |sku: &Sku| {
        order
            .line(sku)
            .is_some_and(|l| Some(&l.vendor) == identity.vendor())
    };
    if skus.into_iter().all(mine) {
        Ok(())
    } else {
        Err(AppError::NotFound { what: "line" })
    }
}

pub struct App {
    pub orders: OrderRepository,
    pub configs: TenantConfigRepository,
    pub idempotency: IdempotencyRepository,
    pub tenant_audit: TenantAuditRepository,
    authorizer: Authorizer,
    ids: Arc<Mutex<dyn IdSource + Send>>,
    now: Arc<dyn Now>,
}

/// Which command runs on which order.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub op: Operation,
    pub id: OrderId,
    /// Refuse unless the order is at this version (no retry then).
    pub expected_version: Option<u64>,
    /// Read the tenant config in the same batch (refunds).
    pub needs_config: bool,
}

/// How many times a command is retried after losing an optimistic-lock race.
const RETRIES: usize = 3;

/// What a shipment-scoped command needs checked for vendors.
pub type OrderFn<'a> = dyn Fn(&mut Order, &mut Ctx<'_>, &TenantConfig, &Identity) -> AppResult<Vec<DomainEvent>>
    + Send
    + Sync
    + 'a;

impl App {
    pub fn new(
        store: Arc<dyn ItemStore>,
        shards: Arc<dyn ShardCounts>,
        cursors: Cursors,
        ids: Arc<Mutex<dyn IdSource + Send>>,
        now: Arc<dyn Now>,
    ) -> Self {
        let tenant_audit =
            TenantAuditRepository::new(store.clone(), shards.clone(), cursors.clone());
        Self {
            orders: OrderRepository::new(store.clone(), shards, cursors),
            configs: TenantConfigRepository::new(store.clone()),
            idempotency: IdempotencyRepository::new(store),
            authorizer: Authorizer::new(tenant_audit.clone(), ids.clone()),
            tenant_audit,
            ids,
            now,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.now.now()
    }

    fn next_id(&self) -> AppResult<ulid::Ulid> {
        self.ids
            .lock()
            .map(|mut i| i.next_ulid())
            .map_err(|_| AppError::Internal("id source poisoned".into()))
    }

    /// The success record of `op` on `kind`/`id`, at `version`.
    fn audit(
        &self,
        rc: &RequestCtx,
        identity: &Identity,
        op: Operation,
        target: (&str, String),
        version: Option<u64>,
        at: Timestamp,
    ) -> AppResult<AuditRecord> {
        let what = Audited {
            op,
            target: AuditTarget {
                kind: target.0.to_owned(),
                id: target.1,
            },
            outcome: AuditOutcome::Success,
            version,
        };
        Ok(user_audit(
            AuditId::from_ulid(self.next_id()?),
            identity,
            what,
            at,
            &rc.request_id,
        ))
    }

    /// Plan and role first (no store access for a forbidden operation), audited when refused.
    pub async fn check(&self, rc: &RequestCtx, op: Operation, target: Target<'_>) -> AppResult<()> {
        self.authorizer
            .authorize(&rc.caller, op, target, &rc.request_id, self.now())
            .await
            .map_err(AppError::from)
    }

    /// Commits a command's writes (with the idempotency record, when the request had a key).
    pub async fn commit(
        &self,
        pending: &Pending,
        idempotency: Option<&IdempotencyRecord>,
    ) -> AppResult<()> {
        match pending {
            Pending::Create {
                identity,
                order,
                events,
                audit,
            } => {
                self.orders
                    .create(
                        identity.scope(),
                        order,
                        CommandWrite {
                            events,
                            audit: Some(audit),
                            idempotency,
                            extra: Vec::new(),
                        },
                    )
                    .await?;
            }
            Pending::Update {
                identity,
                before,
                after,
                events,
                audit,
                extra,
            } => {
                self.orders
                    .update(
                        identity.scope(),
                        before,
                        after,
                        CommandWrite {
                            events,
                            audit: Some(audit),
                            idempotency,
                            extra: extra.clone(),
                        },
                    )
                    .await?;
            }
            Pending::Config {
                identity,
                current,
                new,
                audit,
            } => {
                let mut extra = vec![
                    self.tenant_audit
                        .put_action(identity.scope(), audit)
                        .await?,
                ];
                if let Some(rec) = idempotency {
                    extra.push(rec.put_action(identity.tenant()));
                }
                self.configs
                    .save(identity.scope(), current, new.clone(), extra)
                    .await?;
            }
        }
        Ok(())
    }

    /// Commits now, or leaves the writes for the request to commit with its stored response.
    async fn submit(&self, uow: &UnitOfWork, pending: Pending) -> AppResult<()> {
        if uow.defer {
            let mut slot = uow
                .pending
                .lock()
                .map_err(|_| AppError::Internal("unit of work poisoned".into()))?;
            if slot.is_some() {
                return Err(AppError::Invalid {
                    field: "mutation".into(),
                    message: "one command per idempotent request".into(),
                });
            }
            *slot = Some(pending);
            return Ok(());
        }
        self.commit(&pending, None).await
    }

    /// Loads the order for a read, authorizing against its tenant and vendors.
    async fn load_for(
        &self,
        rc: &RequestCtx,
        op: Operation,
        id: OrderId,
        with_config: bool,
    ) -> AppResult<(StoredOrder, TenantConfig)> {
        let identity = rc.identity(op)?;
        self.check(rc, op, Target::Tenant).await?;
        let (stored, config) = if with_config {
            self.orders.load_with_config(identity.scope(), id).await?
        } else {
            (
                self.orders.load(identity.scope(), id).await?,
                TenantConfig::default(),
            )
        };
        let stored = stored.ok_or(AppError::NotFound { what: "order" })?;
        let vendors = stored.order.vendors();
        let sid = id.to_string();
        self.check(
            rc,
            op,
            Target::Order {
                tenant: stored.order.tenant(),
                id: &sid,
                vendors: &vendors,
            },
        )
        .await?;
        Ok((stored, config))
    }

    /// Runs a command on an existing order: authorize, one read, the domain command, one
    /// transaction; retried when another command won the race (unless the caller pinned a version).
    pub async fn order_command(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        spec: CommandSpec,
        command: &OrderFn<'_>,
    ) -> AppResult<Order> {
        let CommandSpec {
            op,
            id,
            expected_version,
            needs_config,
        } = spec;
        let identity = rc.identity(op)?.clone();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (stored, config) = self.load_for(rc, op, id, needs_config).await?;
            if let Some(v) = expected_version
                && v != stored.order.version()
            {
                return Err(AppError::Conflict(format!(
                    "expected version {v}, the order is at {}",
                    stored.order.version()
                )));
            }
            let now = self.now();
            let mut after = stored.order.clone();
            let events = {
                let mut ids = self
                    .ids
                    .lock()
                    .map_err(|_| AppError::Internal("id source poisoned".into()))?;
                let mut ctx = Ctx::new(now, &mut *ids);
                command(&mut after, &mut ctx, &config, &identity)?
            };
            if events.is_empty() {
                // Nothing changed (an ignored tracking update): no version, no event, no audit.
                return Ok(after);
            }
            let audit = self.audit(
                rc,
                &identity,
                op,
                ("order", id.to_string()),
                Some(after.version()),
                now,
            )?;
            let extra = tracking_items(&identity, &stored.order, &after);
            let pending = Pending::Update {
                identity: identity.clone(),
                before: Box::new(stored),
                after: Box::new(after.clone()),
                events,
                audit,
                extra,
            };
            match self.submit(uow, pending).await {
                Err(AppError::Conflict(_))
                    if expected_version.is_none() && !uow.defer && attempt < RETRIES =>
                {
                    continue;
                }
                Err(e) => return Err(e),
                Ok(()) => return Ok(after),
            }
        }
    }

    pub async fn create_order(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        new: NewOrder,
    ) -> AppResult<Order> {
        let op = Operation::CreateOrder;
        let identity = rc.identity(op)?.clone();
        self.check(rc, op, Target::Tenant).await?;
        let now = self.now();
        let id = OrderId::from_ulid(self.next_id()?);
        let (order, events) = {
            let mut ids = self
                .ids
                .lock()
                .map_err(|_| AppError::Internal("id source poisoned".into()))?;
            Order::create(
                &mut Ctx::new(now, &mut *ids),
                id,
                identity.tenant().clone(),
                identity.subject().clone(),
                new,
            )?
        };
        let audit = self.audit(rc, &identity, op, ("order", id.to_string()), Some(1), now)?;
        self.submit(
            uow,
            Pending::Create {
                identity,
                order: Box::new(order.clone()),
                events,
                audit,
            },
        )
        .await?;
        Ok(order)
    }

    pub async fn order(&self, rc: &RequestCtx, id: OrderId) -> AppResult<Order> {
        Ok(self
            .load_for(rc, Operation::ReadOrder, id, false)
            .await?
            .0
            .order)
    }

    pub async fn order_by_external_ref(
        &self,
        rc: &RequestCtx,
        r: &ExternalRef,
    ) -> AppResult<Order> {
        let op = Operation::ReadOrderByExternalRef;
        let identity = rc.identity(op)?;
        self.check(rc, op, Target::Tenant).await?;
        let id = self
            .orders
            .id_by_external_ref(identity.scope(), r)
            .await?
            .ok_or(AppError::NotFound { what: "order" })?;
        Ok(self.load_for(rc, op, id, false).await?.0.order)
    }

    /// A listing. Vendor-confined callers always get their own vendor listing.
    pub async fn orders(
        &self,
        rc: &RequestCtx,
        listing: OrderListing,
        vendor: Option<VendorId>,
        page: &PageRequest,
    ) -> AppResult<Listed> {
        let op = Operation::ListOrders;
        let identity = rc.identity(op)?;
        self.check(rc, op, Target::Tenant).await?;
        let vendor = if identity.vendor_confined() {
            match (identity.vendor(), vendor) {
                (Some(mine), None) => Some(mine.clone()),
                (Some(mine), Some(asked)) if &asked == mine => Some(asked),
                _ => {
                    return Ok(Listed::Vendor(VendorOrderPage {
                        orders: Vec::new(),
                        end_cursor: None,
                    }));
                }
            }
        } else {
            vendor
        };
        match vendor {
            Some(v) => Ok(Listed::Vendor(
                self.orders
                    .list_by_vendor(identity.scope(), &v, page)
                    .await?,
            )),
            None => Ok(Listed::Tenant(
                self.orders.list(identity.scope(), &listing, page).await?,
            )),
        }
    }

    pub async fn order_audit_log(
        &self,
        rc: &RequestCtx,
        id: OrderId,
        page: &PageRequest,
    ) -> AppResult<(Vec<AuditRecord>, Option<String>)> {
        let op = Operation::ReadOrderAuditLog;
        let (stored, _) = self.load_for(rc, op, id, false).await?;
        let identity = rc.identity(op)?;
        Ok(self
            .orders
            .audit_log(identity.scope(), stored.order.id(), page)
            .await?)
    }

    /// The tenant audit between `from` and `to` (inclusive), newest first, a day partition at a
    /// time (one query per shard per day read). The cursor is `{day}.{day cursor}`; the day
    /// cursor is signed and bound to the tenant, and the day must lie within the range.
    pub async fn tenant_audit_log(
        &self,
        rc: &RequestCtx,
        from: Timestamp,
        to: Timestamp,
        page: &PageRequest,
    ) -> AppResult<(Vec<AuditRecord>, Option<String>)> {
        const MAX_DAYS: i64 = 31;
        let op = Operation::ReadAuditLog;
        let identity = rc.identity(op)?;
        self.check(rc, op, Target::Tenant).await?;
        if to < from || to.unix_seconds() - from.unix_seconds() > MAX_DAYS * 86_400 {
            return Err(AppError::Invalid {
                field: "from".into(),
                message: format!("from must be before to, at most {MAX_DAYS} days apart"),
            });
        }
        let bad_cursor = || AppError::Invalid {
            field: "after".into(),
            message: "invalid cursor".into(),
        };
        let (mut day, mut inner) = match &page.after {
            None => (to, None),
            Some(c) => {
                let (d, rest) = c.split_once('.').ok_or_else(bad_cursor)?;
                let day = Timestamp::parse_rfc3339(&format!("{d}T12:00:00Z"))
                    .map_err(|_| bad_cursor())?;
                if day.day() < from.day() || day.day() > to.day() {
                    return Err(bad_cursor());
                }
                (day, (rest != "-").then(|| rest.to_owned()))
            }
        };
        let mut out = Vec::new();
        loop {
            let want = page
                .first
                .saturating_sub(u32::try_from(out.len()).unwrap_or(u32::MAX))
                .max(1);
            let (records, next) = self
                .tenant_audit
                .list_day(
                    identity.scope(),
                    day,
                    &PageRequest {
                        first: want,
                        after: inner.take(),
                    },
                )
                .await?;
            out.extend(records.into_iter().filter(|r| r.at >= from && r.at <= to));
            let full = out.len() >= page.first as usize;
            match next {
                Some(n) if full => return Ok((out, Some(format!("{}.{n}", day.day())))),
                Some(n) => inner = Some(n),
                None => {
                    let previous = day.plus_seconds(-86_400);
                    if previous.day() < from.day() {
                        return Ok((out, None));
                    }
                    day = previous;
                    if full {
                        return Ok((out, Some(format!("{}.-", day.day()))));
                    }
                }
            }
        }
    }

    pub async fn tenant_config(
        &self,
        rc: &RequestCtx,
        version: Option<u32>,
    ) -> AppResult<TenantConfig> {
        let op = Operation::ReadTenantConfig;
        let identity = rc.identity(op)?;
        self.check(rc, op, Target::Tenant).await?;
        match version {
            None => Ok(self.configs.current(identity.scope()).await?),
            Some(v) => self
                .configs
                .version(identity.scope(), v)
                .await?
                .ok_or(AppError::NotFound {
                    what: "tenant config version",
                }),
        }
    }

    pub async fn update_tenant_config(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        config: TenantConfig,
    ) -> AppResult<TenantConfig> {
        let op = Operation::UpdateTenantConfig;
        let identity = rc.identity(op)?.clone();
        self.check(rc, op, Target::Tenant).await?;
        let current = self.configs.current(identity.scope()).await?;
        let new = config.with_version(current.version() + 1);
        let now = self.now();
        let audit = self.audit(
            rc,
            &identity,
            op,
            ("tenantConfig", new.version().to_string()),
            Some(u64::from(new.version())),
            now,
        )?;
        self.submit(
            uow,
            Pending::Config {
                identity,
                current,
                new: new.clone(),
                audit,
            },
        )
        .await?;
        Ok(new)
    }

    /// Checks that a vendor acts on its own lines only.
    pub fn vendor_skus<'a>(
        identity: &Identity,
        order: &Order,
        skus: impl IntoIterator<Item = &'a Sku>,
    ) -> AppResult<()> {
        check_vendor_skus(identity, order, skus)
    }

    /// Re-checks permission before an idempotent replay (the plan or role may have changed).
    pub fn may_replay(&self, rc: &RequestCtx, op: Operation) -> AppResult<()> {
        authorize(&rc.caller, op, Target::Tenant).map_err(AppError::from)
    }
}

/// A page of a listing: the tenant's orders, or one vendor's.
#[derive(Debug, Clone)]
pub enum Listed {
    Tenant(OrderPage),
    Vendor(VendorOrderPage),
}
