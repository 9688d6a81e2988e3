//! A store that charges every call as the DynamoDB store would send it: the on-sale simulator
//! runs the service over `MeteredStore<MemoryStore>` and reads the requests back. The mapping
//! itself lives beside each DynamoDB call (`dynamo::*::meter_*`), so that the two change
//! together; where a request's cost depends on an item the call does not carry (a seats item
//! after a hold, a page after a write), it is read from the store underneath, uncharged.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::dynamo::{self, meter::DynamoRequest};
use super::*;

pub struct MeteredStore<S> {
    inner: S,
    requests: Mutex<Vec<DynamoRequest>>,
}

impl<S: Store> MeteredStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            requests: Mutex::new(Vec::new()),
        }
    }

    /// The store underneath, for reading state without charging it.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The requests charged since the last call.
    pub fn take_requests(&self) -> Vec<DynamoRequest> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<DynamoRequest>> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Charges `requests` when the call succeeded, and passes its result on. A request that
    /// DynamoDB would refuse (the memory store underneath refuses such writes before they
    /// apply; a read here that names more keys than one request may) is refused here too.
    fn charge<T>(
        &self,
        result: Result<T, StoreError>,
        requests: impl FnOnce(&T) -> Vec<DynamoRequest>,
    ) -> Result<T, StoreError> {
        if let Ok(value) = &result {
            let charged = requests(value);
            super::limits::check(&charged)?;
            self.lock().extend(charged);
        }
        result
    }

    /// Each of these blocks of a date as it stands, uncharged, to size them.
    async fn blocks_now(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        blocks: impl IntoIterator<Item = SeatNumber>,
    ) -> Vec<(SeatNumber, DateSeatsRecord)> {
        let mut found = Vec::new();
        for block in blocks {
            let seats = self.inner.seat_blocks(concert, date, &[block]).await;
            found.push((block, seats.unwrap_or_default()));
        }
        found
    }

    /// The blocks and ledger shards an order's seats are stored in, as they stand, uncharged,
    /// to size the items a call wrote.
    async fn seats_now(&self, r: &ReservationRecord) -> SeatsTouched {
        let blocks: std::collections::BTreeSet<SeatNumber> =
            r.seats.iter().map(|s| s.block).collect();
        let shards: std::collections::BTreeSet<u32> =
            r.seats.iter().map(|s| ledger_shard(s.block)).collect();
        let wanted: Vec<(ConcertDate, u32)> = shards.iter().map(|s| (r.date, *s)).collect();
        let ledgers = self
            .inner
            .seat_ledgers(&r.concert_id, &wanted)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(_, shard, ledger)| (shard, ledger))
            .collect();
        SeatsTouched {
            blocks: self.blocks_now(&r.concert_id, r.date, blocks).await,
            ledgers,
        }
    }

    /// One slot shard as it stands, uncharged, to size what a call wrote.
    async fn slots_now(&self, concert: &ConcertId, shard: u32) -> SlotShardRecord {
        self.inner
            .slot_ledger(concert)
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|(s, _)| *s == shard)
            .map(|(_, record)| record)
            .unwrap_or_default()
    }

    /// The reservation's fan's tally as it stands, uncharged, to size the tally a call wrote.
    async fn tally_now(&self, reservation: &ReservationRecord) -> FanTallyRecord {
        self.inner
            .fan_tally(&reservation.user_id, &reservation.concert_id)
            .await
            .unwrap_or_default()
    }
}

#[async_trait]
impl<S: Store> CatalogStore for MeteredStore<S> {
    async fn put_concert(&self, concert: &ConcertRecord) -> Result<bool, StoreError> {
        let result = self.inner.put_concert(concert).await;
        self.charge(result, |_| dynamo::meter_put_concert(concert))
    }

    async fn listed_concerts(
        &self,
        from: ConcertDate,
    ) -> Result<Vec<ConcertListingRecord>, StoreError> {
        let result = self.inner.listed_concerts(from).await;
        self.charge(result, |found| dynamo::meter_listed_concerts(found))
    }

    async fn concert(&self, concert: &ConcertId) -> Result<Option<ConcertRecord>, StoreError> {
        let result = self.inner.concert(concert).await;
        self.charge(result, |found| {
            dynamo::meter_concert(concert, found.as_ref())
        })
    }

