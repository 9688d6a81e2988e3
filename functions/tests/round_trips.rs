//! What each function's caller waits for on DynamoDB. The sample events walk a fan's journey
//! through the functions' handlers on DynamoDB Local (at `TEST_DYNAMODB_ENDPOINT`), with the SDK
//! logging every attempt and when it was sent and answered. A request's sequential round trips
//! are its longest chain of DynamoDB requests each sent after the one before it was answered:
//! requests in flight together count once.
//!
//! Each function runs in its own container (its own `Ticketing`, with its own cache), as on
//! Lambda, so a container's first request is measured apart from the ones after it. The figures
//! are held to docs/scale.md's table "Round trips per request", row by row.

mod sample;

use std::collections::BTreeMap;
use std::sync::Arc;

use sample::{event, invoke, root, with_body, with_path, with_token};
use serde_json::Value;
use ticketing::booking::Catalog;
use ticketing::domain::{ManualClock, Timestamp};
use ticketing::http::App;
use ticketing::metrics::MetricsSink;
use ticketing::store::meter::{sequential_round_trips, RequestLog};
use ticketing::store::{Connection, DynamoStore, Store};
use ticketing::{Settings, Ticketing};

/// 2027-03-01T00:00:00Z, before the example catalog's dates.
const START: i64 = 1_803_859_200;
const DOCS_SECTION: &str = "## Round trips per request";

/// Lambda containers, one per function, each started cold on its first request.
struct Containers {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    started: BTreeMap<String, App>,
}

impl Containers {
    fn of(&mut self, function: &str) -> &App {
        self.started
            .entry(function.to_owned())
            .or_insert_with(|| App {
                booking: Ticketing::new(
                    self.store.clone(),
                    self.clock.clone(),
                    Settings::default(),
                ),
                trust_user_header: false,
                metrics: MetricsSink::Off,
                edge: Default::default(),
            })
    }
}

/// What one request cost: DynamoDB requests sent, and the round trips waited for in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cost {
    requests: usize,
    round_trips: usize,
}

/// The journey's measured rows: (function, request) and its cost, in the order they ran.
type Rows = Vec<((String, String), Cost)>;

struct Journey {
    containers: Containers,
    log: RequestLog,
    rows: Rows,
}

impl Journey {
    /// Sends one event through its function's container and notes what it cost as `request`.
    async fn send(&mut self, function: &str, request: &str, event: Value) -> (u16, Value) {
        self.log.take();
        // A fresh poll, as an invocation that waited for its event has: tokio's cooperative
        // budget, spent by the step before, would otherwise defer a request's send to a later
        // poll, by which time the server on loopback may have answered its neighbour.
        tokio::task::yield_now().await;
        let answer = invoke(self.containers.of(function), function, &event).await;
        let sent = self.log.take_timed();
        assert!(
            sent.iter().all(|r| r.answered.is_some()),
            "{function}: every request was answered before the response"
        );
        let cost = Cost {
            requests: sent.len(),
            round_trips: sequential_round_trips(&sent),
        };
        self.rows
            .push(((function.to_owned(), request.to_owned()), cost));
        answer
    }
}

/// The rows of docs/scale.md: (function, request) to its cost.
fn readme_rows() -> BTreeMap<(String, String), Cost> {
    let path = root().join("docs").join("scale.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let section = text
        .split_once(DOCS_SECTION)
        .unwrap_or_else(|| panic!("docs/scale.md has no section {DOCS_SECTION:?}"))
        .1;
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [function, request, requests, round_trips] = cells[..] else {
            panic!("a row of four cells: {line}");
        };
        let (Ok(requests), Ok(round_trips)) = (requests.parse(), round_trips.parse()) else {
            continue; // the header and its rule
        };
        let key = (function.to_owned(), request.to_owned());
        let cost = Cost {
            requests,
            round_trips,
        };
        assert!(rows.insert(key, cost).is_none(), "a row twice: {line}");
    }
    rows
}

fn markdown(rows: &Rows) -> String {
    rows.iter()
        .map(|((function, request), cost)| {
            format!(
                "| {function} | {request} | {} | {} |\n",
                cost.requests, cost.round_trips
            )
        })
        .collect()
}

