//! The metric lines every function emits (CloudWatch Embedded Metric Format), read back and
//! checked: well-formed for CloudWatch, and saying what happened. And what a DynamoDB that
//! throttles or stalls does to a request: counted, and refused in time rather than hung.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use ticketing::booking::Catalog;
use ticketing::domain::{ManualClock, Timestamp};
use ticketing::http::{handle, App, Endpoint};
use ticketing::lambda::admit_for_a_minute;
use ticketing::metrics::{MetricsSink, NAMESPACE};
use ticketing::store::{Connection, DynamoStore, MemoryStore, Store};
use ticketing::{Settings, Ticketing};

/// 2026-12-01T00:00:00Z.
const START: i64 = 1_796_083_200;

fn app(store: Arc<dyn Store>) -> (App, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_at(Timestamp::from_epoch_seconds(
        START,
    )));
    let booking = Ticketing::new(store, clock.clone(), Settings::default());
    let app = App {
        booking,
        trust_user_header: true,
        metrics: MetricsSink::memory(),
        edge: Default::default(),
    };
    (app, clock)
}

fn request(method: Method, path: &str, user: &str, token: Option<&str>, body: &str) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("x-user-id", user);
    if let Some(token) = token {
        builder = builder.header("x-queue-token", token);
    }
    let request = builder.body(Body::from(body)).unwrap();
    let params: HashMap<String, String> = [("concertId".to_owned(), "gala".to_owned())].into();
    request.with_path_parameters(params)
}

async fn call(app: &App, endpoint: Endpoint, request: Request) -> (u16, Value) {
    let response = handle(app, endpoint, request).await;
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        _ => Value::Null,
    };
    (response.status().as_u16(), body)
}

/// Every line is one EMF object CloudWatch accepts: each declared metric is a number at the
/// root, each dimension a string there. Returns the lines parsed.
fn emf_lines(sink: &MetricsSink) -> Vec<Value> {
    sink.lines()
        .iter()
        .map(|line| {
            assert!(!line.contains('\n'), "one line each");
            let line: Value = serde_json::from_str(line).expect("JSON");
            let aws = &line["_aws"];
            assert!(aws["Timestamp"].as_u64().unwrap() > 1_600_000_000_000);
            for directive in aws["CloudWatchMetrics"].as_array().unwrap() {
                assert_eq!(directive["Namespace"], NAMESPACE);
                for set in directive["Dimensions"].as_array().unwrap() {
                    for dimension in set.as_array().unwrap() {
                        let name = dimension.as_str().unwrap();
                        assert!(line[name].is_string(), "dimension {name} in {line}");
                    }
                }
                for metric in directive["Metrics"].as_array().unwrap() {
                    let name = metric["Name"].as_str().unwrap();
                    assert!(line[name].is_number(), "metric {name} in {line}");
                    assert!(["Count", "Milliseconds"].contains(&metric["Unit"].as_str().unwrap()));
                }
            }
            line
        })
        .collect()
}

/// The request lines of one endpoint.
fn of(lines: &[Value], endpoint: &str) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l["Endpoint"] == endpoint)
        .cloned()
        .collect()
}

