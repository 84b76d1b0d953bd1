//! Shipment commands: create, confirm, dispatch, labels, tracking, delivery, cancellation.

use super::*;

impl Order {
    /// `createShipment`: per-line quantities within what is due and not yet allocated.
    pub fn create_shipment(
        &mut self,
        ctx: &mut Ctx<'_>,
        new: NewShipment,
    ) -> DomainResult<(ShipmentId, Vec<DomainEvent>)> {
        let instructions = optional_text("instructions", new.instructions.as_deref())?;
        if let Some(d) = &new.destination {
            d.validate()?;
        }
        if new.packages.len() > MAX_PACKAGES {
            return Err(DomainError::LimitExceeded {
                what: "packages per shipment",
                max: MAX_PACKAGES,
            });
        }
        let packages = new
            .packages
            .iter()
            .map(|p| {
                Ok(ShipmentPackage::new(
                    p.package,
                    optional_text("packages.reference", p.reference.as_deref())?,
                ))
            })
            .collect::<DomainResult<Vec<_>>>()?;
        if let Some(customs) = &new.customs
            && let Some(item) = customs
                .items
                .iter()
                .find(|i| !new.lines.iter().any(|l| l.sku == i.sku))
        {
            return Err(DomainError::invalid(
                "customs.items.sku",
                format!("{} is not a line of this shipment", item.sku),
            ));
        }
        let address_messages = new
            .address_messages
            .iter()
            .take(20)
            .map(|m| required_text("addressMessages", m))
            .collect::<DomainResult<Vec<_>>>()?;
        let mut created = None;
        let events = self.run(ctx, Command::CreateShipment, |o, ctx, out| {
            if o.shipments.len() >= MAX_SHIPMENTS {
                return Err(DomainError::LimitExceeded {
                    what: "shipments per order",
                    max: MAX_SHIPMENTS,
                });
            }
            let wanted = quantities_by_sku(&o.lines, &new.lines)?;
            for (sku, qty) in &wanted {
                let due = o.line(sku).map_or(0, OrderLine::due);
                let available = due.saturating_sub(o.allocated(sku));
                if *qty > available {
                    return Err(DomainError::QuantityExceeded {
                        sku: sku.to_string(),
                        requested: *qty,
                        available,
                    });
                }
            }
            let packed: usize = o.shipments.iter().map(|s| s.packages.len()).sum();
            if packed + packages.len() > MAX_ORDER_PACKAGES {
                return Err(DomainError::LimitExceeded {
                    what: "packages per order",
                    max: MAX_ORDER_PACKAGES,
                });
            }
            if let Some(insured) = new.label_options.insurance
                && insured.currency() != o.currency
            {
                return Err(DomainError::CurrencyMismatch {
                    expected: o.currency.code(),
                    found: insured.currency().code(),
                });
            }
            let id = ShipmentId::from_ulid(ctx.ids.next_ulid());
            o.shipments.push(Shipment {
                id,
                status: ShipmentStatus::Pending,
                lines: new.lines.clone(),
                destination: new
                    .destination
                    .clone()
                    .unwrap_or_else(|| o.destination.clone()),
                packages: packages.clone(),
                mode: new.mode,
                carrier: new.carrier.clone(),
                pickup: new.pickup.clone(),
                instructions,
                tracking_number: None,
                label: None,
                carrier_reference: None,
                carrier_status: None,
                intent: None,
                label_key: None,
                void_key: None,
                customs: new.customs.clone(),
                label_options: new.label_options.clone(),
                address_messages: address_messages.clone(),
                customs_form_url: None,
                insurance_charge: None,
                created_at: ctx.now,
                updated_at: ctx.now,
            });
            out.push(EventPayload::ShipmentCreated {
                shipment_id: id,
                lines: new.lines.clone(),
            });
            created = Some(id);
            Ok(())
        })?;
        let id = created.ok_or(DomainError::NotFound {
            what: "shipment",
            id: String::new(),
        })?;
        Ok((id, events))
    }

    pub(super) fn shipment_command(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        command: Command,
        mv: ShipmentMove,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.run(ctx, command, |o, ctx, out| {
            let idx = o.shipment_index(id)?;
            o.move_shipment(ctx.now, idx, mv, command, out)
        })
    }

    pub fn confirm_shipment(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.shipment_command(ctx, id, Command::ConfirmShipment, ShipmentMove::Confirm)
    }

    pub fn cancel_shipment(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.shipment_command(ctx, id, Command::CancelShipment, ShipmentMove::Cancel)
    }

    pub fn mark_shipment_delivered(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.shipment_command(
            ctx,
            id,
            Command::MarkShipmentDelivered,
            ShipmentMove::Delivered,
        )
    }

    /// `dispatchShipment`: on its way, optionally with the carrier's tracking number.
    pub fn dispatch_shipment(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        carrier: Option<CarrierCode>,
        tracking_number: Option<TrackingNumber>,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.run(ctx, Command::DispatchShipment, |o, ctx, out| {
            let idx = o.shipment_index(id)?;
            o.move_shipment(
                ctx.now,
                idx,
                ShipmentMove::InTransit,
                Command::DispatchShipment,
                out,
            )?;
            o.record_tracking_details(idx, carrier, tracking_number, out);
            Ok(())
        })
    }

