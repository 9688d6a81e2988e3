//! Paying for a held seat, and reading receipts.

use std::sync::Mutex;

use tracing::instrument;

use super::{Payment, ReservationStatus, Ticketing};
use crate::domain::{BookingError, IdempotencyKey, PaymentId, QueueToken, ReservationId, UserId};
use crate::store::{BalanceChange, BalanceEntryRecord, EntryKind, PaymentCommit, PaymentRecord};

impl Ticketing {
    /// Pays for the caller's held seat. One transaction deducts the price, records the payment
    /// and its balance entry, sells the seat, confirms the reservation and spends the queue
    /// token; if anything moved since the read, nothing is written and the decision is made again
    /// from a fresh read. Two round trips, with or without an Idempotency-Key: the reads (and the
    /// key's claim) together, then the transaction.
    #[instrument(skip(self, token, key), fields(user = %user, reservation = %reservation_id))]
    pub async fn pay(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        reservation_id: ReservationId,
        key: Option<&IdempotencyKey>,
    ) -> Result<Payment, BookingError> {
        let token = token.ok_or(BookingError::QueueTokenRequired)?;
        let request = format!("pay:{reservation_id}");
        let read = || async {
            Ok(self
                .store
                .payment_context(user, reservation_id, token.concert())
                .await?)
        };
        self.idempotent(user, key, request, read(), |claim, first| async move {
            let first = Mutex::new(Some(first));
            self.until_committed(|| async {
                let now = self.now();
                let fresh = first.lock().ok().and_then(|mut f| f.take());
                let context = match fresh {
                    Some(context) => context,
                    None => read().await?,
                };
                let reservation = context
                    .reservation
                    .ok_or(BookingError::ReservationNotFound)?;
                match ReservationStatus::of(&reservation, now) {
                    ReservationStatus::Held => {}
                    ReservationStatus::Confirmed => return Err(BookingError::AlreadyPaid),
                    ReservationStatus::Expired => return Err(BookingError::ReservationExpired),
                    ReservationStatus::Released => return Err(BookingError::ReservationReleased),
                }
                let ticket = self
                    .check_admission(context.ticket, token, &reservation.concert_id)
                    .await?;
                // A later hold of the fan judged this one lapsed, by its own clock, and the
                // ticket limit no longer counts it: it is over, whatever this clock says.
                if !context.tally.holds.contains_key(&reservation_id) {
                    return Err(BookingError::ReservationExpired);
                }
                let balance_after = context
                    .balance
                    .amount
                    .checked_sub(reservation.price)
                    .ok_or(BookingError::InsufficientBalance)?;
                let payment = PaymentRecord {
                    payment_id: PaymentId::new(),
                    reservation_id,
                    user_id: user.clone(),
                    concert_id: reservation.concert_id.clone(),
                    date: reservation.date,
                    seat_numbers: reservation.seat_numbers(),
                    amount: reservation.price,
                    balance_after,
                    paid_at: now.epoch_seconds(),
                };
                let receipt = Payment::from(&payment);
                let commit = PaymentCommit {
                    balance: BalanceChange {
                        user_id: user.clone(),
                        entry: BalanceEntryRecord {
                            version: context.balance.version + 1,
                            kind: EntryKind::Payment,
                            amount: reservation.price,
                            balance_after,
                            at: now.epoch_seconds(),
                            payment_id: Some(payment.payment_id),
                            top_up_id: None,
                        },
                        completion: claim.as_ref().map(|c| c.completion(&receipt)).transpose()?,
                    },
                    reservation,
                    payment,
                    token: token.clone(),
                    admitted_at: ticket.admitted_at.unwrap_or(now.epoch_seconds()),
                    active_until: ticket.active_until.ok_or(BookingError::QueueTokenExpired)?,
                    now: now.epoch_seconds(),
                };
                Ok((self.store.commit_payment(&commit).await?, receipt))
            })
            .await
        })
        .await
    }

    /// The caller's own receipt.
    #[instrument(skip(self), fields(user = %user, payment = %payment))]
    pub async fn payment(
        &self,
        user: &UserId,
        payment: PaymentId,
    ) -> Result<Payment, BookingError> {
        let record = self
            .store
            .payment(user, payment)
            .await?
            .ok_or(BookingError::PaymentNotFound)?;
        Ok(Payment::from(&record))
    }
}
