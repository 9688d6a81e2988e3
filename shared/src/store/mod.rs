//! Persistence, one trait per concern. Every state change that can race is a single conditional
//! write or transaction here, with `now` passed in; callers read, decide, and then commit
//! *conditional on what they read*, retrying from a fresh read when the condition fails.
//!
//! Two stores implement it alike: DynamoDB (`dynamo`, the deployed one) and memory (`memory`,
//! for tests, the local server and the simulator). `MeteredStore` wraps the memory store and
//! charges each call as the DynamoDB requests it would send (the mapping sits beside each
//! DynamoDB call, in `dynamo`).

mod dynamo;
mod gate;
pub mod limits;
mod memory;
mod metered;
mod rate;
mod records;

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::domain::{
    ConcertDate, ConcertId, IdempotencyKey, PaymentId, QueuePlace, QueueToken, ReservationId,
    SeatNumber, TopUpId, UserId,
};

pub use dynamo::{
    conflict_pause_ms, meter, Connection, DynamoStore, Expiry, CONFLICT_BUDGET, CONFLICT_RETRIES,
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CALL_BUDGET,
};
pub use gate::{CallGate, Fate, GatedStore, Held, Script};
pub use memory::{MemoryStore, TicketChange, TicketChangeKind};
pub use metered::MeteredStore;
pub use rate::*;
pub use records::*;

/// The error a store raises is the domain's (`domain::StoreError`): the operations and the HTTP
/// edge name it without reaching up into the store.
pub use crate::domain::StoreError;

/// The result of a conditional commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// A condition failed or a concurrent transaction interfered: the state moved since it was
    /// read. Nothing was written.
    Refused,
    /// The claim the commit was made under (an idempotency key's, a tick's) is no longer this
    /// invocation's. Nothing was written.
    ClaimLost,
}

/// What drawing a queue number gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draw {
    Number(u32),
    /// The tick has counted the second through this one: draw in a later second.
    Sealed(i64),
}

/// Counts that will never change: every counter sealed through `through`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealedCounts {
    pub through: i64,
    /// Per second, the numbers each counter drew; seconds with none are left out.
    pub counts: BTreeMap<i64, Vec<u32>>,
}

/// What claiming a tick gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickClaim {
    /// The claim is this tick's, as it now stands.
    Claimed(TickClaimRecord),
    /// Another tick moved the claim, or holds this slot: the claim as it stands.
    Held(TickClaimRecord),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    Enqueued,
    /// Another join of the same fan changed the ticket first.
    TicketMoved,
    /// The tick passed the number before its entry was written: draw another.
    NumberPassed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldOutcome {
    Held,
    /// The caller's ticket is not active for the concert (any more): read it to say why.
    TicketRefused,
    /// A seat is sold, or held by a live hold.
    SeatTaken,
    /// The fan's tally moved since it was counted (another hold, a payment or a release of
    /// the same fan): count again.
    TallyMoved,
    /// The Idempotency-Key's claim is no longer this invocation's.
    ClaimLost,
    /// Refused for anything but the items' own conditions (contention, throttling): the seat
    /// may well be free, and a retry may take it.
    Busy,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClaimOutcome {
    Claimed,
    Existing(IdempotencyRecord),
}

/// A concert whose queue the admission tick must visit: registered by joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveQueue {
    pub concert_id: ConcertId,
    /// The first join since the queue was last retired.
    pub first_registered: i64,
    /// The latest registration; retiring is conditional on it.
    pub last_registered: i64,
}

/// Everything seats and money depend on, read whole for an audit (the simulator's end, tests).
/// No request path reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub concerts: Vec<ConcertRecord>,
    /// Every concert's listing item, each a copy of part of its record.
    pub listings: Vec<ConcertListingRecord>,
    /// Every date's seats, its blocks merged.
    pub seats: Vec<(ConcertId, ConcertDate, DateSeatsRecord)>,
    /// Every date's ledger shards.
    pub ledgers: Vec<(ConcertId, ConcertDate, u32, SeatLedgerRecord)>,
    pub reservations: Vec<ReservationRecord>,
    pub payments: Vec<PaymentRecord>,
    pub balances: Vec<(UserId, BalanceRecord)>,
    pub entries: Vec<(UserId, BalanceEntryRecord)>,
}

