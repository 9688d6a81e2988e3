//! Every function's sample event (`events/<function>.json`, the files `cargo lambda invoke
//! --data-file` takes) goes through that function's handler. The samples carry placeholder
//! tokens and ids; the journey swaps in live ones where a step needs them.

mod sample;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sample::{event, invoke, root, with_body, with_path, with_token};
use ticketing::booking::Catalog;
use ticketing::domain::{ManualClock, Timestamp};
use ticketing::http::{App, ROUTES};
use ticketing::lambda::admit_for_a_minute;
use ticketing::metrics::MetricsSink;
use ticketing::store::MemoryStore;
use ticketing::{Settings, Ticketing};

/// 2027-03-01T00:00:00Z, before the example catalog's dates.
const START: i64 = 1_803_859_200;

async fn app() -> (App, Arc<ManualClock>) {
    let settings = Settings {
        admit_tick_seconds: 60,
        ..Settings::default()
    };
    let clock = Arc::new(ManualClock::starting_at(Timestamp::from_epoch_seconds(
        START,
    )));
    let booking = Ticketing::new(Arc::new(MemoryStore::new()), clock.clone(), settings);
    let catalog = std::fs::read_to_string(root().join("catalog/example.json")).unwrap();
    booking
        .load_catalog(&Catalog::from_json(&catalog).unwrap())
        .await
        .unwrap();
    let app = App {
        metrics: MetricsSink::Off,
        booking,
        trust_user_header: false,
        edge: Default::default(),
    };
    (app, clock)
}

#[tokio::test]
async fn every_sample_event_is_answered_without_a_server_error() {
    let (app, _) = app().await;
    let mut functions: Vec<String> = std::fs::read_dir(root().join("events"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name != "admit-queue")
        .collect();
    functions.sort();
    let mut served: Vec<String> = ROUTES.iter().map(|r| r.function.to_owned()).collect();
    served.sort();
    assert_eq!(functions, served, "one event file per API function");
    for function in &functions {
        let (status, body) = invoke(&app, function, &event(function)).await;
        assert!(status < 500, "{function}: {status} {body}");
        if status >= 400 {
            assert!(body["code"].is_string(), "{function}: problem body {body}");
        }
    }
}

#[tokio::test]
async fn the_sample_events_walk_the_whole_journey() {
    let (app, clock) = app().await;
    let (status, concerts) = invoke(&app, "list-concerts", &event("list-concerts")).await;
    assert_eq!(
        (status, concerts["concerts"][0]["concertId"].as_str()),
        (200, Some("aurora-nights"))
    );

    let (status, ticket) = invoke(&app, "join-queue", &event("join-queue")).await;
    assert_eq!((status, ticket["status"].as_str()), (201, Some("WAITING")));
    let token = ticket["token"].clone();
    let (status, _) = invoke(&app, "join-queue", &event("join-queue")).await;
    assert_eq!(status, 200, "joining again returns the same token");

    // The tick admits from seconds that have settled.
    clock.advance(3);
    let minute = admit_for_a_minute(
        &app.booking,
        &app.metrics,
        SystemTime::now() + Duration::from_secs(90),
    )
    .await
    .unwrap();
    assert_eq!((minute.ticks, minute.admitted), (1, 1));
    let (status, ticket) = invoke(
        &app,
        "queue-status",
        &with_token(event("queue-status"), &token),
    )
    .await;
    assert_eq!((status, ticket["status"].as_str()), (200, Some("ACTIVE")));

    let (status, dates) =
        invoke(&app, "list-dates", &with_token(event("list-dates"), &token)).await;
    assert_eq!(
        (status, dates["dates"].as_array().map(Vec::len)),
        (200, Some(3))
    );
    let (status, chart) =
        invoke(&app, "list-seats", &with_token(event("list-seats"), &token)).await;
    assert_eq!(
        (status, chart["seats"].as_array().map(Vec::len)),
        (200, Some(50))
    );
    let (status, map) = invoke(
        &app,
        "list-sections",
        &with_token(event("list-sections"), &token),
    )
    .await;
    assert_eq!(
        (status, map["sections"].as_array().map(Vec::len)),
        (200, Some(3)),
        "the example hall's three price tiers, unnamed sections"
    );

    let (status, first) = invoke(&app, "hold-seat", &with_token(event("hold-seat"), &token)).await;
    assert_eq!((status, first["status"].as_str()), (201, Some("HELD")));
    let release = with_path(
        event("release-reservation"),
        "reservationId",
        &first["reservationId"],
    );
    assert_eq!(invoke(&app, "release-reservation", &release).await.0, 204);

    let (status, held) = invoke(&app, "hold-seat", &with_token(event("hold-seat"), &token)).await;
    assert_eq!(status, 201, "the released seat can be held again");
    let (status, again) = invoke(&app, "hold-seat", &with_token(event("hold-seat"), &token)).await;
    assert_eq!(
        (status, &again["reservationId"]),
        (200, &held["reservationId"]),
        "holding a seat one holds again is answered with that hold"
    );
    let (status, mine) = invoke(&app, "list-reservations", &event("list-reservations")).await;
    let listed: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        (status, listed),
        (200, vec!["HELD", "RELEASED"]),
        "newest first"
    );
    let read = with_path(
        event("get-reservation"),
        "reservationId",
        &held["reservationId"],
    );
    let (status, reservation) = invoke(&app, "get-reservation", &read).await;
    assert_eq!((status, reservation["seatNumber"].as_u64()), (200, Some(7)));

    let (status, balance) = invoke(&app, "charge-balance", &event("charge-balance")).await;
    assert_eq!((status, balance["balance"].as_i64()), (200, Some(200_000)));
    let (status, replay) = invoke(&app, "charge-balance", &event("charge-balance")).await;
    assert_eq!(
        (status, replay),
        (200, balance),
        "the sample's Idempotency-Key replays"
    );

    let pay = with_body(
        with_token(event("pay"), &token),
        serde_json::json!({ "reservationId": held["reservationId"] }),
    );
    let (status, receipt) = invoke(&app, "pay", &pay).await;
    assert_eq!(
        (status, receipt["balanceAfter"].as_i64()),
        (201, Some(35_000))
    );
    let read = with_path(event("get-payment"), "paymentId", &receipt["paymentId"]);
    assert_eq!(invoke(&app, "get-payment", &read).await, (200, receipt));

    let (status, balance) = invoke(&app, "get-balance", &event("get-balance")).await;
    assert_eq!((status, balance["balance"].as_i64()), (200, Some(35_000)));
    let (status, history) = invoke(
        &app,
        "list-balance-transactions",
        &event("list-balance-transactions"),
    )
    .await;
    assert_eq!(
        (status, history["items"].as_array().map(Vec::len)),
        (200, Some(2))
    );

    let (status, problem) =
        invoke(&app, "list-dates", &with_token(event("list-dates"), &token)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("QUEUE_TOKEN_EXPIRED"))
    );
}

