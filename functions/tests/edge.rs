//! The API's edge (`ApiEdge`): with `ORIGIN_VERIFY_SECRET` set, a fan's request that did not
//! come through the edge (no `X-Origin-Verify`, or a wrong one) is `403 EDGE_REQUIRED` before
//! any store is touched; the right secret is served; unset, nothing is checked. And problem
//! `type` URIs under the configured base.

#[allow(dead_code)] // the other `with_*` helpers are for the other tests
mod sample;

use std::sync::Arc;

use sample::{event, invoke, root, with_path};
use serde_json::Value;
use ticketing::booking::Catalog;
use ticketing::domain::{ManualClock, Timestamp};
use ticketing::http::{App, Edge, OriginSecret, ProblemTypes, ORIGIN_VERIFY_HEADER};
use ticketing::metrics::MetricsSink;
use ticketing::store::{MemoryStore, MeteredStore};
use ticketing::{Settings, Ticketing};

/// 2027-03-01T00:00:00Z, before the example catalog's dates.
const START: i64 = 1_803_859_200;
const SECRET: &str = "Zq8Lw3Nv6Rt1Yb9Kd4Hs7Pm2Xc5Gf0Ja8Ue3Wi6";

/// A service over a metered store (every store call is recorded), with `edge`.
async fn app(edge: Edge) -> (App, Arc<MeteredStore<MemoryStore>>) {
    let clock = Arc::new(ManualClock::starting_at(Timestamp::from_epoch_seconds(
        START,
    )));
    let store = Arc::new(MeteredStore::new(MemoryStore::new()));
    let booking = Ticketing::new(store.clone(), clock, Settings::default());
    let catalog = std::fs::read_to_string(root().join("catalog/example.json")).unwrap();
    booking
        .load_catalog(&Catalog::from_json(&catalog).unwrap())
        .await
        .unwrap();
    store.take_requests();
    let app = App {
        booking,
        trust_user_header: false,
        metrics: MetricsSink::Off,
        edge,
    };
    (app, store)
}

fn behind_the_edge() -> Edge {
    Edge {
        origin_secret: OriginSecret::new(SECRET),
        ..Edge::default()
    }
}

fn with_origin(mut event: Value, value: &str) -> Value {
    event["headers"][ORIGIN_VERIFY_HEADER] = value.into();
    event
}

#[tokio::test]
async fn a_fan_request_around_the_edge_is_refused_before_any_store_call() {
    let (app, store) = app(behind_the_edge()).await;
    let wrong = format!("{}x", &SECRET[1..]);
    for function in ["list-concerts", "join-queue", "hold-seat", "pay"] {
        for sent in [None, Some(""), Some(wrong.as_str()), Some(&SECRET[..32])] {
            let request = match sent {
                None => event(function),
                Some(value) => with_origin(event(function), value),
            };
            let (status, problem) = invoke(&app, function, &request).await;
            assert_eq!(
                (status, problem["code"].as_str()),
                (403, Some("EDGE_REQUIRED")),
                "{function} with {sent:?}: {problem}"
            );
            assert_eq!(problem["type"], "/problems/edge-required");
            assert!(
                store.take_requests().is_empty(),
                "{function}: the store was called"
            );
        }
    }
}

#[tokio::test]
async fn a_fan_request_through_the_edge_is_served() {
    let (app, store) = app(behind_the_edge()).await;
    let (status, concerts) = invoke(
        &app,
        "list-concerts",
        &with_origin(event("list-concerts"), SECRET),
    )
    .await;
    assert_eq!(
        (status, concerts["concerts"][0]["concertId"].as_str()),
        (200, Some("aurora-nights"))
    );
    assert!(!store.take_requests().is_empty());
    let (status, ticket) = invoke(
        &app,
        "join-queue",
        &with_origin(event("join-queue"), SECRET),
    )
    .await;
    assert_eq!((status, ticket["status"].as_str()), (201, Some("WAITING")));
}

#[tokio::test]
async fn without_the_setting_nothing_is_checked() {
    let (app, _) = app(Edge::default()).await;
    let (status, _) = invoke(&app, "list-concerts", &event("list-concerts")).await;
    assert_eq!(status, 200);
    let (status, _) = invoke(
        &app,
        "list-concerts",
        &with_origin(event("list-concerts"), "anything"),
    )
    .await;
    assert_eq!(status, 200);
}

/// The operator routes (SigV4 on the main API, the operator page's own API) and the provider's
/// signed webhook do not pass the edge: they are not asked for its secret.
#[tokio::test]
async fn operators_and_the_provider_webhook_do_not_pass_the_edge() {
    let (app, _) = app(behind_the_edge()).await;
    for function in ["get-waiting-room", "add-concert", "stripe-webhook"] {
        let (status, body) = invoke(&app, function, &event(function)).await;
        assert_ne!(
            body["code"].as_str(),
            Some("EDGE_REQUIRED"),
            "{function}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn problem_types_are_under_the_configured_base() {
    let base = "https://d111111abcdef8.cloudfront.net/problems.html#";
    let (app, _) = app(Edge {
        problem_types: ProblemTypes::absolute(base).unwrap(),
        origin_secret: OriginSecret::new(SECRET),
    })
    .await;
    let (status, problem) = invoke(&app, "list-concerts", &event("list-concerts")).await;
    assert_eq!(status, 403);
    assert_eq!(problem["type"], format!("{base}edge-required"));
    let unknown = with_path(
        with_origin(event("get-reservation"), SECRET),
        "reservationId",
        &"not-a-reservation-id".into(),
    );
    let (status, problem) = invoke(&app, "get-reservation", &unknown).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        problem["type"],
        format!(
            "{base}{}",
            ticketing::http::slug(problem["code"].as_str().unwrap())
        )
    );
}