/// The blocks and ledger shards an order's seats are stored in, as they stand: what the meter
/// sizes a hold, a release or a sale by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeatsTouched {
    pub blocks: Vec<(SeatNumber, DateSeatsRecord)>,
    pub ledgers: Vec<(u32, SeatLedgerRecord)>,
}

/// Everything a hold writes, in one transaction: the seats taken and the reservation written
/// only if the fan's token is active, every seat free, and the fan's tally still at the
/// version the ticket limit was judged on.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldPlan {
    pub reservation: ReservationRecord,
    pub ticket: QueueToken,
    /// The fan's tally as the ticket limit read it (version 0: the fan has none yet).
    pub tally: FanTallyRecord,
    pub completion: Option<IdempotencyCompletion>,
    /// The holds the token's session may place: the hold counts itself on the ticket, and is
    /// refused (`TicketRefused`) when the session has placed this many.
    pub max_holds: u32,
    pub now: i64,
}

impl HoldPlan {
    /// The tally the hold writes: the holds still live, the new one, the version moved.
    pub fn tally_after(&self) -> FanTallyRecord {
        let r = &self.reservation;
        let mut tally = self.tally.clone();
        tally.holds.retain(|_, hold| hold.until > self.now);
        tally.holds.insert(
            r.reservation_id,
            TalliedHold {
                date: r.date,
                seats: r.seat_numbers(),
                until: r.held_until,
            },
        );
        tally.version += 1;
        tally
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentContext {
    pub reservation: Option<ReservationRecord>,
    pub balance: BalanceRecord,
    pub ticket: Option<TicketRecord>,
    /// The fan's tally for the concert: a hold it no longer counts was judged lapsed by a
    /// later hold of the fan, and can no longer be paid (see [`PaymentStore::commit_payment`]).
    pub tally: FanTallyRecord,
}

/// Marks an idempotency record done with the response it must replay.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyCompletion {
    pub user_id: UserId,
    pub key: IdempotencyKey,
    pub claim_id: String,
    pub response: String,
}

/// One balance entry, committed only if the balance is still at `entry.version - 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceChange {
    pub user_id: UserId,
    pub entry: BalanceEntryRecord,
    pub completion: Option<IdempotencyCompletion>,
}

/// A new top-up and its count on the fan's day, in one transaction: refused when the fan has
/// started `max_per_day` top-ups that day.
#[derive(Debug, Clone, PartialEq)]
pub struct TopUpStart {
    pub top_up: TopUpRecord,
    /// Days since the epoch (UTC).
    pub day: i64,
    pub max_per_day: u32,
    /// When the day's count may be collected.
    pub day_expires_at: i64,
}

/// A confirmed payment's credit, in one transaction: the top-up PENDING -> SUCCEEDED (only while
/// pending and of this amount), the balance change and its entry, and the event kept by its id
/// (only if absent). Any of them moved, and nothing is written.
#[derive(Debug, Clone, PartialEq)]
pub struct TopUpCredit {
    pub top_up: TopUpRecord,
    pub balance: BalanceChange,
    pub event: PaymentEventRecord,
}

/// Everything a payment changes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentCommit {
    pub reservation: ReservationRecord,
    pub payment: PaymentRecord,
    pub balance: BalanceChange,
    /// The active token the payment spends.
    pub token: QueueToken,
    /// Its admission batch: the sale is counted against it.
    pub admitted_at: i64,
    /// The token's end as read: the payment is conditional on it, and takes the token's slot
    /// off the slot ledger there (see `booking::slots`).
    pub active_until: i64,
    pub now: i64,
}

