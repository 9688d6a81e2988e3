//! A store that runs every call past a gate first: the seam where the world meets the service,
//! for the tests and the on-sale simulator to be that world. The gate decides, call by call,
//! whether the call goes through, is refused before it applies (a throttle, a 500), or applies
//! with its answer lost (a timeout after the write); and it may keep a call waiting (late, or
//! overtaken by another). Production never builds one; the code under test never knows.
//!
//! A write that may meet a transaction in flight on its items (every call the DynamoDB store
//! sends as `TransactWriteItems`, and the single writes to items transactions write) enters the
//! gate with the request it sends, its items named before it applies (by the meter's twin of
//! the call), so that the gate can refuse it as DynamoDB refuses a write to an item a
//! transaction in flight is writing (`TransactionConflict`), and send it again as the DynamoDB
//! store does.
//!
//! [`Script`] is the tests' gate: it names a call and its turn ("the second
//! `commit_admission_batch`") and what happens to it, so that a failure path is reached every
//! run, never by luck.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::dynamo::{self, meter::DynamoRequest};
use super::*;

/// What becomes of one store call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Proceed,
    /// Refused before it applies: nothing written, an error returned.
    Refuse,
    /// Applied, and its answer lost: written, an error returned.
    LoseAnswer,
    /// A write refused for conflicts with transactions in flight on every attempt the DynamoDB
    /// store makes: nothing written, `StoreError::Contention` returned.
    Contention,
}

/// Decides each call's fate; may keep it waiting first.
#[async_trait]
pub trait CallGate: Send + Sync + 'static {
    /// `call` is the store method's name.
    async fn enter(&self, call: &'static str) -> Fate;

    /// A write that may conflict enters: `writes` is the request it sends (`TransactWriteItems`
    /// or a single write), its items named (their sizes as far as the call's arguments tell).
    /// The gate may refuse attempts of it for conflicts; it answers for the attempt that goes
    /// through, or gives up.
    async fn enter_write(&self, call: &'static str, _writes: &[DynamoRequest]) -> Fate {
        self.enter(call).await
    }

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
        let fate = self.gate.enter(call).await;
        self.meet(call, fate, run).await
    }

    async fn pass_write<T, F>(
        &self,
        call: &'static str,
        writes: Vec<DynamoRequest>,
        run: impl FnOnce() -> F,
    ) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        let fate = self.gate.enter_write(call, &writes).await;
        self.meet(call, fate, run).await
    }

    async fn meet<T, F>(
        &self,
        call: &'static str,
        fate: Fate,
        run: impl FnOnce() -> F,
    ) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        match fate {
            Fate::Contention => Err(StoreError::Contention(format!(
                "{call}: TransactionConflict on every attempt (injected)"
            ))),
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

/// Each method of a store trait, past the gate under its own name; a write that may conflict
/// with the request it sends (`writes`: the meter's twin of the call, its items named by the
/// arguments).
macro_rules! gated {
    ($store:ident { $( fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $out:ty $(, writes $writes:expr)?; )* }) => {
        #[async_trait]
        impl<S: Store> $store for GatedStore<S> {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$out, StoreError> {
                    let call = stringify!($name);
                    let writes: Option<Vec<DynamoRequest>> = None $( .or(Some($writes)) )?;
                    match writes {
                        Some(writes) => {
                            self.pass_write(call, writes, || self.inner.$name($($arg),*))
                                .await
                        }
                        None => self.pass(call, || self.inner.$name($($arg),*)).await,
                    }
                }
            )*
        }
    };
}

gated! {
    CatalogStore {
        fn put_concert(&self, concert: &ConcertRecord) -> bool, writes dynamo::meter_put_concert(concert);
        fn listed_concerts(&self, from: ConcertDate) -> Vec<ConcertListingRecord>;
        fn concert(&self, concert: &ConcertId) -> Option<ConcertRecord>;
        fn mark_sold_out(&self, concert: &ConcertRecord) -> (), writes dynamo::meter_mark_sold_out(concert);
        fn seat_blocks(&self, concert: &ConcertId, date: ConcertDate, blocks: &[SeatNumber]) -> DateSeatsRecord;
        fn seat_ledgers(&self, concert: &ConcertId, shards: &[(ConcertDate, u32)]) -> Vec<(ConcertDate, u32, SeatLedgerRecord)>;
        fn prune_seat_ledger(&self, concert: &ConcertId, date: ConcertDate, shard: u32, stale: &LedgerStale) -> (), writes dynamo::meter_prune_seat_ledger(concert, date, shard, &SeatLedgerRecord::default());
    }
}

