//! Holds and reservations. A hold is one transaction: the fan's ticket is active, every seat
//! of the order is neither sold nor under a live hold (all on the date's seats item, one
//! condition per seat), the reservation is new, and the fan's tally (what the ticket limit
//! counts) is still at the version the limit was judged on. A fan's reservations sort by their
//! time-ordered ids, newest first.

use async_trait::async_trait;

use super::catalog::{hold_attribute, seats_size, sold_attribute};
use super::keys::{self, Key};
use super::meter::{self, DynamoRequest, SMALL_ITEM};
use super::request::{from_item, record_item, value, Change};
use super::wallet::meter_completion;
use super::*;

/// The seats item's update that takes every seat of the order until `:until`, if each is
/// neither sold nor under a live hold (`:now`).
fn take_seats(seats: &[ReservedSeat]) -> (String, String) {
    let (mut sets, mut conditions) = (Vec::new(), Vec::new());
    for seat in seats {
        let (hold, sold) = (
            hold_attribute(seat.seat_number),
            sold_attribute(seat.seat_number),
        );
        sets.push(format!("#{hold} = :until"));
        conditions.push(format!(
            "attribute_not_exists(#{sold}) AND (attribute_not_exists(#{hold}) OR #{hold} <= :now)"
        ));
    }
    (format!("SET {}", sets.join(", ")), conditions.join(" AND "))
}

/// The seats item's update that ends the order's hold on every seat (and, with `sell`, sells
/// them: the first to `:batch`, the others to `:with_order`), if each is still under this hold
/// (`:until`) and unsold.
pub(super) fn end_hold(seats: &[ReservedSeat], sell: bool) -> (String, String) {
    let (mut sets, mut removes, mut conditions) = (Vec::new(), Vec::new(), Vec::new());
    for (i, seat) in seats.iter().enumerate() {
        let (hold, sold) = (
            hold_attribute(seat.seat_number),
            sold_attribute(seat.seat_number),
        );
        let batch = if i == 0 { ":batch" } else { ":with_order" };
        sets.push(format!("#{sold} = {batch}"));
        removes.push(format!("#{hold}"));
        conditions.push(format!(
            "#{hold} = :until AND attribute_not_exists(#{sold})"
        ));
    }
    let remove = format!("REMOVE {}", removes.join(", "));
    let update = if sell {
        format!("SET {} {remove}", sets.join(", "))
    } else {
        remove
    };
    (update, conditions.join(" AND "))
}

/// The tally's update when a payment (`bought` seats) or a release ends a hold: it forgets the
/// hold and moves the version, so that a hold counted before it counts again.
pub(super) fn retally(
    reservation: &ReservationRecord,
    bought: u32,
) -> Result<Change<'static>, StoreError> {
    Change::new(
        "SET #bought = if_not_exists(#bought, :zero) + :bought, \
         #version = if_not_exists(#version, :zero) + :one REMOVE #holds.#reservation",
    )
    .name("#reservation", reservation.reservation_id.to_string())
    .value(":zero", 0)?
    .value(":bought", bought)?
    .value(":one", 1)
}