    async fn mark_sold_out(&self, concert: &ConcertRecord) -> Result<(), StoreError> {
        let result = self.inner.mark_sold_out(concert).await;
        self.charge(result, |_| dynamo::meter_mark_sold_out(concert))
    }

    async fn seat_blocks(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        blocks: &[SeatNumber],
    ) -> Result<DateSeatsRecord, StoreError> {
        let result = self.inner.seat_blocks(concert, date, blocks).await;
        let found = self.blocks_now(concert, date, blocks.iter().copied()).await;
        self.charge(result, |_| dynamo::meter_seat_blocks(concert, date, &found))
    }

    async fn seat_ledgers(
        &self,
        concert: &ConcertId,
        shards: &[(ConcertDate, u32)],
    ) -> Result<Vec<(ConcertDate, u32, SeatLedgerRecord)>, StoreError> {
        let result = self.inner.seat_ledgers(concert, shards).await;
        self.charge(result, |found| dynamo::meter_seat_ledgers(concert, found))
    }

    async fn prune_seat_ledger(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        shard: u32,
        stale: &LedgerStale,
    ) -> Result<(), StoreError> {
        let before = self
            .inner
            .seat_ledgers(concert, &[(date, shard)])
            .await
            .ok()
            .and_then(|mut l| l.pop())
            .map(|(_, _, ledger)| ledger)
            .unwrap_or_default();
        let result = self
            .inner
            .prune_seat_ledger(concert, date, shard, stale)
            .await;
        self.charge(result, |_| {
            dynamo::meter_prune_seat_ledger(concert, date, shard, &before)
        })
    }
}

#[async_trait]
impl<S: Store> QueueStore for MeteredStore<S> {
    async fn ticket(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<Option<TicketRecord>, StoreError> {
        let result = self.inner.ticket(user, concert).await;
        self.charge(result, |found| {
            dynamo::meter_ticket(user, concert, found.as_ref())
        })
    }

    async fn draw_queue_number(
        &self,
        concert: &ConcertId,
        shard: u8,
        second: i64,
    ) -> Result<Draw, StoreError> {
        let result = self.inner.draw_queue_number(concert, shard, second).await;
        self.charge(result, |_| {
            dynamo::meter_draw_queue_number(concert, shard, second)
        })
    }

    async fn enqueue(
        &self,
        ticket: &TicketRecord,
        previous: Option<&QueueToken>,
    ) -> Result<EnqueueOutcome, StoreError> {
        let result = self.inner.enqueue(ticket, previous).await;
        self.charge(result, |_| dynamo::meter_enqueue(ticket))
    }

    async fn poll_ticket(
        &self,
        user: &UserId,
        token: &QueueToken,
        now: i64,
    ) -> Result<Option<TicketRecord>, StoreError> {
        let result = self.inner.poll_ticket(user, token, now).await;
        self.charge(result, |found| {
            dynamo::meter_poll_ticket(user, token, found.as_ref())
        })
    }

    async fn renew_ticket(&self, renewal: &SlotRenewal) -> Result<CommitOutcome, StoreError> {
        let result = self.inner.renew_ticket(renewal).await;
        let shard = slot_shard(&renewal.user_id);
        let after = self.slots_now(&renewal.concert_id, shard).await;
        self.charge(result, |_| dynamo::meter_renew_ticket(renewal, &after))
    }

    async fn register_queue(&self, concert: &ConcertId, now: i64) -> Result<(), StoreError> {
        let result = self.inner.register_queue(concert, now).await;
        let live = self.inner.live_queues().await.unwrap_or_default();
        self.charge(result, |_| dynamo::meter_register_queue(&live))
    }

    async fn queue_state(
        &self,
        concert: &ConcertId,
        consistent: bool,
    ) -> Result<Option<QueueStateRecord>, StoreError> {
        let result = self.inner.queue_state(concert, consistent).await;
        self.charge(result, |found| {
            dynamo::meter_queue_state(concert, consistent, found.as_ref())
        })
    }

    async fn queue_page(
        &self,
        concert: &ConcertId,
        minute: i64,
    ) -> Result<Option<QueuePageRecord>, StoreError> {
        let result = self.inner.queue_page(concert, minute).await;
        self.charge(result, |found| {
            dynamo::meter_queue_page(concert, minute, found.as_ref())
        })
    }

    async fn queue_control(&self, concert: &ConcertId) -> Result<QueueControlRecord, StoreError> {
        let result = self.inner.queue_control(concert).await;
        self.charge(result, |_| dynamo::meter_queue_control(concert))
    }

    async fn change_queue_control(
        &self,
        concert: &ConcertId,
        change: &QueueControlChange,
    ) -> Result<QueueControlRecord, StoreError> {
        let result = self.inner.change_queue_control(concert, change).await;
        self.charge(result, |_| {
            dynamo::meter_change_queue_control(concert, change)
        })
    }
}

#[async_trait]
impl<S: Store> AdmissionStore for MeteredStore<S> {
    async fn live_queues(&self) -> Result<Vec<LiveQueue>, StoreError> {
        let result = self.inner.live_queues().await;
        self.charge(result, |found| dynamo::meter_live_queues(found))
    }

