use serde_json::json;

use crate::server::{Backend, Options, Server};

pub async fn dozens_of_fans_racing_for_one_seat_get_one_hold(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let names: Vec<String> = (0..30).map(|i| format!("racer{i:02}")).collect();
    let fans: Vec<_> = names.iter().map(|n| server.as_user(n)).collect();
    let tokens = futures::future::join_all(fans.iter().map(|f| f.admitted("han-river-jazz"))).await;
    let date = fans[0].first_date("han-river-jazz", &tokens[0]).await;

    let hold = json!({"concertId": "han-river-jazz", "date": date, "seatNumber": 25});
    let racers: Vec<_> = fans
        .iter()
        .zip(&tokens)
        .map(|(fan, token)| fan.token(token))
        .collect();
    let replies =
        futures::future::join_all(racers.iter().map(|r| r.post("/reservations", hold.clone())))
            .await;
    let won = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(won, 1, "exactly one 201");
    for reply in replies.iter().filter(|r| r.status != 201) {
        reply.assert_problem(409, "SEAT_UNAVAILABLE");
    }
    let chart = fans[0]
        .token(&tokens[0])
        .get(&format!("/concerts/han-river-jazz/dates/{date}/seats"))
        .await;
    let taken: Vec<u64> = chart.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] != "AVAILABLE")
        .map(|s| s["seatNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(taken, [25]);
}

/// Seat spinning: one session holds and releases until its holds run out (10, the default),
/// and the next hold is `429 TOO_MANY_HOLDS` with the limit, while another fan holds on.
pub async fn a_session_that_spins_seats_runs_out_of_holds(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let (spinner, fan) = (server.as_user("spinner"), server.as_user("steady"));
    let (spin_token, fan_token) = (
        spinner.admitted("han-river-jazz").await,
        fan.admitted("han-river-jazz").await,
    );
    let date = spinner.first_date("han-river-jazz", &spin_token).await;
    let hold = json!({"concertId": "han-river-jazz", "date": date, "seatNumber": 30});
    let spinner = spinner.token(&spin_token);
    for _ in 0..10 {
        let held = spinner.post("/reservations", hold.clone()).await;
        assert_eq!(held.status, 201, "{:?}", held.body);
        let id = held.body["reservationId"].as_str().unwrap().to_owned();
        assert_eq!(
            spinner.delete(&format!("/reservations/{id}")).await.status,
            204
        );
    }
    let refused = spinner.post("/reservations", hold.clone()).await;
    refused.assert_problem(429, "TOO_MANY_HOLDS");
    assert_eq!(refused.body["limit"], 10);
    let steady = fan.token(&fan_token).post("/reservations", hold).await;
    assert_eq!(
        steady.status, 201,
        "another fan holds the seat: {:?}",
        steady.body
    );
}
