//! Joining a concert's queue, polling it, and the admission check of gated operations.

use tracing::instrument;

use super::{QueueStatus, QueueTicket, Ticketing};
use crate::domain::{BookingError, ConcertId, QueueToken, Timestamp, UserId};
use crate::store::{EnqueueOutcome, QueueStateRecord, TokenRecord, TokenStatus};

/// A join that keeps losing races (to the tick, or to the same user's other join) gives up.
const JOIN_ATTEMPTS: u32 = 8;
/// Token items are kept this long for the TTL sweeper; correctness never relies on it.
const WAITING_TOKEN_KEPT_SECONDS: i64 = 7 * 24 * 3600;

impl Ticketing {
    /// Joins the concert's queue, or returns the caller's live token for it. `true` when new.
    #[instrument(skip(self), fields(user = %user, concert = %concert))]
    pub async fn join_queue(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<(QueueTicket, bool), BookingError> {
        let mut concert_checked = false;
        for _ in 0..JOIN_ATTEMPTS {
            let now = self.now();
            let previous = self.store.queue_pointer(user, concert).await?;
            if let Some(token) = &previous {
                let (record, queue) = self.store.token_and_queue(token).await?;
                if let Some(mut record) = record.filter(|r| self.is_live(r, now)) {
                    if record.status == TokenStatus::Waiting {
                        self.store
                            .heartbeat(token, user, now.epoch_seconds())
                            .await?;
                        record.last_seen_at = now.epoch_seconds();
                    }
                    return Ok((self.ticket(&record, queue), false));
                }
            }
            // A live token proves its concert exists; only a new number needs the check.
            if !concert_checked {
                if self.store.concert(concert).await?.is_none() {
                    return Err(BookingError::ConcertNotFound);
                }
                concert_checked = true;
            }
            let queue = self.store.issue_queue_number(concert).await?;
            let record = TokenRecord {
                token: QueueToken::new(concert.clone()),
                user_id: user.clone(),
                concert_id: concert.clone(),
                seq: queue.issued,
                status: TokenStatus::Waiting,
                last_seen_at: now.epoch_seconds(),
                active_until: None,
                expires_at: now.epoch_seconds() + WAITING_TOKEN_KEPT_SECONDS,
            };
            match self.store.enqueue(&record, previous.as_ref()).await? {
                EnqueueOutcome::Enqueued => return Ok((self.ticket(&record, queue), true)),
                EnqueueOutcome::PointerMoved => {
                    // The user's other join won; give our number up and return theirs.
                    self.store
                        .void_queue_number(concert, record.seq, now.epoch_seconds())
                        .await?;
                }
                EnqueueOutcome::NumberPassed => {}
            }
        }
        Err(BookingError::Contention)
    }

    /// The caller's place in the queue. Polling keeps a waiting token from being dropped.
    #[instrument(skip_all, fields(user = %user))]
    pub async fn queue_status(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
    ) -> Result<QueueTicket, BookingError> {
        let token = token.ok_or(BookingError::QueueTokenRequired)?;
        let now = self.now();
        let (record, queue) = self.store.token_and_queue(token).await?;
        let mut record = record
            .filter(|r| &r.user_id == user)
            .ok_or(BookingError::QueueTokenInvalid)?;
        if !self.is_live(&record, now) {
            return Err(BookingError::QueueTokenExpired);
        }
        // Refresh the idle clock only now and then: a poll stays one read most of the time.
        if record.status == TokenStatus::Waiting
            && now.epoch_seconds() - record.last_seen_at >= self.settings.waiting_idle_seconds / 4
        {
            self.store
                .heartbeat(token, user, now.epoch_seconds())
                .await?;
            record.last_seen_at = now.epoch_seconds();
        }
        Ok(self.ticket(&record, queue))
    }

    /// The gate of dates, seats, holds and payments: the caller's active token for `concert`.
    pub(crate) async fn admitted(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        concert: &ConcertId,
    ) -> Result<TokenRecord, BookingError> {
        let token = token.ok_or(BookingError::QueueTokenRequired)?;
        let record = self.store.token(token).await?;
        self.check_admission(record, user, concert, self.now())
            .await
    }

    /// Judges a token already read. Only a waiting token costs another read, for its position.
    pub(crate) async fn check_admission(
        &self,
        record: Option<TokenRecord>,
        user: &UserId,
        concert: &ConcertId,
        now: Timestamp,
    ) -> Result<TokenRecord, BookingError> {
        let record = record
            .filter(|r| &r.user_id == user)
            .ok_or(BookingError::QueueTokenInvalid)?;
        if &record.concert_id != concert {
            return Err(BookingError::QueueTokenWrongConcert);
        }
        if !self.is_live(&record, now) {
            return Err(BookingError::QueueTokenExpired);
        }
        if record.status == TokenStatus::Waiting {
            let queue = self.store.queue_state(concert).await?;
            let ticket = self.ticket(&record, queue);
            return Err(BookingError::QueueNotAdmitted {
                position: ticket.position,
                estimated_wait_seconds: ticket.estimated_wait_seconds,
            });
        }
        Ok(record)
    }

    /// Waiting, or active and not yet ended. A waiting token stays live until the tick drops it.
    fn is_live(&self, record: &TokenRecord, now: Timestamp) -> bool {
        match record.status {
            TokenStatus::Waiting => true,
            TokenStatus::Active => record
                .active_until
                .is_some_and(|until| until > now.epoch_seconds()),
            TokenStatus::Used | TokenStatus::Dropped => false,
        }
    }

    fn ticket(&self, record: &TokenRecord, queue: QueueStateRecord) -> QueueTicket {
        if let (TokenStatus::Active, Some(until)) = (record.status, record.active_until) {
            return QueueTicket::active(record, until);
        }
        // The tick passes numbers strictly in order, so everyone between the cursor and us is
        // ahead. A read that saw the cursor move before the token did still says "next".
        let position = record.seq.saturating_sub(queue.cursor).max(1);
        QueueTicket {
            token: record.token.clone(),
            concert_id: record.concert_id.clone(),
            status: QueueStatus::Waiting,
            position,
            estimated_wait_seconds: self.estimated_wait_seconds(position),
            expires_at: Timestamp::from_epoch_seconds(
                record.last_seen_at + self.settings.waiting_idle_seconds,
            ),
        }
    }

    /// Ticks needed to reach this position at the admission rate, in seconds.
    fn estimated_wait_seconds(&self, position: u64) -> u64 {
        let per_tick = u64::from(self.settings.admit_per_tick.max(1));
        position.div_ceil(per_tick) * self.settings.admit_tick_seconds
    }
}
