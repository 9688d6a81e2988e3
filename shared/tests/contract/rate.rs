//! The per-fan rate limit (`booking::rate`): a bucket of `burst` requests per fan, refilled
//! over time, decided by the store so that concurrent requests of one fan are counted exactly.

use std::sync::Arc;

use tokio::sync::Barrier;
use tokio::task::JoinSet;

use ticketing::booking::RateLimit;
use ticketing::BookingError;

use crate::world::*;

fn retry_after(result: &Result<Option<ticketing::booking::FanQuota>, BookingError>) -> Option<u64> {
    match result {
        Err(BookingError::RateLimited { retry_after, .. }) => Some(*retry_after),
        _ => None,
    }
}

pub async fn a_fan_gets_its_burst_then_one_request_per_refill(w: World) {
    // One a second, five at once.
    let limit = RateLimit::new(60, 5).unwrap();
    let booking = w.booking.clone().with_rate_limit(limit);
    let (ana, bob) = (fan("ana"), fan("bob"));
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let quota = booking.take_rate_token(&ana).await.unwrap().unwrap();
        remaining.push(quota.remaining);
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    let refused = booking.take_rate_token(&ana).await;
    assert_eq!(retry_after(&refused), Some(1), "{refused:?}");
    match refused {
        Err(BookingError::RateLimited { limit, window, .. }) => assert_eq!((limit, window), (5, 5)),
        other => panic!("{other:?}"),
    }
    // Another fan has a bucket of its own.
    assert!(booking.take_rate_token(&bob).await.unwrap().is_some());
    // A second gives one request back, not more.
    w.advance(1);
    assert!(booking.take_rate_token(&ana).await.is_ok());
    assert_eq!(retry_after(&booking.take_rate_token(&ana).await), Some(1));
    // A fan quiet for the window has its whole burst again.
    w.advance(5);
    for _ in 0..5 {
        booking.take_rate_token(&ana).await.unwrap();
    }
    assert!(retry_after(&booking.take_rate_token(&ana).await).is_some());
    // Without a limit nothing is counted.
    assert_eq!(w.booking.take_rate_token(&ana).await.unwrap(), None);
}

pub async fn a_fan_refused_for_long_is_told_the_wait_in_whole_seconds(w: World) {
    // Six a minute: a token every ten seconds, two at once.
    let booking = w
        .booking
        .clone()
        .with_rate_limit(RateLimit::new(6, 2).unwrap());
    let ana = fan("ana");
    booking.take_rate_token(&ana).await.unwrap();
    let last = booking.take_rate_token(&ana).await.unwrap().unwrap();
    assert_eq!((last.remaining, last.reset_seconds), (0, 20));
    assert_eq!(retry_after(&booking.take_rate_token(&ana).await), Some(10));
    w.advance(4);
    assert_eq!(retry_after(&booking.take_rate_token(&ana).await), Some(6));
    w.advance(6);
    assert!(booking.take_rate_token(&ana).await.is_ok());
}

pub async fn concurrent_requests_of_one_fan_take_exactly_its_burst(w: World) {
    let burst = 10;
    let booking = w
        .booking
        .clone()
        .with_rate_limit(RateLimit::new(1, burst).unwrap());
    let racers = w.scale(60, 30);
    let barrier = Arc::new(Barrier::new(racers));
    let mut set = JoinSet::new();
    for _ in 0..racers {
        let (booking, barrier) = (booking.clone(), barrier.clone());
        set.spawn(async move {
            barrier.wait().await;
            booking.take_rate_token(&fan("ana")).await
        });
    }
    let mut taken = 0;
    let mut refused = 0;
    while let Some(result) = set.join_next().await {
        match result.unwrap() {
            Ok(Some(_)) => taken += 1,
            Err(BookingError::RateLimited { retry_after, .. }) => {
                assert_eq!(retry_after, 60, "a token a minute");
                refused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((taken, refused), (burst as usize, racers - burst as usize));
    // The bucket stands where the burst left it: still empty.
    assert!(retry_after(&booking.take_rate_token(&fan("ana")).await).is_some());
}
