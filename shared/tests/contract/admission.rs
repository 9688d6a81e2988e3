//! The admission tick at scale and under races: many fans in one tick, ticks racing each other,
//! joins and polls, pacing by free seats, and what a container's cached state may report.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinSet;

use ticketing::booking::QueueStatus;
use ticketing::domain::{QueueToken, UserId};
use ticketing::store::TicketStatus;
use ticketing::{Settings, Ticketing};

use crate::world::*;

async fn join(w: &World, name: &str, concert: &str) -> (UserId, QueueToken) {
    let fan = fan(name);
    let (ticket, _) = w
        .booking
        .join_queue(&fan, &concert_id(concert))
        .await
        .unwrap();
    (fan, ticket.token)
}

async fn status(booking: &Ticketing, fan: &(UserId, QueueToken)) -> QueueStatus {
    booking
        .queue_status(&fan.0, Some(&fan.1))
        .await
        .unwrap()
        .status
}

pub async fn one_tick_admits_hundreds_of_fans(w: World) {
    let w = w.with_settings(Settings {
        admit_per_tick: 1_000,
        max_active: 10_000,
        ..Settings::default()
    });
    let crowd = w.admitted_crowd("many", 250, SPRING).await;
    for fan in &crowd {
        assert_eq!(status(&w.booking, fan).await, QueueStatus::Active);
    }
    let state = w
        .store
        .queue_state(&concert_id(SPRING), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((state.admitted_total, state.active), (250, 250));
}

pub async fn ticks_racing_joins_polls_and_each_other_admit_in_order_within_max_active(w: World) {
    let w = Arc::new(w.with_settings(Settings {
        admit_per_tick: 20,
        max_active: 50,
        ..Settings::default()
    }));
    let fans = w.scale(200, 60);
    let mut racers = JoinSet::new();
    // Fans join over a few seconds while the clock moves, two tickers tick, and fans poll.
    for i in 0..fans {
        let w = w.clone();
        racers.spawn(async move {
            let fan = join(&w, &format!("racer{i:03}"), SPRING).await;
            for _ in 0..3 {
                tokio::task::yield_now().await;
                status(&w.booking, &fan).await;
            }
        });
    }
    for _ in 0..2 {
        let w = w.clone();
        racers.spawn(async move {
            for _ in 0..20 {
                w.booking.admit_waiting().await.unwrap();
                tokio::task::yield_now().await;
            }
        });
    }
    {
        let w = w.clone();
        racers.spawn(async move {
            for _ in 0..10 {
                tokio::task::yield_now().await;
                w.advance(1);
            }
        });
    }
    racers.join_all().await;
    // The racing tickers took the slots up to now.
    w.advance(SETTLE_SECONDS + 10);
    for _ in 0..10 {
        w.tick_report().await;
    }

    let concert = concert_id(SPRING);
    let mut tickets = Vec::new();
    for i in 0..fans {
        let ticket = w
            .store
            .ticket(&fan(&format!("racer{i:03}")), &concert)
            .await
            .unwrap()
            .expect("every join left a ticket");
        tickets.push(ticket);
    }
    let active: Vec<_> = tickets
        .iter()
        .filter(|t| t.status == TicketStatus::Active)
        .collect();
    assert_eq!(
        active.len(),
        50,
        "exactly MAX_ACTIVE, however the ticks raced"
    );
    assert!(tickets
        .iter()
        .all(|t| matches!(t.status, TicketStatus::Active | TicketStatus::Waiting)));
    // First come, first served to the second: nobody admitted behind a waiting earlier joiner.
    let latest_admitted = active.iter().map(|t| t.place().second).max().unwrap();
    let earliest_waiting = tickets
        .iter()
        .filter(|t| t.status == TicketStatus::Waiting)
        .map(|t| t.place().second)
        .min()
        .unwrap();
    let passed_over: Vec<_> = tickets
        .iter()
        .filter(|t| t.status == TicketStatus::Waiting && t.place().second < latest_admitted)
        .map(|t| (t.user_id.to_string(), t.place(), t.last_seen_at))
        .collect();
    assert!(
        latest_admitted <= earliest_waiting,
        "admitted through second {latest_admitted}, yet waiting: {passed_over:?}"
    );
    let state = w.store.queue_state(&concert, true).await.unwrap().unwrap();
    assert_eq!((state.admitted_total, state.active), (50, 50));
}

pub async fn admission_stops_at_zero_free_seats_and_resumes_when_holds_end(w: World) {
    let w = w.with_settings(Settings {
        active_per_free_seat: 1,
        active_seconds: 60,
        hold_seconds: 300,
        ..Settings::default()
    });
    w.small_concert("one-seat", 1).await;
    let mut fans = Vec::new();
    for name in ["ana", "bob", "cho", "dan"] {
        fans.push(join(&w, name, "one-seat").await);
        w.advance(1);
    }
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick("one-seat").await, (1, 0), "one free seat, one fan");
    let (ana, ana_token) = &fans[0];
    let held = w
        .hold(ana, ana_token, "one-seat", "2026-12-24", 1)
        .await
        .unwrap();
    assert_eq!(w.tick("one-seat").await, (0, 0));
    // Ana's token ends; her hold does not: still no free seat, nobody admitted.
    w.advance(61);
    assert_eq!(w.tick("one-seat").await, (0, 0));
    // She releases it: the seat is free again, and the next fan comes in.
    w.booking
        .release_reservation(ana, held.reservation_id)
        .await
        .unwrap();
    assert_eq!(w.tick("one-seat").await, (1, 0));
    assert_eq!(status(&w.booking, &fans[1]).await, QueueStatus::Active);
    let (bob, bob_token) = &fans[1];
    w.hold(bob, bob_token, "one-seat", "2026-12-24", 1)
        .await
        .unwrap();
    w.advance(61);
    assert_eq!(w.tick("one-seat").await, (0, 0));
    // Bob's hold lapses unpaid: the seat is free without anyone writing, and the tick sees it.
    // (Cho and Dan keep polling meanwhile, or they would be dropped as idle.)
    for _ in 0..3 {
        w.advance(80);
        for waiting in &fans[2..] {
            status(&w.booking, waiting).await;
        }
    }
    assert_eq!(w.tick("one-seat").await, (1, 0));
    assert_eq!(status(&w.booking, &fans[2]).await, QueueStatus::Active);
}

