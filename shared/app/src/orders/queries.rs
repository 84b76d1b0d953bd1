//! Reading orders: one order, by external reference, listings, an order's audit log.

use crate::ports::{OrderListing, OrderPage, Page, PageRequest, VendorOrderPage};
use domain::access::Operation;
use domain::audit::AuditRecord;
use domain::ids::{ExternalRef, OrderId, VendorId};
use domain::order::Order;

use crate::authz::Target;
use crate::context::RequestCtx;
use crate::engine::App;
use crate::error::{AppError, AppResult};

/// A page of a listing: the tenant's orders, or one vendor's.
#[derive(Debug, Clone)]
pub enum Listed {
    Tenant(OrderPage),
    Vendor(VendorOrderPage),
}

impl App {
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
        let identity = self.enter(rc, op).await?;
        let tenant = identity.tenant();
        if let Some(id) = self.external_refs.get(tenant, r) {
            match self.load_for(rc, op, id, false).await {
                Ok((stored, _)) if stored.order.external_ref() == Some(r) => {
                    return Ok(stored.order);
                }
                Ok(_) | Err(AppError::NotFound { .. }) => self.external_refs.forget(tenant, r),
                Err(e) => return Err(e),
            }
        }
        let id = self
            .orders
            .id_by_external_ref(identity.scope(), r)
            .await?
            .ok_or(AppError::NotFound { what: "order" })?;
        let order = self.load_for(rc, op, id, false).await?.0.order;
        self.external_refs.put(tenant, r, id);
        Ok(order)
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
        let identity = self.enter(rc, op).await?;
        // Input before the store: the shard count is not even read for a page out of bounds.
        page.check()?;
        let vendor = if identity.confined_for(op) {
            match (identity.vendor(), vendor) {
                (Some(mine), None) => Some(mine.clone()),
                (Some(mine), Some(asked)) if &asked == mine => Some(asked),
                _ => {
                    return Ok(Listed::Vendor(VendorOrderPage::empty()));
                }
            }
        } else {
            vendor
        };
        if vendor.is_some() && matches!(listing, OrderListing::ChangedSince { .. }) {
            return Err(AppError::Invalid {
                field: "updatedAfter".into(),
                message: "not available in a vendor's listing (its rows do not change with \
                          every command); filter by status or creation time"
                    .into(),
            });
        }
        match vendor {
            Some(v) => Ok(Listed::Vendor(
                self.orders
                    .list_by_vendor(identity.scope(), &v, &listing, page)
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
    ) -> AppResult<Page<AuditRecord>> {
        let op = Operation::ReadOrderAuditLog;
        let identity = rc.identity(op)?;
        if !identity.confined_for(op) {
            // Staff and admins see every order of their tenant, so the order need not be read
            // first (one Query instead of a GetItem and a Query): every order has the record of
            // its creation, so a first page without records means there is no such order.
            self.check(rc, op, Target::Tenant).await?;
            let records = self.orders.audit_log(identity.scope(), id, page).await?;
            if records.rows.is_empty() && page.after.is_none() {
                return Err(AppError::NotFound { what: "order" });
            }
            return Ok(records);
        }
        // A vendor sees the log of an order with its lines only: that takes the order.
        let (stored, _) = self.load_for(rc, op, id, false).await?;
        let mut records = self
            .orders
            .audit_log(identity.scope(), stored.order.id(), page)
            .await?;
        // A vendor sees its own actions only: the others' records name other vendors and staff
        // and what they did to lines that are not the vendor's. (A page may then hold fewer rows
        // while more follow.)
        if identity.confined_for(op) {
            records.retain(|r| &r.actor.subject == identity.subject());
        }
        Ok(records)
    }
}
