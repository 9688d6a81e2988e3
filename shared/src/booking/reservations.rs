//! Holding seats, reading and listing reservations, releasing a hold early.
//!
//! An order holds seats of one date, all or none. What a fan may hold is bounded by the
//! concert's ticket limit: the seats of the fan's live holds plus the seats the fan bought,
//! counted in the fan's tally (an item under the fan), and the hold is written in the same
//! transaction as the tally, conditional on the version it counted. Best available picks a
//! run of adjacent free seats from a fresh read of the date's seats; concurrent picks are spread
//! over the best few runs, and a pick that loses a seat to another fan picks again.

use std::collections::BTreeSet;

use tracing::instrument;

use super::{PageLimit, Reservation, ReservationPage, ReservationStatus, Ticketing};
use crate::domain::{
    BookingError, ConcertDate, ConcertId, IdempotencyKey, QueueToken, ReservationId, SeatNumber,
    UserId, Won,
};
use crate::store::{
    CommitOutcome, ConcertRecord, DateSeatsRecord, FanTallyRecord, HoldOutcome, HoldPlan,
    ReservationRecord, ReservedSeat, StoredReservationStatus,
};

/// A hold that keeps losing races (its own fan's other holds, best available's seats) gives up
/// with `503 SERVICE_BUSY`. Each lost race is another's win, so this bounds only a crowd.
const HOLD_ATTEMPTS: u32 = 10;
/// Best available spreads concurrent picks over this many of the best free runs.
const BEST_RUNS: usize = 4;

/// Which seats an order asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatChoice {
    /// These seats: distinct, at least one.
    Seats(Vec<SeatNumber>),
    /// Best available: this many seats, picked by the service.
    BestAvailable(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seats: SeatChoice,
}

impl HoldRequest {
    /// An order of one seat.
    pub fn seat(concert_id: ConcertId, date: ConcertDate, seat: SeatNumber) -> Self {
        Self {
            concert_id,
            date,
            seats: SeatChoice::Seats(vec![seat]),
        }
    }

    /// How many seats the order takes.
    fn quantity(&self) -> u32 {
        match &self.seats {
            SeatChoice::Seats(seats) => seats.len() as u32,
            SeatChoice::BestAvailable(n) => *n,
        }
    }

    /// The request an Idempotency-Key is bound to: the same seats in any order are the same.
    fn canonical(&self) -> String {
        let seats = match &self.seats {
            SeatChoice::Seats(seats) => {
                let numbers: BTreeSet<u8> = seats.iter().map(|s| s.get()).collect();
                format!("{numbers:?}")
            }
            SeatChoice::BestAvailable(n) => format!("best {n}"),
        };
        format!("hold:{}:{}:{seats}", self.concert_id, self.date)
    }