pub async fn a_fan_holding_seats_does_not_keep_the_crowd_from_the_free_ones(w: World) {
    let w = w.with_settings(Settings {
        active_per_free_seat: 1,
        ..Settings::default()
    });
    w.small_concert("two-seats", 2).await;
    let mut fans = Vec::new();
    for name in ["ana", "bob", "cho"] {
        fans.push(join(&w, name, "two-seats").await);
        w.advance(1);
    }
    w.advance(SETTLE_SECONDS);
    assert_eq!(
        w.tick("two-seats").await,
        (2, 0),
        "two free seats, two fans"
    );
    let (ana, ana_token) = &fans[0];
    w.hold(ana, ana_token, "two-seats", "2026-12-24", 1)
        .await
        .unwrap();
    // One seat free and bob shopping for it: nobody more.
    assert_eq!(w.tick("two-seats").await, (0, 0));
    // Bob walks away and idles out; ana's hold keeps her slot, but she has her seat: the free
    // one waits for nobody, and cho comes in for it.
    w.advance(131);
    assert_eq!(status(&w.booking, &fans[2]).await, QueueStatus::Waiting);
    assert_eq!(w.tick("two-seats").await, (1, 0));
    assert_eq!(status(&w.booking, &fans[2]).await, QueueStatus::Active);
    let state = w
        .store
        .queue_state(&concert_id("two-seats"), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((state.admitted_total, state.active), (3, 2));
}

pub async fn the_front_of_a_stalled_queue_polls_after_each_tick(w: World) {
    // One slot, and fifty fans a seat: the fifty first in line are within the next tick's
    // reach of the one seat, should it come free.
    let w = w.with_settings(Settings {
        active_per_free_seat: 50,
        max_active: 1,
        ..Settings::default()
    });
    w.small_concert("one-seat", 1).await;
    let mut fans = vec![join(&w, "ana", "one-seat").await];
    w.advance(1);
    for i in 0..60 {
        fans.push(join(&w, &format!("fan{i:02}"), "one-seat").await);
    }
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick("one-seat").await, (1, 0));
    let (ana, ana_token) = &fans[0];
    w.hold(ana, ana_token, "one-seat", "2026-12-24", 1)
        .await
        .unwrap();
    // The only seat held: nobody admitted for a minute, the measured rate at its floor (a fan
    // a tick), which puts the 40th fan 400 s away.
    for _ in 0..6 {
        w.advance(10);
        assert_eq!(w.tick("one-seat").await, (0, 0));
    }
    let mut line = Vec::new();
    for (user, token) in &fans[1..] {
        line.push(w.booking.queue_status(user, Some(token)).await.unwrap());
    }
    line.sort_by_key(|ticket| ticket.position);
    // Within reach, it polls after each tick all the same; beyond, rarely.
    let (near, far) = (&line[39], &line[59]);
    assert_eq!((near.position, far.position), (Some(40), Some(60)));
    assert!(
        (11..=13).contains(&near.poll_after_seconds),
        "the 40th polls after {} s",
        near.poll_after_seconds
    );
    assert!(
        far.poll_after_seconds >= 60,
        "the 60th polls after {} s",
        far.poll_after_seconds
    );
}

