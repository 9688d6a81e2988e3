//! A payment is one transaction: the reservation confirmed, the token spent, the payment
//! recorded, the fan's tally counting the seats bought, the seats sold (to the token's
//! admission batch) and their hold gone in their blocks and the date's ledger, the balance
//! debited with its entry, and the Idempotency-Key completed.

use async_trait::async_trait;

use super::keys;
use super::meter::{self, DynamoRequest, SMALL_ITEM};
use super::request::{from_item, partition_key, record_item, sort_key, Change};
use super::reservations::{meter_seat_items, meter_tally_update, retally, tally_size};
use super::slots::meter_slot_item;
use super::wallet::{balance_outcome, meter_balance_items};
use super::*;

#[async_trait]
impl PaymentStore for DynamoStore {
    async fn payment_context(
        &self,
        user: &UserId,
        reservation: ReservationId,
        concert: &ConcertId,
    ) -> Result<PaymentContext, StoreError> {
        let reservation_key = keys::reservation(user, reservation);
        let balance_key = keys::balance(user);
        let ticket_key = keys::ticket(user, concert);
        let tally_key = keys::tally(user, concert);
        let items = self
            .batch_get(&[
                reservation_key.clone(),
                balance_key.clone(),
                ticket_key.clone(),
                tally_key.clone(),
            ])
            .await?;
        let mut context = PaymentContext {
            reservation: None,
            balance: BalanceRecord::default(),
            ticket: None,
            tally: FanTallyRecord::default(),
        };
        for item in items {
            let (pk, sk) = (partition_key(&item).to_owned(), sort_key(&item).to_owned());
            if pk == ticket_key.pk && sk == ticket_key.sk {
                context.ticket = Some(from_item(item)?);
            } else if pk == tally_key.pk && sk == tally_key.sk {
                context.tally = from_item(item)?;
            } else if sk == balance_key.sk {
                context.balance = from_item(item)?;
            } else if sk == reservation_key.sk {
                context.reservation = Some(from_item(item)?);
            }
        }
        Ok(context)
    }

    async fn commit_payment(&self, p: &PaymentCommit) -> Result<CommitOutcome, StoreError> {
        let r = &p.reservation;
        // A paid reservation is kept: no TTL.
        let confirmed =
            Change::new("SET #status = :confirmed, #payment_id = :payment REMOVE #expires_at")
                .when("#status = :held AND #held_until > :now")
                .value(":confirmed", StoredReservationStatus::Confirmed)?
                .value(":payment", p.payment.payment_id)?
                .value(":held", StoredReservationStatus::Held)?
                .value(":now", p.now)?;
        // Only at the end read: the slot is taken off the ledger there.
        let spent = Change::new("SET #status = :used")
            .when(
                "#token = :token AND #status = :active AND #active_until = :until \
                 AND #active_until > :now",
            )
            .value(":used", TicketStatus::Used)?
            .value(":token", &p.token)?
            .value(":active", TicketStatus::Active)?
            .value(":until", p.active_until)?
            .value(":now", p.now)?;
        let mut items = vec![
            self.update(&keys::reservation(&r.user_id, r.reservation_id), confirmed)?,
            self.update(&keys::ticket(&r.user_id, &r.concert_id), spent)?,
            self.put(
                record_item(&keys::payment(&r.user_id, p.payment.payment_id), &p.payment)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?,
            // Only while the tally still counts the hold (see `PaymentStore::commit_payment`).
            self.update(
                &keys::tally(&r.user_id, &r.concert_id),
                retally(r, r.seats.len() as u32)?.when("attribute_exists(#holds.#reservation)"),
            )?,
        ];
        items.push(self.slot_move_item(&r.concert_id, &p.slot_move())?);
        items.extend(self.seat_items(r, Some(HoldEnd::Sold(p.admitted_at)), p.now)?);
        items.extend(self.balance_items(&p.balance)?);
        let completion_index = p.balance.completion.as_ref().map(|_| items.len() - 1);
        Ok(balance_outcome(
            self.transact(items).await?,
            completion_index,
        ))
    }

    async fn payment(
        &self,
        user: &UserId,
        payment: PaymentId,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        self.get(&keys::payment(user, payment), true).await
    }
}

pub(in crate::store) fn meter_payment_context(
    user: &UserId,
    reservation: ReservationId,
    concert: &ConcertId,
    found: &PaymentContext,
) -> Vec<DynamoRequest> {
    let reservation_key = keys::reservation(user, reservation);
    let balance_key = keys::balance(user);
    let ticket_key = keys::ticket(user, concert);
    let reservation_size = found
        .reservation
        .as_ref()
        .map_or(0, |r| meter::sized(&reservation_key, r));
    let balance_size = if found.balance.version == 0 {
        0
    } else {
        meter::sized(&balance_key, &found.balance)
    };
    let ticket_size = found
        .ticket
        .as_ref()
        .map_or(0, |t| meter::sized(&ticket_key, t));
    let tally_key = keys::tally(user, concert);
    let tally_size = tally_size(&tally_key, &found.tally);
    meter::batch_get(vec![
        (reservation_key, reservation_size),
        (balance_key, balance_size),
        (ticket_key, ticket_size),
        (tally_key, tally_size),
    ])
}

/// `tally` is the fan's tally before the payment; `slots` the fan's slot shard after it.
pub(in crate::store) fn meter_commit_payment(
    payment: &PaymentCommit,
    seats: &SeatsTouched,
    tally: &FanTallyRecord,
    slots: &SlotShardRecord,
) -> Vec<DynamoRequest> {
    let p = payment;
    let r = &p.reservation;
    let payment_key = keys::payment(&r.user_id, p.payment.payment_id);
    let mut items = vec![
        (keys::reservation(&r.user_id, r.reservation_id), SMALL_ITEM),
        (keys::ticket(&r.user_id, &r.concert_id), SMALL_ITEM),
        (payment_key.clone(), meter::sized(&payment_key, &p.payment)),
        meter_tally_update(&r.user_id, &r.concert_id, tally),
        meter_slot_item(&r.concert_id, slot_shard(&r.user_id), slots),
    ];
    items.extend(meter_seat_items(r, seats));
    items.extend(meter_balance_items(&p.balance));
    vec![meter::transact(items)]
}

pub(in crate::store) fn meter_payment(
    user: &UserId,
    payment: PaymentId,
    found: Option<&PaymentRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::payment(user, payment);
    let size = found.map_or(0, |p| meter::sized(&key, p));
    vec![meter::get(&key, size, true)]
}
