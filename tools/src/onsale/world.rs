//! The world the simulated service lives in, all of it drawn from the run's seed (in the manner
//! of FoundationDB's simulation and TigerBeetle's VOPR: one seed replays one run exactly).
//!
//! Every store call waits at the store's gate (`ticketing::store::GatedStore`), and the
//! scheduler here picks which waiting call goes next, at random among all that wait: a fan's
//! round trips, the tick's calls and a second delivery of the tick interleave call by call,
//! as requests to DynamoDB do. What befalls a call is drawn as it is let through: with the
//! fault rate, it is refused before it applies (a throttle, a 500), applied with its answer
//! lost, or late (it lands after the other calls of its second). A tick may die after any
//! call: its future is dropped there, as a Lambda that timed out or crashed. Containers keep
//! clocks of their own, off by up to the skew. The service's code runs unchanged: the world
//! meets it only at the gate and at its clocks.
//!
//! Writes conflict as on DynamoDB, which cancels a transaction (`TransactionConflict`) that
//! writes an item another transaction in flight is writing, and refuses a single write
//! (`TransactionConflictException`) to such an item. The world runs its calls one at a time,
//! so "in flight" is a model, drawn from the seed: an operation's first write attempt starts at
//! a millisecond of its second (at random), each of its next ones where the last ended (an
//! operation's calls go one after another: a tick's batches never overlap each other), and
//! each lasts a duration (`--transaction-ms`, at random between the two bounds); a transaction
//! holds the items it writes for that span. An attempt whose span
//! overlaps the span of a transaction already committed this second that wrote one of the same
//! items is refused and writes nothing (the one let through first won); the items are named
//! before the call applies, by the meter's twin of the call (`GatedStore`'s `writes`). As the
//! DynamoDB store does (`store::dynamo::contention`), a write refused only by conflicts is sent
//! again after a jittered pause (`conflict_pause_ms`), each attempt starting that long after
//! the last ended and waiting at the gate again, at most `CONFLICT_RETRIES` times and while
//! the attempts and pauses fit in `CONFLICT_BUDGET`; then the call gives up with
//! `StoreError::Contention`. A single write holds nothing against transactions (DynamoDB
//! refuses only the single write). Every attempt is charged as the request it is; a refused
//! one as if it had run: DynamoDB reports no consumed capacity for a cancelled transaction and
//! does not document what it bills, so the meter's rule for cancellations holds (see
//! `store::meter`), sized as the items stood this second.
//!
//! The executor: each simulated second, the operations of that second (fans' requests, ticks)
//! are futures polled here, one at a time. An operation runs until all its calls wait at the
//! gate (or it ends); then one waiting call is let through and its operation polled again. A
//! call that sleeps (a retry's pause) wakes by tokio's timer, which the simulator pauses and
//! advances only when nothing else can run, so the run does not depend on the machine's speed.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap as HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use async_trait::async_trait;
use serde::Serialize;
use ticketing::domain::{Clock, ManualClock, Timestamp};
use ticketing::store::meter::{DynamoRequest, ItemUnits, Operation as DynamoOperation};
use ticketing::store::{
    conflict_pause_ms, CallGate, Fate, MemoryStore, MeteredStore, CONFLICT_BUDGET, CONFLICT_RETRIES,
};

tokio::task_local! {
    /// The operation a store call is made for.
    static OPERATION: usize;
}

/// What an operation is, for the tally of what it sent: fans' requests to a container of one
/// function (its name), or a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Fan(&'static str),
    Tick,
}

/// The faults the run injected, by kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FaultFigures {
    pub refused: u64,
    pub lost_answers: u64,
    pub slow: u64,
    pub duplicate_ticks: u64,
    pub crashed_ticks: u64,
}

