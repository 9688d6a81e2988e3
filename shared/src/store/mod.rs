//! Persistence behind one trait. Every state change that can race is a single conditional write
//! or transaction here, with `now` passed in; callers read, decide, and then commit *conditional
//! on what they read*, retrying from a fresh read when the condition fails.

mod dynamo;
mod memory;
mod metered;
mod records;

use async_trait::async_trait;

use crate::domain::{
    ConcertDate, ConcertId, IdempotencyKey, PaymentId, QueueToken, ReservationId, SeatNumber,
    UserId,
};

pub use dynamo::{meter, DynamoStore};
pub use memory::MemoryStore;
pub use metered::MeteredStore;
pub use records::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database request failed: {0}")]
    Request(String),
    #[error("stored item does not match its shape: {0}")]
    Corrupt(String),
}

/// The result of a conditional commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// A condition failed or a concurrent transaction interfered: the state moved since it was
    /// read. Nothing was written.
    Refused,
    /// The idempotency record is no longer this invocation's. Nothing was written.
    ClaimLost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    Enqueued,
    /// Another join of the same user won the race for the user's queue pointer.
    PointerMoved,
    /// The admission tick already passed this number; draw another.
    NumberPassed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClaimOutcome {
    Claimed,
    Existing(IdempotencyRecord),
}

/// Catalog items, written only when absent so that loading a catalog twice changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogItem {
    Concert(ConcertRecord),
    Date(DateRecord),
    Seat(SeatRecord),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeatMap {
    pub seats: Vec<SeatRecord>,
    pub holds: Vec<HoldRecord>,
}

/// Everything seats and money depend on, read whole for an audit (the simulator's end, tests).
/// No request path reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub seats: Vec<SeatRecord>,
    pub reservations: Vec<ReservationRecord>,
    pub payments: Vec<PaymentRecord>,
    pub balances: Vec<(UserId, BalanceRecord)>,
    pub entries: Vec<(UserId, BalanceEntryRecord)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentContext {
    pub reservation: Option<ReservationRecord>,
    pub balance: BalanceRecord,
    pub token: Option<TokenRecord>,
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

/// Everything a payment changes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentCommit {
    pub reservation: ReservationRecord,
    pub payment: PaymentRecord,
    pub balance: BalanceChange,
    pub token: QueueToken,
    pub now: i64,
}

/// One admission step for one concert, committed only if the cursor is still `expected_cursor`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionPlan {
    pub concert_id: ConcertId,
    pub expected_cursor: u64,
    pub new_cursor: u64,
    pub admitted: Vec<QueueToken>,
    pub active_until: i64,
    /// Idle waiting tokens and the `last_seen_at` they were judged on.
    pub dropped: Vec<(QueueToken, i64)>,
    /// Numbers nobody enqueued (a join that died); the tick skips them only while still absent.
    pub holes: Vec<u64>,
    pub active_set: ActiveSetRecord,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // Catalog.
    async fn put_catalog_item(&self, item: &CatalogItem) -> Result<bool, StoreError>;
    async fn concerts(&self) -> Result<Vec<ConcertRecord>, StoreError>;
    async fn concert(&self, concert: &ConcertId) -> Result<Option<ConcertRecord>, StoreError>;
    async fn dates(&self, concert: &ConcertId) -> Result<Vec<DateRecord>, StoreError>;
    async fn date(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<Option<DateRecord>, StoreError>;
    async fn seat(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        seat: SeatNumber,
    ) -> Result<Option<SeatRecord>, StoreError>;
    async fn seat_map(&self, concert: &ConcertId, date: ConcertDate)
        -> Result<SeatMap, StoreError>;

    // Queue.
    async fn queue_pointer(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<Option<QueueToken>, StoreError>;
    async fn token(&self, token: &QueueToken) -> Result<Option<TokenRecord>, StoreError>;
    /// The token and its queue's counters, in one round trip.
    async fn token_and_queue(
        &self,
        token: &QueueToken,
    ) -> Result<(Option<TokenRecord>, QueueStateRecord), StoreError>;
    /// Draws the next number of the concert's queue: `issued` is the caller's number.
    async fn issue_queue_number(&self, concert: &ConcertId)
        -> Result<QueueStateRecord, StoreError>;
    /// Writes the token, its queue entry and the user's pointer, if the pointer still names
    /// `previous` (or nothing) and the tick has not passed the token's number.
    async fn enqueue(
        &self,
        token: &TokenRecord,
        previous: Option<&QueueToken>,
    ) -> Result<EnqueueOutcome, StoreError>;
    /// Marks a drawn number as nobody's, so the tick can pass it at once.
    async fn void_queue_number(
        &self,
        concert: &ConcertId,
        seq: u64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Records that a waiting token's holder is still polling.
    async fn heartbeat(
        &self,
        token: &QueueToken,
        user: &UserId,
        now: i64,
    ) -> Result<(), StoreError>;
    async fn queue_state(&self, concert: &ConcertId) -> Result<QueueStateRecord, StoreError>;
    async fn active_set(&self, concert: &ConcertId) -> Result<ActiveSetRecord, StoreError>;
    async fn queue_entries(
        &self,
        concert: &ConcertId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<QueueEntryRecord>, StoreError>;
    async fn tokens(&self, tokens: &[QueueToken]) -> Result<Vec<TokenRecord>, StoreError>;
    async fn commit_admission(&self, plan: &AdmissionPlan) -> Result<CommitOutcome, StoreError>;

    // Reservations.
    /// Writes the reservation and its hold if no live hold exists and the seat is not sold.
    async fn place_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError>;
    async fn reservation(
        &self,
        user: &UserId,
        reservation: ReservationId,
    ) -> Result<Option<ReservationRecord>, StoreError>;
    /// Marks a live held reservation released and frees its seat.
    async fn release_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError>;

    // Wallet.
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

    // Payments.
    /// The reservation, the balance and the token a payment decides on, in one round trip.
    async fn payment_context(
        &self,
        user: &UserId,
        reservation: ReservationId,
        token: &QueueToken,
    ) -> Result<PaymentContext, StoreError>;
    async fn commit_payment(&self, payment: &PaymentCommit) -> Result<CommitOutcome, StoreError>;
    async fn payment(
        &self,
        user: &UserId,
        payment: PaymentId,
    ) -> Result<Option<PaymentRecord>, StoreError>;

    // Idempotency.
    /// Creates an in-flight record unless one exists that is still live; a record whose lock
    /// has lapsed (its invocation died) is taken over when the request is the same.
    async fn claim_idempotency_key(
        &self,
        claim: &IdempotencyRecord,
        now: i64,
    ) -> Result<ClaimOutcome, StoreError>;
    /// Gives up an in-flight claim whose operation was refused, so the key may be retried.
    async fn release_idempotency_key(
        &self,
        user: &UserId,
        key: &IdempotencyKey,
        claim_id: &str,
    ) -> Result<(), StoreError>;
}
