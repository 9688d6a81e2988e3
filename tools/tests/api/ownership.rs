use serde_json::json;

use crate::server::{Backend, Options, Server};

pub async fn other_fans_things_stay_private(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let ana = server.as_user("ana");
    let bob = server.as_user("bob");
    let token = ana.admitted("aurora-nights").await;
    let bobs_token = bob.admitted("aurora-nights").await;
    let date = ana.first_date("aurora-nights", &token).await;
    ana.post("/balance/charges", json!({"amount": 500_000}))
        .await;

    let held = ana
        .token(&token)
        .post(
            "/reservations",
            json!({"concertId": "aurora-nights", "date": date, "seatNumber": 9}),
        )
        .await;
    let reservation = held.body["reservationId"].as_str().unwrap().to_owned();

    let peek = bob.get(&format!("/reservations/{reservation}")).await;
    peek.assert_problem(404, "RESERVATION_NOT_FOUND");
    let leaked = peek.body.to_string();
    assert!(
        !leaked.contains("ana") && !leaked.contains(&date),
        "{leaked}"
    );
    bob.delete(&format!("/reservations/{reservation}"))
        .await
        .assert_problem(404, "RESERVATION_NOT_FOUND");
    bob.token(&bobs_token)
        .post("/payments", json!({"reservationId": reservation}))
        .await
        .assert_problem(404, "RESERVATION_NOT_FOUND");
    bob.token(&token)
        .get("/queue/status")
        .await
        .assert_problem(401, "QUEUE_TOKEN_INVALID");
    bob.token(&token)
        .post(
            "/reservations",
            json!({"concertId": "aurora-nights", "date": date, "seatNumber": 10}),
        )
        .await
        .assert_problem(401, "QUEUE_TOKEN_INVALID");
    assert_eq!(
        ana.get(&format!("/reservations/{reservation}")).await.body["status"],
        "HELD",
        "bob's attempts left ana's hold alone"
    );

    let paid = ana
        .token(&token)
        .post("/payments", json!({"reservationId": reservation}))
        .await;
    assert_eq!(paid.status, 201);
    let payment = paid.body["paymentId"].as_str().unwrap();
    bob.get(&format!("/payments/{payment}"))
        .await
        .assert_problem(404, "PAYMENT_NOT_FOUND");
    assert_eq!(bob.get("/balance").await.body["balance"], 0);
    assert!(bob.get("/balance/transactions").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
}
