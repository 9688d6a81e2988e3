//! Metrics in CloudWatch's Embedded Metric Format: one JSON line per request (and per concert
//! per admission tick) on stdout, which CloudWatch Logs turns into metrics. No request of ours
//! is sent for them, and a function that dies mid-request loses only its own line.
//!
//! What a line carries:
//! - a request: `Requests` and `Latency` by `Endpoint` (the function's name) and `StatusClass`;
//!   and, when they happened, `Joins`, `Holds`, `Sales`, `CommitRetries`,
//!   `DynamoDbThrottles` (service-wide), and `PaymentsRefused` by `Code`;
//! - a tick, per concert (`ConcertId`): `Waiting`, `Active`, `Admitted`, `Dropped`;
//! - a tick, for the admitter: `Ticks` (or `TickFailures`, when it could not read which queues
//!   are live), `TickLatency`, `ConcertsDeferred` (a concert whose tick failed or found its
//!   slot taken: its fans wait a tick longer).
//!
//! Events deep in an operation (a commit refused and retried, a throttled DynamoDB attempt) are
//! counted in a task-local tally that the request or tick opens around its work, so that
//! concurrent requests on the local server never mix their counts.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Ticketing";

/// Something an operation noticed on its way, counted for the request or tick it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Event {
    /// A commit refused because the state moved underneath it, read again and retried.
    CommitRetry,
    /// A DynamoDB attempt answered with a throttling error (the SDK retries it).
    DynamoDbThrottle,
}

impl Event {
    fn metric(self) -> &'static str {
        match self {
            Event::CommitRetry => "CommitRetries",
            Event::DynamoDbThrottle => "DynamoDbThrottles",
        }
    }
}

/// What one request or tick counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally(BTreeMap<Event, u64>);

impl Tally {
    pub fn get(&self, event: Event) -> u64 {
        self.0.get(&event).copied().unwrap_or(0)
    }
}

tokio::task_local! {
    static TALLY: RefCell<Tally>;
}

/// Counts `event` for the request or tick being served (nothing outside one).
pub fn record(event: Event) {
    let _ = TALLY.try_with(|tally| *tally.borrow_mut().0.entry(event).or_default() += 1);
}

/// Runs `work` with a tally of its own, and returns what it counted.
pub async fn tallied<T>(work: impl Future<Output = T>) -> (T, Tally) {
    TALLY
        .scope(RefCell::new(Tally::default()), async {
            let output = work.await;
            (output, TALLY.with(|tally| tally.take()))
        })
        .await
}

/// Where metric lines go: stdout in Lambda, nowhere on the local server, a buffer in tests.
#[derive(Debug, Clone, Default)]
pub enum MetricsSink {
    #[default]
    Off,
    Stdout,
    Memory(Arc<Mutex<Vec<String>>>),
}

impl MetricsSink {
    pub fn memory() -> Self {
        MetricsSink::Memory(Arc::default())
    }

    /// Writes the lines `lines` makes; with the sink off they are not even made (a request's
    /// line costs the local server a seventh of its CPU).
    pub fn emit(&self, lines: impl FnOnce() -> Vec<String>) {
        match self {
            MetricsSink::Off => {}
            MetricsSink::Stdout => {
                for line in lines() {
                    println!("{line}");
                }
            }
            MetricsSink::Memory(kept) => {
                let lines = lines();
                if let Ok(mut kept) = kept.lock() {
                    kept.extend(lines);
                }
            }
        }
    }

