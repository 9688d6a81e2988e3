//! Joining a concert's queue, polling it, and the admission check of gated operations.
//!
//! Why the queue looks like this (the numbers are DynamoDB's per-partition ceiling of 3,000 read
//! and 1,000 write units a second, and an on-sale's 10,000 joins a second):
//! - No counter is shared by the crowd. A join draws a number from one of 64 counters (chosen
//!   at random, so no fan can pick accounts that land first), for the second it joins in; the
//!   tick counts the seconds afterwards. Queue order is by second, then counter, then number:
//!   first come, first served to the second.
//! - A fan's ticket lives under the fan (`USER#{u}`/`QUEUE#{c}`), so joining again finds it and a
//!   poll reads it (and refreshes its idle clock) with one request that nobody else touches.
//! - Everything shared that a join or a poll needs (the queue's counts and progress) is written
//!   once a tick by the tick alone, and cached by every container until the next tick (see
//!   `cache`). The token carries its concert and join second, so a poll's reads all go out at
//!   once: one round trip.
//! - A join is three round trips: its ticket (with the concert and the state, when this
//!   container's copies are not current), then a number, then the ticket and the number's entry
//!   in one transaction. Only a join that will be queued draws: a fan already queued costs one
//!   read and draws nothing, so re-joining in a loop never inflates anyone's position. A
//!   number is drawn only in a second the tick has not sealed (counted): a join whose second is
//!   sealed, because its clock is behind the tick's or its draw was slow, draws in a later one,
//!   so no fan lands in a second already counted.
//! - Until the tick has counted the second a fan joined in, nobody can say how many joined
//!   before it in that second or the ones before: its position is `null` (WAITING), never a
//!   guess that could be better than the truth.

use std::sync::Arc;

use tracing::instrument;

use super::standing::{self, Standing};
use super::{admission, QueueStatus, QueueTicket, Ticketing};
use crate::domain::{
    BookingError, ConcertId, QueuePlace, QueueToken, Timestamp, UserId, QUEUE_SHARDS,
};
use crate::store::{
    ConcertRecord, Draw, EnqueueOutcome, QueuePageRecord, QueueStateRecord, TicketRecord,
    TicketStatus, REMEMBERED_TOKENS,
};

/// A join that keeps losing races (to the tick, or to the same fan's other join) gives up.
const JOIN_ATTEMPTS: u32 = 8;
/// Ticket items are kept this long for the TTL sweeper; correctness never relies on it.
const WAITING_TICKET_KEPT_SECONDS: i64 = 7 * 24 * 3600;

impl Ticketing {
    /// The counter a fan draws from: random, so that nobody outside can choose accounts that
    /// land on a counter counted first.
    fn counter_for_join(&self) -> u8 {
        self.random_below(usize::from(QUEUE_SHARDS)) as u8
    }

