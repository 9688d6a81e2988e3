//! A slot lasts while it is used: an active token idles out after ACTIVE_IDLE_SECONDS without a
//! request, never outlives ACTIVE_SECONDS, keeps its slot while its fan holds seats, renews at
//! most once an interval, and the tick fills a freed slot at once.

use std::sync::Arc;

use ticketing::booking::{QueueStatus, Reservation};
use ticketing::domain::{QueueToken, UserId};
use ticketing::store::TicketRecord;
use ticketing::{BookingError, Settings, Ticketing};

use crate::world::*;

/// A gated request that carries the token: the dates on sale.
/// The error's name: the tests compare outcomes.
fn named<T>(answer: Result<T, BookingError>) -> Result<T, String> {
    answer.map_err(|e| format!("{e:?}"))
}

async fn dates(booking: &Ticketing, fan: &UserId, token: &QueueToken) -> Result<(), String> {
    named(
        booking
            .dates_on_sale(fan, Some(token), &concert_id(SPRING))
            .await
            .map(|_| ()),
    )
}

/// The fan's ticket for SPRING, as stored.
async fn stored_ticket(w: &World, fan: &UserId) -> TicketRecord {
    w.store
        .ticket(fan, &concert_id(SPRING))
        .await
        .unwrap()
        .expect("the fan's ticket")
}

/// Live slots as the slot ledger counts them at `now`.
async fn live_slots(w: &World, now: i64) -> i64 {
    w.store
        .slot_ledger(&concert_id(SPRING))
        .await
        .unwrap()
        .iter()
        .map(|(_, shard)| shard.live(now))
        .sum()
}

/// One slot: ana is admitted, bob waits behind her (polling, so he is never dropped).
async fn one_slot(w: World) -> (World, (UserId, QueueToken), (UserId, QueueToken)) {
    let w = w.with_settings(Settings {
        max_active: 1,
        ..Settings::default()
    });
    let ana = w.admitted_fan("ana", SPRING).await;
    let bob = fan("bob");
    let (ticket, _) = w
        .booking
        .join_queue(&bob, &concert_id(SPRING))
        .await
        .unwrap();
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(SPRING).await, (0, 0), "the only slot is ana's");
    (w, ana, (bob, ticket.token))
}

async fn status(w: &World, fan: &UserId, token: &QueueToken) -> Result<QueueStatus, String> {
    named(
        w.booking
            .queue_status(fan, Some(token))
            .await
            .map(|t| t.status),
    )
}

pub async fn an_idle_token_ends_and_its_slot_is_refilled_at_the_next_tick(w: World) {
    let (w, (ana, ana_token), (bob, bob_token)) = one_slot(w).await;
    dates(&w.booking, &ana, &ana_token).await.unwrap();
    // Nothing carries ana's token for the idle time (and its rounding): it ends.
    w.advance(70);
    assert_eq!(status(&w, &bob, &bob_token).await, Ok(QueueStatus::Waiting));
    w.advance(70);
    assert_eq!(
        dates(&w.booking, &ana, &ana_token).await,
        Err("QueueTokenIdle".to_owned())
    );
    assert_eq!(
        status(&w, &ana, &ana_token).await,
        Err("QueueTokenIdle".to_owned())
    );
    assert_eq!(live_slots(&w, w.now().epoch_seconds()).await, 0);
    // The freed slot is bob's at the next tick.
    assert_eq!(w.tick(SPRING).await, (1, 0));
    assert_eq!(status(&w, &bob, &bob_token).await, Ok(QueueStatus::Active));
    dates(&w.booking, &bob, &bob_token).await.unwrap();
    // Joining again puts ana at the back, with a new token.
    let (again, created) = w
        .booking
        .join_queue(&ana, &concert_id(SPRING))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(again.token, ana_token);
    assert_eq!(again.status, QueueStatus::Waiting);
}

pub async fn a_token_with_a_live_hold_keeps_its_slot_until_the_hold_ends(w: World) {
    let (w, (ana, ana_token), (bob, bob_token)) = one_slot(w).await;
    let held = w
        .hold(&ana, &ana_token, SPRING, "2026-12-24", 1)
        .await
        .unwrap();
    let hold_ends = held.held_until.epoch_seconds();
    // Well past the idle time, no request from ana: the hold keeps her slot.
    for _ in 0..4 {
        w.advance(60);
        assert_eq!(status(&w, &bob, &bob_token).await, Ok(QueueStatus::Waiting));
        assert_eq!(
            w.tick(SPRING).await,
            (0, 0),
            "ana's slot lives with her hold"
        );
    }
    assert!(w.now().epoch_seconds() < hold_ends);
    // Once the hold has lapsed (and the slot's rounding), the token has idled out.
    let idle_at = hold_ends + 10;
    w.advance(idle_at - w.now().epoch_seconds());
    assert_eq!(status(&w, &bob, &bob_token).await, Ok(QueueStatus::Waiting));
    assert_eq!(
        dates(&w.booking, &ana, &ana_token).await,
        Err("QueueTokenIdle".to_owned())
    );
    assert_eq!(w.tick(SPRING).await, (1, 0), "bob takes the freed slot");
}