// One thread, as a function serves (on the calling thread): no answer can land while a request's
// own poll is still signing its neighbours, so requests started together are timed together
// however fast the server answers (DynamoDB Local answers within a debug build's signing time).
#[tokio::test(flavor = "current_thread")]
async fn each_request_waits_for_the_round_trips_the_readme_says() {
    let Ok(endpoint) = std::env::var("TEST_DYNAMODB_ENDPOINT") else {
        assert!(
            std::env::var("REQUIRE_DYNAMODB").as_deref() != Ok("1"),
            "REQUIRE_DYNAMODB=1 but TEST_DYNAMODB_ENDPOINT is not set"
        );
        eprintln!("TEST_DYNAMODB_ENDPOINT not set: round trips not measured");
        return;
    };
    let log = RequestLog::default();
    let table = format!("round-trips-{}", uuid::Uuid::new_v4().simple());
    // The client the functions build, not the tools' one.
    let connection = Connection {
        endpoint: Some(&endpoint),
        log: Some(log.clone()),
        ..Connection::default()
    };
    let dynamo = DynamoStore::for_lambda_with(table, connection).unwrap();
    dynamo
        .create_table_if_missing(ticketing::store::Expiry::Kept)
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(dynamo);
    let clock = Arc::new(ManualClock::starting_at(Timestamp::from_epoch_seconds(
        START,
    )));
    let catalog = std::fs::read_to_string(root().join("catalog/example.json")).unwrap();
    let operator = Ticketing::new(store.clone(), clock.clone(), Settings::default());
    operator
        .load_catalog(&Catalog::from_json(&catalog).unwrap())
        .await
        .unwrap();
    let mut journey = Journey {
        containers: Containers {
            store,
            clock: clock.clone(),
            started: BTreeMap::new(),
        },
        log,
        rows: Rows::new(),
    };

    let (status, _) = journey
        .send("list-concerts", "`GET /concerts`", event("list-concerts"))
        .await;
    assert_eq!(status, 200);

    let (status, ticket) = journey
        .send(
            "join-queue",
            "`POST .../queue/tokens`, the container's first",
            event("join-queue"),
        )
        .await;
    assert_eq!(status, 201);
    let token = ticket["token"].clone();
    let (status, _) = journey
        .send(
            "join-queue",
            "`POST .../queue/tokens`, already queued",
            event("join-queue"),
        )
        .await;
    assert_eq!(status, 200);

    // The tick admits from seconds that have settled; its requests are not a fan's.
    clock.advance(3);
    operator.admit_waiting().await.unwrap();

    for request in [
        "`GET /queue/status`, the container's first",
        "`GET /queue/status`",
    ] {
        let poll = with_token(event("queue-status"), &token);
        let (status, polled) = journey.send("queue-status", request, poll).await;
        assert_eq!((status, polled["status"].as_str()), (200, Some("ACTIVE")));
    }
    for request in ["`GET .../dates`, the container's first", "`GET .../dates`"] {
        let dates = with_token(event("list-dates"), &token);
        let (status, _) = journey.send("list-dates", request, dates).await;
        assert_eq!(status, 200);
    }
    for request in ["`GET .../seats`, the container's first", "`GET .../seats`"] {
        let seats = with_token(event("list-seats"), &token);
        let (status, _) = journey.send("list-seats", request, seats).await;
        assert_eq!(status, 200);
    }
    for request in [
        "`GET .../sections`, the container's first",
        "`GET .../sections`",
    ] {
        let sections = with_token(event("list-sections"), &token);
        let (status, _) = journey.send("list-sections", request, sections).await;
        assert_eq!(status, 200);
    }

    let hold = |seat: u8| {
        let mut body: Value = serde_json::from_str(event("hold-seat")["body"].as_str().unwrap())
            .expect("a JSON body");
        body["seatNumber"] = seat.into();
        with_body(with_token(event("hold-seat"), &token), body)
    };
    let (status, paid) = journey
        .send(
            "hold-seat",
            "`POST /reservations`, the container's first",
            hold(7),
        )
        .await;
    assert_eq!(status, 201);
    let (status, released) = journey
        .send("hold-seat", "`POST /reservations`", hold(8))
        .await;
    assert_eq!(status, 201);
    let (status, again) = journey
        .send(
            "hold-seat",
            "`POST /reservations`, the holder's retry",
            hold(8),
        )
        .await;
    assert_eq!((status, &again), (200, &released));

    let (status, _) = journey
        .send(
            "list-reservations",
            "`GET /reservations`",
            event("list-reservations"),
        )
        .await;
    assert_eq!(status, 200);
    let read = with_path(
        event("get-reservation"),
        "reservationId",
        &paid["reservationId"],
    );
    let (status, _) = journey
        .send("get-reservation", "`GET /reservations/{id}`", read)
        .await;
    assert_eq!(status, 200);
    let release = with_path(
        event("release-reservation"),
        "reservationId",
        &released["reservationId"],
    );
    let (status, _) = journey
        .send(
            "release-reservation",
            "`DELETE /reservations/{id}`",
            release,
        )
        .await;
    assert_eq!(status, 204);

    let (status, _) = journey
        .send(
            "charge-balance",
            "`POST /balance/charges` with an Idempotency-Key",
            event("charge-balance"),
        )
        .await;
    assert_eq!(status, 200);
    let pay = with_body(
        with_token(event("pay"), &token),
        serde_json::json!({ "reservationId": paid["reservationId"] }),
    );
    let (status, receipt) = journey
        .send("pay", "`POST /payments` with an Idempotency-Key", pay)
        .await;
    assert_eq!(status, 201);
    let read = with_path(event("get-payment"), "paymentId", &receipt["paymentId"]);
    let (status, _) = journey
        .send("get-payment", "`GET /payments/{id}`", read)
        .await;
    assert_eq!(status, 200);
    let (status, _) = journey
        .send("get-balance", "`GET /balance`", event("get-balance"))
        .await;
    assert_eq!(status, 200);
    let (status, _) = journey
        .send(
            "list-balance-transactions",
            "`GET /balance/transactions`",
            event("list-balance-transactions"),
        )
        .await;
    assert_eq!(status, 200);

    let measured = markdown(&journey.rows);
    eprintln!("measured:\n{measured}");
    let expected = readme_rows();
    let rows: BTreeMap<_, _> = journey.rows.into_iter().collect();
    assert_eq!(
        rows, expected,
        "docs/scale.md's table {DOCS_SECTION:?} differs from what was measured:\n{measured}"
    );
}