impl PaymentCommit {
    /// The payment ends the token's session: its slot comes off the fan's slot shard.
    pub fn slot_move(&self) -> SlotMove {
        SlotMove {
            shard: slot_shard(&self.reservation.user_id),
            adds: vec![(self.active_until, -1)],
        }
    }
}

/// A token's renewal (see `booking::slots`): its end moves from `from` to `to`, only while the
/// ticket is this ACTIVE token ending at `from`, and its slot moves with it on the fan's slot
/// shard, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRenewal {
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub token: QueueToken,
    pub from: i64,
    pub to: i64,
}

impl SlotRenewal {
    pub fn slot_move(&self) -> SlotMove {
        SlotMove {
            shard: slot_shard(&self.user_id),
            adds: vec![(self.from, -1), (self.to, 1)],
        }
    }
}

/// One transaction's worth of a tick's admissions, drops and passed numbers, committed only if
/// the tick's claim is still at `claim_version` (so a tick that was taken over writes nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionBatchPlan {
    pub concert_id: ConcertId,
    pub claim_version: u64,
    /// Waiting tickets to make active, by fan and the token they were judged on.
    pub admit: Vec<(UserId, QueueToken)>,
    pub admitted_at: i64,
    pub active_until: i64,
    /// The slot shard the admissions are counted on, at `active_until`.
    pub slot_shard: u32,
    /// Idle waiting tickets to drop, with the `last_seen_at` they were judged on.
    pub drop: Vec<(UserId, QueueToken, i64)>,
    /// Numbers nobody's entry claims: marked passed, only while still unclaimed.
    pub voids: Vec<QueuePlace>,
}