    /// Sets carrier and tracking number where they are new; emits an event only on a change.
    pub(super) fn record_tracking_details(
        &mut self,
        idx: usize,
        carrier: Option<CarrierCode>,
        tracking_number: Option<TrackingNumber>,
        out: &mut Vec<EventPayload>,
    ) -> bool {
        let s = &mut self.shipments[idx];
        let new_carrier = carrier.filter(|c| s.carrier.as_ref() != Some(c));
        let new_number = tracking_number.filter(|n| s.tracking_number.as_ref() != Some(n));
        if new_carrier.is_none() && new_number.is_none() {
            return false;
        }
        if let Some(c) = &new_carrier {
            s.carrier = Some(c.clone());
        }
        if let Some(n) = &new_number {
            s.tracking_number = Some(n.clone());
        }
        out.push(EventPayload::ShipmentTrackingUpdated {
            shipment_id: s.id,
            carrier: s.carrier.clone(),
            tracking_number: s.tracking_number.clone(),
        });
        true
    }

    /// `updateShipmentTracking` and carrier webhooks. Tracking may skip forward but never moves
    /// backwards or out of a terminal state: such an update is `Ignored` and changes nothing.
    /// An update naming one package's number (of a shipment whose labels are bought) moves that
    /// package only, and the shipment by its packages' roll-up (`shipment_of_packages`).
    pub fn update_tracking(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        update: TrackingUpdate,
    ) -> DomainResult<TrackingOutcome> {
        self.update_tracking_all(ctx, id, std::slice::from_ref(&update))
    }

    /// Several tracking updates of one shipment (its packages', as polled together) applied as
    /// one command, each by `update_tracking`'s rules.
    pub fn update_tracking_all(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        updates: &[TrackingUpdate],
    ) -> DomainResult<TrackingOutcome> {
        let events = self.run(ctx, Command::UpdateShipmentTracking, |o, ctx, out| {
            let idx = o.shipment_index(id)?;
            for update in updates {
                o.apply_tracking(ctx.now, idx, update, out)?;
            }
            Ok(())
        })?;
        if events.is_empty() {
            let status = self
                .shipment(id)
                .map_or(ShipmentStatus::Pending, |s| s.status);
            Ok(TrackingOutcome::Ignored { status })
        } else {
            Ok(TrackingOutcome::Applied(events))
        }
    }

    fn apply_tracking(
        &mut self,
        now: Timestamp,
        idx: usize,
        update: &TrackingUpdate,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<()> {
        // A label purchase or void in flight owns the shipment until its outcome is in.
        if self.shipments[idx].status.is_terminal() || self.shipments[idx].intent.is_some() {
            return Ok(());
        }
        if let Some(k) = self.shipments[idx].bought_package(update.tracking_number.as_ref()) {
            return self.track_package(now, idx, k, update, out);
        }
        let applicable = ShipmentMove::from_tracking(update.status)
            .filter(|mv| shipment_transition(self.shipments[idx].status, *mv).is_some());
        if let Some(mv) = applicable {
            self.move_shipment(now, idx, mv, Command::UpdateShipmentTracking, out)?;
            if let Some(raw) = &update.carrier_status {
                self.shipments[idx].carrier_status = optional_text("carrierStatus", Some(raw))?;
            }
        }
        self.record_tracking_details(
            idx,
            update.carrier.clone(),
            update.tracking_number.clone(),
            out,
        );
        Ok(())
    }

    /// Moves package `k` of shipment `idx` on a carrier's update for its number (never
    /// backwards), then the shipment by its packages' roll-up. A repeat or a stale status
    /// changes nothing.
    fn track_package(
        &mut self,
        now: Timestamp,
        idx: usize,
        k: usize,
        update: &TrackingUpdate,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<()> {
        let package = &mut self.shipments[idx].packages[k];
        let Some(from) = package.status else {
            return Ok(());
        };
        let Some(to) = package_transition(from, update.status) else {
            return Ok(());
        };
        package.status = Some(to);
        if let Some(raw) = &update.carrier_status {
            package.carrier_status = optional_text("carrierStatus", Some(raw))?;
        }
        let shipment = &mut self.shipments[idx];
        shipment.updated_at = now;
        // One package's move is the shipment's own when it has no other.
        if shipment.packages.len() > 1 {
            out.push(EventPayload::PackageStatusChanged {
                shipment_id: shipment.id,
                package: u32::try_from(k + 1).unwrap_or(u32::MAX),
                tracking_number: package_number(shipment, k),
                from,
                to,
            });
        }
        let statuses: Vec<PackageStatus> =
            shipment.packages.iter().filter_map(|p| p.status).collect();
        let rolled = shipment_of_packages(&statuses).filter(|s| *s != shipment.status);
        if let Some(mv) = rolled.and_then(ShipmentMove::to_status)
            && shipment_transition(shipment.status, mv).is_some()
        {
            self.shift_shipment(now, idx, mv, Command::UpdateShipmentTracking, out)?;
            if let Some(raw) = &update.carrier_status {
                self.shipments[idx].carrier_status = optional_text("carrierStatus", Some(raw))?;
            }
        }
        if let Some(carrier) = update.carrier.clone() {
            self.record_tracking_details(idx, Some(carrier), None, out);
        }
        Ok(())
    }
}

/// Package `k`'s tracking number (set once its label is bought).
fn package_number(s: &Shipment, k: usize) -> Option<TrackingNumber> {
    s.packages.get(k).and_then(|p| p.tracking_number.clone())
}
