//! Holding seats, reading and listing reservations, releasing a hold early.
//!
//! An order holds seats of one date, all or none. What a fan may hold is bounded by the
//! concert's ticket limit: the seats of the fan's live holds plus the seats the fan bought,
//! counted in the fan's tally (an item under the fan), and the hold is written in the same
//! transaction as the tally, conditional on the version it counted. Best available picks a
//! run of adjacent free seats from a fresh read of one section's seats (the one asked for, or
//! for a hall every seat, or for a larger venue a section the last tick counted free seats in);
//! concurrent picks are spread over the best few runs, and a pick that loses a seat to another
//! fan picks again.

use std::collections::BTreeSet;

use tracing::instrument;

use super::catalog::LIST_WHOLE_DATE_UP_TO;
use super::idempotency::Claim;
use super::slots::SlotMoved;
use super::{PageLimit, Reservation, ReservationPage, ReservationStatus, Ticketing};
use crate::domain::{
    BookingError, ConcertDate, ConcertId, IdempotencyKey, QueueToken, ReservationId, SeatNumber,
    UserId, Won,
};
use crate::store::{
    CommitOutcome, ConcertRecord, DateSeatsRecord, FanTallyRecord, HoldOutcome, HoldPlan,
    QueueStateRecord, ReservationRecord, ReservedSeat, SectionRecord, StoredReservationStatus,
    RESERVATION_KEPT_SECONDS,
};

/// A hold that keeps losing races (its own fan's other holds, best available's seats) gives up
/// with `503 SERVICE_BUSY`. Each lost race is another's win, so this bounds only a crowd.
const HOLD_ATTEMPTS: u32 = 10;
/// Best available spreads concurrent picks over this many of the best free runs.
const BEST_RUNS: usize = 4;
/// Once its first pick is full, best available reads the other sections with room a few at a
/// time, at most this many blocks a read: one BatchGetItem.
const BEST_READ_BLOCKS: usize = crate::store::limits::BATCH_GET_KEYS_LIMIT;
/// On a venue listed a section at a time, best available without a section spreads a crowd
/// over this many of the lowest sections with room, each by the free seats the tick counted in
/// it: a nearly full section draws few fans, so that no block takes more than its share of the
/// crowd's holds.
const BEST_SECTIONS: usize = 16;

