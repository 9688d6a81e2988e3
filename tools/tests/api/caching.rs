//! What may be cached, and conditional listings: the catalog until the next tick, personal
//! answers never, and a seat or section listing that has not changed answered `304`.

use reqwest::header::{CACHE_CONTROL, ETAG};

use crate::server::{Backend, Options, Server};

pub async fn listings_say_how_long_they_keep_and_unchanged_ones_are_304(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let ana = server.as_user("ana");
    // The local server ticks every second: the catalog is kept at most that long.
    let concerts = ana.get("/concerts").await;
    assert_eq!(concerts.headers[CACHE_CONTROL], "private, max-age=1");
    // Kept per caller and token, never one fan's copy for another.
    assert_eq!(
        concerts.headers["vary"],
        "Authorization, X-Queue-Token, X-User-Id"
    );
    assert_eq!(
        ana.get("/balance").await.headers[CACHE_CONTROL],
        "private, no-store"
    );
    let missing = ana
        .get("/payments/00000000-0000-4000-8000-000000000000")
        .await;
    missing.assert_problem(404, "PAYMENT_NOT_FOUND");
    assert_eq!(missing.headers[CACHE_CONTROL], "private, no-store");

    let token = ana.admitted("aurora-nights").await;
    let date = ana.first_date("aurora-nights", &token).await;
    let fan = ana.token(&token);
    let seats_path = format!("/concerts/aurora-nights/dates/{date}/seats");
    let seats = fan.get(&seats_path).await;
    assert_eq!(seats.status, 200, "{}", seats.body);
    assert_eq!(seats.headers[CACHE_CONTROL], "private, no-cache");
    let tag = seats.headers[ETAG].to_str().unwrap().to_owned();
    let unchanged = fan.with("If-None-Match", &tag).get(&seats_path).await;
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.body.is_null());
    assert_eq!(unchanged.headers[ETAG], tag.as_str());
    assert!(unchanged.headers.contains_key("x-request-id"));
    // A hold changes the listing: the old tag no longer matches.
    let held = fan
        .post(
            "/reservations",
            serde_json::json!({"concertId": "aurora-nights", "date": date, "seatNumber": 1}),
        )
        .await;
    assert_eq!(held.status, 201, "{}", held.body);
    assert_eq!(held.headers[CACHE_CONTROL], "private, no-store");
    let changed = fan.with("If-None-Match", &tag).get(&seats_path).await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.headers[ETAG], tag.as_str());

    let sections_path = format!("/concerts/aurora-nights/dates/{date}/sections");
    let sections = fan.get(&sections_path).await;
    assert_eq!(sections.status, 200, "{}", sections.body);
    assert_eq!(sections.headers[CACHE_CONTROL], "private, max-age=1");
    let tag = sections.headers[ETAG].to_str().unwrap().to_owned();
    let again = fan.with("If-None-Match", &tag).get(&sections_path).await;
    assert!(matches!(again.status.as_u16(), 200 | 304));
    if again.status == 200 {
        // A tick counted the hold in between: the sections did change.
        assert_ne!(again.headers[ETAG], tag.as_str());
    }
}