    async fn slot_ledger(
        &self,
        concert: &ConcertId,
    ) -> Result<Vec<(u32, SlotShardRecord)>, StoreError> {
        let result = self.inner.slot_ledger(concert).await;
        self.charge(result, |found| dynamo::meter_slot_ledger(concert, found))
    }

    async fn prune_slot_shard(
        &self,
        concert: &ConcertId,
        shard: u32,
        ends: &[i64],
    ) -> Result<(), StoreError> {
        let before = self.slots_now(concert, shard).await;
        let result = self.inner.prune_slot_shard(concert, shard, ends).await;
        self.charge(result, |_| {
            dynamo::meter_prune_slot_shard(concert, shard, &before)
        })
    }

    async fn retire_queue(
        &self,
        concert: &ConcertId,
        last_registered: i64,
    ) -> Result<bool, StoreError> {
        let result = self.inner.retire_queue(concert, last_registered).await;
        self.charge(result, |_| dynamo::meter_retire_queue())
    }

    async fn claim_tick(
        &self,
        concert: &ConcertId,
        seen: u64,
        slot: i64,
        takeover: bool,
    ) -> Result<TickClaim, StoreError> {
        let result = self.inner.claim_tick(concert, seen, slot, takeover).await;
        self.charge(result, |_| dynamo::meter_claim_tick(concert))
    }

    async fn keep_draw(
        &self,
        concert: &ConcertId,
        version: u64,
        draw: &LotteryRecord,
    ) -> Result<Option<LotteryRecord>, StoreError> {
        let result = self.inner.keep_draw(concert, version, draw).await;
        self.charge(result, |_| dynamo::meter_keep_draw(concert))
    }

    async fn seal_queue_counts(
        &self,
        concert: &ConcertId,
        from: i64,
        through: i64,
        unsealed_before: i64,
    ) -> Result<SealedCounts, StoreError> {
        let result = self
            .inner
            .seal_queue_counts(concert, from, through, unsealed_before)
            .await;
        self.charge(result, |_| {
            dynamo::meter_seal_queue_counts(concert, from, through, unsealed_before)
        })
    }

    async fn write_queue_pages(
        &self,
        concert: &ConcertId,
        pages: &BTreeMap<i64, QueuePageRecord>,
    ) -> Result<(), StoreError> {
        let result = self.inner.write_queue_pages(concert, pages).await;
        let mut written = BTreeMap::new();
        for minute in pages.keys() {
            if let Ok(Some(page)) = self.inner.queue_page(concert, *minute).await {
                written.insert(*minute, page);
            }
        }
        self.charge(result, |_| {
            dynamo::meter_write_queue_pages(concert, pages, &written)
        })
    }

    async fn queue_entries(
        &self,
        concert: &ConcertId,
        shard: u8,
        after: (i64, u32),
        through: (i64, u32),
    ) -> Result<Vec<QueueEntryRecord>, StoreError> {
        let result = self
            .inner
            .queue_entries(concert, shard, after, through)
            .await;
        self.charge(result, |found| {
            dynamo::meter_queue_entries(concert, shard, after, through, found)
        })
    }

    async fn queue_entries_at(
        &self,
        concert: &ConcertId,
        places: &[QueuePlace],
    ) -> Result<Vec<QueueEntryRecord>, StoreError> {
        let result = self.inner.queue_entries_at(concert, places).await;
        self.charge(result, |found| {
            dynamo::meter_queue_entries_at(concert, places, found)
        })
    }

