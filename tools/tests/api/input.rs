use serde_json::json;

use crate::server::{Backend, Caller, Options, Server};

/// Balance, history length and the first date's seat statuses: what bad input must not change.
async fn state(
    fan: &Caller<'_>,
    token: &str,
    date: &str,
) -> (serde_json::Value, usize, Vec<String>) {
    let balance = fan.get("/balance").await.body["balance"].clone();
    let history = fan.get("/balance/transactions?limit=100").await.body["items"]
        .as_array()
        .map_or(0, Vec::len);
    let chart = fan
        .token(token)
        .get(&format!("/concerts/aurora-nights/dates/{date}/seats"))
        .await;
    let seats = chart.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .collect();
    (balance, history, seats)
}

pub async fn bad_input_is_refused_and_changes_nothing(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let ana = server.as_user("ana");
    let token = ana.admitted("aurora-nights").await;
    let date = ana.first_date("aurora-nights", &token).await;
    ana.post("/balance/charges", json!({"amount": 50_000}))
        .await;
    let before = state(&ana, &token, &date).await;

    let charges: Vec<(&str, u16, &str)> = vec![
        ("{", 400, "MALFORMED_JSON"),
        (r#"{"amount": 100,}"#, 400, "MALFORMED_JSON"),
        ("", 400, "INVALID_REQUEST"),
        ("[]", 400, "INVALID_REQUEST"),
        ("100", 400, "INVALID_REQUEST"),
        (r#"{"amount": 0}"#, 400, "INVALID_AMOUNT"),
        (r#"{"amount": -5}"#, 400, "INVALID_AMOUNT"),
        (r#"{"amount": 10000001}"#, 400, "INVALID_AMOUNT"),
        (r#"{"amount": 1.5}"#, 400, "INVALID_AMOUNT"),
        (r#"{"amount": 1e3}"#, 400, "INVALID_AMOUNT"),
        (r#"{"amount": "100"}"#, 400, "INVALID_AMOUNT"),
        (r#"{"amount": null}"#, 400, "INVALID_AMOUNT"),
        (r#"{}"#, 400, "INVALID_AMOUNT"),
        (
            r#"{"amount": 100, "currency": "KRW"}"#,
            400,
            "UNKNOWN_FIELD",
        ),
    ];
    for (body, status, code) in charges {
        let reply = ana.post_raw("/balance/charges", body).await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (status, code),
            "charge body {body:?}"
        );
        reply.assert_problem(status, code);
    }
    let oversized = format!(r#"{{"amount": 100, "note": "{}"}}"#, "x".repeat(17 * 1024));
    ana.post_raw("/balance/charges", &oversized)
        .await
        .assert_problem(413, "PAYLOAD_TOO_LARGE");

    let holds = vec![
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumber": 0}),
            400,
            "INVALID_SEAT_NUMBER",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumber": 100_001}),
            400,
            "INVALID_SEAT_NUMBER",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumber": 5, "section": "A"}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "quantity": 2, "section": 7}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "quantity": 2, "section": "Nowhere"}),
            404,
            "SECTION_NOT_FOUND",
        ),
        // A seat number the concert does not have (its hall has 50).
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumber": 51}),
            404,
            "SEAT_NOT_FOUND",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumber": "5"}),
            400,
            "INVALID_SEAT_NUMBER",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumber": 5.5}),
            400,
            "INVALID_SEAT_NUMBER",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumber": 5, "quantity": 1}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumbers": []}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumbers": [5, 5]}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumbers": [5, 100_001]}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumbers": 5}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumbers": [1, 2, 3, 4, 5]}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "quantity": 0}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "quantity": 5}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "quantity": -1}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "quantity": "2"}),
            400,
            "INVALID_SEATS",
        ),
        (
            json!({"concertId": "aurora-nights", "date": "2026-02-30", "seatNumber": 5}),
            400,
            "INVALID_DATE",
        ),
        (
            json!({"concertId": "aurora-nights", "date": "tomorrow", "seatNumber": 5}),
            400,
            "INVALID_DATE",
        ),
        (
            json!({"concertId": "no such show", "date": date, "seatNumber": 5}),
            400,
            "INVALID_CONCERT_ID",
        ),
        (
            json!({"concertId": 7, "date": date, "seatNumber": 5}),
            400,
            "INVALID_CONCERT_ID",
        ),
        (
            json!({"concertId": "aurora-nights", "date": "2099-01-01", "seatNumber": 5}),
            404,
            "DATE_NOT_FOUND",
        ),
        (
            json!({"concertId": "unknown-show", "date": date, "seatNumber": 5}),
            403,
            "QUEUE_TOKEN_WRONG_CONCERT",
        ),
        (
            json!({"concertId": "aurora-nights", "date": date, "seatNumber": 5, "vip": true}),
            400,
            "UNKNOWN_FIELD",
        ),
    ];
    for (body, status, code) in holds {
        ana.token(&token)
            .post("/reservations", body.clone())
            .await
            .assert_problem(status, code);
    }
    ana.token("not-a-token")
        .post(
            "/reservations",
            json!({"concertId": "aurora-nights", "date": date, "seatNumber": 5}),
        )
        .await
        .assert_problem(401, "QUEUE_TOKEN_INVALID");
    ana.token(&token)
        .post_raw("/reservations", "{not json")
        .await
        .assert_problem(400, "MALFORMED_JSON");

    let payments = vec![
        (json!({"reservationId": "abc"}), "INVALID_RESERVATION_ID"),
        (json!({"reservationId": 5}), "INVALID_RESERVATION_ID"),
        (json!({}), "INVALID_RESERVATION_ID"),
        (
            json!({"reservationId": uuid::Uuid::new_v4().to_string().to_uppercase()}),
            "INVALID_RESERVATION_ID",
        ),
        (
            json!({"reservationId": uuid::Uuid::new_v4().to_string(), "tip": 1}),
            "UNKNOWN_FIELD",
        ),
    ];
    for (body, code) in payments {
        ana.token(&token)
            .post("/payments", body)
            .await
            .assert_problem(400, code);
    }

    let paths = [
        ("/reservations/not-a-uuid", 400, "INVALID_RESERVATION_ID"),
        ("/payments/xyz", 400, "INVALID_PAYMENT_ID"),
        ("/balance/transactions?limit=0", 400, "INVALID_LIMIT"),
        ("/balance/transactions?limit=101", 400, "INVALID_LIMIT"),
        ("/balance/transactions?limit=ten", 400, "INVALID_LIMIT"),
        ("/balance/transactions?cursor=abc", 400, "INVALID_CURSOR"),
        ("/balance/transactions?cursor=-1", 400, "INVALID_CURSOR"),
    ];
    for (path, status, code) in paths {
        ana.get(path).await.assert_problem(status, code);
    }
    for date in ["2026-13-01", "2027-02-29", "20270101"] {
        ana.token(&token)
            .get(&format!("/concerts/aurora-nights/dates/{date}/seats"))
            .await
            .assert_problem(400, "INVALID_DATE");
    }
    ana.post("/concerts/has%20space/queue/tokens", json!(null))
        .await
        .assert_problem(400, "INVALID_CONCERT_ID");
    ana.with("Idempotency-Key", "")
        .post("/balance/charges", json!({"amount": 100}))
        .await
        .assert_problem(400, "INVALID_IDEMPOTENCY_KEY");

    assert_eq!(
        state(&ana, &token, &date).await,
        before,
        "bad input changed nothing"
    );
}