gated! {
    QueueStore {
        fn ticket(&self, user: &UserId, concert: &ConcertId) -> Option<TicketRecord>;
        fn draw_queue_number(&self, concert: &ConcertId, shard: u8, second: i64) -> Draw;
        fn enqueue(&self, ticket: &TicketRecord, previous: Option<&QueueToken>) -> EnqueueOutcome, writes dynamo::meter_enqueue(ticket);
        fn poll_ticket(&self, user: &UserId, token: &QueueToken, now: i64) -> Option<TicketRecord>;
        fn renew_ticket(&self, renewal: &SlotRenewal) -> CommitOutcome, writes dynamo::meter_renew_ticket(renewal, &SlotShardRecord::default());
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
        fn slot_ledger(&self, concert: &ConcertId) -> Vec<(u32, SlotShardRecord)>;
        fn prune_slot_shard(&self, concert: &ConcertId, shard: u32, ends: &[i64]) -> (), writes dynamo::meter_prune_slot_shard(concert, shard, &SlotShardRecord::default());
        fn retire_queue(&self, concert: &ConcertId, last_registered: i64) -> bool;
        fn claim_tick(&self, concert: &ConcertId, seen: u64, slot: i64, takeover: bool) -> TickClaim, writes dynamo::meter_claim_tick(concert);
        fn keep_draw(&self, concert: &ConcertId, version: u64, draw: &LotteryRecord) -> Option<LotteryRecord>, writes dynamo::meter_keep_draw(concert);
        fn seal_queue_counts(&self, concert: &ConcertId, from: i64, through: i64, unsealed_before: i64) -> SealedCounts;
        fn write_queue_pages(&self, concert: &ConcertId, pages: &BTreeMap<i64, QueuePageRecord>) -> ();
        fn queue_entries(&self, concert: &ConcertId, shard: u8, after: (i64, u32), through: (i64, u32)) -> Vec<QueueEntryRecord>;
        fn queue_entries_at(&self, concert: &ConcertId, places: &[QueuePlace]) -> Vec<QueueEntryRecord>;
        fn tickets(&self, concert: &ConcertId, users: &[UserId]) -> Vec<TicketRecord>;
        fn commit_admission_batch(&self, batch: &AdmissionBatchPlan) -> CommitOutcome, writes dynamo::meter_commit_admission_batch(batch, &SlotShardRecord::default());
        fn commit_queue_state(&self, concert: &ConcertId, state: &QueueStateRecord, settled: &[i64]) -> CommitOutcome, writes dynamo::meter_commit_queue_state(concert, state);
    }
}

gated! {
    ReservationStore {
        fn fan_tally(&self, user: &UserId, concert: &ConcertId) -> FanTallyRecord;
        fn place_hold(&self, plan: &HoldPlan) -> HoldOutcome, writes dynamo::meter_place_hold(plan, &SeatsTouched::default(), &plan.tally_after());
        fn reservation(&self, user: &UserId, reservation: ReservationId) -> Option<ReservationRecord>;
        fn reservations(&self, user: &UserId, before: Option<ReservationId>, limit: usize) -> Vec<ReservationRecord>;
        fn release_hold(&self, reservation: &ReservationRecord, now: i64) -> CommitOutcome, writes dynamo::meter_release_hold(reservation, &SeatsTouched::default(), &FanTallyRecord::default());
    }
}

gated! {
    WalletStore {
        fn balance(&self, user: &UserId) -> BalanceRecord;
        fn apply_balance_change(&self, change: &BalanceChange) -> CommitOutcome, writes dynamo::meter_apply_balance_change(change);
        fn balance_entries(&self, user: &UserId, before_version: Option<u64>, limit: usize) -> Vec<BalanceEntryRecord>;
    }
}

gated! {
    PaymentStore {
        fn payment_context(&self, user: &UserId, reservation: ReservationId, concert: &ConcertId) -> PaymentContext;
        fn commit_payment(&self, payment: &PaymentCommit) -> CommitOutcome, writes dynamo::meter_commit_payment(payment, &SeatsTouched::default(), &FanTallyRecord::default(), &SlotShardRecord::default());
        fn payment(&self, user: &UserId, payment: PaymentId) -> Option<PaymentRecord>;
    }
}

gated! {
    IdempotencyStore {
        fn claim_idempotency_key(&self, claim: &IdempotencyRecord, now: i64) -> ClaimOutcome, writes dynamo::meter_claim_idempotency_key(claim);
        fn complete_idempotency_key(&self, completion: &IdempotencyCompletion) -> bool;
        fn release_idempotency_key(&self, user: &UserId, key: &IdempotencyKey, claim_id: &str) -> (), writes dynamo::meter_release_idempotency_key(user, key);
    }
}

gated! {
    TopUpStore {
        fn start_top_up(&self, start: &TopUpStart) -> bool, writes dynamo::meter_start_top_up(start);
        fn top_up(&self, user: &UserId, top_up: TopUpId) -> Option<TopUpRecord>;
        fn link_payment(&self, link: &PaymentLinkRecord) -> (), writes dynamo::meter_link_payment(link);
        fn payment_link(&self, payment_intent: &str) -> Option<PaymentLinkRecord>;
        fn fail_top_up(&self, user: &UserId, top_up: TopUpId) -> bool, writes dynamo::meter_fail_top_up(user, top_up);
        fn credit_top_up(&self, credit: &TopUpCredit) -> CommitOutcome, writes dynamo::meter_credit_top_up(credit);
        fn record_unmatched_payment(&self, record: &UnmatchedPaymentRecord) -> bool, writes dynamo::meter_record_unmatched_payment(record);
        fn unmatched_payments(&self, limit: usize) -> Vec<UnmatchedPaymentRecord>;
    }
}

gated! {
    RateStore {
        fn take_rate_token(&self, take: &RateTake) -> RateTaken, writes dynamo::meter_take_rate_token(take);
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