    async fn tickets(
        &self,
        concert: &ConcertId,
        users: &[UserId],
    ) -> Result<Vec<TicketRecord>, StoreError> {
        let result = self.inner.tickets(concert, users).await;
        self.charge(result, |found| dynamo::meter_tickets(concert, users, found))
    }

    async fn commit_admission_batch(
        &self,
        batch: &AdmissionBatchPlan,
    ) -> Result<CommitOutcome, StoreError> {
        let result = self.inner.commit_admission_batch(batch).await;
        let after = self.slots_now(&batch.concert_id, batch.slot_shard).await;
        self.charge(result, |_| {
            dynamo::meter_commit_admission_batch(batch, &after)
        })
    }

    async fn commit_queue_state(
        &self,
        concert: &ConcertId,
        state: &QueueStateRecord,
        settled: &[i64],
    ) -> Result<CommitOutcome, StoreError> {
        let result = self.inner.commit_queue_state(concert, state, settled).await;
        self.charge(result, |_| dynamo::meter_commit_queue_state(concert, state))
    }
}

#[async_trait]
impl<S: Store> ReservationStore for MeteredStore<S> {
    async fn fan_tally(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<FanTallyRecord, StoreError> {
        let result = self.inner.fan_tally(user, concert).await;
        self.charge(result, |found| {
            dynamo::meter_fan_tally(user, concert, found)
        })
    }

    async fn place_hold(&self, plan: &HoldPlan) -> Result<HoldOutcome, StoreError> {
        let r = &plan.reservation;
        let result = self.inner.place_hold(plan).await;
        let seats = self.seats_now(r).await;
        let tally = plan.tally_after();
        self.charge(result, |_| dynamo::meter_place_hold(plan, &seats, &tally))
    }

    async fn reservation(
        &self,
        user: &UserId,
        reservation: ReservationId,
    ) -> Result<Option<ReservationRecord>, StoreError> {
        let result = self.inner.reservation(user, reservation).await;
        self.charge(result, |found| {
            dynamo::meter_reservation(user, reservation, found.as_ref())
        })
    }

    async fn reservations(
        &self,
        user: &UserId,
        before: Option<ReservationId>,
        limit: usize,
    ) -> Result<Vec<ReservationRecord>, StoreError> {
        let result = self.inner.reservations(user, before, limit).await;
        self.charge(result, |found| dynamo::meter_reservations(user, found))
    }

    async fn release_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError> {
        let seats = self.seats_now(reservation).await;
        let tally = self.tally_now(reservation).await;
        let result = self.inner.release_hold(reservation, now).await;
        self.charge(result, |_| {
            dynamo::meter_release_hold(reservation, &seats, &tally)
        })
    }
}

#[async_trait]
impl<S: Store> WalletStore for MeteredStore<S> {
    async fn balance(&self, user: &UserId) -> Result<BalanceRecord, StoreError> {
        let result = self.inner.balance(user).await;
        self.charge(result, |found| dynamo::meter_balance(user, found))
    }

    async fn apply_balance_change(
        &self,
        change: &BalanceChange,
    ) -> Result<CommitOutcome, StoreError> {
        let result = self.inner.apply_balance_change(change).await;
        self.charge(result, |_| dynamo::meter_apply_balance_change(change))
    }

    async fn balance_entries(
        &self,
        user: &UserId,
        before_version: Option<u64>,
        limit: usize,
    ) -> Result<Vec<BalanceEntryRecord>, StoreError> {
        let result = self
            .inner
            .balance_entries(user, before_version, limit)
            .await;
        self.charge(result, |found| {
            dynamo::meter_balance_entries(user, before_version, found)
        })
    }
}

#[async_trait]
impl<S: Store> PaymentStore for MeteredStore<S> {
    async fn payment_context(
        &self,
        user: &UserId,
        reservation: ReservationId,
        concert: &ConcertId,
    ) -> Result<PaymentContext, StoreError> {
        let result = self.inner.payment_context(user, reservation, concert).await;
        self.charge(result, |found| {
            dynamo::meter_payment_context(user, reservation, concert, found)
        })
    }

