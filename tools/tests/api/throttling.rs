//! What a client meets when it sends too much, and how it finds its request again: the
//! per-fan limit over HTTP (429 with `Retry-After` and the `RateLimit` headers), and the
//! request id every answer carries.

use serde_json::json;

use crate::server::{Backend, Options, Server};

pub async fn a_fan_over_its_limit_is_told_when_to_retry(backend: Backend) {
    // A request a minute, three at once: the fourth charge is refused for about a minute.
    let options = Options {
        env: vec![
            ("RATE_LIMIT_PER_MINUTE", "1".into()),
            ("RATE_LIMIT_BURST", "3".into()),
        ],
        catalog: None,
    };
    let Some(server) = Server::start(backend, options) else {
        return;
    };
    let ana = server.as_user("ana");
    let mut left = Vec::new();
    for _ in 0..3 {
        let charged = ana.post("/balance/charges", json!({"amount": 1})).await;
        assert_eq!(charged.status, 200, "{}", charged.body);
        assert_eq!(
            charged.headers["ratelimit-policy"],
            "\"fan-writes\";q=3;w=180"
        );
        left.push(charged.headers["ratelimit"].to_str().unwrap().to_owned());
    }
    assert!(left[0].starts_with("\"fan-writes\";r=2;"), "{left:?}");
    assert!(left[2].starts_with("\"fan-writes\";r=0;"), "{left:?}");
    let refused = ana.post("/balance/charges", json!({"amount": 1})).await;
    refused.assert_problem(429, "RATE_LIMITED");
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((55..=60).contains(&wait), "Retry-After {wait}");
    assert!(refused.headers["ratelimit"]
        .to_str()
        .unwrap()
        .starts_with("\"fan-writes\";r=0;t="));
    // Nothing was charged by the refused request, and reads are not counted.
    for _ in 0..5 {
        assert_eq!(ana.get("/balance").await.body["balance"], 3);
    }
    // Another fan is not held back by ana.
    let bob = server.as_user("bob");
    assert_eq!(
        bob.post("/balance/charges", json!({"amount": 1}))
            .await
            .status,
        200
    );
}

pub async fn every_answer_names_its_request(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let ana = server.as_user("ana");
    let listed = ana.get("/concerts").await;
    let id = listed.headers["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let again = ana.get("/concerts").await;
    assert_ne!(again.headers["x-request-id"].to_str().unwrap(), id);
    // A problem carries it in its body too, with the path it happened at.
    let missing = ana
        .get("/reservations/00000000-0000-4000-8000-000000000000")
        .await;
    missing.assert_problem(404, "RESERVATION_NOT_FOUND");
    assert_eq!(
        missing.body["requestId"].as_str().unwrap(),
        missing.headers["x-request-id"].to_str().unwrap()
    );
    assert_eq!(
        missing.body["instance"],
        "/reservations/00000000-0000-4000-8000-000000000000"
    );
    // Its type resolves to its section of the page of problem types.
    let docs = reqwest::get(format!(
        "{}{}",
        server.base,
        missing.body["type"].as_str().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs
        .text()
        .await
        .unwrap()
        .contains("<section id=\"reservation-not-found\">"));
    // The server's own problems too.
    let nowhere = ana.get("/nowhere").await;
    nowhere.assert_problem(404, "ROUTE_NOT_FOUND");
    assert!(nowhere.body["requestId"].is_string());
    // A caller's well-formed id is kept; any other is replaced.
    let quoted = ana
        .with("X-Request-Id", "support-case-42")
        .get("/balance")
        .await;
    assert_eq!(quoted.headers["x-request-id"], "support-case-42");
    let forged = ana.with("X-Request-Id", "a b\"c").get("/balance").await;
    assert_ne!(forged.headers["x-request-id"], "a b\"c");
}
