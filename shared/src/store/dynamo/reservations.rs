//! Holds and reservations. A hold is one transaction: the fan's ticket is active, the
//! reservation is new, the fan's tally (what the ticket limit counts) is still at the version
//! the limit was judged on, every seat of the order is neither sold nor under a live hold (one
//! update per block of seats, one condition per seat), and the date's ledger counts the seats
//! held (one `ADD` per shard the order's sections count in). A fan's reservations sort by their
//! time-ordered ids, newest first.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::catalog::{block_size, hold_attribute, ledger_size, sold_attribute};
use super::keys::{self, Key};
use super::meter::{self, DynamoRequest, SMALL_ITEM};
use super::request::{from_item, record_item, value, Change};
use super::wallet::meter_completion;
use super::*;
use crate::domain::SeatNumber;

/// The order's seats, by the block each is stored in.
fn by_block(seats: &[ReservedSeat]) -> BTreeMap<SeatNumber, Vec<SeatNumber>> {
    let mut blocks: BTreeMap<SeatNumber, Vec<SeatNumber>> = BTreeMap::new();
    for seat in seats {
        blocks.entry(seat.block).or_default().push(seat.seat_number);
    }
    blocks
}

/// A block's update that takes its seats of the order until `:until`, if each is neither sold
/// nor under a live hold (`:now`).
fn take_seats(seats: &[SeatNumber]) -> (String, String) {
    let (mut sets, mut conditions) = (Vec::new(), Vec::new());
    for seat in seats {
        let (hold, sold) = (hold_attribute(*seat), sold_attribute(*seat));
        sets.push(format!("#{hold} = :until"));
        conditions.push(format!(
            "attribute_not_exists(#{sold}) AND (attribute_not_exists(#{hold}) OR #{hold} <= :now)"
        ));
    }
    (format!("SET {}", sets.join(", ")), conditions.join(" AND "))
}

/// A block's update that ends the order's hold on its seats (and, when sold, sells them to
/// `:batch`), if each is still under this hold (`:until`) and unsold.
fn end_hold(seats: &[SeatNumber], sold: bool) -> (String, String) {
    let (mut sets, mut removes, mut conditions) = (Vec::new(), Vec::new(), Vec::new());
    for seat in seats {
        let (hold, sale) = (hold_attribute(*seat), sold_attribute(*seat));
        sets.push(format!("#{sale} = :batch"));
        removes.push(format!("#{hold}"));
        conditions.push(format!(
            "#{hold} = :until AND attribute_not_exists(#{sale})"
        ));
    }
    let remove = format!("REMOVE {}", removes.join(", "));
    let update = if sold {
        format!("SET {} {remove}", sets.join(", "))
    } else {
        remove
    };
    (update, conditions.join(" AND "))
}

impl DynamoStore {
    /// What a hold (`end` none), a release or a sale writes on the order's seats: one
    /// conditional update per block, then one `ADD` per ledger shard. The blocks come first:
    /// items `0..blocks` of the returned list are theirs.
    pub(super) fn seat_items(
        &self,
        r: &ReservationRecord,
        end: Option<HoldEnd>,
        now: i64,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = Vec::new();
        for (block, seats) in by_block(&r.seats) {
            let (update, condition) = match end {
                None => take_seats(&seats),
                Some(HoldEnd::Released) => end_hold(&seats, false),
                Some(HoldEnd::Sold(_)) => end_hold(&seats, true),
            };
            let mut change = Change::new(&update)
                .when(&condition)
                .value(":until", r.held_until)?;
            change = match end {
                None => change.value(":now", now)?,
                Some(HoldEnd::Sold(batch)) => change.value(":batch", batch)?,
                Some(HoldEnd::Released) => change,
            };
            items.push(self.update(&keys::seat_block(&r.concert_id, r.date, block), change)?);
        }
        for change in LedgerChange::of(r, end) {
            items.push(self.ledger_item(&r.concert_id, r.date, &change)?);
        }
        Ok(items)
    }
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
        // The ticket counts the session's holds: a session that placed its last is refused.
        let counted = Change::new("ADD #holds_placed :one")
            .when(
                "#token = :token AND #status = :active AND #active_until > :now \
                 AND (attribute_not_exists(#holds_placed) OR #holds_placed < :max_holds)",
            )
            .value(":one", 1)?
            .value(":token", &plan.ticket)?
            .value(":active", TicketStatus::Active)?
            .value(":now", plan.now)?
            .value(":max_holds", plan.max_holds)?;
        let mut items = vec![
            self.update(&keys::ticket(&r.user_id, &r.concert_id), counted)?,
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
        items.extend(self.seat_items(r, None, plan.now)?);
        Ok(hold_outcome(
            &self.transact(items).await?,
            plan.completion.is_some(),
        ))
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
        let released = Change::new("SET #status = :released, #expires_at = :kept")
            .when("#status = :held AND #held_until > :now")
            .value(":released", StoredReservationStatus::Released)?
            .value(":held", StoredReservationStatus::Held)?
            .value(":now", now)?
            .value(":kept", now + RESERVATION_KEPT_SECONDS)?;
        let mut items = vec![
            self.update(&keys::reservation(&r.user_id, r.reservation_id), released)?,
            self.update(&keys::tally(&r.user_id, &r.concert_id), retally(r, 0)?)?,
        ];
        items.extend(self.seat_items(r, Some(HoldEnd::Released), now)?);
        Ok(plain_outcome(self.transact(items).await?))
    }
}

