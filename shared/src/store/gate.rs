//! A store that runs every call past a gate first: the seam where the world meets the service,
//! for the tests and the on-sale simulator to be that world. The gate decides, call by call,
//! whether the call goes through, is refused before it applies (a throttle, a 500), or applies
//! with its answer lost (a timeout after the write); and it may keep a call waiting (late, or
//! overtaken by another). Production never builds one; the code under test never knows.
//!
//! [`Script`] is the tests' gate: it names a call and its turn ("the second
//! `commit_admission_batch`") and what happens to it, so that a failure path is reached every
//! run, never by luck.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::*;

/// What becomes of one store call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Proceed,
    /// Refused before it applies: nothing written, an error returned.
    Refuse,
    /// Applied, and its answer lost: written, an error returned.
    LoseAnswer,
}

/// Decides each call's fate; may keep it waiting first.
#[async_trait]
pub trait CallGate: Send + Sync + 'static {
    /// `call` is the store method's name.
    async fn enter(&self, call: &'static str) -> Fate;

    /// The call went through to the store (its answer may still be lost).
    fn applied(&self, _call: &'static str) {}
}

pub struct GatedStore<S> {
    inner: Arc<S>,
    gate: Arc<dyn CallGate>,
}

impl<S: Store> GatedStore<S> {
    pub fn new(inner: Arc<S>, gate: Arc<dyn CallGate>) -> Self {
        Self { inner, gate }
    }

    /// The store underneath, past the gate.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    async fn pass<T, F>(&self, call: &'static str, run: impl FnOnce() -> F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        match self.gate.enter(call).await {
            Fate::Proceed => {
                let answer = run().await;
                self.gate.applied(call);
                answer
            }
            Fate::Refuse => Err(StoreError::Request(format!("{call}: refused (injected)"))),
            Fate::LoseAnswer => {
                let answer = run().await;
                self.gate.applied(call);
                answer?;
                Err(StoreError::Request(format!(
                    "{call}: answer lost (injected)"
                )))
            }
        }
    }
}

/// Each method of a store trait, past the gate under its own name.
macro_rules! gated {
    ($store:ident { $( fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $out:ty; )* }) => {
        #[async_trait]
        impl<S: Store> $store for GatedStore<S> {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$out, StoreError> {
                    self.pass(stringify!($name), || self.inner.$name($($arg),*)).await
                }
            )*
        }
    };
}

gated! {
    CatalogStore {
        fn put_concert(&self, concert: &ConcertRecord) -> bool;
        fn concerts(&self) -> Vec<ConcertRecord>;
        fn concert(&self, concert: &ConcertId) -> Option<ConcertRecord>;
        fn mark_sold_out(&self, concert: &ConcertId) -> ();
        fn seat_blocks(&self, concert: &ConcertId, date: ConcertDate, blocks: &[SeatNumber]) -> DateSeatsRecord;
        fn seat_ledgers(&self, concert: &ConcertId, shards: &[(ConcertDate, u32)]) -> Vec<(ConcertDate, u32, SeatLedgerRecord)>;
        fn prune_seat_ledger(&self, concert: &ConcertId, date: ConcertDate, shard: u32, stale: &LedgerStale) -> ();
    }
}

gated! {
    QueueStore {
        fn ticket(&self, user: &UserId, concert: &ConcertId) -> Option<TicketRecord>;
        fn draw_queue_number(&self, concert: &ConcertId, shard: u8, second: i64) -> Draw;
        fn enqueue(&self, ticket: &TicketRecord, previous: Option<&QueueToken>) -> EnqueueOutcome;
        fn poll_ticket(&self, user: &UserId, token: &QueueToken, now: i64) -> Option<TicketRecord>;
        fn register_queue(&self, concert: &ConcertId, now: i64) -> ();
        fn queue_state(&self, concert: &ConcertId, consistent: bool) -> Option<QueueStateRecord>;
        fn queue_page(&self, concert: &ConcertId, minute: i64) -> Option<QueuePageRecord>;
        fn queue_control(&self, concert: &ConcertId) -> QueueControlRecord;
        fn change_queue_control(&self, concert: &ConcertId, change: &QueueControlChange) -> QueueControlRecord;
    }
}

gated! {
    AdmissionStore {
        fn live_queues(&self) -> Vec<LiveQueue>;
        fn retire_queue(&self, concert: &ConcertId, last_registered: i64) -> bool;
        fn claim_tick(&self, concert: &ConcertId, seen: u64, slot: i64, takeover: bool) -> TickClaim;
        fn keep_draw(&self, concert: &ConcertId, version: u64, draw: &LotteryRecord) -> Option<LotteryRecord>;
        fn seal_queue_counts(&self, concert: &ConcertId, from: i64, through: i64, unsealed_before: i64) -> SealedCounts;
        fn write_queue_pages(&self, concert: &ConcertId, pages: &BTreeMap<i64, QueuePageRecord>) -> ();
        fn queue_entries(&self, concert: &ConcertId, shard: u8, after: (i64, u32), through: (i64, u32)) -> Vec<QueueEntryRecord>;
        fn queue_entries_at(&self, concert: &ConcertId, places: &[QueuePlace]) -> Vec<QueueEntryRecord>;
        fn tickets(&self, concert: &ConcertId, users: &[UserId]) -> Vec<TicketRecord>;
        fn commit_admission_batch(&self, batch: &AdmissionBatchPlan) -> CommitOutcome;
        fn commit_queue_state(&self, concert: &ConcertId, state: &QueueStateRecord, settled: &[i64]) -> CommitOutcome;
    }
}