pub async fn a_hold_refused_gives_back_the_slot_time_it_took(w: World) {
    let w = w.with_settings(Settings {
        max_active: 2,
        ..Settings::default()
    });
    let (ana, ana_token) = w.admitted_fan("ana", SPRING).await;
    let (bob, bob_token) = w.admitted_fan("bob", SPRING).await;
    w.hold(&bob, &bob_token, SPRING, "2026-12-24", 7)
        .await
        .unwrap();
    // Ana orders the seat bob holds: refused, after her slot was moved for the hold.
    let asked = w.now().epoch_seconds();
    assert_eq!(
        named(w.hold(&ana, &ana_token, SPRING, "2026-12-24", 7).await).map(|_| ()),
        Err("SeatUnavailable([SeatNumber(7)])".to_owned())
    );
    let ticket = stored_ticket(&w, &ana).await;
    let until = ticket.active_until.unwrap();
    assert!(
        until <= asked + 120 + 10,
        "the refused hold kept ana's slot to {} s from now",
        until - asked
    );
    // She walks away: her slot ends with the idle time, not the hold's, and the ledger says so.
    w.advance(until - asked + 1);
    assert_eq!(
        dates(&w.booking, &ana, &ana_token).await,
        Err("QueueTokenIdle".to_owned())
    );
    assert_eq!(
        live_slots(&w, w.now().epoch_seconds()).await,
        1,
        "bob's, held"
    );
}

pub async fn a_fan_unseen_for_a_minute_no_longer_keeps_the_crowd_from_a_free_seat(w: World) {
    let w = w.with_settings(Settings {
        active_per_free_seat: 1,
        ..Settings::default()
    });
    w.small_concert("one-seat", 1).await;
    let one_seat = concert_id("one-seat");
    let ana = w.admitted_fan("ana", "one-seat").await;
    let bob = fan("bob");
    let (ticket, _) = w.booking.join_queue(&bob, &one_seat).await.unwrap();
    let bob = (bob, ticket.token);
    let poll = |fan: &(UserId, QueueToken)| {
        let (user, token) = fan.clone();
        let booking = w.booking.clone();
        async move {
            booking
                .queue_status(&user, Some(&token))
                .await
                .unwrap()
                .status
        }
    };
    // Ana keeps using her slot: one free seat, one fan for it, nobody more.
    for _ in 0..4 {
        w.advance(20);
        w.booking
            .dates_on_sale(&ana.0, Some(&ana.1), &one_seat)
            .await
            .unwrap();
        assert_eq!(poll(&bob).await, QueueStatus::Waiting);
        assert_eq!(w.tick("one-seat").await, (0, 0), "ana is there");
    }
    // She walks away. Her slot lives out its idle time, but after a minute unseen it no
    // longer keeps bob from the seat.
    w.advance(40);
    assert_eq!(w.tick("one-seat").await, (0, 0), "ana was seen 40 s ago");
    w.advance(30);
    assert_eq!(poll(&bob).await, QueueStatus::Waiting);
    assert_eq!(w.tick("one-seat").await, (1, 0), "ana unseen for 70 s");
    assert_eq!(poll(&bob).await, QueueStatus::Active);
    let state = w.store.queue_state(&one_seat, true).await.unwrap().unwrap();
    assert_eq!(
        state.active, 2,
        "ana's slot is live until its idle time ends"
    );
}

pub async fn a_fan_who_holds_can_pay_after_the_idle_time(w: World) {
    let (w, (ana, ana_token), (bob, bob_token)) = one_slot(w).await;
    w.charged(&ana, 200_000).await;
    let held = w
        .hold(&ana, &ana_token, SPRING, "2026-12-24", 1)
        .await
        .unwrap();
    w.advance(200);
    assert_eq!(status(&w, &bob, &bob_token).await, Ok(QueueStatus::Waiting));
    w.booking
        .pay(&ana, Some(&ana_token), held.reservation_id, None)
        .await
        .expect("the hold kept the token");
    // The payment ends ana's session: her slot is free at once, not when it would have ended.
    assert_eq!(live_slots(&w, w.now().epoch_seconds()).await, 0);
    assert_eq!(w.tick(SPRING).await, (1, 0));
}

/// The fan keeps her token with a request every 60 s until five seconds before its cap
/// (`ACTIVE_SECONDS` after her admission), and holds a seat then: the hold, and the cap.
async fn hold_at_the_cap(w: &World, fan: &UserId, token: &QueueToken) -> (Reservation, i64) {
    let admitted_at = stored_ticket(w, fan).await.admitted_at.unwrap();
    let cap = admitted_at + w.booking.settings().active_seconds;
    while w.now().epoch_seconds() + 60 < cap {
        w.advance(60);
        dates(&w.booking, fan, token).await.unwrap();
    }
    w.advance(cap - 5 - w.now().epoch_seconds());
    let held = w.hold(fan, token, SPRING, "2026-12-24", 1).await.unwrap();
    (held, cap)
}

