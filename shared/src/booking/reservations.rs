//! Holding a seat, reading a reservation, releasing a hold early.

use tracing::instrument;

use super::{Reservation, ReservationStatus, Ticketing};
use crate::domain::{
    BookingError, ConcertDate, ConcertId, QueueToken, ReservationId, SeatNumber, UserId,
};
use crate::store::{CommitOutcome, ReservationRecord, StoredReservationStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_number: SeatNumber,
}

impl Ticketing {
    /// Holds a seat for `hold_seconds`: one conditional transaction decides between racers.
    #[instrument(skip(self, token), fields(user = %user, concert = %request.concert_id, date = %request.date, seat = request.seat_number.get()))]
    pub async fn hold_seat(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        request: &HoldRequest,
    ) -> Result<Reservation, BookingError> {
        let HoldRequest {
            concert_id,
            date,
            seat_number,
        } = request;
        // The gate and the seat's price are independent reads: one round trip for both.
        let (admission, seat) = tokio::join!(
            self.admitted(user, token, concert_id),
            self.store.seat(concert_id, *date, *seat_number)
        );
        admission?;
        let Some(seat) = seat? else {
            return Err(match self.store.date(concert_id, *date).await? {
                Some(_) => BookingError::SeatNotFound,
                None => BookingError::DateNotFound,
            });
        };
        let now = self.now();
        if seat.sold || *date < now.date() {
            return Err(BookingError::SeatUnavailable);
        }
        let reservation = ReservationRecord {
            reservation_id: ReservationId::new(),
            user_id: user.clone(),
            concert_id: concert_id.clone(),
            date: *date,
            seat_number: *seat_number,
            price: seat.price,
            held_until: now.epoch_seconds() + self.settings.hold_seconds,
            status: StoredReservationStatus::Held,
            payment_id: None,
        };
        match self
            .store
            .place_hold(&reservation, now.epoch_seconds())
            .await?
        {
            CommitOutcome::Committed => Ok(Reservation::of(&reservation, now)),
            CommitOutcome::Refused | CommitOutcome::ClaimLost => Err(BookingError::SeatUnavailable),
        }
    }

    /// The caller's own reservation; anyone else's does not exist for them.
    #[instrument(skip(self), fields(user = %user, reservation = %reservation))]
    pub async fn reservation(
        &self,
        user: &UserId,
        reservation: ReservationId,
    ) -> Result<Reservation, BookingError> {
        let record = self
            .store
            .reservation(user, reservation)
            .await?
            .ok_or(BookingError::ReservationNotFound)?;
        Ok(Reservation::of(&record, self.now()))
    }

    /// Gives the seat back before the hold ends. Releasing twice is not an error.
    #[instrument(skip(self), fields(user = %user, reservation = %reservation))]
    pub async fn release_reservation(
        &self,
        user: &UserId,
        reservation: ReservationId,
    ) -> Result<(), BookingError> {
        self.until_committed(|| async {
            let now = self.now();
            let record = self
                .store
                .reservation(user, reservation)
                .await?
                .ok_or(BookingError::ReservationNotFound)?;
            match ReservationStatus::of(&record, now) {
                ReservationStatus::Held => {}
                ReservationStatus::Released => return Ok((CommitOutcome::Committed, ())),
                ReservationStatus::Confirmed => return Err(BookingError::AlreadyPaid),
                ReservationStatus::Expired => return Err(BookingError::ReservationExpired),
            }
            let outcome = self
                .store
                .release_hold(&record, now.epoch_seconds())
                .await?;
            Ok((outcome, ()))
        })
        .await
    }
}