#[async_trait]
impl ReservationStore for DynamoStore {
    async fn fan_tally(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<FanTallyRecord, StoreError> {
        Ok(self
            .get(&keys::tally(user, concert), true)
            .await?
            .unwrap_or_default())
    }

    async fn place_hold(&self, plan: &HoldPlan) -> Result<HoldOutcome, StoreError> {
        let r = &plan.reservation;
        let (update, condition) = take_seats(&r.seats);
        let seats = Change::new(&update)
            .when(&condition)
            .value(":until", r.held_until)?
            .value(":now", plan.now)?;
        // The tally is written whole: its version says nothing moved since the limit read it.
        let tally = record_item(&keys::tally(&r.user_id, &r.concert_id), &plan.tally_after())?;
        let tally = if plan.tally.version == 0 {
            self.put(tally, Some("attribute_not_exists(pk)"), vec![])?
        } else {
            self.put(
                tally,
                Some("#version = :read"),
                vec![(":read", value(plan.tally.version)?)],
            )?
        };
        let mut items = vec![
            self.check(
                &keys::ticket(&r.user_id, &r.concert_id),
                "#token = :token AND #status = :active AND #active_until > :now",
                vec![],
                vec![
                    (":token", value(&plan.ticket)?),
                    (":active", value(TicketStatus::Active)?),
                    (":now", value(plan.now)?),
                ],
            )?,
            self.update(&keys::date_seats(&r.concert_id, r.date), seats)?,
            self.put(
                record_item(&keys::reservation(&r.user_id, r.reservation_id), r)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?,
            tally,
        ];
        if let Some(c) = &plan.completion {
            items.push(self.completion_item(c)?);
        }
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
        let (update, condition) = end_hold(&r.seats, false);
        let seats = Change::new(&update)
            .when(&condition)
            .value(":until", r.held_until)?;
        let items = vec![
            self.update(&keys::reservation(&r.user_id, r.reservation_id), released)?,
            self.update(&keys::date_seats(&r.concert_id, r.date), seats)?,
            self.update(&keys::tally(&r.user_id, &r.concert_id), retally(r, 0)?)?,
        ];
        Ok(plain_outcome(self.transact(items).await?))
    }
}

/// What a hold's transaction (ticket, seats, reservation, tally, completion) says: only the
/// seats' own condition means a seat is taken; a conflict with another transaction or a
/// throttle is not.
fn hold_outcome(tx: &Transaction) -> HoldOutcome {
    match tx {
        Transaction::Committed => HoldOutcome::Held,
        tx if tx.failed_at(0) => HoldOutcome::TicketRefused,
        tx if tx.failed_at(1) => HoldOutcome::SeatTaken,
        tx if tx.failed_at(3) => HoldOutcome::TallyMoved,
        tx if tx.failed_at(4) => HoldOutcome::ClaimLost,
        Transaction::Cancelled(_) => HoldOutcome::Busy,
    }
}

pub(in crate::store) fn meter_fan_tally(
    user: &UserId,
    concert: &ConcertId,
    found: &FanTallyRecord,
) -> Vec<DynamoRequest> {
    let key = keys::tally(user, concert);
    vec![meter::get(&key, tally_size(&key, found), true)]
}

fn tally_size(key: &Key, tally: &FanTallyRecord) -> usize {
    if tally.version == 0 {
        0
    } else {
        meter::sized(key, tally)
    }
}

/// `tally` is the fan's tally after the hold.
pub(in crate::store) fn meter_place_hold(
    plan: &HoldPlan,
    seats: &DateSeatsRecord,
    tally: &FanTallyRecord,
) -> Vec<DynamoRequest> {
    let r = &plan.reservation;
    let seats_key = keys::date_seats(&r.concert_id, r.date);
    let reservation_key = keys::reservation(&r.user_id, r.reservation_id);
    let tally_key = keys::tally(&r.user_id, &r.concert_id);
    let mut items = vec![
        (keys::ticket(&r.user_id, &r.concert_id), SMALL_ITEM),
        (seats_key.clone(), seats_size(&seats_key, seats)),
        (reservation_key.clone(), meter::sized(&reservation_key, r)),
        (tally_key.clone(), tally_size(&tally_key, tally)),
    ];
    items.extend(plan.completion.as_ref().map(meter_completion));
    vec![meter::transact(items)]
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

/// `tally` is the fan's tally before the release.
pub(in crate::store) fn meter_release_hold(
    reservation: &ReservationRecord,
    seats: &DateSeatsRecord,
    tally: &FanTallyRecord,
) -> Vec<DynamoRequest> {
    let r = reservation;
    let seats_key = keys::date_seats(&r.concert_id, r.date);
    vec![meter::transact(vec![
        (keys::reservation(&r.user_id, r.reservation_id), SMALL_ITEM),
        (seats_key.clone(), seats_size(&seats_key, seats)),
        meter_tally_update(&r.user_id, &r.concert_id, tally),
    ])]
}

/// A payment's or a release's update of the tally, sized as it was before.
pub(super) fn meter_tally_update(
    user: &UserId,
    concert: &ConcertId,
    tally: &FanTallyRecord,
) -> (Key, usize) {
    let key = keys::tally(user, concert);
    let size = tally_size(&key, tally).max(SMALL_ITEM);
    (key, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cancelled(codes: [&str; 4]) -> Transaction {
        Transaction::Cancelled(codes.iter().map(|c| c.to_string()).collect())
    }

    #[test]
    fn only_the_seats_own_condition_means_the_seat_is_taken() {
        let failed = "ConditionalCheckFailed";
        assert_eq!(hold_outcome(&Transaction::Committed), HoldOutcome::Held);
        assert_eq!(
            hold_outcome(&cancelled([failed, "None", "None", "None"])),
            HoldOutcome::TicketRefused
        );
        assert_eq!(
            hold_outcome(&cancelled(["None", failed, "None", "None"])),
            HoldOutcome::SeatTaken
        );
        assert_eq!(
            hold_outcome(&cancelled(["None", "None", "None", failed])),
            HoldOutcome::TallyMoved
        );
        for busy in [
            "TransactionConflict",
            "ThrottlingError",
            "ProvisionedThroughputExceeded",
        ] {
            assert_eq!(
                hold_outcome(&cancelled(["None", busy, "None", "None"])),
                HoldOutcome::Busy,
                "{busy}"
            );
        }
    }
}