impl AdmissionBatchPlan {
    pub fn len(&self) -> usize {
        self.admit.len() + self.drop.len() + self.voids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the batch adds to its slot shard: nothing without admissions.
    pub fn slot_move(&self) -> Option<SlotMove> {
        (!self.admit.is_empty()).then(|| SlotMove {
            shard: self.slot_shard,
            adds: vec![(self.active_until, self.admit.len() as i64)],
        })
    }
}

/// One transaction holds at most 100 items; a batch keeps one for the tick's claim and one for
/// the slot shard its admissions are counted on.
pub const ADMISSION_BATCH_ITEMS: usize = limits::TRANSACTION_ITEMS_LIMIT - 2;

/// Every concern's store: what the service runs on.
pub trait Store:
    CatalogStore
    + QueueStore
    + AdmissionStore
    + ReservationStore
    + WalletStore
    + PaymentStore
    + IdempotencyStore
    + TopUpStore
    + RateStore
{
}

impl<S> Store for S where
    S: CatalogStore
        + QueueStore
        + AdmissionStore
        + ReservationStore
        + WalletStore
        + PaymentStore
        + IdempotencyStore
        + TopUpStore
        + RateStore
{
}

#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    /// Writes a concert and its listing, both or neither, only if the concert is absent:
    /// `false` when it already existed.
    async fn put_concert(&self, concert: &ConcertRecord) -> Result<bool, StoreError>;
    /// The listings of concerts whose last date is `from` or later, by last date, at most
    /// `MAX_LISTED_CONCERTS`; eventually consistent. Every listing read is returned: one of a
    /// concert already over is never read at all.
    async fn listed_concerts(
        &self,
        from: ConcertDate,
    ) -> Result<Vec<ConcertListingRecord>, StoreError>;
    async fn concert(&self, concert: &ConcertId) -> Result<Option<ConcertRecord>, StoreError>;
    /// Marks the concert sold out, its record and its listing at once; nothing when absent.
    async fn mark_sold_out(&self, concert: &ConcertRecord) -> Result<(), StoreError>;
    /// What is held and sold in some blocks of a date (each by its first seat), merged, in one
    /// round trip (per 100 blocks).
    async fn seat_blocks(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        blocks: &[SeatNumber],
    ) -> Result<DateSeatsRecord, StoreError>;
    /// These ledger shards (date, shard), in one round trip per 100.
    async fn seat_ledgers(
        &self,
        concert: &ConcertId,
        shards: &[(ConcertDate, u32)],
    ) -> Result<Vec<(ConcertDate, u32, SeatLedgerRecord)>, StoreError>;
    /// Drops counts that no tick reads again from one ledger shard.
    async fn prune_seat_ledger(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        shard: u32,
        stale: &LedgerStale,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait QueueStore: Send + Sync + 'static {
    async fn ticket(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<Option<TicketRecord>, StoreError>;
    /// Draws the next number of one counter for one second, unless the tick has sealed the
    /// second (counted it).
    async fn draw_queue_number(
        &self,
        concert: &ConcertId,
        shard: u8,
        second: i64,
    ) -> Result<Draw, StoreError>;
    /// Writes the ticket and its queue entry, if the fan's ticket is still `previous` (or
    /// absent) and the tick has not passed the number.
    async fn enqueue(
        &self,
        ticket: &TicketRecord,
        previous: Option<&QueueToken>,
    ) -> Result<EnqueueOutcome, StoreError>;
    /// A poll: refreshes a waiting ticket's idle clock if `token` is its token, and returns the
    /// ticket as it stands, whatever it is.
    async fn poll_ticket(
        &self,
        user: &UserId,
        token: &QueueToken,
        now: i64,
    ) -> Result<Option<TicketRecord>, StoreError>;
    /// Renews an active token (see [`SlotRenewal`]): `Refused` when the ticket moved (another
    /// request renewed it, a payment spent it) and nothing was written.
    async fn renew_ticket(&self, renewal: &SlotRenewal) -> Result<CommitOutcome, StoreError>;
    /// Tells the admission tick that this concert's queue has joins.
    async fn register_queue(&self, concert: &ConcertId, now: i64) -> Result<(), StoreError>;
    /// `consistent: false` for the copies containers cache: older is only more cautious.
    async fn queue_state(
        &self,
        concert: &ConcertId,
        consistent: bool,
    ) -> Result<Option<QueueStateRecord>, StoreError>;
    async fn queue_page(
        &self,
        concert: &ConcertId,
        minute: i64,
    ) -> Result<Option<QueuePageRecord>, StoreError>;
    async fn queue_control(&self, concert: &ConcertId) -> Result<QueueControlRecord, StoreError>;
    /// Applies an operator's change and returns the control as it now stands.
    async fn change_queue_control(
        &self,
        concert: &ConcertId,
        change: &QueueControlChange,
    ) -> Result<QueueControlRecord, StoreError>;
}

#[async_trait]
pub trait AdmissionStore: Send + Sync + 'static {
    async fn live_queues(&self) -> Result<Vec<LiveQueue>, StoreError>;
    /// Every shard of the concert's slot ledger (`SLOT_SHARDS`), in one round trip.
    async fn slot_ledger(
        &self,
        concert: &ConcertId,
    ) -> Result<Vec<(u32, SlotShardRecord)>, StoreError>;
    /// Drops ends no tick reads again from one slot shard.
    async fn prune_slot_shard(
        &self,
        concert: &ConcertId,
        shard: u32,
        ends: &[i64],
    ) -> Result<(), StoreError>;
    /// Forgets a queue, if nobody registered it again since `last_registered`.
    async fn retire_queue(
        &self,
        concert: &ConcertId,
        last_registered: i64,
    ) -> Result<bool, StoreError>;
    /// Takes the next tick of a concert: the claim moves from version `seen` to `seen + 1`, for
    /// `slot`, only if it is still at `seen` and no tick holds `slot` or a later one. A
    /// `takeover` claims over a tick that claimed after the state the caller read: only while
    /// that tick has not written its state (had it, the caller's state would be stale).
    async fn claim_tick(
        &self,
        concert: &ConcertId,
        seen: u64,
        slot: i64,
        takeover: bool,
    ) -> Result<TickClaim, StoreError>;
    /// Keeps the pre-queue's draw on the claim at `version`, unless a draw is kept already:
    /// the draw kept. `None` when the claim has moved on.
    async fn keep_draw(
        &self,
        concert: &ConcertId,
        version: u64,
        draw: &LotteryRecord,
    ) -> Result<Option<LotteryRecord>, StoreError>;
    /// Seals every counter's seconds through `through` (a number drawn after is refused, see
    /// [`Draw::Sealed`]) and counts them: the last second through which every counter is
    /// sealed (through `through` when all seals went through; a seal that failed holds the
    /// count back to where the counter was sealed before), and per second from `from` through
    /// it, the numbers each counter drew (seconds with none are left out). The counters of
    /// minutes that ended before `unsealed_before` are read, not sealed: no draw lands there
    /// any more.
    async fn seal_queue_counts(
        &self,
        concert: &ConcertId,
        from: i64,
        through: i64,
        unsealed_before: i64,
    ) -> Result<SealedCounts, StoreError>;
    async fn write_queue_pages(
        &self,
        concert: &ConcertId,
        pages: &BTreeMap<i64, QueuePageRecord>,
    ) -> Result<(), StoreError>;
    /// One counter's entries after `after` and up to `through`, in order: all of them, whatever
    /// else lies in the range.
    async fn queue_entries(
        &self,
        concert: &ConcertId,
        shard: u8,
        after: (i64, u32),
        through: (i64, u32),
    ) -> Result<Vec<QueueEntryRecord>, StoreError>;
    /// Entries by place (the lottery's order jumps around).
    async fn queue_entries_at(
        &self,
        concert: &ConcertId,
        places: &[QueuePlace],
    ) -> Result<Vec<QueueEntryRecord>, StoreError>;
    async fn tickets(
        &self,
        concert: &ConcertId,
        users: &[UserId],
    ) -> Result<Vec<TicketRecord>, StoreError>;
    /// Commits one batch under the tick's claim, its admissions added to the claim's pending
    /// count for their second. `ClaimLost` when the claim moved on; `Refused` when a ticket or
    /// an entry moved since it was judged.
    async fn commit_admission_batch(
        &self,
        batch: &AdmissionBatchPlan,
    ) -> Result<CommitOutcome, StoreError>;
    /// Writes the state under the tick's claim (`state.version`), and clears the claim's
    /// pending counts of the seconds `settled` (the state now counts them in its total).
    async fn commit_queue_state(
        &self,
        concert: &ConcertId,
        state: &QueueStateRecord,
        settled: &[i64],
    ) -> Result<CommitOutcome, StoreError>;
}

#[async_trait]
pub trait ReservationStore: Send + Sync + 'static {
    /// What the ticket limit counts for the fan and the concert.
    async fn fan_tally(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<FanTallyRecord, StoreError>;
    /// Writes the reservation, its seats' holds and the fan's tally, all or nothing (see
    /// [`HoldPlan`]).
    async fn place_hold(&self, plan: &HoldPlan) -> Result<HoldOutcome, StoreError>;
    async fn reservation(
        &self,
        user: &UserId,
        reservation: ReservationId,
    ) -> Result<Option<ReservationRecord>, StoreError>;
    /// A fan's reservations, newest first, older than `before` when given.
    async fn reservations(
        &self,
        user: &UserId,
        before: Option<ReservationId>,
        limit: usize,
    ) -> Result<Vec<ReservationRecord>, StoreError>;
    /// Marks a live held reservation released, frees its seats and gives them back to the
    /// fan's tally.
    async fn release_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError>;
}

#[async_trait]
pub trait WalletStore: Send + Sync + 'static {
    async fn balance(&self, user: &UserId) -> Result<BalanceRecord, StoreError>;
    async fn apply_balance_change(
        &self,
        change: &BalanceChange,
    ) -> Result<CommitOutcome, StoreError>;
    /// Entries newest first, older than `before_version` when given.
    async fn balance_entries(
        &self,
        user: &UserId,
        before_version: Option<u64>,
        limit: usize,
    ) -> Result<Vec<BalanceEntryRecord>, StoreError>;
}