#[tokio::test]
async fn without_claims_nobody_is_served() {
    let (app, _) = app().await;
    let mut anonymous = event("get-balance");
    anonymous["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    anonymous["headers"]["x-user-id"] = "intruder".into();
    let (status, problem) = invoke(&app, "get-balance", &anonymous).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
}

#[tokio::test]
async fn operators_are_known_by_iam_and_a_fans_jwt_never_opens_admin_routes() {
    let (app, _) = app().await;
    let (status, room) = invoke(&app, "get-waiting-room", &event("get-waiting-room")).await;
    assert_eq!((status, room["state"].as_str()), (200, Some("OPEN")));
    let (status, room) = invoke(&app, "change-waiting-room", &event("change-waiting-room")).await;
    assert_eq!((status, room["state"].as_str()), (200, Some("PAUSED")));

    let (status, added) = invoke(&app, "add-concert", &event("add-concert")).await;
    assert_eq!(
        (status, added["concertId"].as_str()),
        (201, Some("spring-encore"))
    );
    let (status, again) = invoke(&app, "add-concert", &event("add-concert")).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("CONCERT_EXISTS"))
    );

    // The same calls with a fan's verified JWT instead of an IAM principal: a fan's sign-in
    // (no group, or another group) is refused, whatever header it adds.
    let fan_claims = event("get-balance")["requestContext"]["authorizer"].clone();
    for groups in [None, Some("[fans]"), Some("[operators-trainee]")] {
        let mut claims = fan_claims.clone();
        if let Some(groups) = groups {
            claims["jwt"]["claims"]["cognito:groups"] = groups.into();
        }
        for function in ADMIN_FUNCTIONS {
            let mut as_fan = event(function);
            as_fan["requestContext"]["authorizer"] = claims.clone();
            as_fan["headers"]["x-operator-id"] = "not-trusted-here".into();
            let (status, problem) = invoke(&app, function, &as_fan).await;
            assert_eq!(
                (status, problem["code"].as_str()),
                (403, Some("NOT_AN_OPERATOR")),
                "{function} with groups {groups:?}"
            );
        }
    }
    let (_, room) = invoke(&app, "get-waiting-room", &event("get-waiting-room")).await;
    assert_eq!(room["state"], "PAUSED", "the refused calls changed nothing");
}

/// The functions behind the `/admin` routes.
const ADMIN_FUNCTIONS: [&str; 3] = ["get-waiting-room", "change-waiting-room", "add-concert"];

/// A verified JWT of a member of the operators group, as API Gateway's JWT authorizer hands it
/// to the function (a list claim flattened to `[a b]`).
fn operator_jwt(sub: &str, groups: &str) -> serde_json::Value {
    serde_json::json!({ "jwt": { "claims": {
        "sub": sub,
        "iss": "https://issuer.example",
        "aud": "ticketing-client",
        "cognito:groups": groups,
    }, "scopes": null } })
}

#[tokio::test]
async fn an_operators_jwt_opens_every_admin_route() {
    let (app, _) = app().await;
    let operator = operator_jwt("op-sub-1", "[fans operators]");
    let mut results = Vec::new();
    for function in ADMIN_FUNCTIONS {
        let mut signed_in = event(function);
        signed_in["requestContext"]["authorizer"] = operator.clone();
        results.push(invoke(&app, function, &signed_in).await);
    }
    assert_eq!(
        (results[0].0, results[0].1["state"].as_str()),
        (200, Some("OPEN"))
    );
    assert_eq!(
        (results[1].0, results[1].1["state"].as_str()),
        (200, Some("PAUSED"))
    );
    assert_eq!(
        (results[2].0, results[2].1["concertId"].as_str()),
        (201, Some("spring-encore"))
    );
    // A JWT without its subject names no operator.
    let mut nameless = event("get-waiting-room");
    nameless["requestContext"]["authorizer"] = operator_jwt("", "[operators]");
    let (status, problem) = invoke(&app, "get-waiting-room", &nameless).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("NOT_AN_OPERATOR"))
    );
}

#[test]
fn the_scheduled_event_is_json_for_the_admitter() {
    let scheduled = event("admit-queue");
    assert_eq!(scheduled["detail-type"], "Scheduled Event");
}
