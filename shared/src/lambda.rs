//! The two kinds of Lambda function: one HTTP endpoint, or the scheduled admission tick. A
//! function's `main` calls one of these; the clients are built once per cold start.

use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use lambda_http::{service_fn, Error, Request};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;

use crate::booking::AdmissionReport;
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
    pub admitted: usize,
    pub dropped: usize,
    pub deferred: usize,
}

/// The schedule fires once a minute; this ticks every `admit_tick_seconds` within it, stopping
/// early rather than running into the invocation's deadline. Each tick leaves its metric lines.
pub async fn admit_for_a_minute(
    booking: &Ticketing,
    metrics: &MetricsSink,
    deadline: SystemTime,
) -> Result<MinuteOfAdmission, Error> {
    let every = Duration::from_secs(booking.settings().admit_tick_seconds.max(1));
    let started = Instant::now();
    let mut minute = MinuteOfAdmission::default();
    loop {
        let tick_started = Instant::now();
        let (report, tally) = metrics::tallied(booking.admit_waiting()).await;
        let report: AdmissionReport = report?;
        let took = tick_started.elapsed();
        metrics.emit(|| metrics::tick_lines(&report.figures(), &tally, took, SystemTime::now()));
        minute.ticks += 1;
        minute.admitted += report.admitted();
        minute.dropped += report.dropped();
        minute.deferred += report.deferred;
        let next = started + every * minute.ticks;
        let time_left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        if next >= started + Duration::from_secs(60)
            || next.saturating_duration_since(Instant::now()) + Duration::from_secs(5) > time_left
        {
            return Ok(minute);
        }
        tokio::time::sleep_until(next.into()).await;
    }
}