#[async_trait]
pub trait PaymentStore: Send + Sync + 'static {
    /// The reservation, the balance and the fan's ticket for `concert`, in one round trip.
    async fn payment_context(
        &self,
        user: &UserId,
        reservation: ReservationId,
        concert: &ConcertId,
    ) -> Result<PaymentContext, StoreError>;
    /// Commits only while the fan's tally still counts the hold: the ticket limit's one
    /// notion of "live". A hold of the same fan that judged this one lapsed (by its own
    /// clock) took it out of the tally, and then this payment is refused, whatever the
    /// payer's clock says; a payment that lands first moves the tally, and that hold counts
    /// again. So no fan ever owns, held plus bought, more than the limit.
    async fn commit_payment(&self, payment: &PaymentCommit) -> Result<CommitOutcome, StoreError>;
    async fn payment(
        &self,
        user: &UserId,
        payment: PaymentId,
    ) -> Result<Option<PaymentRecord>, StoreError>;
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Creates an in-flight record unless one exists that is still live; a record whose lock
    /// has lapsed (its invocation died) is taken over when the request is the same.
    async fn claim_idempotency_key(
        &self,
        claim: &IdempotencyRecord,
        now: i64,
    ) -> Result<ClaimOutcome, StoreError>;
    /// Marks an in-flight claim done with the response it must replay, if the claim is still
    /// ours (`false` when it is not): for an operation that ends with nothing to write (a hold
    /// of seats the caller already holds). Operations that write complete their claim in their
    /// own transaction.
    async fn complete_idempotency_key(
        &self,
        completion: &IdempotencyCompletion,
    ) -> Result<bool, StoreError>;
    /// Gives up an in-flight claim whose operation was refused, so the key may be retried.
    async fn release_idempotency_key(
        &self,
        user: &UserId,
        key: &IdempotencyKey,
        claim_id: &str,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait TopUpStore: Send + Sync + 'static {
    /// Writes a PENDING top-up and counts it on the fan's day, all or nothing: `false` (nothing
    /// written) when the fan has started `max_per_day` that day.
    async fn start_top_up(&self, start: &TopUpStart) -> Result<bool, StoreError>;
    async fn top_up(
        &self,
        user: &UserId,
        top_up: TopUpId,
    ) -> Result<Option<TopUpRecord>, StoreError>;
    /// Keeps which top-up a provider's payment belongs to.
    async fn link_payment(&self, link: &PaymentLinkRecord) -> Result<(), StoreError>;
    async fn payment_link(
        &self,
        payment_intent: &str,
    ) -> Result<Option<PaymentLinkRecord>, StoreError>;
    /// Marks a top-up FAILED, only while PENDING: `false` when it was not pending.
    async fn fail_top_up(&self, user: &UserId, top_up: TopUpId) -> Result<bool, StoreError>;
    /// Credits a confirmed payment (see [`TopUpCredit`]): `Refused` when the top-up is no longer
    /// pending, the balance moved, or the event was already kept.
    async fn credit_top_up(&self, credit: &TopUpCredit) -> Result<CommitOutcome, StoreError>;
    /// Keeps an unmatched payment for an operator, once per event: `false` when already kept.
    async fn record_unmatched_payment(
        &self,
        record: &UnmatchedPaymentRecord,
    ) -> Result<bool, StoreError>;
    /// The unmatched payments kept, oldest event id first, at most `limit`.
    async fn unmatched_payments(
        &self,
        limit: usize,
    ) -> Result<Vec<UnmatchedPaymentRecord>, StoreError>;
}
