//! The service's operations: each validates, reads, decides by the rules, and commits through
//! the store conditionally on what it read.

mod admission;
mod audit;
mod cache;
mod catalog;
mod idempotency;
mod lottery;
mod operators;
mod payments;
mod queue;
mod rate;
mod reservations;
mod settings;
mod slots;
mod standing;
mod topups;
mod views;
mod wallet;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::{BookingError, Clock, Timestamp};
use crate::store::{CommitOutcome, Store};

pub use admission::{AdmissionReport, ConcertTick};
pub use audit::audit;
pub use catalog::{
    Catalog, CatalogConcert, CatalogLoadReport, PriceTier, SeatCursor, SeatPage, SEAT_PAGE_LIMIT,
};
pub use lottery::Lottery;
pub use rate::{FanQuota, RateLimit};
pub use reservations::{HoldRequest, ReservationCursor, SeatChoice};
pub use settings::Settings;
pub use slots::{seen_lately_margin, ACTIVE_IDLE_RANGE};
pub use topups::{
    CreatedPayment, PaymentProvider, PaymentRequest, Payments, ProviderError, TopUpStarted,
    TopUpView, WebhookOutcome, CURRENCY, METADATA_TOP_UP_ID, METADATA_USER_ID, PAYMENT_SUCCEEDED,
};
pub use views::*;
pub use wallet::{HistoryCursor, PageLimit};

/// How often an operation re-reads and retries after its commit was refused because the state
/// moved underneath it (for example, another charge changed the balance first).
const COMMIT_ATTEMPTS: u32 = 200;

/// The service: the rules, over a store and a clock, with what this container keeps between
/// requests. Clones share the cache; `Ticketing::new` starts a cold one.
#[derive(Clone)]
pub struct Ticketing {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    cache: Arc<cache::Cache>,
    /// This container's own generator for its random choices (the counter a join draws from,
    /// the run best available picks), seeded from the thread's at start: nothing else draws
    /// from it, so a seeded run repeats its choices.
    rng: Arc<std::sync::Mutex<fastrand::Rng>>,
    /// Provider mode's payment provider; `None`: direct mode (demo money).
    payments: Option<Arc<topups::Payments>>,
    /// The per-fan limit the HTTP edge applies to writes (`rate`); `None`: none.
    rate_limit: Option<RateLimit>,
}

impl Ticketing {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        let mut rng = fastrand::Rng::with_seed(fastrand::u64(..));
        Self {
            store,
            cache: Arc::new(cache::Cache::with_state_lag(
                rng.i64(0..=cache::STATE_LAG_MAX),
                clock.clone(),
            )),
            clock,
            settings,
            rng: Arc::new(std::sync::Mutex::new(rng)),
            payments: None,
            rate_limit: None,
        }
    }

    /// A number below `n`, from this container's generator.
    fn random_below(&self, n: usize) -> usize {
        self.rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .usize(..n)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// This container's clock, for the HTTP edge's cache lifetimes.
    pub fn now_epoch_seconds(&self) -> i64 {
        self.clock.now().epoch_seconds()
    }

    /// Runs `attempt` until its commit goes through, re-reading each time it is refused, with a
    /// short random pause so that racers spread out.
    async fn until_committed<T, F, Fut>(&self, mut attempt: F) -> Result<T, BookingError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(CommitOutcome, T), BookingError>>,
    {
        for round in 0..COMMIT_ATTEMPTS {
            match attempt().await? {
                (CommitOutcome::Committed, value) => return Ok(value),
                (CommitOutcome::ClaimLost, _) => return Err(BookingError::IdempotencyKeyInUse),
                (CommitOutcome::Refused, _) => {
                    crate::metrics::record(crate::metrics::Event::CommitRetry);
                    let ceiling_ms = 1u64 << round.min(5);
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=ceiling_ms))).await;
                }
            }
        }
        Err(BookingError::Contention)
    }
}
