//! Provider mode over HTTP: the local server with `TOPUP_MODE=provider` creates PaymentIntents
//! at a fake Stripe (a small HTTP server here, on 127.0.0.1, that records what it is sent and
//! answers as Stripe does), and credits only webhooks signed here with Stripe's scheme.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use ticketing::stripe::signature;

use crate::server::{Backend, Options, Server};

const SECRET_KEY: &str = "sk_test_fake";
const WEBHOOK_SECRET: &str = "whsec_fake";

/// One PaymentIntent create as the fake received it.
#[derive(Debug, Clone)]
struct Received {
    request_line: String,
    authorization: String,
    idempotency_key: String,
    form: String,
}

/// A fake Stripe API: `POST /v1/payment_intents` answers a PaymentIntent; it keeps every
/// request, and answers a resent Idempotency-Key with the first PaymentIntent, as Stripe does.
struct FakeStripe {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeStripe {
    fn start() -> FakeStripe {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let (mut length, mut authorization, mut idempotency_key) =
                    (0, String::new(), String::new());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap_or(("", ""));
                    let value = value.trim().to_owned();
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.parse().unwrap_or(0),
                        "authorization" => authorization = value,
                        "idempotency-key" => idempotency_key = value,
                        _ => {}
                    }
                }
                let mut form = vec![0; length];
                let _ = reader.read_exact(&mut form);
                let form = String::from_utf8_lossy(&form).into_owned();
                let id = format!("pi_{}", idempotency_key.replace('-', ""));
                let amount = form
                    .split('&')
                    .find_map(|p| p.strip_prefix("amount="))
                    .unwrap_or("0")
                    .to_owned();
                log.lock().unwrap().push(Received {
                    request_line: request_line.trim().to_owned(),
                    authorization,
                    idempotency_key,
                    form,
                });
                let body = json!({
                    "id": id, "object": "payment_intent", "amount": amount.parse::<i64>().unwrap_or(0),
                    "currency": "krw", "status": "requires_payment_method",
                    "client_secret": format!("{id}_secret_fake"),
                })
                .to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\
                     content-length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FakeStripe { base, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn provider_server(backend: Backend, stripe: &FakeStripe, max_per_day: u32) -> Option<Server> {
    Server::start(
        backend,
        Options {
            env: vec![
                ("TOPUP_MODE", "provider".into()),
                ("STRIPE_API_BASE", stripe.base.clone()),
                ("STRIPE_SECRET_KEY", SECRET_KEY.into()),
                ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
                ("MAX_TOPUPS_PER_DAY", max_per_day.to_string()),
            ],
            ..Options::default()
        },
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn succeeded(event_id: &str, top_up: &Value, user: &str, amount: i64) -> String {
    json!({
        "id": event_id, "object": "event", "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": "pi_any", "object": "payment_intent", "amount": amount,
            "amount_received": amount, "currency": "krw", "status": "succeeded",
            "metadata": {"top_up_id": top_up, "user_id": user}
        }}
    })
    .to_string()
}

async fn deliver(server: &Server, body: &str, header: &str) -> crate::server::Reply {
    server
        .anonymous()
        .with("Stripe-Signature", header)
        .post_raw("/webhooks/stripe", body)
        .await
}

async fn balance(server: &Server, user: &str) -> i64 {
    let reply = server.as_user(user).get("/balance").await;
    assert_eq!(reply.status, 200);
    reply.body["balance"].as_i64().unwrap()
}

pub async fn a_paid_top_up_credits_once(backend: Backend) {
    let stripe = FakeStripe::start();
    let Some(server) = provider_server(backend, &stripe, 10) else {
        return;
    };
    let ana = server.as_user("ana");
    let started = ana
        .post("/balance/charges", json!({"amount": 50_000}))
        .await;
    assert_eq!(started.status, 202, "{}", started.body);
    assert_eq!(started.body["status"], "PENDING");
    assert_eq!(started.body["amount"], 50_000);
    let top_up = started.body["topUpId"].clone();
    let top_up_id = top_up.as_str().unwrap().to_owned();
    assert!(started.body["clientSecret"]
        .as_str()
        .unwrap()
        .ends_with("_secret_fake"));
    let asked = stripe.received();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].request_line, "POST /v1/payment_intents HTTP/1.1");
    assert_eq!(asked[0].authorization, format!("Bearer {SECRET_KEY}"));
    assert_eq!(asked[0].idempotency_key, top_up_id);
    for part in [
        "amount=50000".to_owned(),
        "currency=krw".to_owned(),
        format!("metadata%5Btop_up_id%5D={top_up_id}"),
        "metadata%5Buser_id%5D=ana".to_owned(),
    ] {
        assert!(
            asked[0].form.split('&').any(|p| p == part),
            "{part} in {}",
            asked[0].form
        );
    }
    // Nothing is credited before Stripe says so.
    assert_eq!(balance(&server, "ana").await, 0);
    let path = format!("/balance/charges/{top_up_id}");
    let pending = ana.get(&path).await;
    assert_eq!(
        (pending.status.as_u16(), &pending.body["status"]),
        (200, &json!("PENDING"))
    );
    server
        .as_user("bob")
        .get(&path)
        .await
        .assert_problem(404, "TOP_UP_NOT_FOUND");
    ana.get("/balance/charges/not-a-top-up")
        .await
        .assert_problem(404, "TOP_UP_NOT_FOUND");

