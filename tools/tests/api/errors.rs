use serde_json::json;
use ticketing::domain::{Clock, SystemClock};

use crate::server::{Backend, Options, Server};

/// A date `days` from today, as the API writes dates.
pub fn day_from_now(days: i64) -> String {
    SystemClock
        .now()
        .plus_seconds(days * 86_400)
        .date()
        .to_string()
}

fn two_halls() -> String {
    json!({"concerts": [
        {"concertId": "big-hall", "title": "Big Hall", "dates": [day_from_now(10), day_from_now(11)],
         "seatPrices": [{"fromSeat": 1, "toSeat": 50, "price": 70000}]},
        {"concertId": "small-hall", "title": "Small Hall", "dates": [day_from_now(12)],
         "seatPrices": [{"fromSeat": 1, "toSeat": 40, "price": 40000}]}
    ]})
    .to_string()
}

pub async fn every_queue_and_catalog_error_is_reachable(backend: Backend) {
    let options = Options {
        env: vec![("MAX_ACTIVE", "1".into())],
        catalog: Some(two_halls()),
    };
    let Some(server) = Server::start(backend, options) else {
        return;
    };
    server
        .anonymous()
        .get("/balance")
        .await
        .assert_problem(401, "UNAUTHENTICATED");
    server
        .anonymous()
        .get("/concerts")
        .await
        .assert_problem(401, "UNAUTHENTICATED");
    let ana = server.as_user("ana");
    ana.post("/concerts/nope/queue/tokens", json!(null))
        .await
        .assert_problem(404, "CONCERT_NOT_FOUND");
    server
        .anonymous()
        .get("/nope")
        .await
        .assert_problem(404, "ROUTE_NOT_FOUND");
    let wrong_method = ana.send(reqwest::Method::PATCH, "/balance", None).await;
    wrong_method.assert_problem(405, "METHOD_NOT_ALLOWED");
    assert_eq!(wrong_method.headers["allow"], "GET");

    let token = ana.admitted("big-hall").await;
    let bob = server.as_user("bob");
    let joined = bob
        .post("/concerts/big-hall/queue/tokens", json!(null))
        .await;
    let bobs_token = joined.body["token"].as_str().unwrap().to_owned();
    // Bob's place is known once a tick has counted the second he joined in.
    for _ in 0..30 {
        let polled = bob.token(&bobs_token).get("/queue/status").await;
        if !polled.body["position"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let waiting = bob.token(&bobs_token).get("/concerts/big-hall/dates").await;
    waiting.assert_problem(403, "QUEUE_NOT_ADMITTED");
    assert_eq!(
        waiting.body["position"], 1,
        "MAX_ACTIVE=1 keeps bob waiting behind ana"
    );
    // Ana has the only slot: the line moves only when she is done, so no time is promised.
    assert_eq!(
        waiting.body.get("estimatedWaitSeconds"),
        Some(&serde_json::Value::Null),
        "{}",
        waiting.body
    );

    ana.get("/concerts/big-hall/dates")
        .await
        .assert_problem(401, "QUEUE_TOKEN_REQUIRED");
    ana.token("big-hall.0123456789abcdef0123456789abcdef")
        .get("/concerts/big-hall/dates")
        .await
        .assert_problem(401, "QUEUE_TOKEN_INVALID");
    ana.token("garbage")
        .get("/queue/status")
        .await
        .assert_problem(401, "QUEUE_TOKEN_INVALID");
    bob.token(&token)
        .get("/concerts/big-hall/dates")
        .await
        .assert_problem(401, "QUEUE_TOKEN_INVALID");
    ana.token(&token)
        .get("/concerts/small-hall/dates")
        .await
        .assert_problem(403, "QUEUE_TOKEN_WRONG_CONCERT");
    ana.token(&token)
        .get(&format!(
            "/concerts/big-hall/dates/{}/seats",
            day_from_now(13)
        ))
        .await
        .assert_problem(404, "DATE_NOT_FOUND");

    let small = ana.admitted("small-hall").await;
    let hold = |seat: i64| json!({"concertId": "small-hall", "date": day_from_now(12), "seatNumber": seat});
    ana.token(&small)
        .post("/reservations", hold(45))
        .await
        .assert_problem(404, "SEAT_NOT_FOUND");
    let held = ana.token(&small).post("/reservations", hold(40)).await;
    assert_eq!(held.status, 201);
    // Holding it again is a retry: the same hold, not a conflict.
    let again = ana.token(&small).post("/reservations", hold(40)).await;
    assert_eq!(
        (again.status.as_u16(), &again.body["reservationId"]),
        (200, &held.body["reservationId"])
    );
    // (Another fan's hold of it answers 409 SEAT_UNAVAILABLE: see `contention`.)

    // Paying spends the token.
    ana.post("/balance/charges", json!({"amount": 100_000}))
        .await;
    let held = ana
        .token(&token)
        .post(
            "/reservations",
            json!({"concertId": "big-hall", "date": day_from_now(10), "seatNumber": 1}),
        )
        .await;
    let paid = ana
        .token(&token)
        .post(
            "/payments",
            json!({"reservationId": held.body["reservationId"]}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    ana.token(&token)
        .get("/concerts/big-hall/dates")
        .await
        .assert_problem(401, "QUEUE_TOKEN_EXPIRED");
    ana.token(&token)
        .get("/queue/status")
        .await
        .assert_problem(401, "QUEUE_TOKEN_EXPIRED");
}

pub async fn every_reservation_and_payment_error_is_reachable(backend: Backend) {
    let options = Options {
        env: vec![("HOLD_SECONDS", "2".into())],
        catalog: None,
    };
    let Some(server) = Server::start(backend, options) else {
        return;
    };
    let ana = server.as_user("ana");
    let token = ana.admitted("aurora-nights").await;
    let date = ana.first_date("aurora-nights", &token).await;
    let hold = |seat: i64| json!({"concertId": "aurora-nights", "date": date, "seatNumber": seat});
    ana.post("/balance/charges", json!({"amount": 1_000_000}))
        .await;

    let unknown = uuid::Uuid::new_v4().to_string();
    ana.get(&format!("/reservations/{unknown}"))
        .await
        .assert_problem(404, "RESERVATION_NOT_FOUND");
    ana.token(&token)
        .post("/payments", json!({"reservationId": unknown}))
        .await
        .assert_problem(404, "RESERVATION_NOT_FOUND");
    ana.get(&format!("/payments/{unknown}"))
        .await
        .assert_problem(404, "PAYMENT_NOT_FOUND");

    let released = ana.token(&token).post("/reservations", hold(2)).await;
    let released_id = released.body["reservationId"].as_str().unwrap().to_owned();
    assert_eq!(
        ana.delete(&format!("/reservations/{released_id}"))
            .await
            .status,
        204
    );
    assert_eq!(
        ana.delete(&format!("/reservations/{released_id}"))
            .await
            .status,
        204
    );
    ana.token(&token)
        .post("/payments", json!({"reservationId": released_id}))
        .await
        .assert_problem(409, "RESERVATION_RELEASED");

    let bob = server.as_user("bob");
    let bobs_token = bob.admitted("aurora-nights").await;
    let bobs = bob.token(&bobs_token).post("/reservations", hold(4)).await;
    bob.token(&bobs_token)
        .post(
            "/payments",
            json!({"reservationId": bobs.body["reservationId"]}),
        )
        .await
        .assert_problem(409, "INSUFFICIENT_BALANCE");
    assert_eq!(bob.get("/balance").await.body["balance"], 0);

    let expiring = ana.token(&token).post("/reservations", hold(1)).await;
    let expiring_id = expiring.body["reservationId"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(3_100)).await;
    assert_eq!(
        ana.get(&format!("/reservations/{expiring_id}")).await.body["status"],
        "EXPIRED"
    );
    ana.token(&token)
        .post("/payments", json!({"reservationId": expiring_id}))
        .await
        .assert_problem(409, "RESERVATION_EXPIRED");
    ana.delete(&format!("/reservations/{expiring_id}"))
        .await
        .assert_problem(409, "RESERVATION_EXPIRED");
    assert_eq!(ana.get("/balance").await.body["balance"], 1_000_000);

    let paid = ana.token(&token).post("/reservations", hold(3)).await;
    let paid_id = paid.body["reservationId"].as_str().unwrap().to_owned();
    let first = ana
        .token(&token)
        .post("/payments", json!({"reservationId": paid_id}))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    ana.token(&token)
        .post("/payments", json!({"reservationId": paid_id}))
        .await
        .assert_problem(409, "ALREADY_PAID");
    ana.delete(&format!("/reservations/{paid_id}"))
        .await
        .assert_problem(409, "ALREADY_PAID");
    assert_eq!(
        ana.get("/balance").await.body["balance"],
        1_000_000 - 165_000
    );

    // Cho holds seat 20; four more would pass the limit of four, and nothing of them is held.
    // (Holds here last two seconds: the fans are admitted first.)
    let (cho, dan) = (server.as_user("cho"), server.as_user("dan"));
    let chos_token = cho.admitted("aurora-nights").await;
    let dans_token = dan.admitted("aurora-nights").await;
    let held = cho.token(&chos_token).post("/reservations", hold(20)).await;
    assert_eq!(held.status, 201, "{}", held.body);
    let more = json!({"concertId": "aurora-nights", "date": date, "seatNumbers": [10, 11, 12, 13]});
    let over = cho.token(&chos_token).post("/reservations", more).await;
    over.assert_problem(409, "TICKET_LIMIT_REACHED");
    assert_eq!(
        (
            &over.body["limit"],
            &over.body["held"],
            &over.body["bought"]
        ),
        (&json!(4), &json!(1), &json!(0))
    );
    let taken = json!({"concertId": "aurora-nights", "date": date, "seatNumbers": [21, 20]});
    let unavailable = dan.token(&dans_token).post("/reservations", taken).await;
    unavailable.assert_problem(409, "SEAT_UNAVAILABLE");
    assert_eq!(unavailable.body["unavailableSeats"], json!([20]));
}

pub async fn every_wallet_and_idempotency_error_is_reachable(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let ana = server.as_user("ana");
    ana.post("/balance/charges", json!({"amount": 0}))
        .await
        .assert_problem(400, "INVALID_AMOUNT");
    ana.with("Idempotency-Key", &"k".repeat(65))
        .post("/balance/charges", json!({"amount": 100}))
        .await
        .assert_problem(400, "INVALID_IDEMPOTENCY_KEY");

    let keyed = ana.with("Idempotency-Key", "top-up-1");
    let first = keyed.post("/balance/charges", json!({"amount": 100})).await;
    assert_eq!(
        (first.status.as_u16(), first.body["balance"].as_i64()),
        (200, Some(100))
    );
    let replay = keyed.post("/balance/charges", json!({"amount": 100})).await;
    assert_eq!((replay.status, &replay.body), (first.status, &first.body));
    keyed
        .post("/balance/charges", json!({"amount": 200}))
        .await
        .assert_problem(422, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(ana.get("/balance").await.body["balance"], 100);

    // A generated client sends the contract's bearer token: the local server takes a JWT's
    // `sub` (unverified), or an opaque token, for the caller; anything else is nobody.
    // {"sub":"ana"} and {"iss":"x"}, base64url.
    let anonymous = server.anonymous();
    for bearer in ["Bearer h.eyJzdWIiOiJhbmEifQ.sig", "Bearer ana"] {
        let as_ana = anonymous
            .with("Authorization", bearer)
            .get("/balance")
            .await;
        assert_eq!(as_ana.body["balance"], 100, "{bearer}");
    }
    for nobody in ["Bearer h.eyJpc3MiOiJ4In0.sig", "Basic YW5hOnB3"] {
        anonymous
            .with("Authorization", nobody)
            .get("/balance")
            .await
            .assert_problem(401, "UNAUTHENTICATED");
    }

    // Concurrent retries of one key: one applies, the others replay it or find it in flight.
    // Plain 1-won charges race the same balance, so the keyed charge's commit may be refused
    // and retried while its claim is held. Whether a retry lands in that window is up to the
    // scheduler; what every answer must be is not.
    let mut expected = 100;
    for round in 0..10 {
        let key = format!("burst-{round}");
        let burst = ana.with("Idempotency-Key", &key);
        let keyed = (0..30).map(|_| burst.post("/balance/charges", json!({"amount": 1_000})));
        let plain = (0..30).map(|_| ana.post("/balance/charges", json!({"amount": 1})));
        let (replies, plain) = futures::future::join(
            futures::future::join_all(keyed),
            futures::future::join_all(plain),
        )
        .await;
        assert!(plain.iter().all(|r| r.status == 200));
        expected += 1_000 + 30;
        let answers: Vec<&serde_json::Value> = replies
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| &r.body)
            .collect();
        assert!(!answers.is_empty(), "the keyed charge applied");
        assert!(
            answers.iter().all(|a| *a == answers[0]),
            "every success is the one charge"
        );
        for reply in replies.iter().filter(|r| r.status != 200) {
            reply.assert_problem(409, "IDEMPOTENCY_KEY_IN_USE");
        }
        assert_eq!(ana.get("/balance").await.body["balance"], expected);
    }
    // A key still in flight, for certain: what an invocation that died mid-charge leaves in the
    // table. Only the DynamoDB half can plant it; the rule itself is in the contract suite.
    if let Some(table) = server.table().await {
        use ticketing::domain::{IdempotencyKey, UserId};
        use ticketing::store::{IdempotencyRecord, IdempotencyState, IdempotencyStore};
        let now = SystemClock.now().epoch_seconds();
        let stale = IdempotencyRecord {
            user_id: UserId::parse("ana").unwrap(),
            key: IdempotencyKey::parse("crashed").unwrap(),
            request: "charge:700".into(),
            claim_id: "dead-invocation".into(),
            state: IdempotencyState::InFlight,
            locked_until: now + 60,
            response: None,
            expires_at: now + 90_000,
        };
        table.claim_idempotency_key(&stale, now).await.unwrap();
        ana.with("Idempotency-Key", "crashed")
            .post("/balance/charges", json!({"amount": 700}))
            .await
            .assert_problem(409, "IDEMPOTENCY_KEY_IN_USE");
        assert_eq!(ana.get("/balance").await.body["balance"], expected);
    }

    let to_the_limit = 1_000_000_000 - expected;
    for _ in 0..to_the_limit / 10_000_000 {
        ana.post("/balance/charges", json!({"amount": 10_000_000}))
            .await;
    }
    ana.post(
        "/balance/charges",
        json!({"amount": to_the_limit % 10_000_000}),
    )
    .await;
    assert_eq!(ana.get("/balance").await.body["balance"], 1_000_000_000);
    ana.post("/balance/charges", json!({"amount": 1}))
        .await
        .assert_problem(409, "BALANCE_LIMIT_EXCEEDED");
    assert_eq!(ana.get("/balance").await.body["balance"], 1_000_000_000);
}
