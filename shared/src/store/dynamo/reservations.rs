//! Holds and reservations. A hold is one transaction: the fan's ticket is active, the seat is
//! neither sold nor under a live hold (both on the date's seats item), and the reservation is
//! new. A fan's reservations sort by their time-ordered ids, newest first.

use async_trait::async_trait;

use super::catalog::{hold_attribute, seats_size, sold_attribute};
use super::keys;
use super::meter::{self, DynamoRequest, SMALL_ITEM};
use super::request::{from_item, record_item, value, Change};
use super::*;

#[async_trait]
impl ReservationStore for DynamoStore {
    async fn place_hold(
        &self,
        reservation: &ReservationRecord,
        ticket: &QueueToken,
        now: i64,
    ) -> Result<HoldOutcome, StoreError> {
        let r = reservation;
        let seat = Change::new("SET #hold = :until")
            .when("attribute_not_exists(#sold) AND (attribute_not_exists(#hold) OR #hold <= :now)")
            .name("#hold", hold_attribute(r.seat_number))
            .name("#sold", sold_attribute(r.seat_number))
            .value(":until", r.held_until)?
            .value(":now", now)?;
        let items = vec![
            self.check(
                &keys::ticket(&r.user_id, &r.concert_id),
                "#token = :token AND #status = :active AND #active_until > :now",
                vec![],
                vec![
                    (":token", value(ticket)?),
                    (":active", value(TicketStatus::Active)?),
                    (":now", value(now)?),
                ],
            )?,
            self.update(&keys::date_seats(&r.concert_id, r.date), seat)?,
            self.put(
                record_item(&keys::reservation(&r.user_id, r.reservation_id), r)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?,
        ];
        Ok(hold_outcome(&self.transact(items).await?))
    }

    async fn reservation(
        &self,
        user: &UserId,
        reservation: ReservationId,
    ) -> Result<Option<ReservationRecord>, StoreError> {
        self.get(&keys::reservation(user, reservation), true).await
    }

    async fn reservations(
        &self,
        user: &UserId,
        before: Option<ReservationId>,
        limit: usize,
    ) -> Result<Vec<ReservationRecord>, StoreError> {
        // BETWEEN includes its ends: ask for one more and leave `before` out.
        let newest = keys::reservation_sk(before.unwrap_or(ReservationId::MAX));
        let items = self
            .query(
                "#pk = :pk AND #sk BETWEEN :oldest AND :newest",
                vec![
                    (":pk", value(keys::user_pk(user))?),
                    (":oldest", value(keys::reservation_sk(ReservationId::MIN))?),
                    (":newest", value(newest)?),
                ],
                false,
                Some(limit + 1),
            )
            .await?;
        let mut found: Vec<ReservationRecord> =
            items.into_iter().map(from_item).collect::<Result<_, _>>()?;
        found.retain(|r| Some(r.reservation_id) != before);
        found.truncate(limit);
        Ok(found)
    }

    async fn release_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError> {
        let r = reservation;
        let released = Change::new("SET #status = :released")
            .when("#status = :held AND #held_until > :now")
            .value(":released", StoredReservationStatus::Released)?
            .value(":held", StoredReservationStatus::Held)?
            .value(":now", now)?;
        let seat = Change::new("REMOVE #hold")
            .when("#hold = :until")
            .name("#hold", hold_attribute(r.seat_number))
            .value(":until", r.held_until)?;
        let items = vec![
            self.update(&keys::reservation(&r.user_id, r.reservation_id), released)?,
            self.update(&keys::date_seats(&r.concert_id, r.date), seat)?,
        ];
        Ok(plain_outcome(self.transact(items).await?))
    }
}

/// What a hold's transaction (ticket, seat, reservation) says: only the seat's own condition
/// means the seat is taken; a conflict with another transaction or a throttle is not.
fn hold_outcome(tx: &Transaction) -> HoldOutcome {
    match tx {
        Transaction::Committed => HoldOutcome::Held,
        tx if tx.failed_at(0) => HoldOutcome::TicketRefused,
        tx if tx.failed_at(1) => HoldOutcome::SeatTaken,
        Transaction::Cancelled(_) => HoldOutcome::Busy,
    }
}

pub(in crate::store) fn meter_place_hold(
    reservation: &ReservationRecord,
    seats: &DateSeatsRecord,
) -> Vec<DynamoRequest> {
    let r = reservation;
    let seats_key = keys::date_seats(&r.concert_id, r.date);
    let reservation_key = keys::reservation(&r.user_id, r.reservation_id);
    vec![meter::transact(vec![
        (keys::ticket(&r.user_id, &r.concert_id), SMALL_ITEM),
        (seats_key.clone(), seats_size(&seats_key, seats)),
        (reservation_key.clone(), meter::sized(&reservation_key, r)),
    ])]
}

pub(in crate::store) fn meter_reservation(
    user: &UserId,
    reservation: ReservationId,
    found: Option<&ReservationRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::reservation(user, reservation);
    let size = found.map_or(0, |r| meter::sized(&key, r));
    vec![meter::get(&key, size, true)]
}

pub(in crate::store) fn meter_reservations(
    user: &UserId,
    found: &[ReservationRecord],
) -> Vec<DynamoRequest> {
    meter::query(
        keys::user_pk(user),
        found
            .iter()
            .map(|r| meter::sized(&keys::reservation(user, r.reservation_id), r)),
    )
}

pub(in crate::store) fn meter_release_hold(
    reservation: &ReservationRecord,
    seats: &DateSeatsRecord,
) -> Vec<DynamoRequest> {
    let r = reservation;
    let seats_key = keys::date_seats(&r.concert_id, r.date);
    vec![meter::transact(vec![
        (keys::reservation(&r.user_id, r.reservation_id), SMALL_ITEM),
        (seats_key.clone(), seats_size(&seats_key, seats)),
    ])]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cancelled(codes: [&str; 3]) -> Transaction {
        Transaction::Cancelled(codes.iter().map(|c| c.to_string()).collect())
    }

    #[test]
    fn only_the_seats_own_condition_means_the_seat_is_taken() {
        let failed = "ConditionalCheckFailed";
        assert_eq!(hold_outcome(&Transaction::Committed), HoldOutcome::Held);
        assert_eq!(
            hold_outcome(&cancelled([failed, "None", "None"])),
            HoldOutcome::TicketRefused
        );
        assert_eq!(
            hold_outcome(&cancelled(["None", failed, "None"])),
            HoldOutcome::SeatTaken
        );
        for busy in [
            "TransactionConflict",
            "ThrottlingError",
            "ProvisionedThroughputExceeded",
        ] {
            assert_eq!(
                hold_outcome(&cancelled(["None", busy, "None"])),
                HoldOutcome::Busy,
                "{busy}"
            );
        }
    }
}