/// What conflicts with transactions in flight the run met.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConflictFigures {
    /// How long a transaction holds its items, in ms, at least and at most (0: no conflicts).
    pub transaction_ms: (u32, u32),
    /// Attempts sent of writes that may conflict (transactions, and single writes to items
    /// transactions write), each resend one more.
    pub attempts: u64,
    /// Attempts refused for a conflict (`TransactionConflict`).
    pub conflicts: u64,
    /// Store calls that gave up after every retry (`503 SERVICE_BUSY`).
    pub gave_up: u64,
    /// Conflicts in the busiest second.
    pub peak_per_second: u64,
    /// The items with the most conflicts, most first.
    pub hottest: Vec<KeyConflicts>,
}

/// One item's conflicts, against the attempts that wrote it (counted from the first second
/// two attempts wrote it: an item written once a second never conflicts). A fan's own items
/// are left out (`capacity::fans_own`).
#[derive(Debug, Clone, Serialize)]
pub struct KeyConflicts {
    pub key: String,
    pub conflicts: u64,
    pub attempts: u64,
    /// Conflicts per attempt that wrote the item.
    pub rate: f64,
}

/// The report keeps this many items' conflicts.
const LISTED_CONFLICT_KEYS: usize = 20;

/// An item, by its key.
type ItemKey = (String, String);

/// One item's transactions this second.
#[derive(Default)]
struct ItemSecond {
    /// The spans (ms into the second) of the transactions that committed a write to it.
    spans: Vec<(u32, u32)>,
    attempts: u64,
    conflicts: u64,
    /// Its size as last written, as the meter counted it.
    bytes: usize,
}

/// The world's account of transactions.
#[derive(Default)]
struct Conflicts {
    figures: ConflictFigures,
    /// This second's, by item.
    second: HashMap<ItemKey, ItemSecond>,
    this_second: u64,
    /// Over the run: attempts and conflicts, per item written by two attempts in a second.
    by_item: HashMap<ItemKey, (u64, u64)>,
}

pub type Operation = Pin<Box<dyn Future<Output = ()>>>;

/// The scheduler and the gate every store call passes.
pub struct World {
    state: Mutex<State>,
    /// Operations to poll: shared with the wakers of their timers.
    runnable: Arc<Mutex<BTreeSet<usize>>>,
    store: Arc<MeteredStore<MemoryStore>>,
}

struct State {
    rng: fastrand::Rng,
    fault_rate: f64,
    /// Calls at the gate, in the order they came.
    waiting: Vec<Waiting>,
    /// Calls drawn to be late: let through once nothing else waits.
    late: Vec<Waiting>,
    operations: Vec<OperationState>,
    faults: FaultFigures,
    /// The DynamoDB requests each kind of operation sent this second.
    sent: Vec<(Kind, Vec<DynamoRequest>)>,
    conflicts: Conflicts,
}

#[derive(Default)]
struct OperationState {
    kind: Option<Kind>,
    /// The call at whose gate the operation dies, counted from 1.
    dies_at: Option<u32>,
    calls: u32,
    dead: bool,
    /// When its last write attempt ended (ms into the second): its next starts no sooner.
    writes_until: Option<u32>,
}

struct Waiting {
    operation: usize,
    slot: Arc<Mutex<GateSlot>>,
}

/// A call's place at the gate: its fate once drawn, and who to wake then (the call may sit
/// in a combinator that polls only the futures that woke, as `try_join_all` does).
#[derive(Default)]
struct GateSlot {
    fate: Option<Fate>,
    waker: Option<Waker>,
}

impl World {
    /// `transaction_ms`: how long a transaction holds its items, at least and at most (0, 0:
    /// transactions never conflict).
    pub fn new(
        seed: u64,
        fault_rate: f64,
        transaction_ms: (u32, u32),
        store: Arc<MeteredStore<MemoryStore>>,
    ) -> Self {
        World {
            state: Mutex::new(State {
                rng: fastrand::Rng::with_seed(seed ^ 0x005e_ed0f_a117_ab1e),
                fault_rate,
                waiting: Vec::new(),
                late: Vec::new(),
                operations: Vec::new(),
                faults: FaultFigures::default(),
                sent: Vec::new(),
                conflicts: Conflicts {
                    figures: ConflictFigures {
                        transaction_ms,
                        ..ConflictFigures::default()
                    },
                    ..Conflicts::default()
                },
            }),
            runnable: Arc::default(),
            store,
        }
    }

