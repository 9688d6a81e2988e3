//! One deadline per request, through the handler Lambda runs: a sample event carrying the
//! invocation's context (its deadline, as the runtime attaches it) on a store whose every call
//! is slow. A request whose calls together outlast the function is answered `503 SERVICE_BUSY`
//! with `Retry-After` before the function's timeout, not cut off by Lambda.
//!
//! Tokio's clock is paused: the slow calls' sleeps and the deadline's timer advance it, so the
//! seconds below are exact and the test takes none of them.

#[allow(dead_code)] // the `with_*` helpers are for the other tests
mod sample;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use lambda_http::{Body, Context, RequestExt, Response};
use sample::{event, root};
use serde_json::Value;
use ticketing::booking::Catalog;
use ticketing::deadline::ANSWER_MARGIN;
use ticketing::domain::{ManualClock, Timestamp};
use ticketing::http::{handle, App, Endpoint};
use ticketing::metrics::MetricsSink;
use ticketing::store::{CallGate, Fate, GatedStore, MemoryStore};
use ticketing::{Settings, Ticketing};
use tokio::time::Instant;

/// 2027-03-01T00:00:00Z, before the example catalog's dates.
const START: i64 = 1_803_859_200;
/// The read functions' timeout (Globals, `infra/template.yaml`).
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Each store call's wait: the join's calls in a row outlast the function together.
const SLOW_CALL: Duration = Duration::from_millis(1_800);

/// Every call waits `SLOW_CALL` once `slow` is set, then goes through; the calls are counted.
#[derive(Default)]
struct SlowGate {
    slow: std::sync::atomic::AtomicBool,
    calls: AtomicUsize,
}

#[async_trait]
impl CallGate for SlowGate {
    async fn enter(&self, _call: &'static str) -> Fate {
        if self.slow.load(Ordering::SeqCst) {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(SLOW_CALL).await;
        }
        Fate::Proceed
    }
}

async fn app(gate: Arc<SlowGate>) -> App {
    let clock = Arc::new(ManualClock::starting_at(Timestamp::from_epoch_seconds(
        START,
    )));
    let store = GatedStore::new(Arc::new(MemoryStore::new()), gate);
    let booking = Ticketing::new(Arc::new(store), clock, Settings::default());
    let catalog = std::fs::read_to_string(root().join("catalog/example.json")).unwrap();
    booking
        .load_catalog(&Catalog::from_json(&catalog).unwrap())
        .await
        .unwrap();
    App {
        booking,
        trust_user_header: false,
        metrics: MetricsSink::Off,
        edge: Default::default(),
    }
}

/// The join-queue sample as Lambda hands it over: with the invocation's context, whose
/// deadline is `FUNCTION_TIMEOUT` from now (none: as the local server serves it).
async fn join(app: &App, function_timeout: Option<Duration>) -> Response<Body> {
    let mut request =
        lambda_http::request::from_str(&event("join-queue").to_string()).expect("payload 2.0");
    if let Some(timeout) = function_timeout {
        let mut context = Context::default();
        let deadline = SystemTime::now() + timeout;
        context.deadline = deadline
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        request = request.with_lambda_context(context);
    }
    Box::pin(handle(app, Endpoint::JoinQueue, request)).await
}

fn code(response: &Response<Body>) -> Option<String> {
    let Body::Text(text) = response.body() else {
        return None;
    };
    let body: Value = serde_json::from_str(text).ok()?;
    body["code"].as_str().map(str::to_owned)
}

#[tokio::test(start_paused = true)]
async fn a_request_of_slow_calls_answers_503_before_the_function_times_out() {
    // Without a deadline (the local server), the same request runs every slow call to its end:
    // longer than the function would live.
    let gate = Arc::new(SlowGate::default());
    let unbounded = app(gate.clone()).await;
    gate.slow.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let response = join(&unbounded, None).await;
    assert_eq!(response.status(), 201, "{:?}", code(&response));
    let calls = gate.calls.load(Ordering::SeqCst);
    assert!(calls >= 3, "joining makes {calls} store calls");
    assert!(
        started.elapsed() > FUNCTION_TIMEOUT,
        "{:?}",
        started.elapsed()
    );

    // In Lambda: the calls share the invocation's deadline, and the answer comes in time.
    let gate = Arc::new(SlowGate::default());
    let in_lambda = app(gate.clone()).await;
    gate.slow.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let response = join(&in_lambda, Some(FUNCTION_TIMEOUT)).await;
    let took = started.elapsed();
    assert_eq!(
        (response.status().as_u16(), code(&response).as_deref()),
        (503, Some("SERVICE_BUSY"))
    );
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(took < FUNCTION_TIMEOUT, "answered after {took:?}");
    assert!(
        took >= FUNCTION_TIMEOUT - ANSWER_MARGIN - Duration::from_millis(50),
        "the request used its time: {took:?}"
    );
    // Cut at the deadline: no call past it was begun.
    assert!(gate.calls.load(Ordering::SeqCst) <= calls);
}

#[tokio::test(start_paused = true)]
async fn a_request_in_time_is_served_as_ever() {
    let gate = Arc::new(SlowGate::default());
    let app = app(gate).await;
    let response = join(&app, Some(FUNCTION_TIMEOUT)).await;
    assert_eq!(response.status(), 201, "{:?}", code(&response));
}
