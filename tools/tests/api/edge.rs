//! A server configured as a stack behind its edge (`ORIGIN_VERIFY_SECRET`, `PROBLEM_TYPE_BASE`):
//! a fan's request without the edge's header is `403 EDGE_REQUIRED` and changes nothing, one
//! with it is served, and every problem's `type` is under the configured base. A bad base stops
//! the server before it listens.

use std::process::{Command, Stdio};

use serde_json::json;

use crate::server::{Backend, Options, Server};

const SECRET: &str = "Hn4Qe7Wt2Ky9Pb6Ls1Dz8Vc3Mg5Rf0Xj";
const BASE: &str = "https://d111111abcdef8.cloudfront.net/problems.html#";

pub async fn fans_reach_a_server_behind_an_edge_only_through_it(backend: Backend) {
    let options = Options {
        env: vec![
            ("ORIGIN_VERIFY_SECRET", SECRET.into()),
            ("PROBLEM_TYPE_BASE", BASE.into()),
        ],
        catalog: None,
    };
    let Some(server) = Server::start(backend, options) else {
        return;
    };
    let around = server.as_user("ana");
    let through = around.with("X-Origin-Verify", SECRET);
    let wrong = around.with("X-Origin-Verify", &SECRET.to_ascii_lowercase());

    for caller in [&around, &wrong] {
        let refused = caller.get("/concerts").await;
        refused.assert_problem(403, "EDGE_REQUIRED");
        assert_eq!(refused.body["type"], format!("{BASE}edge-required"));
        assert!(refused.headers.contains_key("x-request-id"));
        caller
            .post("/balance/charges", json!({"amount": 5}))
            .await
            .assert_problem(403, "EDGE_REQUIRED");
    }
    // The refused charges changed nothing.
    let balance = through.get("/balance").await;
    assert_eq!(
        (balance.status.as_u16(), &balance.body["balance"]),
        (200, &json!(0))
    );

    let concerts = through.get("/concerts").await;
    assert_eq!(concerts.status, 200, "{}", concerts.body);
    let charged = through.post("/balance/charges", json!({"amount": 5})).await;
    assert_eq!(charged.status, 200, "{}", charged.body);
    // A problem past the edge's check names the same base.
    let unknown = through.get("/reservations/not-a-reservation").await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    let code = unknown.code().to_ascii_lowercase().replace('_', "-");
    assert_eq!(unknown.body["type"], format!("{BASE}{code}"));
}

/// A base the functions would refuse stops the local server too, naming the variable.
#[test]
fn a_relative_or_plain_http_problem_type_base_stops_the_server() {
    for bad in ["/docs/problems/", "http://docs.example.com/problems/"] {
        let output = Command::new(env!("CARGO_BIN_EXE_local-server"))
            .env("PORT", "0")
            .env("PROBLEM_TYPE_BASE", bad)
            .env("RUST_LOG", "off")
            .stdin(Stdio::null())
            .output()
            .expect("run local-server");
        assert!(!output.status.success());
        assert!(output.stdout.is_empty(), "it never listened");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains("PROBLEM_TYPE_BASE must be"), "{said}");
    }
}