/// Which seats an order asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatChoice {
    /// These seats: distinct, at least one.
    Seats(Vec<SeatNumber>),
    /// Best available: this many seats, picked by the service.
    BestAvailable(u32),
    /// Best available within one section.
    BestInSection { quantity: u32, section: String },
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
            SeatChoice::BestAvailable(n) | SeatChoice::BestInSection { quantity: n, .. } => *n,
        }
    }

    /// The request an Idempotency-Key is bound to: the same seats in any order are the same.
    fn canonical(&self) -> String {
        let seats = match &self.seats {
            SeatChoice::Seats(seats) => {
                let numbers: BTreeSet<u32> = seats.iter().map(|s| s.get()).collect();
                format!("{numbers:?}")
            }
            SeatChoice::BestAvailable(n) => format!("best {n}"),
            SeatChoice::BestInSection { quantity, section } => {
                format!("best {quantity} in {section:?}")
            }
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
        if let SeatChoice::BestInSection { section, .. } = &self.seats {
            concert
                .section_named(section)
                .ok_or(BookingError::SectionNotFound)?;
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

/// Best available's pick of `n` seats among the free seats of `sections` at `now`: one of the
/// best few runs of `n` adjacent seats within one section (`choose` picks which, so that
/// concurrent picks spread), else the `n` lowest free seats; `None` when fewer than `n` are
/// free. A hall's price tiers (sections without a name) are one stretch of seats, as a fan
/// sees them: a run may cross from one tier into the next.
fn best_available(
    sections: &[&SectionRecord],
    taken: &DateSeatsRecord,
    n: usize,
    now: i64,
    choose: impl FnOnce(usize) -> usize,
) -> Option<Vec<SeatNumber>> {
    let mut free: Vec<Vec<SeatNumber>> = Vec::new();
    let mut tiers = false;
    for section in sections {
        let seats = section.seats().filter(|s| taken.is_free(*s, now));
        match free.last_mut() {
            Some(stretch) if tiers && section.name.is_none() => stretch.extend(seats),
            _ => free.push(seats.collect()),
        }
        tiers = section.name.is_none();
    }
    if free.iter().map(Vec::len).sum::<usize>() < n {
        return None;
    }
    // The lowest runs that do not overlap: two fans given overlapping runs would collide.
    let mut runs = Vec::new();
    for seats in &free {
        let mut start = 0;
        while start + n <= seats.len() && runs.len() < BEST_RUNS {
            let window = &seats[start..start + n];
            if (window[n - 1].get() - window[0].get()) as usize == n - 1 {
                runs.push(window.to_vec());
                start += n;
            } else {
                start += 1;
            }
        }
    }
    if runs.is_empty() {
        return Some(free.into_iter().flatten().take(n).collect());
    }
    let pick = choose(runs.len()).min(runs.len() - 1);
    Some(runs.swap_remove(pick))
}

/// Where best available looks, in turn (one read each): the section asked for; a hall's every
/// seat at once; else, for a larger venue, every section the last tick counted at least `n`
/// free seats in: first one of the lowest `BEST_SECTIONS` of them, alone (`choose` is given
/// their free seats in all and picks a seat among them: its section is looked in, so that a
/// crowd spreads over them by their room); then the others in seat order from the one after
/// it round to the one before, a few sections a read (at most `BEST_READ_BLOCKS` blocks), so
/// that a fan is refused only once every section counted with room was read and found full.
/// A section the tick counted full is not read: its seats were held or sold a tick ago.
fn places_to_look<'c>(
    concert: &'c ConcertRecord,
    date: ConcertDate,
    (n, section): (u32, Option<&str>),
    state: Option<&QueueStateRecord>,
    choose: impl FnOnce(u64) -> u64,
) -> Result<Vec<Vec<&'c SectionRecord>>, BookingError> {
    if let Some(name) = section {
        let (_, section) = concert
            .section_named(name)
            .ok_or(BookingError::SectionNotFound)?;
        return Ok(vec![vec![section]]);
    }
    if concert.seat_count() <= LIST_WHOLE_DATE_UP_TO {
        return Ok(vec![concert.sections.iter().collect()]);
    }
    let counted = state
        .and_then(|s| s.dates.iter().find(|d| d.date == date))
        .map(|d| d.sections.as_slice())
        .filter(|free| free.len() == concert.sections.len());
    let (mut open, room): (Vec<&SectionRecord>, Vec<u64>) = match counted {
        Some(free) => concert
            .sections
            .iter()
            .zip(free)
            .filter(|(_, free)| **free >= n)
            .map(|(section, free)| (section, u64::from(*free)))
            .unzip(),
        // Not counted yet: nothing was sold before the first tick.
        None => concert
            .sections
            .iter()
            .map(|section| (section, u64::from(section.seat_count())))
            .unzip(),
    };
    if open.is_empty() {
        return Err(BookingError::SeatUnavailable(Vec::new()));
    }
    let lowest = &room[..room.len().min(BEST_SECTIONS)];
    let first = by_weight(lowest, choose(lowest.iter().sum()));
    open.rotate_left(first);
    let mut places = vec![vec![open[0]]];
    let mut read: Vec<&SectionRecord> = Vec::new();
    let mut blocks = 0;
    for section in open.into_iter().skip(1) {
        let more = section.blocks().count();
        if !read.is_empty() && blocks + more > BEST_READ_BLOCKS {
            places.push(std::mem::take(&mut read));
            blocks = 0;
        }
        read.push(section);
        blocks += more;
    }
    if !read.is_empty() {
        places.push(read);
    }
    Ok(places)
}

/// The index that `point` (below the weights' sum) falls in, each index taking as many points
/// as its weight: a choice in proportion to the weights when `point` is drawn at random.
fn by_weight(weights: &[u64], point: u64) -> usize {
    let mut left = point;
    for (i, weight) in weights.iter().enumerate() {
        if left < *weight {
            return i;
        }
        left -= weight;
    }
    weights.len().saturating_sub(1)
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

/// A hold as a fan asked for it: who, with which token, and what.
#[derive(Clone, Copy)]
struct HoldAsked<'a> {
    user: &'a UserId,
    token: &'a QueueToken,
    request: &'a HoldRequest,
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
        // A keyed hold claims its key only once the gate has let it through, so that a
        // refused one writes nothing (a token this container found ACTIVE costs no read, and
        // the read below then finds it so too).
        if key.is_some() {
            self.seat_gate(user, token, &request.concert_id).await?;
        }
        self.idempotent(
            user,
            key,
            request.canonical(),
            read,
            |claim, (concert, first)| async move {
                let mut moved = None;
                let asked = HoldAsked {
                    user,
                    token,
                    request,
                };
                let placed = self
                    .place_order(&asked, claim, concert, first, &mut moved)
                    .await;
                // A hold refused gives back the slot time its renewal took; after an error
                // whose outcome is unknown the hold may stand, and keeps it.
                if let (Err(error), Some(moved)) = (&placed, moved) {
                    if !matches!(error, BookingError::Store(_)) {
                        self.slot_back(user, token, moved).await;
                    }
                }
                placed
            },
        )
        .await
    }

    /// The hold's attempts, once the gate let it through: `moved` says how the token's end was
    /// moved for it.
    async fn place_order(
        &self,
        asked: &HoldAsked<'_>,
        claim: Option<Claim>,
        concert: std::sync::Arc<ConcertRecord>,
        first: FanTallyRecord,
        moved: &mut Option<SlotMoved>,
    ) -> Result<(Reservation, bool), BookingError> {
        let HoldAsked {
            user,
            token,
            request,
        } = *asked;
        let mut tally = first;
        let max_holds = self.max_holds(&concert.concert_id).await?;
        for _ in 0..HOLD_ATTEMPTS {
            let now = self.now();
            if let Some(id) = own_live_hold(&tally, request, now.epoch_seconds()) {
                if let Some(existing) = self.store.reservation(user, id).await? {
                    let answer = (Reservation::of(&existing, now), false);
                    // Nothing to write but the key's answer: its retries replay it.
                    if let Some(claim) = &claim {
                        let completion = claim.completion(&answer)?;
                        if !self.store.complete_idempotency_key(&completion).await? {
                            return Err(BookingError::IdempotencyKeyInUse);
                        }
                    }
                    return Ok(answer);
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
                    self.best_seats(&concert, request.date, (*n, None)).await?
                }
                SeatChoice::BestInSection { quantity, section } => {
                    let best = (*quantity, Some(section.as_str()));
                    self.best_seats(&concert, request.date, best).await?
                }
            };
            let reservation = self.order(user, request, &concert, seats, now.epoch_seconds())?;
            let answer = (Reservation::of(&reservation, now), true);
            // The token's slot lasts as long as the hold: the fan can pay.
            let now_moved = self
                .slot_through(user, token, &request.concert_id, reservation.held_until)
                .await?;
            if let Some(m) = now_moved {
                *moved = Some(moved.map_or(m, |first| first.then(m)));
            }
            let plan = HoldPlan {
                reservation,
                ticket: token.clone(),
                tally,
                completion: claim.as_ref().map(|c| c.completion(&answer)).transpose()?,
                max_holds,
                now: now.epoch_seconds(),
            };
            let outcome = self.store.place_hold(&plan).await?;
            // Unchanged, unless the outcome says it moved.
            tally = plan.tally;
            match outcome {
                HoldOutcome::Held => return Ok(answer),
                HoldOutcome::TicketRefused => {
                    let ticket = self.read_gate(user, token, &request.concert_id).await?;
                    if ticket.holds_placed >= max_holds {
                        return Err(BookingError::TooManyHolds { limit: max_holds });
                    }
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
                        let unavailable = self.unavailable(&concert, request, seats).await?;
                        if !unavailable.is_empty() {
                            return Err(BookingError::SeatUnavailable(unavailable));
                        }
                        // Freed since (a hold lapsed or was released): try again.
                    }
                    // Another fan took one of the run first: pick again from a fresh read.
                    SeatChoice::BestAvailable(_) | SeatChoice::BestInSection { .. } => {}
                },
            }
            crate::metrics::record(crate::metrics::Event::CommitRetry);
        }
        Err(BookingError::Contention)
    }

    /// Holds one queue session may place for the concert: the operators' setting as the last
    /// tick applied it (this container's copy of the state), else the service's.
    async fn max_holds(&self, concert: &ConcertId) -> Result<u32, BookingError> {
        let now = self.now().epoch_seconds();
        let state = self.cached_state(concert, now).await?;
        Ok(state
            .as_deref()
            .map(|s| s.max_holds_per_session)
            .filter(|n| *n > 0)
            .unwrap_or(self.settings.max_holds_per_session))
    }

    /// Best available's pick of `n` seats (in `section`, when given) from a fresh read of the
    /// blocks it looks in (see [`places_to_look`]).
    async fn best_seats(
        &self,
        concert: &ConcertRecord,
        date: ConcertDate,
        best: (u32, Option<&str>),
    ) -> Result<Vec<SeatNumber>, BookingError> {
        let now = self.now().epoch_seconds();
        let state = self.cached_state(&concert.concert_id, now).await?;
        let places = places_to_look(concert, date, best, state.as_deref(), |room| {
            self.random_below(room as usize) as u64
        })?;
        for sections in places {
            let blocks: Vec<SeatNumber> = sections.iter().flat_map(|s| s.blocks()).collect();
            let taken = self
                .store
                .seat_blocks(&concert.concert_id, date, &blocks)
                .await?;
            let pick = |sections: &[&SectionRecord]| {
                best_available(sections, &taken, best.0 as usize, now, |runs| {
                    self.random_below(runs)
                })
            };
            // A hall's tiers are one stretch; a venue's order stays within one section: one of
            // those read with room, by the seats free in each. The crowd whose first pick was
            // full reads the same sections next, and would all take the lowest with room.
            let picked = if concert.seat_count() <= LIST_WHOLE_DATE_UP_TO {
                pick(&sections)
            } else {
                let room: Vec<u64> = sections
                    .iter()
                    .map(|section| {
                        let free = section.seats().filter(|s| taken.is_free(*s, now)).count();
                        if free >= best.0 as usize {
                            free as u64
                        } else {
                            0
                        }
                    })
                    .collect();
                let total: u64 = room.iter().sum();
                (total > 0)
                    .then(|| by_weight(&room, self.random_below(total as usize) as u64))
                    .and_then(|i| pick(&[sections[i]]))
            };
            if let Some(seats) = picked {
                return Ok(seats);
            }
        }
        Err(BookingError::SeatUnavailable(Vec::new()))
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
                let (index, section) = concert
                    .section_of(seat_number)
                    .ok_or(BookingError::SeatNotFound)?;
                Ok(ReservedSeat {
                    seat_number,
                    price: section.price,
                    section: index,
                    section_name: section.name.clone(),
                    block: ConcertRecord::block_of(section, seat_number),
                })
            })
            .collect::<Result<Vec<_>, BookingError>>()?;
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
            expires_at: Some(now + self.settings.hold_seconds + RESERVATION_KEPT_SECONDS),
        })
    }

    /// Which of the order's seats are sold or under a live hold, from a fresh read of their
    /// blocks.
    async fn unavailable(
        &self,
        concert: &ConcertRecord,
        request: &HoldRequest,
        seats: &[SeatNumber],
    ) -> Result<Vec<SeatNumber>, BookingError> {
        let now = self.now().epoch_seconds();
        let blocks: BTreeSet<SeatNumber> = seats
            .iter()
            .filter_map(|seat| {
                let (_, section) = concert.section_of(*seat)?;
                Some(ConcertRecord::block_of(section, *seat))
            })
            .collect();
        let blocks: Vec<SeatNumber> = blocks.into_iter().collect();
        let taken = self
            .store
            .seat_blocks(&request.concert_id, request.date, &blocks)
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
        let released = self
            .until_committed(|| async {
                let now = self.now();
                let record = self
                    .store
                    .reservation(user, reservation)
                    .await?
                    .ok_or(BookingError::ReservationNotFound)?;
                match ReservationStatus::of(&record, now) {
                    ReservationStatus::Held => {}
                    ReservationStatus::Released => return Ok((CommitOutcome::Committed, None)),
                    ReservationStatus::Confirmed => return Err(BookingError::AlreadyPaid),
                    ReservationStatus::Expired => return Err(BookingError::ReservationExpired),
                }
                let outcome = self
                    .store
                    .release_hold(&record, now.epoch_seconds())
                    .await?;
                Ok((outcome, Some(record.concert_id)))
            })
            .await?;
        if let Some(concert) = released {
            self.slot_after_release(user, &concert).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DateStanding;

    fn stadium(sections: u32) -> ConcertRecord {
        let date = ConcertDate::parse("2027-01-01").unwrap();
        let seat = |n: u32| SeatNumber::parse(i64::from(n)).unwrap();
        ConcertRecord {
            concert_id: ConcertId::parse("c").unwrap(),
            title: "C".into(),
            first_date: date,
            last_date: date,
            dates: vec![date],
            sections: (0..sections)
                .map(|i| SectionRecord {
                    name: Some(format!("S{i}")),
                    from_seat: seat(i * 500 + 1),
                    to_seat: seat((i + 1) * 500),
                    price: Won::new(1_000).unwrap(),
                })
                .collect(),
            queue_opens_at: None,
            sale_opens_at: None,
            sold_out: false,
            max_tickets_per_fan: Default::default(),
        }
    }

    fn names(places: &[Vec<&SectionRecord>]) -> Vec<String> {
        places
            .iter()
            .map(|p| {
                p.iter()
                    .filter_map(|s| s.name.clone())
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect()
    }

    #[test]
    fn a_choice_by_weight_gives_each_its_share() {
        let weights = [3, 0, 2];
        let picks: Vec<usize> = (0..5).map(|point| by_weight(&weights, point)).collect();
        assert_eq!(picks, [0, 0, 0, 2, 2]);
        assert_eq!(by_weight(&[], 0), 0);
    }

    #[test]
    fn best_available_looks_in_a_few_sections_the_tick_counted_free_seats_in() {
        let concert = stadium(8);
        let date = concert.dates[0];
        let state = QueueStateRecord {
            dates: vec![DateStanding {
                date,
                unsold: 4_000,
                free: 2_000,
                sections: vec![0, 1, 500, 500, 3, 500, 500, 500],
            }],
            ..QueueStateRecord::default()
        };
        // Two seats: S0 and S1 are full, S4 nearly; the pick comes first, alone, then every
        // other section with room, round from the one after it, a read of 100 blocks at most
        // (five sections of 500 seats are 25 blocks).
        // The pick is by the free seats: S4's three are points 1,000 to 1,002 of 2,503.
        let places = places_to_look(&concert, date, (2, None), Some(&state), |room| {
            assert_eq!(room, 2_503);
            1_002
        })
        .unwrap();
        assert_eq!(names(&places), ["S4", "S5+S6+S7+S2+S3"]);
        let places = places_to_look(&concert, date, (2, None), Some(&state), |_| 1_003).unwrap();
        assert_eq!(names(&places)[0], "S5");
        let places = places_to_look(&concert, date, (4, None), Some(&state), |_| 0).unwrap();
        assert_eq!(names(&places), ["S2", "S3+S5+S6+S7"]);
        // Before any tick, every section; after the pick, reads of twenty (a hundred blocks).
        let big = stadium(30);
        let places = places_to_look(&big, date, (2, None), None, |room| room - 1).unwrap();
        let sizes: Vec<usize> = places.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 20, 9]);
        assert_eq!(
            names(&places)[0],
            "S15",
            "the pick is among the lowest sixteen"
        );
        // Asked for, a section is looked in alone; a hall is looked in whole.
        let places = places_to_look(&concert, date, (2, Some("S1")), Some(&state), |_| 0);
        assert_eq!(names(&places.unwrap()), ["S1"]);
        let hall = stadium(2);
        let places = places_to_look(&hall, date, (2, None), None, |_| 0).unwrap();
        assert_eq!(names(&places), ["S0+S1"]);
        // Every section counted short of the order: no seats.
        let full = QueueStateRecord {
            dates: vec![DateStanding {
                sections: vec![1; 8],
                ..state.dates[0].clone()
            }],
            ..QueueStateRecord::default()
        };
        assert!(matches!(
            places_to_look(&concert, date, (2, None), Some(&full), |_| 0),
            Err(BookingError::SeatUnavailable(_))
        ));
    }
}