    /// The order fits the concert: 1 to the ticket limit of seats, each existing and named once.
    fn check(&self, concert: &ConcertRecord) -> Result<(), BookingError> {
        let limit = concert.max_tickets_per_fan.get();
        let n = self.quantity();
        if !(1..=limit).contains(&n) {
            return Err(BookingError::InvalidSeats(format!(
                "an order takes 1 to {limit} seats of this concert, not {n}"
            )));
        }
        if let SeatChoice::Seats(seats) = &self.seats {
            if seats.iter().collect::<BTreeSet<_>>().len() != seats.len() {
                return Err(BookingError::InvalidSeats(
                    "seatNumbers names a seat twice".into(),
                ));
            }
            if seats.iter().any(|s| concert.price(*s).is_none()) {
                return Err(BookingError::SeatNotFound);
            }
        }
        Ok(())
    }
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

/// Best available's pick of `n` seats among those free at `now`: one of the best few runs of
/// `n` adjacent seats (`choose` picks which, so that concurrent picks spread), else the `n`
/// lowest free seats; `None` when fewer than `n` are free.
fn best_available(
    concert: &ConcertRecord,
    taken: &DateSeatsRecord,
    n: usize,
    now: i64,
    choose: impl FnOnce(usize) -> usize,
) -> Option<Vec<SeatNumber>> {
    let free: Vec<SeatNumber> = concert
        .seats()
        .map(|(seat, _)| seat)
        .filter(|s| !taken.is_sold(*s) && !taken.is_held(*s, now))
        .collect();
    if free.len() < n {
        return None;
    }
    // The lowest runs that do not overlap: two fans given overlapping runs would collide.
    let mut runs = Vec::new();
    let mut start = 0;
    while start + n <= free.len() && runs.len() < BEST_RUNS {
        let window = &free[start..start + n];
        if usize::from(window[n - 1].get() - window[0].get()) == n - 1 {
            runs.push(window.to_vec());
            start += n;
        } else {
            start += 1;
        }
    }
    if runs.is_empty() {
        return Some(free[..n].to_vec());
    }
    let pick = choose(runs.len()).min(runs.len() - 1);
    Some(runs.swap_remove(pick))
}

/// The caller's live hold of exactly these seats of the date, if any: a retry whose answer
/// was lost.
fn own_live_hold(tally: &FanTallyRecord, request: &HoldRequest, now: i64) -> Option<ReservationId> {
    let SeatChoice::Seats(seats) = &request.seats else {
        return None;
    };
    let wanted: BTreeSet<&SeatNumber> = seats.iter().collect();
    tally
        .live_holds(now)
        .find(|(_, hold)| {
            hold.date == request.date && hold.seats.iter().collect::<BTreeSet<_>>() == wanted
        })
        .map(|(id, _)| *id)
}

impl Ticketing {
    /// Holds an order of seats for `hold_seconds`: the gate (one read of the caller's ticket,
    /// none when this container already found the token ACTIVE) with the fan's tally beside
    /// it (and, for best available, then the date's seats), then one transaction that checks
    /// the token again, takes every seat, writes the reservation and counts it in the tally. Holding again exactly the
    /// seats the caller holds (a retry whose answer was lost) returns that reservation: `false`
    /// then, `true` for a new hold. With an Idempotency-Key, a retry replays the first answer.
    #[instrument(skip(self, token, key), fields(user = %user, concert = %request.concert_id, date = %request.date, seats = request.quantity()))]
    pub async fn hold_seats(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        request: &HoldRequest,
        key: Option<&IdempotencyKey>,
    ) -> Result<(Reservation, bool), BookingError> {
        let token = token.ok_or(BookingError::QueueTokenRequired)?;
        // The fan's tally, in the fan's own partition, is read beside the gate; the gate speaks
        // first: a bad token hides whether the seats exist, and never reaches the date's seats
        // item.
        let read = async {
            let (concert, tally) = tokio::join!(
                self.seat_gate(user, token, &request.concert_id),
                self.store.fan_tally(user, &request.concert_id)
            );
            let concert = match concert? {
                None => return Err(BookingError::ConcertNotFound),
                Some(c) if !c.has_date(request.date) => return Err(BookingError::DateNotFound),
                Some(c) => c,
            };
            request.check(&concert)?;
            if request.date < self.now().date() {
                return Err(BookingError::SeatUnavailable(Vec::new()));
            }
            Ok((concert, tally?))
        };
        self.idempotent(
            user,
            key,
            request.canonical(),
            read,
            |claim, (concert, first)| async move {
                let mut tally = first;
                for _ in 0..HOLD_ATTEMPTS {
                    let now = self.now();
                    if let Some(id) = own_live_hold(&tally, request, now.epoch_seconds()) {
                        if let Some(existing) = self.store.reservation(user, id).await? {
                            return Ok((Reservation::of(&existing, now), false));
                        }
                    }
                    let limit = concert.max_tickets_per_fan.get();
                    let held = tally.held(now.epoch_seconds());
                    if held + tally.bought + request.quantity() > limit {
                        return Err(BookingError::TicketLimitReached {
                            limit,
                            held,
                            bought: tally.bought,
                        });
                    }
                    let seats = match &request.seats {
                        SeatChoice::Seats(seats) => seats.clone(),
                        SeatChoice::BestAvailable(n) => {
                            let taken = self
                                .store
                                .date_seats(&request.concert_id, request.date)
                                .await?;
                            best_available(
                                &concert,
                                &taken,
                                *n as usize,
                                now.epoch_seconds(),
                                |runs| self.random_below(runs),
                            )
                            .ok_or(BookingError::SeatUnavailable(Vec::new()))?
                        }
                    };
                    let reservation =
                        self.order(user, request, &concert, seats, now.epoch_seconds())?;
                    let answer = (Reservation::of(&reservation, now), true);
                    let plan = HoldPlan {
                        reservation,
                        ticket: token.clone(),
                        tally,
                        completion: claim.as_ref().map(|c| c.completion(&answer)).transpose()?,
                        now: now.epoch_seconds(),
                    };
                    let outcome = self.store.place_hold(&plan).await?;
                    // Unchanged, unless the outcome says it moved.
                    tally = plan.tally;
                    match outcome {
                        HoldOutcome::Held => return Ok(answer),
                        HoldOutcome::TicketRefused => {
                            self.read_gate(user, token, &request.concert_id).await?;
                            // The token was refused a moment ago and is active now: its admission
                            // raced this hold. The seats may be free; the fan retries.
                            return Err(BookingError::Contention);
                        }
                        // Not the seats: a conflict or a throttle. The fan is told to retry, never
                        // that a free seat is taken.
                        HoldOutcome::Busy => return Err(BookingError::Contention),
                        HoldOutcome::ClaimLost => return Err(BookingError::IdempotencyKeyInUse),
                        HoldOutcome::TallyMoved => {
                            tally = self.store.fan_tally(user, &request.concert_id).await?;
                        }
                        HoldOutcome::SeatTaken => match &request.seats {
                            SeatChoice::Seats(seats) => {
                                let unavailable = self.unavailable(request, seats).await?;
                                if !unavailable.is_empty() {
                                    return Err(BookingError::SeatUnavailable(unavailable));
                                }
                                // Freed since (a hold lapsed or was released): try again.
                            }
                            // Another fan took one of the run first: pick again from a fresh read.
                            SeatChoice::BestAvailable(_) => {}
                        },
                    }
                    crate::metrics::record(crate::metrics::Event::CommitRetry);
                }
                Err(BookingError::Contention)
            },
        )
        .await
    }