pub async fn a_cached_reader_is_never_ahead_of_the_truth_and_lags_at_most_a_tick(w: World) {
    let per_tick = 3u64;
    let settings = Settings {
        admit_per_tick: per_tick as u32,
        ..Settings::default()
    };
    let w = w.with_settings(settings.clone());
    // A second container, with its own cache, reads while the first one ticks.
    let reader = Ticketing::new(w.store.clone(), w.clock.clone(), settings.clone());
    let truth = || Ticketing::new(w.store.clone(), w.clock.clone(), settings.clone());
    let mut fans = Vec::new();
    for i in 0..30 {
        fans.push(join(&w, &format!("fan{i:02}"), SPRING).await);
        if i % 5 == 4 {
            w.advance(1);
        }
    }
    w.advance(SETTLE_SECONDS);
    let last = fans.last().unwrap().clone();
    let mut lagged = 0;
    let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
    for round in 0..8 {
        // Off schedule: the reader's copy stays current until the tick it expects.
        w.advance(if round % 2 == 0 { 4 } else { 6 });
        w.tick_report().await;
        let cached = reader
            .queue_status(&last.0, Some(&last.1))
            .await
            .unwrap()
            .position
            .unwrap();
        let fresh = truth()
            .queue_status(&last.0, Some(&last.1))
            .await
            .unwrap()
            .position
            .unwrap();
        assert!(
            cached >= fresh,
            "round {round}: {cached} promised, truth {fresh}"
        );
        assert!(
            cached <= fresh + per_tick,
            "round {round}: {cached} lags {fresh} by more than a tick"
        );
        lagged += u64::from(cached > fresh);
        seen.insert(round, cached);
    }
    assert!(lagged > 0, "the reader did cache: {seen:?}");
}

pub async fn a_pause_stops_admission_at_the_next_tick_and_polls_go_on(w: World) {
    let mut fans = Vec::new();
    for name in ["ana", "bob"] {
        fans.push(join(&w, name, WINTER).await);
        w.advance(1);
    }
    w.pause(WINTER, true).await;
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(WINTER).await, (0, 0));
    let polled = w
        .booking
        .queue_status(&fans[1].0, Some(&fans[1].1))
        .await
        .unwrap();
    assert_eq!(
        (polled.status, polled.position),
        (QueueStatus::Waiting, Some(2))
    );
    w.pause(WINTER, false).await;
    assert_eq!(w.tick(WINTER).await, (2, 0));
}
