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
        let app = App::from_env()?;
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
/// saves spawning them (about 0.3 ms of 2.3; README, "Function size and startup").
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
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut minute = MinuteOfAdmission::default();
    for slot in start / every..(start + 60) / every {
        let at = UNIX_EPOCH + Duration::from_secs(slot * every);
        let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
        let time_left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        // The slot now is always ticked; a later one only with room to finish.
        if !wait.is_zero() && wait + DEADLINE_MARGIN > time_left {
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
    }
    Ok(minute)
}