    /// The reservation an order writes: its seats in order, each at its price.
    fn order(
        &self,
        user: &UserId,
        request: &HoldRequest,
        concert: &ConcertRecord,
        mut seats: Vec<SeatNumber>,
        now: i64,
    ) -> Result<ReservationRecord, BookingError> {
        seats.sort();
        let seats = seats
            .into_iter()
            .map(|seat_number| {
                concert
                    .price(seat_number)
                    .map(|price| ReservedSeat { seat_number, price })
                    .ok_or(BookingError::SeatNotFound)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let price = seats
            .iter()
            .try_fold(Won::ZERO, |total, s| total.checked_add(s.price))
            .ok_or_else(|| BookingError::InvalidSeats("the order's total is too large".into()))?;
        Ok(ReservationRecord {
            reservation_id: ReservationId::new(),
            user_id: user.clone(),
            concert_id: request.concert_id.clone(),
            date: request.date,
            seats,
            price,
            held_until: now + self.settings.hold_seconds,
            status: StoredReservationStatus::Held,
            payment_id: None,
        })
    }

    /// Which of the order's seats are sold or under a live hold, from a fresh read.
    async fn unavailable(
        &self,
        request: &HoldRequest,
        seats: &[SeatNumber],
    ) -> Result<Vec<SeatNumber>, BookingError> {
        let now = self.now().epoch_seconds();
        let taken = self
            .store
            .date_seats(&request.concert_id, request.date)
            .await?;
        let mut unavailable: Vec<SeatNumber> = seats
            .iter()
            .copied()
            .filter(|s| taken.is_sold(*s) || taken.is_held(*s, now))
            .collect();
        unavailable.sort();
        Ok(unavailable)
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