gated! {
    ReservationStore {
        fn fan_tally(&self, user: &UserId, concert: &ConcertId) -> FanTallyRecord;
        fn place_hold(&self, plan: &HoldPlan) -> HoldOutcome;
        fn reservation(&self, user: &UserId, reservation: ReservationId) -> Option<ReservationRecord>;
        fn reservations(&self, user: &UserId, before: Option<ReservationId>, limit: usize) -> Vec<ReservationRecord>;
        fn release_hold(&self, reservation: &ReservationRecord, now: i64) -> CommitOutcome;
    }
}

gated! {
    WalletStore {
        fn balance(&self, user: &UserId) -> BalanceRecord;
        fn apply_balance_change(&self, change: &BalanceChange) -> CommitOutcome;
        fn balance_entries(&self, user: &UserId, before_version: Option<u64>, limit: usize) -> Vec<BalanceEntryRecord>;
    }
}

gated! {
    PaymentStore {
        fn payment_context(&self, user: &UserId, reservation: ReservationId, concert: &ConcertId) -> PaymentContext;
        fn commit_payment(&self, payment: &PaymentCommit) -> CommitOutcome;
        fn payment(&self, user: &UserId, payment: PaymentId) -> Option<PaymentRecord>;
    }
}

gated! {
    IdempotencyStore {
        fn claim_idempotency_key(&self, claim: &IdempotencyRecord, now: i64) -> ClaimOutcome;
        fn complete_idempotency_key(&self, completion: &IdempotencyCompletion) -> bool;
        fn release_idempotency_key(&self, user: &UserId, key: &IdempotencyKey, claim_id: &str) -> ();
    }
}

/// The tests' gate: every call proceeds but those a rule names, by name and turn (1 for the
/// first such call through this gate).
#[derive(Default)]
pub struct Script {
    state: Mutex<ScriptState>,
}

#[derive(Default)]
struct ScriptState {
    seen: HashMap<&'static str, usize>,
    rules: BTreeMap<(&'static str, usize), Rule>,
}

enum Rule {
    Fate(Fate),
    Hold(Held),
}

/// A call kept waiting at the gate until the test releases it.
#[derive(Clone, Default)]
pub struct Held {
    reached: Arc<Notify>,
    released: Arc<Notify>,
}

impl Held {
    /// Waits until the held call has reached the gate.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held call through (it proceeds).
    pub fn release(&self) {
        self.released.notify_one();
    }
}

impl Script {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn state(&self) -> MutexGuard<'_, ScriptState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The `nth` call named `call` is refused.
    pub fn refuse(&self, call: &'static str, nth: usize) {
        self.state()
            .rules
            .insert((call, nth), Rule::Fate(Fate::Refuse));
    }

    /// The `nth` call named `call` applies and its answer is lost.
    pub fn lose_answer(&self, call: &'static str, nth: usize) {
        self.state()
            .rules
            .insert((call, nth), Rule::Fate(Fate::LoseAnswer));
    }

    /// The `nth` call named `call` waits at the gate until released.
    pub fn hold(&self, call: &'static str, nth: usize) -> Held {
        let held = Held::default();
        self.state()
            .rules
            .insert((call, nth), Rule::Hold(held.clone()));
        held
    }

    /// The next call named `call` is refused.
    pub fn refuse_next(&self, call: &'static str) {
        self.refuse_next_times(call, 1);
    }

    /// The next `times` calls named `call` are refused: a caller that sends a call again
    /// (the tick does, a few times) fails all the same.
    pub fn refuse_next_times(&self, call: &'static str, times: usize) {
        let seen = self.calls(call);
        for turn in seen + 1..=seen + times {
            self.refuse(call, turn);
        }
    }

    /// The next call named `call` applies and its answer is lost.
    pub fn lose_next(&self, call: &'static str) {
        self.lose_answer(call, self.calls(call) + 1);
    }

    /// The next call named `call` waits at the gate until released.
    pub fn hold_next(&self, call: &'static str) -> Held {
        self.hold(call, self.calls(call) + 1)
    }

    /// How many calls named `call` have reached the gate.
    pub fn calls(&self, call: &'static str) -> usize {
        self.state().seen.get(call).copied().unwrap_or(0)
    }
}

#[async_trait]
impl CallGate for Script {
    async fn enter(&self, call: &'static str) -> Fate {
        let rule = {
            let mut state = self.state();
            let seen = state.seen.entry(call).or_default();
            *seen += 1;
            let turn = *seen;
            state.rules.remove(&(call, turn))
        };
        match rule {
            None => Fate::Proceed,
            Some(Rule::Fate(fate)) => fate,
            Some(Rule::Hold(held)) => {
                held.reached.notify_one();
                held.released.notified().await;
                Fate::Proceed
            }
        }
    }
}
