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
//! The executor: each simulated second, the operations of that second (fans' requests, ticks)
//! are futures polled here, one at a time. An operation runs until all its calls wait at the
//! gate (or it ends); then one waiting call is let through and its operation polled again. A
//! call that sleeps (a retry's pause) wakes by tokio's timer, which the simulator pauses and
//! advances only when nothing else can run, so the run does not depend on the machine's speed.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use async_trait::async_trait;
use serde::Serialize;
use ticketing::domain::{Clock, ManualClock, Timestamp};
use ticketing::store::meter::DynamoRequest;
use ticketing::store::{CallGate, Fate, MemoryStore, MeteredStore};

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
}

#[derive(Default)]
struct OperationState {
    kind: Option<Kind>,
    /// The call at whose gate the operation dies, counted from 1.
    dies_at: Option<u32>,
    calls: u32,
    dead: bool,
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
    pub fn new(seed: u64, fault_rate: f64, store: Arc<MeteredStore<MemoryStore>>) -> Self {
        World {
            state: Mutex::new(State {
                rng: fastrand::Rng::with_seed(seed ^ 0x005e_ed0f_a117_ab1e),
                fault_rate,
                waiting: Vec::new(),
                late: Vec::new(),
                operations: Vec::new(),
                faults: FaultFigures::default(),
                sent: Vec::new(),
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

    fn applied(&self, _call: &'static str) {
        let sent = self.store.take_requests();
        let kind = OPERATION
            .try_with(|id| *id)
            .ok()
            .and_then(|id| self.state().operations.get(id).and_then(|o| o.kind))
            .unwrap_or(Kind::Fan(""));
        self.state().sent.push((kind, sent));
    }
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
