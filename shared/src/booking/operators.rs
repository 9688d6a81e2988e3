//! What the people running an on-sale see and turn: a concert's waiting room, live admission
//! settings, and concerts added without a deploy.
//!
//! The waiting room is the last tick's books (the queue state item, which the tick writes every
//! tick) beside the control item and the concert: three point reads, never a scan, exact as of
//! the last tick. A change writes only the control item, which every tick reads first: it takes
//! effect at the next tick on every function, and nothing else caches it.

use tracing::{info, instrument};

use super::{
    standing, CatalogConcert, ConcertSummary, RoomState, SeatTotals, Ticketing, WaitingRoom,
};
use crate::domain::{BookingError, ConcertId, OperatorId, Timestamp};
use crate::store::{
    ConcertListingRecord, ConcertRecord, QueueControlChange, QueueControlRecord, QueueStateRecord,
};

impl Ticketing {
    #[instrument(skip(self), fields(concert = %concert))]
    pub async fn waiting_room(&self, concert: &ConcertId) -> Result<WaitingRoom, BookingError> {
        let (record, state, control) = tokio::join!(
            self.store.concert(concert),
            self.store.queue_state(concert, true),
            self.store.queue_control(concert),
        );
        let record = record?.ok_or(BookingError::ConcertNotFound)?;
        Ok(self.room(&record, state?.as_ref(), &control?))
    }

    /// An operator's change to a concert's admission; logged with who made it.
    #[instrument(skip(self, change), fields(operator = %operator, concert = %concert))]
    pub async fn change_admission(
        &self,
        operator: &OperatorId,
        concert: &ConcertId,
        change: &QueueControlChange,
    ) -> Result<WaitingRoom, BookingError> {
        // An unknown concert changes nothing: no control item for a concert that is not there.
        let record = self
            .store
            .concert(concert)
            .await?
            .ok_or(BookingError::ConcertNotFound)?;
        let (control, state) = tokio::join!(
            self.store.change_queue_control(concert, change),
            self.store.queue_state(concert, true),
        );
        let control = control?;
        info!(
            operator = %operator,
            concert = %concert,
            paused = ?change.paused,
            admit_per_tick = ?change.admit_per_tick,
            max_active = ?change.max_active,
            max_holds_per_session = ?change.max_holds_per_session,
            "waiting room changed; the next tick applies it"
        );
        Ok(self.room(&record, state?.as_ref(), &control))
    }

    /// Adds one concert, as a catalog file would; an existing id is refused, never overwritten.
    #[instrument(skip(self, concert), fields(operator = %operator, concert = %concert.concert_id))]
    pub async fn add_concert(
        &self,
        operator: &OperatorId,
        concert: &CatalogConcert,
    ) -> Result<ConcertSummary, BookingError> {
        let record = concert.record()?;
        let added = self.store.put_concert(&record).await?;
        self.cache.concert_added(&record.concert_id);
        if !added {
            return Err(BookingError::ConcertExists);
        }
        info!(operator = %operator, concert = %record.concert_id, dates = record.dates.len(), "concert added");
        Ok(ConcertSummary::of(&ConcertListingRecord::of(&record)))
    }

    fn room(
        &self,
        concert: &ConcertRecord,
        state: Option<&QueueStateRecord>,
        control: &QueueControlRecord,
    ) -> WaitingRoom {
        let now = self.now();
        let t = now.epoch_seconds();
        let room_state = if state.is_some_and(|s| s.sold_out) || concert.sold_out {
            RoomState::SoldOut
        } else if control.paused {
            RoomState::Paused
        } else if concert.queue_opens_at.is_some_and(|at| t < at) {
            RoomState::NotOpen
        } else if concert.sale_opens_at.is_some_and(|at| t < at) {
            RoomState::PreQueue
        } else {
            RoomState::Open
        };
        let waiting = state.map_or(0, QueueStateRecord::waiting);
        let seats = match state {
            Some(s) => SeatTotals {
                free: s.seats.free,
                held: s.seats.held,
                sold: s.seats.sold,
            },
            // No tick has looked yet, so nobody was admitted to buy: every seat on sale is free.
            None => SeatTotals {
                free: concert.seat_count()
                    * concert.dates.iter().filter(|d| **d >= now.date()).count() as u32,
                ..SeatTotals::default()
            },
        };
        WaitingRoom {
            concert_id: concert.concert_id.clone(),
            state: room_state,
            waiting,
            active: state.map_or(0, |s| s.active),
            admitted_total: state.map_or(0, |s| s.admitted_total),
            dropped_total: state.map_or(0, |s| s.dropped_total),
            seats,
            admit_per_tick: control
                .admit_per_tick
                .unwrap_or(self.settings.admit_per_tick),
            max_active: control.max_active.unwrap_or(self.settings.max_active),
            max_holds_per_session: control
                .max_holds_per_session
                .unwrap_or(self.settings.max_holds_per_session),
            admit_tick_seconds: self.settings.admit_tick_seconds,
            estimated_wait_seconds_for_last: if waiting == 0 {
                0
            } else {
                standing::estimated_wait(&self.settings, state, waiting)
            },
            queue_opens_at: concert.queue_opens_at.map(Timestamp::from_epoch_seconds),
            sale_opens_at: concert.sale_opens_at.map(Timestamp::from_epoch_seconds),
        }
    }
}