    async fn commit_payment(&self, payment: &PaymentCommit) -> Result<CommitOutcome, StoreError> {
        let r = &payment.reservation;
        let seats = self.seats_now(r).await;
        let tally = self.tally_now(r).await;
        let result = self.inner.commit_payment(payment).await;
        let slots = self.slots_now(&r.concert_id, slot_shard(&r.user_id)).await;
        self.charge(result, |_| {
            dynamo::meter_commit_payment(payment, &seats, &tally, &slots)
        })
    }

    async fn payment(
        &self,
        user: &UserId,
        payment: PaymentId,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let result = self.inner.payment(user, payment).await;
        self.charge(result, |found| {
            dynamo::meter_payment(user, payment, found.as_ref())
        })
    }
}

#[async_trait]
impl<S: Store> IdempotencyStore for MeteredStore<S> {
    async fn claim_idempotency_key(
        &self,
        claim: &IdempotencyRecord,
        now: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        let result = self.inner.claim_idempotency_key(claim, now).await;
        self.charge(result, |_| dynamo::meter_claim_idempotency_key(claim))
    }

    async fn complete_idempotency_key(
        &self,
        completion: &IdempotencyCompletion,
    ) -> Result<bool, StoreError> {
        let result = self.inner.complete_idempotency_key(completion).await;
        self.charge(result, |_| {
            dynamo::meter_complete_idempotency_key(completion)
        })
    }

    async fn release_idempotency_key(
        &self,
        user: &UserId,
        key: &IdempotencyKey,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .inner
            .release_idempotency_key(user, key, claim_id)
            .await;
        self.charge(result, |_| dynamo::meter_release_idempotency_key(user, key))
    }
}

#[async_trait]
impl<S: Store> TopUpStore for MeteredStore<S> {
    async fn start_top_up(&self, start: &TopUpStart) -> Result<bool, StoreError> {
        let result = self.inner.start_top_up(start).await;
        self.charge(result, |_| dynamo::meter_start_top_up(start))
    }

    async fn top_up(
        &self,
        user: &UserId,
        top_up: TopUpId,
    ) -> Result<Option<TopUpRecord>, StoreError> {
        let result = self.inner.top_up(user, top_up).await;
        self.charge(result, |found| dynamo::meter_top_up(user, top_up, found))
    }

    async fn link_payment(&self, link: &PaymentLinkRecord) -> Result<(), StoreError> {
        let result = self.inner.link_payment(link).await;
        self.charge(result, |_| dynamo::meter_link_payment(link))
    }

    async fn payment_link(
        &self,
        payment_intent: &str,
    ) -> Result<Option<PaymentLinkRecord>, StoreError> {
        let result = self.inner.payment_link(payment_intent).await;
        self.charge(result, |found| {
            dynamo::meter_payment_link(payment_intent, found)
        })
    }

    async fn fail_top_up(&self, user: &UserId, top_up: TopUpId) -> Result<bool, StoreError> {
        let result = self.inner.fail_top_up(user, top_up).await;
        self.charge(result, |_| dynamo::meter_fail_top_up(user, top_up))
    }

    async fn credit_top_up(&self, credit: &TopUpCredit) -> Result<CommitOutcome, StoreError> {
        let result = self.inner.credit_top_up(credit).await;
        self.charge(result, |_| dynamo::meter_credit_top_up(credit))
    }

    async fn record_unmatched_payment(
        &self,
        record: &UnmatchedPaymentRecord,
    ) -> Result<bool, StoreError> {
        let result = self.inner.record_unmatched_payment(record).await;
        self.charge(result, |_| dynamo::meter_record_unmatched_payment(record))
    }

    async fn unmatched_payments(
        &self,
        limit: usize,
    ) -> Result<Vec<UnmatchedPaymentRecord>, StoreError> {
        let result = self.inner.unmatched_payments(limit).await;
        self.charge(result, |found| dynamo::meter_unmatched_payments(found))
    }
}

#[async_trait]
impl<S: Store> RateStore for MeteredStore<S> {
    async fn take_rate_token(&self, take: &RateTake) -> Result<RateTaken, StoreError> {
        let result = self.inner.take_rate_token(take).await;
        self.charge(result, |taken| dynamo::meter_rate_taken(take, taken))
    }
}