    fn runnable(&self) -> MutexGuard<'_, BTreeSet<usize>> {
        self.runnable
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn faults(&self) -> FaultFigures {
        self.state().faults.clone()
    }

    /// Ends the second for conflicts: returns how many there were in it.
    pub fn close_second(&self) -> u64 {
        let mut state = self.state();
        let c = &mut state.conflicts;
        for (key, item) in c.second.drain() {
            if super::capacity::fans_own(&key.0) {
                continue;
            }
            let known = c.by_item.contains_key(&key);
            if known || item.attempts > 1 {
                let counts = c.by_item.entry(key).or_default();
                counts.0 += item.attempts;
                counts.1 += item.conflicts;
            }
        }
        let conflicts = std::mem::take(&mut c.this_second);
        c.figures.peak_per_second = c.figures.peak_per_second.max(conflicts);
        conflicts
    }

    /// The run's conflicts, the items with most first.
    pub fn conflicts(&self) -> ConflictFigures {
        let state = self.state();
        let c = &state.conflicts;
        let mut hottest: Vec<KeyConflicts> = c
            .by_item
            .iter()
            .filter(|(_, (_, conflicts))| *conflicts > 0)
            .map(|((pk, sk), (attempts, conflicts))| KeyConflicts {
                key: format!("{pk} | {sk}"),
                conflicts: *conflicts,
                attempts: *attempts,
                rate: *conflicts as f64 / (*attempts).max(1) as f64,
            })
            .collect();
        hottest.sort_by(|a, b| b.conflicts.cmp(&a.conflicts).then(a.key.cmp(&b.key)));
        hottest.truncate(LISTED_CONFLICT_KEYS);
        ConflictFigures {
            hottest,
            ..c.figures.clone()
        }
    }

    pub fn count_duplicate_tick(&self) {
        self.state().faults.duplicate_ticks += 1;
    }

    /// The requests sent since the last call, by the kind of operation that sent them.
    pub fn take_sent(&self) -> Vec<(Kind, Vec<DynamoRequest>)> {
        std::mem::take(&mut self.state().sent)
    }

