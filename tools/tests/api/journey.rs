use serde_json::json;

use crate::server::{Backend, Options, Server};

pub async fn fans_go_from_queue_to_receipt(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let concerts = server.as_user("viewer").get("/concerts").await;
    assert_eq!(concerts.status, 200);
    assert_eq!(concerts.content_type, "application/json");
    let ids: Vec<&str> = concerts.body["concerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["concertId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "aurora-nights",
            "han-river-jazz",
            "midnight-orchestra",
            "seoul-stadium"
        ]
    );

    let fans = ["ana", "bo", "chul"];
    let journeys = fans.iter().enumerate().map(|(i, name)| {
        let server = &server;
        async move {
            let fan = server.as_user(name);
            let joined = fan
                .post("/concerts/aurora-nights/queue/tokens", json!(null))
                .await;
            assert_eq!(joined.status, 201, "{}", joined.body);
            assert_eq!(joined.body["concertId"], "aurora-nights");
            let again = fan
                .post("/concerts/aurora-nights/queue/tokens", json!(null))
                .await;
            assert_eq!(again.status, 200);
            assert_eq!(again.body["token"], joined.body["token"]);

            let token = fan.admitted("aurora-nights").await;
            let date = fan.first_date("aurora-nights", &token).await;
            let seats = fan
                .token(&token)
                .get(&format!("/concerts/aurora-nights/dates/{date}/seats"))
                .await;
            assert_eq!(seats.status, 200);
            assert_eq!(seats.body["seats"].as_array().unwrap().len(), 50);

            let seat = 21 + i as i64;
            let held = fan
                .token(&token)
                .post(
                    "/reservations",
                    json!({"concertId": "aurora-nights", "date": date, "seatNumber": seat}),
                )
                .await;
            assert_eq!(held.status, 201, "{}", held.body);
            assert_eq!(held.body["status"], "HELD");
            let reservation = held.body["reservationId"].as_str().unwrap().to_owned();
            assert_eq!(
                held.headers["location"],
                format!("/reservations/{reservation}")
            );

            let charged = fan
                .post("/balance/charges", json!({"amount": 150_000}))
                .await;
            assert_eq!(
                (charged.status.as_u16(), charged.body["balance"].as_i64()),
                (200, Some(150_000))
            );
            let paid = fan
                .token(&token)
                .post("/payments", json!({"reservationId": reservation}))
                .await;
            assert_eq!(paid.status, 201, "{}", paid.body);
            assert_eq!(paid.body["amount"], 132_000);
            assert_eq!(paid.body["balanceAfter"], 18_000);
            let payment = paid.body["paymentId"].as_str().unwrap().to_owned();

            let receipt = fan.get(&format!("/payments/{payment}")).await;
            assert_eq!((receipt.status.as_u16(), &receipt.body), (200, &paid.body));
            let reservation = fan.get(&format!("/reservations/{reservation}")).await;
            assert_eq!(reservation.body["status"], "CONFIRMED");
            let spent = fan.token(&token).get("/concerts/aurora-nights/dates").await;
            spent.assert_problem(401, "QUEUE_TOKEN_EXPIRED");
            let history = fan.get("/balance/transactions").await;
            assert_eq!(history.status, 200);
            let kinds: Vec<&str> = history.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["type"].as_str().unwrap())
                .collect();
            assert_eq!(kinds, ["PAYMENT", "CHARGE"]);
            assert_eq!(fan.get("/balance").await.body["balance"], 18_000);
            (date, seat)
        }
    });
    let sold = futures::future::join_all(journeys).await;

    // A newcomer sees the three seats sold.
    let newcomer = server.as_user("dae");
    let token = newcomer.admitted("aurora-nights").await;
    let (date, _) = &sold[0];
    let chart = newcomer
        .token(&token)
        .get(&format!("/concerts/aurora-nights/dates/{date}/seats"))
        .await;
    for (_, seat) in &sold {
        assert_eq!(chart.body["seats"][(*seat - 1) as usize]["status"], "SOLD");
    }
    let dates = newcomer
        .token(&token)
        .get("/concerts/aurora-nights/dates")
        .await;
    assert_eq!(dates.body["dates"][0]["remainingSeats"], 47);
}
