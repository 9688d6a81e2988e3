use async_trait::async_trait;

use super::*;

#[async_trait]
impl ReservationStore for MemoryStore {
    async fn fan_tally(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<FanTallyRecord, StoreError> {
        Ok(self.tables().tally(user, concert))
    }

    async fn place_hold(&self, plan: &HoldPlan) -> Result<HoldOutcome, StoreError> {
        let mut t = self.tables();
        let r = &plan.reservation;
        let fan = (r.user_id.clone(), r.concert_id.clone());
        let placed = t.tickets.get(&fan).map_or(0, |ticket| ticket.holds_placed);
        if !t.ticket_is_active(&r.user_id, &r.concert_id, &plan.ticket, plan.now)
            || placed >= plan.max_holds
        {
            return Ok(HoldOutcome::TicketRefused);
        }
        let key = (r.user_id.clone(), r.reservation_id);
        if !t.seats_are_free(r, plan.now) || t.reservations.contains_key(&key) {
            t.seat_conflicts += 1;
            return Ok(HoldOutcome::SeatTaken);
        }
        let tally_version = t.tallies.get(&fan).map_or(0, |tally| tally.version);
        if tally_version != plan.tally.version {
            return Ok(HoldOutcome::TallyMoved);
        }
        if !t.claim_is_ours(&plan.completion) {
            return Ok(HoldOutcome::ClaimLost);
        }
        let seats = t.seats_after(r, None);
        let tally = plan.tally_after();
        within_limits(dynamo::meter_place_hold(plan, &seats, &tally))?;
        t.store_seats(r, seats);
        if let Some(ticket) = t.tickets.get_mut(&fan) {
            ticket.holds_placed += 1;
        }
        t.tallies.insert(fan, tally);
        t.reservations.insert(key, r.clone());
        t.complete_claim(&plan.completion);
        Ok(HoldOutcome::Held)
    }

    async fn reservation(
        &self,
        user: &UserId,
        reservation: ReservationId,
    ) -> Result<Option<ReservationRecord>, StoreError> {
        Ok(self
            .tables()
            .reservations
            .get(&(user.clone(), reservation))
            .cloned())
    }

    async fn reservations(
        &self,
        user: &UserId,
        before: Option<ReservationId>,
        limit: usize,
    ) -> Result<Vec<ReservationRecord>, StoreError> {
        use std::ops::Bound;
        let t = self.tables();
        let upper = match before {
            Some(id) => Bound::Excluded((user.clone(), id)),
            None => Bound::Included((user.clone(), ReservationId::MAX)),
        };
        let lower = Bound::Included((user.clone(), ReservationId::MIN));
        Ok(t.reservations
            .range((lower, upper))
            .rev()
            .take(limit)
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn release_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError> {
        let mut t = self.tables();
        let r = reservation;
        let key = (r.user_id.clone(), r.reservation_id);
        let live = t
            .reservations
            .get(&key)
            .is_some_and(|s| s.status == StoredReservationStatus::Held && s.held_until > now);
        if !live || !t.seats_held_by(r, now) {
            return Ok(CommitOutcome::Refused);
        }
        let seats = t.seats_after(r, Some(HoldEnd::Released));
        within_limits(dynamo::meter_release_hold(
            r,
            &seats,
            &t.tally(&r.user_id, &r.concert_id),
        ))?;
        t.store_seats(r, seats);
        t.retally(r, |_| {});
        if let Some(stored) = t.reservations.get_mut(&key) {
            stored.status = StoredReservationStatus::Released;
            stored.expires_at = Some(now + RESERVATION_KEPT_SECONDS);
        }
        Ok(CommitOutcome::Committed)
    }
}