    /// Runs one second's operations to their ends, their calls interleaved as the seed says.
    /// `dies_at`: for an operation that dies, the call at whose gate it does.
    pub async fn run(&self, operations: Vec<(Kind, Option<u32>, Operation)>) {
        let mut futures: Vec<Option<Operation>> = Vec::with_capacity(operations.len());
        {
            let mut state = self.state();
            let mut runnable = self.runnable();
            state.conflicts.second.clear();
            state.operations.clear();
            runnable.clear();
            for (id, (kind, dies_at, operation)) in operations.into_iter().enumerate() {
                state.operations.push(OperationState {
                    kind: Some(kind),
                    dies_at,
                    ..OperationState::default()
                });
                runnable.insert(id);
                futures.push(Some(Box::pin(OPERATION.scope(id, operation))));
            }
        }
        std::future::poll_fn(|cx| loop {
            let runnable = std::mem::take(&mut *self.runnable());
            for id in runnable {
                if self.state().operations[id].dead {
                    futures[id] = None;
                    continue;
                }
                let Some(future) = futures[id].as_mut() else {
                    continue;
                };
                let waker = Waker::from(Arc::new(OperationWaker {
                    id,
                    runnable: self.runnable.clone(),
                    parent: cx.waker().clone(),
                }));
                if future
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_ready()
                {
                    futures[id] = None;
                }
            }
            if !self.runnable().is_empty() {
                continue;
            }
            let next = self.state().next_call();
            match next {
                Some((id, waker)) => {
                    self.runnable().insert(id);
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
                // Nothing waits at the gate: the rest sleep, or all are done.
                None if futures.iter().all(Option::is_none) => return Poll::Ready(()),
                None => return Poll::Pending,
            }
        })
        .await
    }
}

impl State {
    /// Lets the next call through: at random among those waiting, with its fate drawn; the
    /// late ones once nothing else waits. Returns its operation, and the waker its call left.
    fn next_call(&mut self) -> Option<(usize, Option<Waker>)> {
        loop {
            let (call, fate) = if !self.waiting.is_empty() {
                let call = self
                    .waiting
                    .swap_remove(self.rng.usize(..self.waiting.len()));
                if self.operations[call.operation].dead {
                    continue;
                }
                let fate = if self.rng.f64() < self.fault_rate {
                    match self.rng.u8(0..3) {
                        0 => {
                            self.faults.refused += 1;
                            Fate::Refuse
                        }
                        1 => {
                            self.faults.lost_answers += 1;
                            Fate::LoseAnswer
                        }
                        _ => {
                            self.faults.slow += 1;
                            self.late.push(call);
                            continue;
                        }
                    }
                } else {
                    Fate::Proceed
                };
                (call, fate)
            } else if !self.late.is_empty() {
                let call = self.late.remove(0);
                if self.operations[call.operation].dead {
                    continue;
                }
                (call, Fate::Proceed)
            } else {
                return None;
            };
            let mut slot = call.slot.lock().unwrap_or_else(|p| p.into_inner());
            slot.fate = Some(fate);
            return Some((call.operation, slot.waker.take()));
        }
    }
}

/// Wakes one operation of the executor (a retry's pause ended).
struct OperationWaker {
    id: usize,
    runnable: Arc<Mutex<BTreeSet<usize>>>,
    parent: Waker,
}

impl Wake for OperationWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.runnable
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(self.id);
        self.parent.wake_by_ref();
    }
}

/// Waits at the gate until the scheduler lets the call through.
struct AtGate {
    slot: Arc<Mutex<GateSlot>>,
}