pub async fn a_hold_in_a_tokens_last_seconds_can_still_be_paid(w: World) {
    let w = w.with_settings(Settings {
        active_seconds: 200,
        ..Settings::default()
    });
    let (ana, ana_token) = w.admitted_fan("ana", SPRING).await;
    w.charged(&ana, 200_000).await;
    let (held, cap) = hold_at_the_cap(&w, &ana, &ana_token).await;
    // Past the cap, the hold keeps the token: she pays.
    w.advance(60);
    assert!(w.now().epoch_seconds() > cap);
    w.booking
        .pay(&ana, Some(&ana_token), held.reservation_id, None)
        .await
        .expect("the hold kept the token past its cap");
}

pub async fn a_hold_keeps_a_token_past_its_cap_no_longer_than_the_hold(w: World) {
    let w = w.with_settings(Settings {
        active_seconds: 200,
        ..Settings::default()
    });
    let (ana, ana_token) = w.admitted_fan("ana", SPRING).await;
    let (held, cap) = hold_at_the_cap(&w, &ana, &ana_token).await;
    // The hold lapses unpaid: the token ends with it, and says it reached its end.
    w.advance(held.held_until.epoch_seconds() + 10 - w.now().epoch_seconds());
    assert_eq!(
        dates(&w.booking, &ana, &ana_token).await,
        Err("QueueTokenExpired".to_owned())
    );
    assert!(w.now().epoch_seconds() <= cap + w.booking.settings().hold_seconds + 10);
}

pub async fn renewal_writes_at_most_once_per_interval_under_concurrent_requests(w: World) {
    let w = Arc::new(w);
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    let before = stored_ticket(&w, &ana).await.active_until.unwrap();
    // The end was set long enough ago: the next request renews.
    w.advance(40);
    let containers: Vec<Ticketing> = std::iter::once(w.booking.clone())
        .chain((0..3).map(|_| w.container(0)))
        .collect();
    let renewals_before = w.script.calls("renew_ticket");
    let mut requests = tokio::task::JoinSet::new();
    for booking in &containers {
        for _ in 0..w.scale(25, 8) {
            let (booking, ana, token) = (booking.clone(), ana.clone(), token.clone());
            requests.spawn(async move { dates(&booking, &ana, &token).await });
        }
    }
    for answer in requests.join_all().await {
        answer.expect("every request goes through");
    }
    let sent = w.script.calls("renew_ticket") - renewals_before;
    assert!(
        (1..=containers.len()).contains(&sent),
        "one renewal a container at most: {sent}"
    );
    let ticket = stored_ticket(&w, &ana).await;
    let after = ticket.active_until.unwrap();
    let now = w.now().epoch_seconds();
    assert!(after > before && after >= now + 120, "{before} -> {after}");
    // Exactly one renewal was written: the ledger counts ana's one slot at its new end.
    assert_eq!(live_slots(&w, now).await, 1);
    assert_eq!(live_slots(&w, after - 1).await, 1);
    assert_eq!(live_slots(&w, after).await, 0);
    // Within the interval, requests renew nothing.
    w.advance(10);
    for booking in &containers {
        dates(booking, &ana, &token).await.unwrap();
    }
    assert_eq!(w.script.calls("renew_ticket") - renewals_before, sent);
}

pub async fn requests_keep_a_token_past_the_idle_time_but_not_past_its_cap(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    let ticket = stored_ticket(&w, &ana).await;
    let cap = ticket.admitted_at.unwrap() + w.booking.settings().active_seconds;
    let mut expires = ticket.active_until.unwrap();
    // A request every 50 s keeps it, and the ticket's expiresAt moves on with it.
    while w.now().epoch_seconds() + 50 < cap {
        w.advance(50);
        dates(&w.booking, &ana, &token).await.unwrap();
        let view = w.booking.queue_status(&ana, Some(&token)).await.unwrap();
        assert_eq!(view.status, QueueStatus::Active);
        let now_expires = view.expires_at.epoch_seconds();
        assert!(now_expires >= expires && now_expires <= cap);
        expires = now_expires;
    }
    assert!(
        expires > ticket.active_until.unwrap() + 300,
        "renewed on: {expires}"
    );
    assert_eq!(expires, cap, "the last renewals stop at the cap");
    w.advance(cap - w.now().epoch_seconds());
    assert_eq!(
        dates(&w.booking, &ana, &token).await,
        Err("QueueTokenExpired".to_owned()),
        "at its cap the token has expired, not idled out"
    );
}
