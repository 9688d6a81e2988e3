use async_trait::async_trait;

use super::*;

#[async_trait]
impl ReservationStore for MemoryStore {
    async fn place_hold(
        &self,
        reservation: &ReservationRecord,
        ticket: &QueueToken,
        now: i64,
    ) -> Result<HoldOutcome, StoreError> {
        let mut t = self.tables();
        let r = reservation;
        if !t.ticket_is_active(&r.user_id, &r.concert_id, ticket, now) {
            return Ok(HoldOutcome::TicketRefused);
        }
        let key = (r.user_id.clone(), r.reservation_id);
        if !t.seat_is_free(&r.concert_id, r.date, r.seat_number, now)
            || t.reservations.contains_key(&key)
        {
            return Ok(HoldOutcome::SeatTaken);
        }
        t.seats
            .entry((r.concert_id.clone(), r.date))
            .or_default()
            .holds
            .insert(r.seat_number, r.held_until);
        t.reservations.insert(key, r.clone());
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
        if !live || !t.seat_held_by(&r.concert_id, r.date, r.seat_number, r.held_until, now) {
            return Ok(CommitOutcome::Refused);
        }
        if let Some(seats) = t.seats.get_mut(&(r.concert_id.clone(), r.date)) {
            seats.holds.remove(&r.seat_number);
        }
        if let Some(stored) = t.reservations.get_mut(&key) {
            stored.status = StoredReservationStatus::Released;
        }
        Ok(CommitOutcome::Committed)
    }
}