#[tokio::test]
async fn every_request_and_tick_says_what_happened() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (app, clock) = app(store.clone());
    let catalog = Catalog::from_json(
        r#"{"concerts": [{"concertId": "gala", "title": "Gala", "dates": ["2026-12-24"],
            "seatPrices": [{"fromSeat": 1, "toSeat": 50, "price": 80000}]}]}"#,
    )
    .unwrap();
    app.booking.load_catalog(&catalog).await.unwrap();

    let join = || request(Method::POST, "/concerts/gala/queue/tokens", "ana", None, "");
    let (status, ticket) = call(&app, Endpoint::JoinQueue, join()).await;
    assert_eq!(status, 201);
    assert_eq!(call(&app, Endpoint::JoinQueue, join()).await.0, 200);
    let token = ticket["token"].as_str().unwrap().to_owned();
    // Bo comes a second after ana: the one admission of the tick is ana's.
    clock.advance(1);
    call(
        &app,
        Endpoint::JoinQueue,
        request(Method::POST, "/concerts/gala/queue/tokens", "bo", None, ""),
    )
    .await;

    clock.advance(3);
    let deadline = SystemTime::now() + Duration::from_secs(90);
    let settings = Settings {
        admit_per_tick: 1,
        admit_tick_seconds: 60,
        ..Settings::default()
    };
    let ticker = App {
        booking: Ticketing::new(store, clock.clone(), settings),
        ..app.clone()
    };
    admit_for_a_minute(&ticker.booking, &ticker.metrics, deadline)
        .await
        .unwrap();

    let hold = r#"{"concertId": "gala", "date": "2026-12-24", "seatNumber": 9}"#;
    let (status, held) = call(
        &app,
        Endpoint::HoldSeat,
        request(Method::POST, "/reservations", "ana", Some(&token), hold),
    )
    .await;
    assert_eq!(status, 201, "{held}");
    let pay = format!(
        r#"{{"reservationId": "{}"}}"#,
        held["reservationId"].as_str().unwrap()
    );
    let paid = || request(Method::POST, "/payments", "ana", Some(&token), &pay);
    assert_eq!(call(&app, Endpoint::Pay, paid()).await.0, 409);
    call(
        &app,
        Endpoint::ChargeBalance,
        request(
            Method::POST,
            "/balance/charges",
            "ana",
            None,
            r#"{"amount": 80000}"#,
        ),
    )
    .await;
    assert_eq!(call(&app, Endpoint::Pay, paid()).await.0, 201);

    let lines = emf_lines(&app.metrics);
    let joins = of(&lines, "join-queue");
    assert_eq!(joins.len(), 3, "a line per request");
    let classes: Vec<&str> = joins
        .iter()
        .map(|l| l["StatusClass"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["2xx", "2xx", "2xx"]);
    let new_joins: f64 = joins.iter().filter_map(|l| l["Joins"].as_f64()).sum();
    assert_eq!(new_joins, 2.0, "a repeated join is not a new one");
    for line in &lines {
        if line["Endpoint"].is_string() {
            assert_eq!(line["Requests"], 1.0);
            assert!(line["Latency"].as_f64().unwrap() >= 0.0);
        }
    }

    let concert = lines
        .iter()
        .find(|l| l["ConcertId"] == "gala")
        .expect("the tick's line for the concert");
    assert_eq!(
        (
            &concert["Waiting"],
            &concert["Active"],
            &concert["Admitted"]
        ),
        (&Value::from(1.0), &Value::from(1.0), &Value::from(1.0))
    );
    let admitter = lines
        .iter()
        .find(|l| l["Ticks"].is_number())
        .expect("the admitter's line");
    assert_eq!(admitter["ConcertsDeferred"], 0.0);

    assert_eq!(of(&lines, "hold-seat")[0]["Holds"], 1.0);
    let payments = of(&lines, "pay");
    assert_eq!(payments.len(), 2);
    assert_eq!(
        (
            &payments[0]["StatusClass"],
            &payments[0]["Code"],
            &payments[0]["PaymentsRefused"]
        ),
        (
            &Value::from("4xx"),
            &Value::from("INSUFFICIENT_BALANCE"),
            &Value::from(1.0)
        )
    );
    assert_eq!(payments[1]["Sales"], 1.0);
    assert!(payments[1].get("PaymentsRefused").is_none());
}

/// A DynamoDB stand-in on loopback that answers every request with a throttling error.
async fn throttling_dynamodb() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                // One request per connection is all the SDK needs to see an answer.
                let _ = socket.read(&mut buffer).await;
                let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

/// One that accepts connections and never answers.
async fn stalled_dynamodb() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

/// Asks for ana's balance and expects the clean 503 a failing DynamoDB is answered with.
async fn balance_is_refused_with_a_503(app: &App) {
    let (status, problem) = call(
        app,
        Endpoint::GetBalance,
        request(Method::GET, "/balance", "ana", None, ""),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("SERVICE_UNAVAILABLE"))
    );
}

async fn store_at(endpoint: &str) -> Arc<dyn Store> {
    let connection = Connection {
        endpoint: Some(endpoint),
        attempt_timeout: Some(Duration::from_millis(200)),
        ..Connection::default()
    };
    Arc::new(DynamoStore::connect_with("metrics-test", connection).await)
}

#[tokio::test]
async fn throttled_attempts_are_counted_and_the_request_refused_with_a_503() {
    let endpoint = throttling_dynamodb().await;
    let (app, _) = app(store_at(&endpoint).await);
    balance_is_refused_with_a_503(&app).await;
    let lines = emf_lines(&app.metrics);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["StatusClass"], "5xx");
    // The SDK's standard retry makes three attempts; each was throttled.
    assert_eq!(lines[0]["DynamoDbThrottles"], 3.0, "{}", lines[0]);
}

