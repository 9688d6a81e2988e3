//! Chaos: the real local server on DynamoDB Local behind `scripts/fault_proxy.py`, which
//! throttles, fails, loses and delays a share of DynamoDB's answers, and cancels transactions
//! (and refuses single-item writes) that meet a transaction in flight on one of their items, as
//! DynamoDB does, while dozens of fans walk the whole journey over HTTP and retry as careful
//! clients do. Afterwards, with faults off, the API must show that no seat was sold twice, no
//! charge or payment applied twice, and no fan told a wrong answer about its own seat or key.
//!
//! Needs `TEST_FAULT_PROXY_ENDPOINT` (scripts/dynamodb-local starts the proxy in front of
//! DynamoDB Local and sets it); required, never skipped, when `REQUIRE_DYNAMODB=1`. The run's report is written to
//! `target/tmp/chaos-report.txt` (and its summary line, which scripts/test prints, to
//! `chaos-summary.txt`); the server's log to `target/tmp/chaos-server.log`.
//!
//! What this relies on in DynamoDB Local (3.3.1), checked against the service's documented
//! behaviour before the suite moved onto it: a `TransactWriteItems` repeated with its
//! `ClientRequestToken` (the SDK sends one, and repeats it on a retry) succeeds again without
//! writing, and with other parameters fails `IdempotentParameterMismatchException`; so a
//! transaction whose answer the proxy lost is retried harmlessly, as in production. DynamoDB
//! Local never throttles and never cancels for `TransactionConflict`: every throttle, 500 and
//! conflict here is the proxy's. Its conflict window keeps each transaction in flight
//! [`CONFLICT_WINDOW_MS`] before DynamoDB Local applies it: the crowd's writes on a date's ledger
//! shards and seat blocks, the tick's on the tickets, meet one another there.

mod audit;
mod client;
mod fan;
mod proxy;
mod report;
mod server;
mod settle;
mod topups;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::client::Api;
use crate::fan::End;
use crate::proxy::FaultProxy;
use crate::report::Report;
use crate::server::Server;

/// Enough fans to contend for the one date's 50 seats.
const FANS: usize = 40;
/// The share of DynamoDB requests that fail one way or another during the run.
const FAULT_RATE: f64 = 0.30;
/// How long each transaction is in flight, owning its items, during the run: about a real
/// transaction's, and the crowd still meets on a date's ledger shards and seat blocks a hundred
/// times or more a run. Most conflicts are mended by the store's resends; a few outlast its
/// budget (1 s) and are answered 503. Longer windows add seconds to every journey (150 ms made
/// the run 20 s longer) without testing anything more.
const CONFLICT_WINDOW_MS: u64 = 25;
/// The run's overall deadline: fans that have not paid by then stop. Under these faults a
/// journey takes 25 to 60 s on two cores (retries, late answers, timed-out requests), more on
/// a busy machine; the deadline bounds the test, it is not what it checks.
const RUN: Duration = Duration::from_secs(90);
/// Time for requests still running in the server to end before anything is read back.
const GRACE: Duration = Duration::from_secs(5);
/// Settling may have to wait out an idempotency key's 60-second in-flight lock.
const SETTLE: Duration = Duration::from_secs(65);
const AUDIT: Duration = Duration::from_secs(60);

/// The fault proxy is one for the whole binary: its runs take turns.
pub static PROXY_IN_USE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fans_retrying_through_dynamodb_faults_never_double_sell_or_double_charge() {
    let Some(proxy) = FaultProxy::from_env() else {
        return;
    };
    let _turn = PROXY_IN_USE.lock().await;
    // Start-up (table, catalog) without faults; the fault mix for the run.
    proxy.quiet_with_the_runs_mix().await;
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::remove_file(scratch.join("chaos-summary.txt"));
    let server = Server::start(&proxy.endpoint, &scratch.join("chaos-server.log"));
    let api = Api::new(&server.base, &server.table);

    proxy.reset_stats().await;
    let faults = proxy.faults_on(FAULT_RATE, CONFLICT_WINDOW_MS).await;
    let started = Instant::now();
    let journeys = (0..FANS).map(|i| fan::journey(&api, format!("fan-{i:02}"), started + RUN));
    let mut fans = futures::future::join_all(journeys).await;
    let run = started.elapsed();
    let fault_counts = proxy.stats().await;
    drop(faults);
    let run_answers = api.take_tally();

    tokio::time::sleep(GRACE).await;
    let settling = Instant::now();
    let mut broken = settle::settle(&api, &mut fans, settling + SETTLE).await;
    let settled = settling.elapsed();
    let auditing = Instant::now();
    broken.extend(audit::audit(&api, &fans, auditing + AUDIT).await);
    let dynamodb = std::env::var("TEST_DYNAMODB_ENDPOINT").unwrap_or_default();
    broken.extend(audit::table_audit(&dynamodb, &server.table, &fans).await);
    let audited = auditing.elapsed();

    // A run that injected nothing, or in which nobody got through, proved nothing.
    for fault in ["throttle", "server_error", "lost_response", "late_answer"] {
        if fault_counts["faults"][fault].as_u64().unwrap_or(0) == 0 {
            broken.push(format!("the proxy injected no {fault}: {fault_counts}"));
        }
    }
    if fault_counts["conflicts"].as_u64().unwrap_or(0) == 0 {
        broken.push(format!(
            "the proxy cancelled no write for a transaction in flight: {fault_counts}"
        ));
    }
    let paid = fans.iter().filter(|f| f.end == End::Paid).count();
    if paid * 2 < FANS {
        broken.push(format!(
            "only {paid} of {FANS} fans paid within {} s",
            RUN.as_secs()
        ));
    }

    let report = Report {
        fault_rate: FAULT_RATE,
        conflict_window_ms: CONFLICT_WINDOW_MS,
        run,
        run_limit: RUN,
        settle: settled,
        audit: audited,
        fans: &fans,
        faults: &fault_counts,
        run_answers: &run_answers,
        settle_answers: &api.take_tally(),
        broken: &broken,
    };
    report.save(scratch);
    eprintln!("{}", report.render());
    assert!(
        broken.is_empty(),
        "{} broken rules under DynamoDB faults (report above; also in {}):\n{}",
        broken.len(),
        scratch.join("chaos-report.txt").display(),
        broken.join("\n")
    );
}
