//! Paid top-ups through DynamoDB faults: the local server in provider mode (against a fake
//! Stripe on 127.0.0.1) behind the fault proxy. Fans start top-ups and retry as careful clients
//! do (same Idempotency-Key); Stripe's signed `payment_intent.succeeded` is delivered several
//! times at once and again later, each delivery resent until it is answered 200, as Stripe
//! resends. Afterwards, faults off, every fan's balance is exactly its top-up: credited once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use ticketing::stripe::signature;

use crate::proxy::FaultProxy;
use crate::server::Server;

const FANS: usize = 10;
const WEBHOOK_SECRET: &str = "whsec_chaos";
const DEADLINE: Duration = Duration::from_secs(90);

/// A fake Stripe that answers every PaymentIntent create (a resent Idempotency-Key gets the
/// same PaymentIntent, as at Stripe).
fn fake_stripe() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut key) = (0, String::new());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap_or(("", ""));
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "idempotency-key" => key = value.trim().to_owned(),
                    _ => {}
                }
            }
            let mut form = vec![0; length];
            let _ = reader.read_exact(&mut form);
            let id = format!("pi_{}", key.replace('-', ""));
            let body = json!({"id": id, "client_secret": format!("{id}_secret_chaos")}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

/// Sends until the answer is not a 5xx or a lost one (or an in-flight key), or the deadline.
async fn until_answered(
    request: impl Fn() -> reqwest::RequestBuilder,
    deadline: Instant,
) -> (u16, Value) {
    loop {
        if let Ok(response) = request().send().await {
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let in_flight = body["code"] == "IDEMPOTENCY_KEY_IN_USE";
            if status < 500 && !in_flight {
                return (status, body);
            }
        }
        assert!(Instant::now() < deadline, "no answer before the deadline");
        tokio::time::sleep(Duration::from_millis(200 + fastrand::u64(0..300))).await;
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paid_top_ups_redelivered_through_dynamodb_faults_credit_once() {
    let Some(proxy) = FaultProxy::from_env() else {
        return;
    };
    let _turn = crate::PROXY_IN_USE.lock().await;
    proxy.quiet_with_the_runs_mix().await;
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let server = Server::start_with(
        &proxy.endpoint,
        &scratch.join("chaos-topups-server.log"),
        &[
            ("TOPUP_MODE", "provider".into()),
            ("STRIPE_API_BASE", fake_stripe()),
            ("STRIPE_SECRET_KEY", "sk_test_chaos".into()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
        ],
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = server.base.clone();
    let deadline = Instant::now() + DEADLINE;

    let faults = proxy.faults_on(0.3, 25).await;
    let journeys = (0..FANS).map(|i| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let fan = format!("payer-{i:02}");
            let amount = 10_000 * (i as i64 + 1);
            let (status, started) = until_answered(
                || {
                    http.post(format!("{base}/balance/charges"))
                        .header("X-User-Id", &fan)
                        .header("Idempotency-Key", format!("top-up-{fan}"))
                        .json(&json!({"amount": amount}))
                },
                deadline,
            )
            .await;
            assert_eq!(status, 202, "{fan}: {started}");
            let event = json!({
                "id": format!("evt_{fan}"), "type": "payment_intent.succeeded",
                "data": {"object": {"id": "pi_chaos", "amount": amount, "currency": "krw",
                    "metadata": {"top_up_id": started["topUpId"], "user_id": fan}}}
            })
            .to_string();
            // Stripe delivers at least once: here, four at once, then two more later.
            let deliver = || {
                let (http, base, event) = (http.clone(), base.clone(), event.clone());
                async move {
                    let (status, body) = until_answered(
                        || {
                            let header = signature::sign(event.as_bytes(), WEBHOOK_SECRET, now());
                            http.post(format!("{base}/webhooks/stripe"))
                                .header("Stripe-Signature", header)
                                .header("content-type", "application/json")
                                .body(event.clone())
                        },
                        deadline,
                    )
                    .await;
                    assert_eq!(status, 200, "{body}");
                }
            };
            futures::future::join_all((0..4).map(|_| deliver())).await;
            for _ in 0..2 {
                deliver().await;
            }
            (fan, amount, started["topUpId"].as_str().unwrap().to_owned())
        }
    });
    let fans = futures::future::join_all(journeys).await;
    let counts = proxy.stats().await;
    drop(faults);

    let mut broken = Vec::new();
    for (fan, amount, top_up) in &fans {
        let get = |path: String| {
            let (http, base, fan) = (http.clone(), base.clone(), fan.clone());
            async move {
                until_answered(
                    || http.get(format!("{base}{path}")).header("X-User-Id", &fan),
                    Instant::now() + Duration::from_secs(30),
                )
                .await
                .1
            }
        };
        let balance = get("/balance".into()).await;
        if balance["balance"].as_i64() != Some(*amount) {
            broken.push(format!("{fan}: paid {amount}, balance {balance}"));
        }
        let state = get(format!("/balance/charges/{top_up}")).await;
        if state["status"] != "SUCCEEDED" {
            broken.push(format!("{fan}: top-up {state}"));
        }
        let history = get("/balance/transactions".into()).await;
        let top_ups = history["items"].as_array().map_or(0, |items| {
            items.iter().filter(|i| i["type"] == "TOP_UP").count()
        });
        if top_ups != 1 {
            broken.push(format!("{fan}: {top_ups} TOP_UP entries: {history}"));
        }
    }
    let injected: u64 = ["throttle", "server_error", "lost_response", "late_answer"]
        .iter()
        .map(|f| counts["faults"][f].as_u64().unwrap_or(0))
        .sum();
    if injected == 0 {
        broken.push(format!("the proxy injected no fault: {counts}"));
    }
    eprintln!("paid top-ups through faults: {FANS} fans, {injected} faults injected");
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