#[tokio::test]
async fn a_stalled_dynamodb_is_refused_with_a_503_well_inside_a_function_timeout() {
    let endpoint = stalled_dynamodb().await;
    let (app, _) = app(store_at(&endpoint).await);
    let started = Instant::now();
    balance_is_refused_with_a_503(&app).await;
    // Three attempts of 200 ms and the backoff between them; the shortest function timeout is 5 s.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_call_out_of_budget_is_refused_before_its_attempts_run_out() {
    let endpoint = stalled_dynamodb().await;
    // Attempts long enough that three of them would outlast a 5 s function; the call's budget
    // ends it first.
    let connection = Connection {
        endpoint: Some(&endpoint),
        attempt_timeout: Some(Duration::from_secs(2)),
        call_budget: Some(Duration::from_millis(500)),
        ..Connection::default()
    };
    let store = Arc::new(DynamoStore::connect_with("metrics-test", connection).await);
    let (app, _) = app(store);
    let started = Instant::now();
    balance_is_refused_with_a_503(&app).await;
    // Without the budget: at least 6 s (three attempts of 2 s).
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_call_is_cut_at_the_invocations_deadline_and_answered_service_busy() {
    let endpoint = stalled_dynamodb().await;
    // A call that may take 3 s, in an invocation Lambda ends 1.5 s from now.
    let connection = Connection {
        endpoint: Some(&endpoint),
        attempt_timeout: Some(Duration::from_secs(2)),
        call_budget: Some(Duration::from_secs(3)),
        ..Connection::default()
    };
    let store = Arc::new(DynamoStore::connect_with("metrics-test", connection).await);
    let (app, _) = app(store);
    let invocation = Duration::from_millis(1_500);
    let mut context = lambda_http::Context::default();
    context.deadline = (SystemTime::now() + invocation)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let balance = request(Method::GET, "/balance", "ana", None, "").with_lambda_context(context);
    let started = Instant::now();
    let response = handle(&app, Endpoint::GetBalance, balance).await;
    let took = started.elapsed();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let Body::Text(text) = response.body() else {
        panic!("a problem body")
    };
    assert!(text.contains("SERVICE_BUSY"), "{text}");
    // Answered with the margin to spare, not after the call's 3 s.
    assert!(
        took < invocation - ticketing::deadline::ANSWER_MARGIN + Duration::from_millis(300),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_on_every_route_even_one_that_reads_none() {
    let (app, _) = app(Arc::new(MemoryStore::new()));
    let oversized = "x".repeat(ticketing::http::MAX_BODY_BYTES + 1);
    for (endpoint, method, path) in [
        (Endpoint::GetBalance, Method::GET, "/balance"),
        (Endpoint::ListConcerts, Method::GET, "/concerts"),
        (
            Endpoint::JoinQueue,
            Method::POST,
            "/concerts/gala/queue/tokens",
        ),
    ] {
        let (status, problem) = call(
            &app,
            endpoint,
            request(method, path, "ana", None, &oversized),
        )
        .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (413, Some("PAYLOAD_TOO_LARGE")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_concert_body_has_its_own_larger_cap_in_the_lambda_handler_too() {
    let (app, _) = app(Arc::new(MemoryStore::new()));
    let (small, large) = (
        ticketing::http::MAX_BODY_BYTES,
        ticketing::http::MAX_CONCERT_BODY_BYTES,
    );
    // Over the common cap, a concert is read (a fan's identity is then refused as no
    // operator's); over its own cap, it is refused unread.
    for (bytes, status, code) in [
        (small + 1, 401, "OPERATOR_REQUIRED"),
        (large, 401, "OPERATOR_REQUIRED"),
        (large + 1, 413, "PAYLOAD_TOO_LARGE"),
    ] {
        let body = "x".repeat(bytes);
        let (answered, problem) = call(
            &app,
            Endpoint::AddConcert,
            request(Method::POST, "/admin/concerts", "ana", None, &body),
        )
        .await;
        assert_eq!(
            (answered, problem["code"].as_str()),
            (status, Some(code)),
            "{bytes} bytes"
        );
    }
}
