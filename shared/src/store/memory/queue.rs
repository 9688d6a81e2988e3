use async_trait::async_trait;

use super::*;

#[async_trait]
impl QueueStore for MemoryStore {
    async fn ticket(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<Option<TicketRecord>, StoreError> {
        Ok(self
            .tables()
            .tickets
            .get(&(user.clone(), concert.clone()))
            .cloned())
    }

    async fn draw_queue_number(
        &self,
        concert: &ConcertId,
        shard: u8,
        second: i64,
    ) -> Result<Draw, StoreError> {
        let mut t = self.tables();
        let minute = second.div_euclid(60);
        if let Some(sealed) = t.seals.get(&(concert.clone(), shard, minute)) {
            if *sealed >= second {
                return Ok(Draw::Sealed(*sealed));
            }
        }
        let count = t
            .counters
            .entry((concert.clone(), shard, second))
            .or_default();
        *count += 1;
        Ok(Draw::Number(*count))
    }

    async fn enqueue(
        &self,
        ticket: &TicketRecord,
        previous: Option<&QueueToken>,
    ) -> Result<EnqueueOutcome, StoreError> {
        let mut t = self.tables();
        let ticket_key = (ticket.user_id.clone(), ticket.concert_id.clone());
        if t.tickets.get(&ticket_key).map(|s| &s.token) != previous {
            return Ok(EnqueueOutcome::TicketMoved);
        }
        let place = ticket.place();
        let entry_key = (
            ticket.concert_id.clone(),
            place.shard,
            place.second,
            place.number,
        );
        if t.queue_entries.contains_key(&entry_key) {
            return Ok(EnqueueOutcome::NumberPassed);
        }
        within_limits(dynamo::meter_enqueue(ticket))?;
        t.queue_entries.insert(
            entry_key,
            QueueEntryRecord {
                second: place.second,
                shard: place.shard,
                number: place.number,
                user_id: Some(ticket.user_id.clone()),
            },
        );
        t.tickets.insert(ticket_key, ticket.clone());
        Ok(EnqueueOutcome::Enqueued)
    }

    async fn poll_ticket(
        &self,
        user: &UserId,
        token: &QueueToken,
        now: i64,
    ) -> Result<Option<TicketRecord>, StoreError> {
        let mut t = self.tables();
        let Some(ticket) = t.tickets.get_mut(&(user.clone(), token.concert().clone())) else {
            return Ok(None);
        };
        if &ticket.token == token && ticket.status == TicketStatus::Waiting {
            ticket.last_seen_at = now;
        }
        Ok(Some(ticket.clone()))
    }

    async fn renew_ticket(&self, renewal: &SlotRenewal) -> Result<CommitOutcome, StoreError> {
        let mut t = self.tables();
        let slots = renewal.slot_move();
        let after = t.slots_after(&renewal.concert_id, &slots);
        within_limits(dynamo::meter_renew_ticket(renewal, &after))?;
        let fan = (renewal.user_id.clone(), renewal.concert_id.clone());
        let Some(ticket) = t.tickets.get_mut(&fan).filter(|ticket| {
            ticket.token == renewal.token
                && ticket.status == TicketStatus::Active
                && ticket.active_until == Some(renewal.from)
        }) else {
            return Ok(CommitOutcome::Refused);
        };
        ticket.active_until = Some(renewal.to);
        ticket.expires_at = ticket_expiry(renewal.to);
        t.slots
            .insert((renewal.concert_id.clone(), slots.shard), after);
        let renewed = TicketChangeKind::Renewed { until: renewal.to };
        t.record(&renewal.user_id, &renewal.concert_id, renewed);
        Ok(CommitOutcome::Committed)
    }

    async fn register_queue(&self, concert: &ConcertId, now: i64) -> Result<(), StoreError> {
        let mut t = self.tables();
        let entry = t.live_queues.entry(concert.clone()).or_insert((now, now));
        entry.1 = now;
        Ok(())
    }

    async fn queue_state(
        &self,
        concert: &ConcertId,
        _consistent: bool,
    ) -> Result<Option<QueueStateRecord>, StoreError> {
        Ok(self.tables().states.get(concert).cloned())
    }

    async fn queue_page(
        &self,
        concert: &ConcertId,
        minute: i64,
    ) -> Result<Option<QueuePageRecord>, StoreError> {
        Ok(self.tables().pages.get(&(concert.clone(), minute)).cloned())
    }

    async fn queue_control(&self, concert: &ConcertId) -> Result<QueueControlRecord, StoreError> {
        Ok(self
            .tables()
            .controls
            .get(concert)
            .copied()
            .unwrap_or_default())
    }

    async fn change_queue_control(
        &self,
        concert: &ConcertId,
        change: &QueueControlChange,
    ) -> Result<QueueControlRecord, StoreError> {
        let mut tables = self.tables();
        let control = tables.controls.entry(concert.clone()).or_default();
        if let Some(paused) = change.paused {
            control.paused = paused;
        }
        control.admit_per_tick = change.admit_per_tick.or(control.admit_per_tick);
        control.max_active = change.max_active.or(control.max_active);
        control.max_holds_per_session = change
            .max_holds_per_session
            .or(control.max_holds_per_session);
        Ok(*control)
    }
}