    // Forged, stale and unsigned deliveries change nothing.
    let event = succeeded("evt_1", &top_up, "ana", 50_000);
    let forged = signature::sign(event.as_bytes(), "whsec_attacker", now());
    let stale = signature::sign(
        event.as_bytes(),
        WEBHOOK_SECRET,
        now() - signature::TOLERANCE_SECONDS - 5,
    );
    for header in [forged.as_str(), stale.as_str(), "t=1,v1=00"] {
        deliver(&server, &event, header)
            .await
            .assert_problem(400, "INVALID_SIGNATURE");
    }
    let unsigned = server
        .anonymous()
        .post_raw("/webhooks/stripe", &event)
        .await;
    unsigned.assert_problem(400, "INVALID_SIGNATURE");
    // Signed, but for another amount, or a top-up nobody started: kept, not credited.
    for stray in [
        succeeded("evt_amount", &top_up, "ana", 5_000_000),
        succeeded(
            "evt_unknown",
            &json!(uuid::Uuid::new_v4().to_string()),
            "ana",
            50_000,
        ),
    ] {
        let header = signature::sign(stray.as_bytes(), WEBHOOK_SECRET, now());
        assert_eq!(deliver(&server, &stray, &header).await.status, 200);
    }
    let other =
        json!({"id": "evt_other", "type": "charge.refunded", "data": {"object": {}}}).to_string();
    let header = signature::sign(other.as_bytes(), WEBHOOK_SECRET, now());
    assert_eq!(deliver(&server, &other, &header).await.status, 200);
    assert_eq!(balance(&server, "ana").await, 0);

    // The right delivery credits; its replays credit nothing more.
    for _ in 0..3 {
        let header = signature::sign(event.as_bytes(), WEBHOOK_SECRET, now());
        let reply = deliver(&server, &event, &header).await;
        assert_eq!(
            (reply.status.as_u16(), &reply.body),
            (200, &json!({"received": true}))
        );
        assert_eq!(balance(&server, "ana").await, 50_000);
    }
    let done = ana.get(&path).await;
    assert_eq!(done.body["status"], "SUCCEEDED");
    let history = ana.get("/balance/transactions").await;
    assert_eq!(history.body["items"][0]["type"], "TOP_UP");
    assert_eq!(history.body["items"].as_array().unwrap().len(), 1);
}

pub async fn duplicate_deliveries_at_once_credit_once(backend: Backend) {
    let stripe = FakeStripe::start();
    let Some(server) = provider_server(backend, &stripe, 10) else {
        return;
    };
    let cho = server.as_user("cho").with("Idempotency-Key", "top-up-1");
    let started = cho
        .post("/balance/charges", json!({"amount": 30_000}))
        .await;
    assert_eq!(started.status, 202);
    let replay = cho
        .post("/balance/charges", json!({"amount": 30_000}))
        .await;
    assert_eq!((replay.status.as_u16(), &replay.body), (202, &started.body));
    assert_eq!(
        stripe.received().len(),
        1,
        "a replay asks Stripe for nothing"
    );

    let event = succeeded("evt_dup", &started.body["topUpId"], "cho", 30_000);
    let header = signature::sign(event.as_bytes(), WEBHOOK_SECRET, now());
    let deliveries = (0..8).map(|_| deliver(&server, &event, &header));
    for reply in futures::future::join_all(deliveries).await {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(balance(&server, "cho").await, 30_000);
}

pub async fn top_ups_are_capped_a_day(backend: Backend) {
    let stripe = FakeStripe::start();
    let Some(server) = provider_server(backend, &stripe, 2) else {
        return;
    };
    let dan = server.as_user("dan");
    for _ in 0..2 {
        let started = dan.post("/balance/charges", json!({"amount": 1_000})).await;
        assert_eq!(started.status, 202);
    }
    let refused = dan.post("/balance/charges", json!({"amount": 1_000})).await;
    refused.assert_problem(429, "TOO_MANY_TOPUPS");
    assert_eq!(refused.body["limit"], 2);
    assert_eq!(stripe.received().len(), 2);
    let other = server
        .as_user("eve")
        .post("/balance/charges", json!({"amount": 1_000}))
        .await;
    assert_eq!(other.status, 202);
}
