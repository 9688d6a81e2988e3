//! The sale opening over HTTP: `local-server --catalog FILE` with opening times, a join refused
//! before the queue opens, a pre-queue ticket, admission at the opening, and the sell-out told
//! to a waiting fan and to a new joiner.

use std::time::Duration;

use serde_json::{json, Value};
use ticketing::domain::{Clock, SystemClock};

use crate::server::{Backend, Caller, Options, Server};

/// RFC 3339, `seconds` from now.
fn from_now(seconds: i64) -> String {
    SystemClock.now().plus_seconds(seconds).to_string()
}

/// How long  stays in its pre-queue after the catalog is written: long enough for a
/// loaded machine to start the server and join.
const PRE_QUEUE_SECONDS: i64 = 8;

async fn poll_until(fan: &Caller<'_>, token: &str, status: &str) -> Value {
    for _ in 0..120 {
        let polled = fan.token(token).get("/queue/status").await;
        assert_eq!(polled.status, 200, "{}", polled.body);
        if polled.body["status"] == status {
            return polled.body;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("never {status}");
}

pub async fn the_queue_opens_draws_and_sells_out_over_http(backend: Backend) {
    let date = SystemClock
        .now()
        .plus_seconds(30 * 86_400)
        .date()
        .to_string();
    // `later` opens its queue in an hour; `encore` is in its pre-queue for the next few
    // seconds, with one seat and one fan active at a time.
    let catalog = json!({"concerts": [
        {"concertId": "later", "title": "Later", "dates": [date],
         "seatPrices": [{"fromSeat": 1, "toSeat": 50, "price": 1000}],
         "queueOpensAt": from_now(3_600), "saleOpensAt": from_now(7_200)},
        {"concertId": "encore", "title": "Encore", "dates": [date],
         "seatPrices": [{"fromSeat": 1, "toSeat": 1, "price": 50000}],
         "queueOpensAt": from_now(-60), "saleOpensAt": from_now(PRE_QUEUE_SECONDS)}
    ]});
    let options = Options {
        env: vec![("MAX_ACTIVE", "1".into())],
        catalog: Some(catalog.to_string()),
    };
    let Some(server) = Server::start(backend, options) else {
        return;
    };
    let listed = server.as_user("viewer").get("/concerts").await;
    assert_eq!(listed.status, 200);
    let later = &listed.body["concerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["concertId"] == "later")
        .expect("listed")
        .clone();
    assert_eq!(
        later["queueOpensAt"],
        catalog["concerts"][0]["queueOpensAt"]
    );
    assert_eq!(later["saleOpensAt"], catalog["concerts"][0]["saleOpensAt"]);
    assert_eq!(later["soldOut"], false);

    let too_early = server
        .as_user("eager")
        .post("/concerts/later/queue/tokens", Value::Null)
        .await;
    too_early.assert_problem(409, "QUEUE_NOT_OPEN");
    assert_eq!(
        too_early.body["queueOpensAt"],
        catalog["concerts"][0]["queueOpensAt"]
    );

    let (winner, other) = (server.as_user("wendy"), server.as_user("otto"));
    let mut tokens = Vec::new();
    for fan in [&winner, &other] {
        let joined = fan.post("/concerts/encore/queue/tokens", Value::Null).await;
        assert_eq!(joined.status, 201, "{}", joined.body);
        assert_eq!(joined.body["status"], "PRE_QUEUE");
        assert_eq!(joined.body["position"], Value::Null);
        let wait = joined.body["estimatedWaitSeconds"].as_u64().unwrap();
        assert!(
            (1..=PRE_QUEUE_SECONDS as u64).contains(&wait),
            "seconds until the sale: {wait}"
        );
        tokens.push(joined.body["token"].as_str().unwrap().to_owned());
    }
    let gated = other.token(&tokens[1]).get("/concerts/encore/dates").await;
    gated.assert_problem(403, "QUEUE_NOT_ADMITTED");
    assert_eq!(gated.body["position"], Value::Null);

    // At the opening the draw admits one of the two (MAX_ACTIVE is 1); the other waits first.
    let (mut first, mut second) = ((&winner, &tokens[0]), (&other, &tokens[1]));
    loop {
        let a = first.0.token(first.1).get("/queue/status").await;
        if a.body["status"] == "ACTIVE" {
            break;
        }
        let b = second.0.token(second.1).get("/queue/status").await;
        if b.body["status"] == "ACTIVE" {
            std::mem::swap(&mut first, &mut second);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let waiting = poll_until(second.0, second.1, "WAITING").await;
    assert_eq!(waiting["position"], 1);

    let (fan, token) = first;
    let held = fan
        .token(token)
        .post(
            "/reservations",
            json!({"concertId": "encore", "date": date, "seatNumber": 1}),
        )
        .await;
    assert_eq!(held.status, 201, "{}", held.body);
    let charged = fan
        .post("/balance/charges", json!({"amount": 50_000}))
        .await;
    assert_eq!(charged.status, 200, "{}", charged.body);
    let paid = fan
        .token(token)
        .post(
            "/payments",
            json!({"reservationId": held.body["reservationId"]}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);

    // Within a tick (a second here) the fan still waiting is told, and the queue closes.
    let told = poll_until(second.0, second.1, "SOLD_OUT").await;
    assert_eq!(told["position"], 0);
    server
        .as_user("nadia")
        .post("/concerts/encore/queue/tokens", Value::Null)
        .await
        .assert_problem(409, "SOLD_OUT");
    for _ in 0..20 {
        let listed = server.as_user("viewer").get("/concerts").await;
        let encore = listed.body["concerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["concertId"] == "encore")
            .expect("listed")
            .clone();
        if encore["soldOut"] == true {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("GET /concerts never said soldOut");
}
