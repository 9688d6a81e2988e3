//! Holding a seat, reading and listing reservations, releasing a hold early.

use tracing::instrument;

use super::{PageLimit, Reservation, ReservationPage, ReservationStatus, Ticketing};
use crate::domain::{
    BookingError, ConcertDate, ConcertId, QueueToken, ReservationId, SeatNumber, UserId,
};
use crate::store::{CommitOutcome, HoldOutcome, ReservationRecord, StoredReservationStatus};

/// How far back a retried hold looks for the caller's own hold on the seat.
const RECENT_RESERVATIONS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_number: SeatNumber,
}

/// Where the next page of a fan's reservations starts: the last one already seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservationCursor(ReservationId);

impl ReservationCursor {
    pub fn parse(raw: &str) -> Result<Self, BookingError> {
        ReservationId::parse(raw)
            .map(Self)
            .map_err(|_| BookingError::InvalidCursor)
    }
}

impl Ticketing {
    /// Holds a seat for `hold_seconds`: the gate (one read of the caller's ticket, none when
    /// this container already found the token ACTIVE), then one transaction that checks the
    /// token again, takes the seat and writes the reservation. Holding a seat the caller already holds (a retry whose answer was lost)
    /// returns that reservation: `false` then, `true` for a new hold.
    #[instrument(skip(self, token), fields(user = %user, concert = %request.concert_id, date = %request.date, seat = request.seat_number.get()))]
    pub async fn hold_seat(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        request: &HoldRequest,
    ) -> Result<(Reservation, bool), BookingError> {
        let token = token.ok_or(BookingError::QueueTokenRequired)?;
        let HoldRequest {
            concert_id,
            date,
            seat_number,
        } = request;
        // The gate speaks first: a bad token hides whether the seat exists, and never reaches
        // the date's seats item.
        let concert = self.seat_gate(user, token, concert_id).await?;
        let price = match &concert {
            None => return Err(BookingError::ConcertNotFound),
            Some(c) if !c.has_date(*date) => return Err(BookingError::DateNotFound),
            Some(c) => c.price(*seat_number).ok_or(BookingError::SeatNotFound)?,
        };
        let now = self.now();
        if *date < now.date() {
            return Err(BookingError::SeatUnavailable);
        }
        let reservation = ReservationRecord {
            reservation_id: ReservationId::new(),
            user_id: user.clone(),
            concert_id: concert_id.clone(),
            date: *date,
            seat_number: *seat_number,
            price,
            held_until: now.epoch_seconds() + self.settings.hold_seconds,
            status: StoredReservationStatus::Held,
            payment_id: None,
        };
        match self
            .store
            .place_hold(&reservation, token, now.epoch_seconds())
            .await?
        {
            HoldOutcome::Held => Ok((Reservation::of(&reservation, now), true)),
            HoldOutcome::TicketRefused => {
                self.read_gate(user, token, concert_id).await?;
                // The token was refused a moment ago and is active now: its admission raced
                // this hold. The seat may be free; the fan retries.
                Err(BookingError::Contention)
            }
            // Not the seat: a conflict or a throttle. The fan is told to retry, never that a
            // free seat is taken.
            HoldOutcome::Busy => Err(BookingError::Contention),
            HoldOutcome::SeatTaken => self
                .own_live_hold(user, request)
                .await?
                .map(|existing| (Reservation::of(&existing, now), false))
                .ok_or(BookingError::SeatUnavailable),
        }
    }

    /// The caller's live hold on the seat, if the seat is taken by the caller.
    async fn own_live_hold(
        &self,
        user: &UserId,
        request: &HoldRequest,
    ) -> Result<Option<ReservationRecord>, BookingError> {
        let now = self.now();
        let recent = self
            .store
            .reservations(user, None, RECENT_RESERVATIONS)
            .await?;
        Ok(recent.into_iter().find(|r| {
            r.concert_id == request.concert_id
                && r.date == request.date
                && r.seat_number == request.seat_number
                && ReservationStatus::of(r, now) == ReservationStatus::Held
        }))
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

    /// The caller's reservations, newest first.
    #[instrument(skip(self), fields(user = %user))]
    pub async fn reservations(
        &self,
        user: &UserId,
        limit: PageLimit,
        cursor: Option<ReservationCursor>,
    ) -> Result<ReservationPage, BookingError> {
        let now = self.now();
        let mut found = self
            .store
            .reservations(user, cursor.map(|c| c.0), limit.get() + 1)
            .await?;
        let more = found.len() > limit.get();
        found.truncate(limit.get());
        let next_cursor = more
            .then(|| found.last().map(|r| r.reservation_id.to_string()))
            .flatten();
        Ok(ReservationPage {
            items: found.iter().map(|r| Reservation::of(r, now)).collect(),
            next_cursor,
        })
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