impl Future for AtGate {
    type Output = Fate;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fate> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        match slot.fate {
            Some(fate) => Poll::Ready(fate),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[async_trait]
impl CallGate for World {
    async fn enter(&self, _call: &'static str) -> Fate {
        // Calls made outside an operation (loading the catalog) go straight through.
        let Ok(operation) = OPERATION.try_with(|id| *id) else {
            return Fate::Proceed;
        };
        let slot = Arc::new(Mutex::new(GateSlot::default()));
        let dies = {
            let mut state = self.state();
            let op = &mut state.operations[operation];
            op.calls += 1;
            let dies = op.dies_at == Some(op.calls);
            if dies {
                op.dead = true;
                state.faults.crashed_ticks += 1;
            } else {
                state.waiting.push(Waiting {
                    operation,
                    slot: slot.clone(),
                });
            }
            dies
        };
        if dies {
            // The operation dies here, before this call leaves it: the executor drops it.
            self.runnable().insert(operation);
            std::future::pending::<()>().await;
        }
        AtGate { slot }.await
    }

    async fn enter_write(&self, call: &'static str, writes: &[DynamoRequest]) -> Fate {
        let Ok(operation) = OPERATION.try_with(|id| *id) else {
            return Fate::Proceed;
        };
        let (shortest, longest) = self.state().conflicts.figures.transaction_ms;
        if longest == 0 {
            return self.enter(call).await;
        }
        let transaction = writes
            .iter()
            .all(|r| r.operation == DynamoOperation::TransactWriteItems);
        let keys: Vec<ItemKey> = writes
            .iter()
            .flat_map(|r| &r.items)
            .map(|i| (i.pk.clone(), i.sk.clone().unwrap_or_default()))
            .collect();
        let budget = CONFLICT_BUDGET.as_millis() as u32;
        let mut first_start = None;
        let mut starts_at = None;
        for attempt in 0..=CONFLICT_RETRIES {
            let fate = self.enter(call).await;
            if fate == Fate::Refuse {
                // Refused before DynamoDB took it in: it held no item.
                return fate;
            }
            let mut guard = self.state();
            let state = &mut *guard;
            let start = starts_at
                .or(state.operations[operation].writes_until)
                .unwrap_or_else(|| state.rng.u32(..SECOND_MS));
            let end = start + state.rng.u32(shortest..=longest);
            state.operations[operation].writes_until = Some(end);
            let first = *first_start.get_or_insert(start);
            let c = &mut state.conflicts;
            c.figures.attempts += 1;
            let conflicted = keys.iter().any(|key| {
                c.second
                    .get(key)
                    .is_some_and(|item| item.spans.iter().any(|(s, e)| *s < end && start < *e))
            });
            for key in &keys {
                let item = c.second.entry(key.clone()).or_default();
                item.attempts += 1;
                if !conflicted {
                    if transaction {
                        item.spans.push((start, end));
                    }
                } else if item.spans.iter().any(|(s, e)| *s < end && start < *e) {
                    item.conflicts += 1;
                }
            }
            if !conflicted {
                return fate;
            }
            c.figures.conflicts += 1;
            c.this_second += 1;
            let cancelled = cancelled_request(writes, &c.second);
            let kind = state.operations[operation].kind.unwrap_or(Kind::Fan(""));
            state.sent.push((kind, cancelled));
            let pause = state.rng.u64(..=conflict_pause_ms(attempt)) as u32;
            if end - first + pause > budget {
                break;
            }
            starts_at = Some(end + pause);
        }
        self.state().conflicts.figures.gave_up += 1;
        Fate::Contention
    }

    fn applied(&self, _call: &'static str) {
        let sent = self.store.take_requests();
        let mut state = self.state();
        let kind = OPERATION
            .try_with(|id| *id)
            .ok()
            .and_then(|id| state.operations.get(id).and_then(|o| o.kind))
            .unwrap_or(Kind::Fan(""));
        // The items as written, to size an attempt refused on them.
        let second = &mut state.conflicts.second;
        if !second.is_empty() {
            let written = sent
                .iter()
                .flat_map(|r| &r.items)
                .filter(|i| i.write_units > 0.0);
            for item in written {
                let key = (item.pk.clone(), item.sk.clone().unwrap_or_default());
                if let Some(known) = second.get_mut(&key) {
                    known.bytes = item.bytes;
                }
            }
        }
        state.sent.push((kind, sent));
    }
}

/// A second, in the milliseconds transactions' spans are drawn in.
const SECOND_MS: u32 = 1_000;

/// A refused attempt, as the requests it was: each item at its size as last written this
/// second where the world knows it (the arguments alone do not size a seat block, a ledger
/// shard or a tally), a write unit a KB, twice in a transaction.
fn cancelled_request(
    writes: &[DynamoRequest],
    second: &HashMap<ItemKey, ItemSecond>,
) -> Vec<DynamoRequest> {
    writes
        .iter()
        .map(|request| {
            let twice = request.operation == DynamoOperation::TransactWriteItems;
            let items = request
                .items
                .iter()
                .map(|item| {
                    let key = (item.pk.clone(), item.sk.clone().unwrap_or_default());
                    let bytes = second
                        .get(&key)
                        .map_or(item.bytes, |known| known.bytes.max(item.bytes));
                    let units = bytes.div_ceil(1024).max(1) as f64;
                    ItemUnits {
                        bytes,
                        write_units: if twice { 2.0 * units } else { units },
                        ..item.clone()
                    }
                })
                .collect();
            DynamoRequest {
                items,
                ..request.clone()
            }
        })
        .collect()
}

/// A container's clock: the world's, off by a fixed number of seconds.
pub struct SkewedClock {
    pub world: Arc<ManualClock>,
    pub offset: i64,
}

impl Clock for SkewedClock {
    fn now(&self) -> Timestamp {
        self.world.now().plus_seconds(self.offset)
    }
}
