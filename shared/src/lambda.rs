//! The two kinds of Lambda function: one HTTP endpoint, or the scheduled admission tick. A
//! function's `main` calls one of these; the clients are built once per cold start.

use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_http::{service_fn, Error, Request};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::warn;

use crate::http::{handle, App, Endpoint};
use crate::metrics::{self, MetricsSink};
use crate::Ticketing;

/// Serves one endpoint of the API behind API Gateway.
pub fn serve_endpoint(endpoint: Endpoint) -> Result<(), Error> {
    on_the_calling_thread(async move {
        lambda_http::tracing::init_default_subscriber();
        let app = App::for_endpoint(endpoint).await?;
        lambda_http::run(service_fn(|request: Request| {
            let app = &app;
            async move { Ok::<_, Infallible>(handle(app, endpoint, request).await) }
        }))
        .await
    })
}

/// Runs the admission tick for the minute after each scheduled event.
pub fn serve_admission() -> Result<(), Error> {
    on_the_calling_thread(async {
        lambda_http::tracing::init_default_subscriber();
        let app = App::from_env()?;
        lambda_runtime::run(lambda_runtime::service_fn(|event: LambdaEvent<Value>| {
            let app = &app;
            async move {
                let deadline = event.context.deadline();
                admit_for_a_minute(&app.booking, &app.metrics, deadline).await
            }
        }))
        .await
    })
}

/// Lambda hands a function one invocation at a time, and an invocation mostly waits for
/// DynamoDB: the calling thread serves it as well as a pool of workers would, and a cold start
/// saves spawning them (about 0.3 ms of 2.3; docs/scale.md, "Function size and startup").
fn on_the_calling_thread(serve: impl Future<Output = Result<(), Error>>) -> Result<(), Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MinuteOfAdmission {
    pub ticks: u32,
    /// Ticks that could not read which queues are live; the next slot tries again.
    pub failed_ticks: u32,
    pub admitted: usize,
    pub dropped: usize,
    pub deferred: usize,
}

/// Room left before the invocation's deadline when a tick starts.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// The schedule fires once a minute; this ticks at each slot (a multiple of
/// `admit_tick_seconds` on the clock) from now until the slot the next minute's event takes,
/// stopping early rather than running into the invocation's deadline. Slots are the same on
/// every admitter, so a second delivery of the event, or a minute that overruns into the next,
/// ticks the same slots, and the tick's claim lets only one through. A tick that fails is
/// logged and counted; the next slot tries again. Each tick leaves its metric lines.
pub async fn admit_for_a_minute(
    booking: &Ticketing,
    metrics: &MetricsSink,
    deadline: SystemTime,
) -> Result<MinuteOfAdmission, Error> {
    let every = booking.settings().admit_tick_seconds.max(1);
    let slot_now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            / every
    };
    let first = slot_now();
    let end = first + 60 / every;
    let mut minute = MinuteOfAdmission::default();
    let mut slot = first;
    while slot < end {
        let at = UNIX_EPOCH + Duration::from_secs(slot * every);
        let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
        let time_left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        // The slot now is always ticked; any later one only with room to finish, even when a
        // slow tick has already carried the clock past it.
        if slot != first && wait + DEADLINE_MARGIN > time_left {
            break;
        }
        tokio::time::sleep(wait).await;
        let tick_started = Instant::now();
        let (report, tally) = metrics::tallied(booking.admit_waiting()).await;
        let took = tick_started.elapsed();
        let figures = match report {
            Ok(report) => {
                minute.ticks += 1;
                minute.admitted += report.admitted();
                minute.dropped += report.dropped();
                minute.deferred += report.deferred;
                report.figures()
            }
            Err(error) => {
                warn!(%error, "admission tick failed; the next slot tries again");
                minute.failed_ticks += 1;
                metrics::TickFigures {
                    failed: true,
                    ..metrics::TickFigures::default()
                }
            }
        };
        metrics.emit(|| metrics::tick_lines(&figures, &tally, took, SystemTime::now()));
        // A tick that overran its next slots skips them: the next tick is the slot now.
        slot = (slot + 1).max(slot_now());
    }
    Ok(minute)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::SystemClock;
    use crate::store::{GatedStore, MemoryStore, Script};
    use crate::Settings;

    fn admitter(script: &Arc<Script>) -> Ticketing {
        let store = GatedStore::new(Arc::new(MemoryStore::new()), script.clone());
        let settings = Settings {
            admit_tick_seconds: 1,
            ..Settings::default()
        };
        Ticketing::new(Arc::new(store), Arc::new(SystemClock), settings)
    }

    #[tokio::test]
    async fn a_tick_that_overruns_its_slots_never_starts_another_past_the_deadline() {
        let script = Script::new();
        let slow = script.hold_next("live_queues");
        let booking = admitter(&script);
        // The first tick outlasts the next slot (1 s on); the three seconds left are under the
        // margin a tick needs, so the slot it carried the clock past is not ticked.
        tokio::spawn(async move {
            slow.reached().await;
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            slow.release();
        });
        let deadline = SystemTime::now() + Duration::from_secs(3);
        let minute = admit_for_a_minute(&booking, &MetricsSink::memory(), deadline)
            .await
            .unwrap();
        assert_eq!((minute.ticks, minute.failed_ticks), (1, 0), "{minute:?}");
    }

    #[tokio::test]
    async fn a_failed_tick_is_counted_and_the_next_slot_ticks() {
        let script = Script::new();
        // The tick reads the live queues a few times before it gives up.
        script.refuse_next_times("live_queues", 3);
        let booking = admitter(&script);
        let deadline = SystemTime::now() + Duration::from_secs(8);
        let minute = admit_for_a_minute(&booking, &MetricsSink::memory(), deadline)
            .await
            .unwrap();
        assert_eq!(minute.failed_ticks, 1, "{minute:?}");
        assert!(minute.ticks >= 1, "{minute:?}");
    }
}
