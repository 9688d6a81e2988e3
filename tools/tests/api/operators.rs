//! The `/admin` routes over HTTP: the waiting room read and changed live by an operator, a
//! fan's identity refused, bad values refused with nothing changed, and a concert added.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::server::{Backend, Caller, Options, Server};

const ROOM: &str = "/admin/concerts/aurora-nights/waiting-room";

async fn patch(operator: &Caller<'_>, body: &str) -> crate::server::Reply {
    operator
        .send(Method::PATCH, ROOM, Some(body.to_owned()))
        .await
}

pub async fn operators_watch_and_turn_the_waiting_room(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let operator = server.anonymous().with("X-Operator-Id", "alice@ops");

    // A fan's identity alone never opens the admin routes.
    server
        .as_user("fan-1")
        .get(ROOM)
        .await
        .assert_problem(401, "OPERATOR_REQUIRED");
    server
        .as_user("fan-1")
        .send(Method::PATCH, ROOM, Some(r#"{"paused": true}"#.into()))
        .await
        .assert_problem(401, "OPERATOR_REQUIRED");

    let room = operator.get(ROOM).await;
    assert_eq!(room.status, 200, "{}", room.body);
    assert_eq!(room.content_type, "application/json");
    let fields: Vec<&str> = room
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for field in [
        "concertId",
        "state",
        "waiting",
        "active",
        "admittedTotal",
        "droppedTotal",
        "seats",
        "admitPerTick",
        "maxActive",
        "admitTickSeconds",
        "estimatedWaitSecondsForLast",
        "queueOpensAt",
        "saleOpensAt",
    ] {
        assert!(fields.contains(&field), "{field} in {}", room.body);
    }
    assert_eq!(room.body["state"], "OPEN");
    assert_eq!(
        room.body["seats"],
        json!({"free": 150, "held": 0, "sold": 0})
    );
    let defaults = room.body.clone();

    // Bad values: 400 with a stable code, and nothing changes.
    for (body, code) in [
        (r#"{"admitPerTick": 0}"#, "INVALID_ADMIT_PER_TICK"),
        (r#"{"admitPerTick": 10001}"#, "INVALID_ADMIT_PER_TICK"),
        (r#"{"admitPerTick": "5"}"#, "INVALID_ADMIT_PER_TICK"),
        (r#"{"admitPerTick": 2.5}"#, "INVALID_ADMIT_PER_TICK"),
        (r#"{"maxActive": 100001}"#, "INVALID_MAX_ACTIVE"),
        (r#"{"maxActive": null}"#, "INVALID_MAX_ACTIVE"),
        (r#"{"paused": "yes"}"#, "INVALID_PAUSED"),
        (r#"{"paused": true, "maxActive": 0}"#, "INVALID_MAX_ACTIVE"),
        (r#"{"paws": true}"#, "UNKNOWN_FIELD"),
        (r#"{"paused": tru"#, "MALFORMED_JSON"),
        (r#"[{"paused": true}]"#, "INVALID_REQUEST"),
        ("", "INVALID_REQUEST"),
    ] {
        patch(&operator, body).await.assert_problem(400, code);
    }
    assert_eq!(operator.get(ROOM).await.body, defaults, "nothing changed");
    operator
        .get("/admin/concerts/no-such-show/waiting-room")
        .await
        .assert_problem(404, "CONCERT_NOT_FOUND");
    operator
        .get("/admin/concerts/not%20an%20id/waiting-room")
        .await
        .assert_problem(400, "INVALID_CONCERT_ID");

    // Paused: the fan who joins waits however many ticks pass, and polls go on answering.
    let paused = patch(&operator, r#"{"paused": true}"#).await;
    assert_eq!(
        (paused.status.as_u16(), paused.body["state"].as_str()),
        (200, Some("PAUSED"))
    );
    let fan = server.as_user("fan-1");
    let joined = fan
        .post("/concerts/aurora-nights/queue/tokens", Value::Null)
        .await;
    assert_eq!(joined.status, 201, "{}", joined.body);
    let token = joined.body["token"].as_str().unwrap().to_owned();
    let mut position = Value::Null;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let polled = fan.token(&token).get("/queue/status").await;
        assert_eq!(polled.status, 200, "{}", polled.body);
        assert_eq!(polled.body["status"], "WAITING", "{}", polled.body);
        // None until a tick has counted the fan's second, then first in line.
        position = polled.body["position"].clone();
        assert!(position.is_null() || position == 1, "{}", polled.body);
        // A tick has seen the pause once it counted the fan: the fan is told why nothing moves.
        if position == 1 {
            assert_eq!(polled.body["admissionPaused"], true, "{}", polled.body);
        }
    }
    assert_eq!(position, 1, "counted by now, and first");
    let room = operator.get(ROOM).await.body;
    assert_eq!(
        (room["waiting"].as_u64(), room["active"].as_u64()),
        (Some(1), Some(0))
    );

    // Resumed with a lower rate: admitted at the next tick.
    let resumed = patch(&operator, r#"{"paused": false, "admitPerTick": 7}"#).await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    assert_eq!(
        (
            resumed.body["state"].as_str(),
            resumed.body["admitPerTick"].as_u64()
        ),
        (Some("OPEN"), Some(7))
    );
    assert_eq!(resumed.body["maxActive"], defaults["maxActive"]);
    let token = fan.admitted("aurora-nights").await;
    let polled = fan.token(&token).get("/queue/status").await;
    assert_eq!(
        (&polled.body["status"], &polled.body["admissionPaused"]),
        (&json!("ACTIVE"), &json!(false)),
        "{}",
        polled.body
    );
    let room = operator.get(ROOM).await.body;
    assert_eq!(
        (room["active"].as_u64(), room["admittedTotal"].as_u64()),
        (Some(1), Some(1))
    );
}

pub async fn operators_add_a_concert_without_a_deploy(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let operator = server.anonymous().with("X-Operator-Id", "alice@ops");
    let concert = json!({
        "concertId": "pop-up", "title": "Pop-up Night", "dates": ["2099-05-01"],
        "seatPrices": [{"fromSeat": 1, "toSeat": 50, "price": 77000}]
    });
    server
        .as_user("fan-1")
        .post("/admin/concerts", concert.clone())
        .await
        .assert_problem(401, "OPERATOR_REQUIRED");

    let mut inverted = concert.clone();
    inverted["queueOpensAt"] = "2099-04-01T11:00:00Z".into();
    inverted["saleOpensAt"] = "2099-04-01T10:00:00Z".into();
    let refused = operator.post("/admin/concerts", inverted).await;
    refused.assert_problem(400, "INVALID_CATALOG");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("queueOpensAt"),
        "{}",
        refused.body
    );
    let mut unknown = concert.clone();
    unknown["venue"] = "Olympic Hall".into();
    operator
        .post("/admin/concerts", unknown)
        .await
        .assert_problem(400, "UNKNOWN_FIELD");
    let mut no_dates = concert.clone();
    no_dates["dates"] = json!([]);
    operator
        .post("/admin/concerts", no_dates)
        .await
        .assert_problem(400, "INVALID_CATALOG");

    let added = operator.post("/admin/concerts", concert.clone()).await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(
        added.headers["location"],
        "/admin/concerts/pop-up/waiting-room"
    );
    assert_eq!(
        (
            added.body["concertId"].as_str(),
            added.body["soldOut"].as_bool()
        ),
        (Some("pop-up"), Some(false))
    );
    let mut renamed = concert.clone();
    renamed["title"] = "Overwritten".into();
    operator
        .post("/admin/concerts", renamed)
        .await
        .assert_problem(409, "CONCERT_EXISTS");

    for _ in 0..20 {
        let listed = server.as_user("viewer").get("/concerts").await;
        if let Some(pop_up) = listed.body["concerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["concertId"] == "pop-up")
        {
            assert_eq!(pop_up["title"], "Pop-up Night");
            let room = operator.get("/admin/concerts/pop-up/waiting-room").await;
            assert_eq!(room.body["seats"]["free"], 50);
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the added concert never showed in GET /concerts");
}