/// What a hold's transaction (ticket, reservation, tally, the completion if any, then the
/// blocks and the ledger) says: only a block's condition (or a reservation id already taken)
/// means a seat is taken; a conflict with another transaction or a throttle is not.
fn hold_outcome(tx: &Transaction, completion: bool) -> HoldOutcome {
    let blocks_from = if completion { 4 } else { 3 };
    match tx {
        Transaction::Committed => HoldOutcome::Held,
        tx if tx.failed_at(0) => HoldOutcome::TicketRefused,
        tx if tx.failed_at(1) => HoldOutcome::SeatTaken,
        tx if tx.failed_at(2) => HoldOutcome::TallyMoved,
        tx if completion && tx.failed_at(3) => HoldOutcome::ClaimLost,
        Transaction::Cancelled(codes) if (blocks_from..codes.len()).any(|i| tx.failed_at(i)) => {
            HoldOutcome::SeatTaken
        }
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

pub(super) fn tally_size(key: &Key, tally: &FanTallyRecord) -> usize {
    if tally.version == 0 {
        0
    } else {
        meter::sized(key, tally)
    }
}

/// The blocks and ledger shards an order's seats touch, as they stand: their items in a
/// transaction, sized.
pub(super) fn meter_seat_items(r: &ReservationRecord, seats: &SeatsTouched) -> Vec<(Key, usize)> {
    let blocks = by_block(&r.seats).into_keys().map(|block| {
        let key = keys::seat_block(&r.concert_id, r.date, block);
        let found = seats.blocks.iter().find(|(b, _)| *b == block);
        let size = found.map_or(0, |(_, s)| block_size(&key, s));
        (key, size.max(SMALL_ITEM))
    });
    let ledgers = LedgerChange::of(r, None).into_iter().map(|change| {
        let key = keys::seat_ledger(&r.concert_id, r.date, change.shard);
        let found = seats.ledgers.iter().find(|(s, _)| *s == change.shard);
        let size = found.map_or(0, |(_, l)| ledger_size(&key, l));
        (key, size.max(SMALL_ITEM))
    });
    blocks.chain(ledgers).collect()
}

/// `tally` is the fan's tally after the hold; `seats` what the hold touched, after it.
pub(in crate::store) fn meter_place_hold(
    plan: &HoldPlan,
    seats: &SeatsTouched,
    tally: &FanTallyRecord,
) -> Vec<DynamoRequest> {
    let r = &plan.reservation;
    let reservation_key = keys::reservation(&r.user_id, r.reservation_id);
    let tally_key = keys::tally(&r.user_id, &r.concert_id);
    let mut items = vec![
        (keys::ticket(&r.user_id, &r.concert_id), SMALL_ITEM),
        (reservation_key.clone(), meter::sized(&reservation_key, r)),
        (tally_key.clone(), tally_size(&tally_key, tally)),
    ];
    items.extend(plan.completion.as_ref().map(meter_completion));
    items.extend(meter_seat_items(r, seats));
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
    seats: &SeatsTouched,
    tally: &FanTallyRecord,
) -> Vec<DynamoRequest> {
    let r = reservation;
    let mut items = vec![
        (keys::reservation(&r.user_id, r.reservation_id), SMALL_ITEM),
        meter_tally_update(&r.user_id, &r.concert_id, tally),
    ];
    items.extend(meter_seat_items(r, seats));
    vec![meter::transact(items)]
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

    fn cancelled(codes: &[&str]) -> Transaction {
        Transaction::Cancelled(codes.iter().map(|c| c.to_string()).collect())
    }

    #[test]
    fn only_a_blocks_own_condition_means_a_seat_is_taken() {
        let failed = "ConditionalCheckFailed";
        assert_eq!(
            hold_outcome(&Transaction::Committed, false),
            HoldOutcome::Held
        );
        // Ticket, reservation, tally, two blocks, a ledger shard.
        let codes = |at: usize, code: &'static str| {
            let mut codes = ["None"; 6];
            codes[at] = code;
            codes
        };
        assert_eq!(
            hold_outcome(&cancelled(&codes(0, failed)), false),
            HoldOutcome::TicketRefused
        );
        assert_eq!(
            hold_outcome(&cancelled(&codes(2, failed)), false),
            HoldOutcome::TallyMoved
        );
        for block in [3, 4] {
            assert_eq!(
                hold_outcome(&cancelled(&codes(block, failed)), false),
                HoldOutcome::SeatTaken
            );
        }
        // With a completion at 3, the blocks follow it.
        assert_eq!(
            hold_outcome(&cancelled(&codes(3, failed)), true),
            HoldOutcome::ClaimLost
        );
        assert_eq!(
            hold_outcome(&cancelled(&codes(4, failed)), true),
            HoldOutcome::SeatTaken
        );
        for busy in [
            "TransactionConflict",
            "ThrottlingError",
            "ProvisionedThroughputExceeded",
        ] {
            assert_eq!(
                hold_outcome(&cancelled(&codes(3, busy)), false),
                HoldOutcome::Busy,
                "{busy}"
            );
        }
    }
}