    /// The lines emitted so far (a `Memory` sink's; empty for the others).
    pub fn lines(&self) -> Vec<String> {
        match self {
            MetricsSink::Memory(lines) => lines.lock().map(|l| l.clone()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// One line: the EMF directive for `groups` (each a set of dimension names and its metrics,
/// with their units), and the values at the root.
struct Line {
    directives: Vec<Value>,
    root: Map<String, Value>,
}

impl Line {
    fn new() -> Self {
        Line {
            directives: Vec::new(),
            root: Map::new(),
        }
    }

    fn dimension(mut self, name: &str, value: &str) -> Self {
        self.root.insert(name.into(), value.into());
        self
    }

    /// A value searchable in the log that is no dimension of any metric.
    fn property(self, name: &str, value: &str) -> Self {
        self.dimension(name, value)
    }

    /// Metrics sharing the dimension sets `dimensions`; `None` values are left out.
    fn metrics(mut self, dimensions: &[&[&str]], metrics: &[(&str, &str, Option<f64>)]) -> Self {
        let present: Vec<&(&str, &str, Option<f64>)> =
            metrics.iter().filter(|(_, _, v)| v.is_some()).collect();
        if present.is_empty() {
            return self;
        }
        for (name, _, value) in &present {
            self.root.insert((*name).into(), json!(value));
        }
        self.directives.push(json!({
            "Namespace": NAMESPACE,
            "Dimensions": dimensions,
            "Metrics": present
                .iter()
                .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
                .collect::<Vec<_>>(),
        }));
        self
    }

    fn render(mut self, at: SystemTime) -> String {
        let millis = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.root.insert(
            "_aws".into(),
            json!({"Timestamp": millis, "CloudWatchMetrics": self.directives}),
        );
        Value::Object(self.root).to_string()
    }
}

/// Counts above zero, as a metric value; zero is left out of the line.
fn count(n: u64) -> Option<f64> {
    (n > 0).then_some(n as f64)
}

fn millis(d: Duration) -> Option<f64> {
    Some(d.as_secs_f64() * 1000.0)
}

/// What the invocation's tally counted, as the metrics every line carries.
fn counted(tally: &Tally) -> [(&'static str, &'static str, Option<f64>); 2] {
    [Event::CommitRetry, Event::DynamoDbThrottle]
        .map(|event| (event.metric(), "Count", count(tally.get(event))))
}

/// What one API request did.
pub struct RequestOutcome<'a> {
    /// The function that serves the endpoint, e.g. `hold-seat`.
    pub endpoint: &'a str,
    /// The id the answer carried (`X-Request-Id`), to find the request from a fan's quote.
    pub request_id: &'a str,
    pub status: u16,
    /// The problem's code, when the request failed.
    pub code: Option<&'a str>,
    pub latency: Duration,
    /// A join that queued a new ticket, a new hold, a sale.
    pub joined: bool,
    pub held: bool,
    pub sold: bool,
    /// A payment refused (by code).
    pub payment_refused: bool,
}

pub fn request_line(outcome: &RequestOutcome<'_>, tally: &Tally, at: SystemTime) -> String {
    let class = format!("{}xx", outcome.status / 100);
    let flag = |b: bool| count(u64::from(b));
    let mut line = Line::new()
        .dimension("Endpoint", outcome.endpoint)
        .dimension("StatusClass", &class)
        .property("RequestId", outcome.request_id)
        .metrics(
            &[&["Endpoint", "StatusClass"], &["Endpoint"]],
            &[
                ("Requests", "Count", Some(1.0)),
                ("Latency", "Milliseconds", millis(outcome.latency)),
            ],
        )
        .metrics(
            &[&[]],
            &[
                &[
                    ("Joins", "Count", flag(outcome.joined)),
                    ("Holds", "Count", flag(outcome.held)),
                    ("Sales", "Count", flag(outcome.sold)),
                ][..],
                &counted(tally),
            ]
            .concat(),
        );
    if let (true, Some(code)) = (outcome.payment_refused, outcome.code) {
        line = line
            .dimension("Code", code)
            .metrics(&[&["Code"]], &[("PaymentsRefused", "Count", Some(1.0))]);
    }
    line.render(at)
}

/// A tick's lines: one per concert it ticked, and one for the admitter.
/// What a tick did, in the figures its lines carry: the operations describe their tick in these
/// (`booking::AdmissionReport::figures`), so that metrics depend on nothing above them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickFigures {
    pub concerts: Vec<ConcertTickFigures>,
    pub deferred: usize,
    /// The tick could not even learn which queues are live: it counts as `TickFailures`, not
    /// as one of the `Ticks`.
    pub failed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConcertTickFigures {
    pub concert_id: String,
    pub waiting: u64,
    pub active: u32,
    pub admitted: usize,
    pub dropped: usize,
}

pub fn tick_lines(
    tick: &TickFigures,
    tally: &Tally,
    latency: Duration,
    at: SystemTime,
) -> Vec<String> {
    let mut lines: Vec<String> = tick.concerts.iter().map(|c| concert_line(c, at)).collect();
    lines.push(
        Line::new()
            .metrics(
                &[&[]],
                &[
                    &[
                        if tick.failed {
                            ("TickFailures", "Count", Some(1.0))
                        } else {
                            ("Ticks", "Count", Some(1.0))
                        },
                        ("TickLatency", "Milliseconds", millis(latency)),
                        ("ConcertsDeferred", "Count", Some(tick.deferred as f64)),
                    ][..],
                    &counted(tally),
                ]
                .concat(),
            )
            .render(at),
    );
    lines
}

fn concert_line(tick: &ConcertTickFigures, at: SystemTime) -> String {
    Line::new()
        .dimension("ConcertId", &tick.concert_id)
        .metrics(
            &[&["ConcertId"]],
            &[
                ("Waiting", "Count", Some(tick.waiting as f64)),
                ("Active", "Count", Some(f64::from(tick.active))),
                ("Admitted", "Count", Some(tick.admitted as f64)),
                ("Dropped", "Count", Some(tick.dropped as f64)),
            ],
        )
        .render(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_count_within_their_tally_only() {
        record(Event::CommitRetry);
        let ((), tally) = tallied(async {
            record(Event::CommitRetry);
            record(Event::DynamoDbThrottle);
            record(Event::CommitRetry);
        })
        .await;
        assert_eq!(tally.get(Event::CommitRetry), 2);
        assert_eq!(tally.get(Event::DynamoDbThrottle), 1);
        let ((), other) = tallied(async {}).await;
        assert_eq!(other, Tally::default());
    }
}