    /// Joins the concert's queue, or returns the caller's live ticket for it. `true` when new.
    #[instrument(skip(self), fields(user = %user, concert = %concert))]
    pub async fn join_queue(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<(QueueTicket, bool), BookingError> {
        // The second to draw in: now, or after the last second the tick has sealed.
        let mut second = i64::MIN;
        for _ in 0..JOIN_ATTEMPTS {
            let now = self.now().epoch_seconds();
            second = second.max(now);
            // A crowd refreshing before the opening, or after the sell-out, is refused from
            // what this container holds, without drawing a number or sending a request.
            if let Some(opens) = self
                .cache
                .concert_held(concert)
                .and_then(|c| c.queue_opens_at)
                .filter(|at| now < *at)
            {
                return Err(BookingError::QueueNotOpen {
                    opens_at: Timestamp::from_epoch_seconds(opens),
                });
            }
            if let Some(Some(state)) = self.cache.current_state(concert, now) {
                if state.sold_out {
                    return Err(BookingError::SoldOut);
                }
            }
            // Read first, write after: a join for an unknown concert, before the opening,
            // after the sell-out or by a fan already queued draws no number (a number drawn and
            // never used counts as a fan ahead of everyone after it until the tick passes it).
            let (record, state, ticket) = tokio::join!(
                self.cache.concert(&*self.store, concert),
                self.cached_state(concert, now),
                self.store.ticket(user, concert),
            );
            let concert_record = record?.ok_or(BookingError::ConcertNotFound)?;
            if let Some(opens) = concert_record.queue_opens_at.filter(|at| now < *at) {
                return Err(BookingError::QueueNotOpen {
                    opens_at: Timestamp::from_epoch_seconds(opens),
                });
            }
            let state = state?;
            if state.as_ref().is_some_and(|s| s.sold_out) {
                return Err(BookingError::SoldOut);
            }
            let previous = ticket?;
            if let Some(live) = previous.as_ref().filter(|t| t.is_live(now)) {
                // A retry of a join whose registration failed registers here.
                let (page, registered) = tokio::join!(
                    self.page_for(live, state.as_deref()),
                    self.register(concert, now)
                );
                registered?;
                return Ok((
                    self.ticket_view(&concert_record, live, state.as_deref(), page?.as_deref()),
                    false,
                ));
            }
            let shard = self.counter_for_join();
            let number = match self.store.draw_queue_number(concert, shard, second).await? {
                Draw::Number(number) => number,
                // The tick counted this second already (this container's clock is behind
                // the tick's, or the draw was slow): draw in the second after.
                Draw::Sealed(through) => {
                    crate::metrics::record(crate::metrics::Event::CommitRetry);
                    second = through + 1;
                    continue;
                }
            };
            let place = QueuePlace {
                second,
                shard,
                number,
            };
            let ticket = self.new_ticket(user, concert, place, previous.as_ref());
            let (enqueued, registered) = tokio::join!(
                self.store
                    .enqueue(&ticket, previous.as_ref().map(|t| &t.token)),
                self.register(concert, now)
            );
            match enqueued? {
                EnqueueOutcome::Enqueued => {
                    // Queued but not registered: the fan's retry finds the ticket and
                    // registers then.
                    registered?;
                    return Ok((
                        self.ticket_view(&concert_record, &ticket, state.as_deref(), None),
                        true,
                    ));
                }
                // Another join of this fan won, or the tick passed the number: look again.
                EnqueueOutcome::TicketMoved | EnqueueOutcome::NumberPassed => {
                    crate::metrics::record(crate::metrics::Event::CommitRetry)
                }
            }
        }
        Err(BookingError::Contention)
    }

    /// Tells the tick this concert's queue has joins, when this container has not in the last
    /// minute (see `booking::admission`).
    async fn register(&self, concert: &ConcertId, now: i64) -> Result<(), BookingError> {
        if self.cache.registration_due(concert, now) {
            self.store.register_queue(concert, now).await?;
            self.cache.registered(concert, now);
        }
        Ok(())
    }

    fn new_ticket(
        &self,
        user: &UserId,
        concert: &ConcertId,
        place: QueuePlace,
        previous: Option<&TicketRecord>,
    ) -> TicketRecord {
        let mut ended_tokens: Vec<QueueToken> = previous
            .map(|p| {
                std::iter::once(p.token.clone())
                    .chain(p.ended_tokens.iter().cloned())
                    .collect()
            })
            .unwrap_or_default();
        ended_tokens.truncate(REMEMBERED_TOKENS);
        TicketRecord {
            token: QueueToken::new(concert.clone(), place.second),
            user_id: user.clone(),
            concert_id: concert.clone(),
            shard: place.shard,
            number: place.number,
            status: TicketStatus::Waiting,
            last_seen_at: place.second,
            admitted_at: None,
            active_until: None,
            ended_tokens,
            holds_placed: 0,
            expires_at: place.second + WAITING_TICKET_KEPT_SECONDS,
        }
    }

    /// The caller's place in the queue. Polling keeps a waiting ticket from being dropped.
    #[instrument(skip_all, fields(user = %user))]
    pub async fn queue_status(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
    ) -> Result<QueueTicket, BookingError> {
        let token = token.ok_or(BookingError::QueueTokenRequired)?;
        let now = self.now().epoch_seconds();
        let concert = token.concert();
        // Everything a poll reads goes out together: the ticket, and (when this container's
        // copies are not current) the concert, the state, and the page of the token's second.
        let second = token.joined_at();
        let page_wanted = self.page_may_be_needed(concert, second, now);
        let (ticket, record, state, page) = tokio::join!(
            self.store.poll_ticket(user, token, now),
            self.cache.concert(&*self.store, concert),
            self.cached_state(concert, now),
            async {
                if page_wanted {
                    self.cache.page_with(&*self.store, concert, second).await
                } else {
                    Ok(None)
                }
            },
        );
        let mut ticket = self.own_ticket(ticket?, token)?;
        let concert_record = record?.ok_or(BookingError::QueueTokenInvalid)?;
        let state = state?;
        let mut page = page?;
        if !ticket.is_live(now) {
            return Err(self.ended(&ticket));
        }
        // A poll is a request that carries the token: it keeps an active slot too.
        let sold_out = state.as_ref().is_some_and(|s| s.sold_out);
        if let (TicketStatus::Active, Some(until), Some(at), false) = (
            ticket.status,
            ticket.active_until,
            ticket.admitted_at,
            sold_out,
        ) {
            let until = self
                .keep_slot(user, token, (until, self.slot_cap(at)))
                .await;
            ticket.active_until = Some(until);
        }
        if page.is_none() && ticket.status == TicketStatus::Waiting {
            page = self.page_for(&ticket, state.as_deref()).await?;
        }
        Ok(self.ticket_view(&concert_record, &ticket, state.as_deref(), page.as_deref()))
    }

    /// Whether a poll should fetch its page alongside: only when the token's second may be
    /// counted and this container lacks its counts.
    fn page_may_be_needed(&self, concert: &ConcertId, second: i64, now: i64) -> bool {
        if self.cache.page_holding(concert, second).is_some() {
            return false;
        }
        match self.cache.current_state(concert, now) {
            Some(Some(state)) => state.counted_through >= second,
            Some(None) => false,
            None => true,
        }
    }

    /// The page a waiting ticket's position needs, if its second is counted.
    async fn page_for(
        &self,
        ticket: &TicketRecord,
        state: Option<&QueueStateRecord>,
    ) -> Result<Option<Arc<QueuePageRecord>>, BookingError> {
        let second = ticket.token.joined_at();
        if ticket.status != TicketStatus::Waiting
            || state.is_none_or(|s| s.counted_through < second)
        {
            return Ok(None);
        }
        Ok(self
            .cache
            .page_with(&*self.store, &ticket.concert_id, second)
            .await?)
    }

    /// The queue state this container holds, read when not current.
    pub(crate) async fn cached_state(
        &self,
        concert: &ConcertId,
        now: i64,
    ) -> Result<Option<Arc<QueueStateRecord>>, BookingError> {
        Ok(self.cache.queue_state(&*self.store, concert, now).await?)
    }

    /// The ticket stored under the caller is the one presented, or the token is not theirs.
    fn own_ticket(
        &self,
        stored: Option<TicketRecord>,
        token: &QueueToken,
    ) -> Result<TicketRecord, BookingError> {
        let ticket = stored.ok_or(BookingError::QueueTokenInvalid)?;
        if &ticket.token == token {
            Ok(ticket)
        } else if ticket.ended_tokens.contains(token) {
            Err(BookingError::QueueTokenExpired)
        } else {
            Err(BookingError::QueueTokenInvalid)
        }
    }

    /// The gate of dates, seats, holds and payments: the caller's active ticket for `concert`,
    /// judged on a ticket already read (see [`Ticketing::read_gate`]).
    pub(crate) async fn check_admission(
        &self,
        stored: Option<TicketRecord>,
        token: &QueueToken,
        concert: &ConcertId,
    ) -> Result<TicketRecord, BookingError> {
        let ticket = self.own_ticket(stored, token)?;
        if token.concert() != concert {
            return Err(BookingError::QueueTokenWrongConcert);
        }
        let now = self.now().epoch_seconds();
        match ticket.status {
            // After a sell-out an active ticket has ended too. The state is this container's
            // copy, which every gated call reads beside its ticket.
            TicketStatus::Active if ticket.is_live(now) => {
                match self.cache.current_state(concert, now) {
                    Some(Some(state)) if state.sold_out => Err(BookingError::QueueTokenExpired),
                    _ => {
                        if let (Some(until), Some(at)) = (ticket.active_until, ticket.admitted_at) {
                            let cap = self.slot_cap(at);
                            self.cache.found_active(&ticket.user_id, token, until, cap);
                        }
                        Ok(ticket)
                    }
                }
            }
            // Idled out, or at its cap: the fan is told which.
            TicketStatus::Active => Err(self.ended(&ticket)),
            TicketStatus::Waiting => {
                let state = self.cached_state(concert, now).await?;
                if state.as_ref().is_some_and(|s| s.sold_out) {
                    return Err(BookingError::QueueTokenExpired);
                }
                let record = self
                    .cache
                    .concert(&*self.store, concert)
                    .await?
                    .ok_or(BookingError::QueueTokenInvalid)?;
                let page = self.page_for(&ticket, state.as_deref()).await?;
                let view = self.ticket_view(&record, &ticket, state.as_deref(), page.as_deref());
                Err(BookingError::QueueNotAdmitted {
                    position: view.position,
                    estimated_wait_seconds: view.estimated_wait_seconds,
                })
            }
            _ => Err(BookingError::QueueTokenExpired),
        }
    }

    /// Reads the caller's ticket for the token's concert and judges it.
    pub(crate) async fn read_gate(
        &self,
        user: &UserId,
        token: &QueueToken,
        concert: &ConcertId,
    ) -> Result<TicketRecord, BookingError> {
        let stored = self.store.ticket(user, token.concert()).await?;
        self.check_admission(stored, token, concert).await
    }

    /// The gate before a date's seats item is read or written: the caller's ticket (with this
    /// container's copies of the concert and the queue state, when not current) in one round
    /// trip, or nothing when this container already found the token ACTIVE. Traffic without
    /// an admitted token never reaches the hottest items of a sale.
    pub(crate) async fn seat_gate(
        &self,
        user: &UserId,
        token: &QueueToken,
        concert: &ConcertId,
    ) -> Result<Option<Arc<ConcertRecord>>, BookingError> {
        let now = self.now().epoch_seconds();
        if token.concert() == concert {
            if let Some(slot) = self.cache.active_slot(user, token, now) {
                let (_, record) = tokio::join!(
                    self.keep_slot(user, token, slot),
                    self.cache.concert(&*self.store, concert)
                );
                return Ok(record?);
            }
        }
        let (ticket, record, state) = tokio::join!(
            self.store.ticket(user, token.concert()),
            self.cache.concert(&*self.store, concert),
            self.cached_state(concert, now),
        );
        state?;
        let ticket = self.check_admission(ticket?, token, concert).await?;
        self.keep_ticket_slot(user, token, &ticket).await;
        Ok(record?)
    }

    /// Renews an active ticket a request carried, when due (see `booking::slots`).
    pub(crate) async fn keep_ticket_slot(
        &self,
        user: &UserId,
        token: &QueueToken,
        ticket: &TicketRecord,
    ) {
        if let (Some(until), Some(at)) = (ticket.active_until, ticket.admitted_at) {
            self.keep_slot(user, token, (until, self.slot_cap(at)))
                .await;
        }
    }

    /// What a fan is told about a live ticket.
    fn ticket_view(
        &self,
        concert: &ConcertRecord,
        ticket: &TicketRecord,
        state: Option<&QueueStateRecord>,
        page: Option<&QueuePageRecord>,
    ) -> QueueTicket {
        let now = self.now().epoch_seconds();
        let phase = standing::phase_of(ticket.place());
        let idle_poll = standing::poll_after(&self.settings, u64::MAX, 0, phase);
        let until_tick = standing::until_next_tick(&self.settings, state, now);
        let view = |status, position, wait, expires_at, poll_after| QueueTicket {
            token: ticket.token.clone(),
            concert_id: ticket.concert_id.clone(),
            status,
            position,
            estimated_wait_seconds: wait,
            expires_at: Timestamp::from_epoch_seconds(expires_at),
            poll_after_seconds: poll_after,
            admission_paused: state.is_some_and(|s| s.paused),
        };
        let dropped_after = ticket.last_seen_at + self.settings.waiting_idle_seconds;
        // Sold out ends every live ticket, an active one included: nothing is left to buy.
        if state.is_some_and(|s| s.sold_out) {
            return view(
                QueueStatus::SoldOut,
                Some(0),
                Some(0),
                dropped_after,
                idle_poll,
            );
        }
        if let (TicketStatus::Active, Some(until)) = (ticket.status, ticket.active_until) {
            return view(QueueStatus::Active, Some(0), Some(0), until, idle_poll);
        }
        match standing::position(concert, state, page, ticket.place()) {
            Standing::PreQueue => {
                let opens = concert.sale_opens_at.unwrap_or(now);
                let until_open = (opens - now).max(0) as u64;
                let draw_from = admission::first_draw_second(opens);
                view(
                    QueueStatus::PreQueue,
                    None,
                    Some(until_open),
                    dropped_after,
                    standing::poll_after_draw(&self.settings, state, draw_from, now, phase),
                )
            }
            Standing::At(position) => {
                let wait = standing::estimated_wait(&self.settings, state, position);
                let poll_wait = match state {
                    Some(s) if standing::within_reach(&self.settings, s, position) => 0,
                    _ => wait,
                };
                view(
                    QueueStatus::Waiting,
                    Some(position),
                    standing::wait_known(state).then_some(wait),
                    dropped_after,
                    standing::poll_after(&self.settings, poll_wait, until_tick, phase),
                )
            }
            // Behind every fan counted, at least: the wait is at least theirs, and so is when
            // to poll (never before the next tick, which counts the fan's second).
            Standing::Uncounted => {
                let behind = state.map_or(0, |s| s.waiting()) + 1;
                let wait = standing::estimated_wait(&self.settings, state, behind);
                view(
                    QueueStatus::Waiting,
                    None,
                    standing::wait_known(state).then_some(wait),
                    dropped_after,
                    standing::poll_after_uncounted(&self.settings, wait, until_tick, phase),
                )
            }
        }
    }
}
