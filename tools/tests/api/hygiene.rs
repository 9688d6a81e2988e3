//! Input that means one thing only, and a server that answers only its own name.

use serde_json::json;

use crate::server::{Backend, Options, Server};

pub async fn ambiguous_input_and_foreign_hosts_are_refused(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let ana = server.as_user("ana");
    // Last-wins would charge a million; first-wins one won: neither, refused.
    ana.post_raw("/balance/charges", r#"{"amount": 1, "amount": 1000000}"#)
        .await
        .assert_problem(400, "MALFORMED_JSON");
    assert_eq!(ana.get("/balance").await.body["balance"], 0);
    // A section name that looks like another is no concert's section.
    let catalog = json!({"concertId": "lookalike", "title": "Look-alike",
        "dates": ["2031-01-01"],
        "sections": [{"section": "Floor\u{200b}A", "fromSeat": 1, "toSeat": 5, "price": 1000}]});
    let operator = server.anonymous().with("X-Operator-Id", "op");
    let refused = operator.post("/admin/concerts", catalog).await;
    refused.assert_problem(400, "INVALID_CATALOG");
    assert!(refused.body["detail"].as_str().unwrap().contains("U+200B"));
    // DNS rebinding: a page's own name pointed at 127.0.0.1 is not this server's name.
    let rebound = ana.with("Host", "attacker.example").get("/balance").await;
    rebound.assert_problem(400, "INVALID_REQUEST");
    assert!(rebound.headers.contains_key("x-request-id"));
    let page = reqwest::Client::new()
        .get(format!("{}/", server.base))
        .header("Host", "attacker.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400, "the fan page is refused too");
}
