//! A tenant's own records: its business rules (versioned) and its audit log.

use crate::ports::{Page, PageRequest};
use domain::Timestamp;
use domain::access::Operation;
use domain::audit::AuditRecord;
use domain::config::TenantConfig;

use crate::context::{Pending, RequestCtx, UnitOfWork};
use crate::engine::App;
use crate::error::{AppError, AppResult};

impl App {
    /// Records in the tenant audit that the notification of `event` was given up after
    /// `attempts`, as the service `actor` (the notifier). The caller is that service identity.
    pub async fn audit_notification_given_up(
        &self,
        rc: &RequestCtx,
        actor: domain::ids::Subject,
        event: &domain::events::DomainEvent,
        attempts: u32,
        reason: &str,
    ) -> AppResult<()> {
        use domain::audit::{Actor, ActorKind, AuditOutcome, AuditTarget};
        let identity = rc.identity(Operation::ReadTenantConfig)?;
        let record = AuditRecord {
            id: domain::ids::AuditId::from_ulid(self.next_id()?),
            tenant: Some(event.tenant.clone()),
            actor: Actor {
                kind: ActorKind::Service,
                subject: actor,
            },
            action: "notify".into(),
            target: AuditTarget {
                kind: "event".into(),
                id: event.event_id.to_string(),
            },
            at: self.now(),
            request_id: rc.request_id.clone(),
            outcome: AuditOutcome::Failed {
                reason: format!(
                    "{} of order {} not delivered after {attempts} attempt(s): {reason}",
                    event.event_type(),
                    event.order_id
                ),
            },
            version: Some(event.aggregate_version),
        };
        self.tenant_audit.append(identity.scope(), &record).await?;
        Ok(())
    }

    /// The tenant audit between `from` and `to` (inclusive), newest first, a day partition at a
    /// time (one query per shard per day read). The cursor is `{day}.{day cursor}`; the day
    /// cursor is signed and bound to the tenant, and the day must lie within the range. Each
    /// row's cursor is its day's row cursor behind the same `{day}.`.
    pub async fn tenant_audit_log(
        &self,
        rc: &RequestCtx,
        from: Timestamp,
        to: Timestamp,
        page: &PageRequest,
    ) -> AppResult<Page<AuditRecord>> {
        let op = Operation::ReadAuditLog;
        let identity = self.enter(rc, op).await?;
        if !crate::audit_days::range_ok(from, to) {
            return Err(AppError::Invalid {
                field: "from".into(),
                message: crate::audit_days::range_message(),
            });
        }
        let bad_cursor = || AppError::Invalid {
            field: "after".into(),
            message: "invalid cursor".into(),
        };
        let (mut day, mut inner) = match &page.after {
            None => (to, None),
            Some(c) => {
                let (day, rest) =
                    crate::audit_days::split_cursor(c, from, to).ok_or_else(bad_cursor)?;
                (day, (rest != "-").then(|| rest.to_owned()))
            }
        };
        let mut out = Page::empty();
        loop {
            let want = page
                .first
                .saturating_sub(u32::try_from(out.rows.len()).unwrap_or(u32::MAX))
                .max(1);
            let mut got = self
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
            got.retain(|r| r.at >= from && r.at <= to);
            let day_prefix = format!("{}.", day.day());
            let next = got.end_cursor.take();
            got.cursors = got
                .cursors
                .into_iter()
                .map(|c| c.prefixed(&day_prefix))
                .collect();
            out.extend(got);
            let full = out.rows.len() >= page.first as usize;
            match next {
                Some(n) if full => {
                    out.end_cursor = Some(format!("{day_prefix}{n}"));
                    return Ok(out);
                }
                Some(n) => inner = Some(n),
                None => {
                    let previous = day.plus_seconds(-86_400);
                    if previous.day() < from.day() {
                        return Ok(out);
                    }
                    day = previous;
                    if full {
                        out.end_cursor = Some(format!("{}.-", day.day()));
                        return Ok(out);
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
        let identity = self.enter(rc, op).await?;
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
        let identity = self.enter(rc, op).await?.clone();
        if let Some(url) = config.notification_url() {
            self.outbound.check("notificationUrl", url.as_str())?;
        }
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
                current: Box::new(current),
                new: Box::new(new.clone()),
                audit,
            },
        )
        .await?;
        Ok(new)
    }
}
