use async_trait::async_trait;

use super::*;

#[async_trait]
impl PaymentStore for MemoryStore {
    async fn payment_context(
        &self,
        user: &UserId,
        reservation: ReservationId,
        concert: &ConcertId,
    ) -> Result<PaymentContext, StoreError> {
        let t = self.tables();
        Ok(PaymentContext {
            reservation: t.reservations.get(&(user.clone(), reservation)).cloned(),
            balance: t.balances.get(user).copied().unwrap_or_default(),
            ticket: t.tickets.get(&(user.clone(), concert.clone())).cloned(),
            tally: t.tally(user, concert),
        })
    }

    async fn commit_payment(&self, p: &PaymentCommit) -> Result<CommitOutcome, StoreError> {
        let mut t = self.tables();
        let r = &p.reservation;
        let reservation_key = (r.user_id.clone(), r.reservation_id);
        let held = t.reservations.get(&reservation_key).is_some_and(|stored| {
            stored.status == StoredReservationStatus::Held && stored.held_until > p.now
        });
        let payment_key = (r.user_id.clone(), p.payment.payment_id);
        let counted = t
            .tally(&r.user_id, &r.concert_id)
            .holds
            .contains_key(&r.reservation_id);
        if !(held
            && counted
            && t.seats_held_by(r, p.now)
            && t.ticket_is_active(&r.user_id, &r.concert_id, &p.token, p.now)
            && t.tickets
                .get(&(r.user_id.clone(), r.concert_id.clone()))
                .is_some_and(|ticket| ticket.active_until == Some(p.active_until))
            && t.balance_change_allowed(&p.balance)
            && !t.payments.contains_key(&payment_key))
        {
            return Ok(CommitOutcome::Refused);
        }
        if !t.claim_is_ours(&p.balance.completion) {
            return Ok(CommitOutcome::ClaimLost);
        }
        let seats = t.seats_after(r, Some(HoldEnd::Sold(p.admitted_at)));
        let slots = p.slot_move();
        let slots_after = t.slots_after(&r.concert_id, &slots);
        within_limits(dynamo::meter_commit_payment(
            p,
            &seats,
            &t.tally(&r.user_id, &r.concert_id),
            &slots_after,
        ))?;
        t.slots
            .insert((r.concert_id.clone(), slots.shard), slots_after);
        if let Some(stored) = t.reservations.get_mut(&reservation_key) {
            stored.status = StoredReservationStatus::Confirmed;
            stored.payment_id = Some(p.payment.payment_id);
            stored.expires_at = None;
        }
        t.store_seats(r, seats);
        let bought = r.seats.len() as u32;
        t.retally(r, |tally| tally.bought += bought);
        if let Some(ticket) = t
            .tickets
            .get_mut(&(r.user_id.clone(), r.concert_id.clone()))
        {
            ticket.status = TicketStatus::Used;
        }
        t.record(&r.user_id, &r.concert_id, TicketChangeKind::Used);
        t.payments.insert(payment_key, p.payment.clone());
        t.apply_balance_change(&p.balance);
        Ok(CommitOutcome::Committed)
    }

    async fn payment(
        &self,
        user: &UserId,
        payment: PaymentId,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        Ok(self
            .tables()
            .payments
            .get(&(user.clone(), payment))
            .cloned())
    }
}
