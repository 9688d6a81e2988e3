//! The ticket limit at a hold's last second, with containers whose clocks disagree: the one
//! that pays thinks the hold still live, the one that holds again thinks it lapsed. The fan's
//! tally is the one judge: a hold that forgot the lapsed one leaves it unpayable, and a payment
//! that lands first makes the other hold count it. Spring Fest lets a fan have 4 seats.

use std::sync::Arc;

use tokio::sync::Barrier;

use ticketing::booking::{HoldRequest, SeatChoice};
use ticketing::domain::{SeatNumber, UserId};
use ticketing::store::StoredReservationStatus;
use ticketing::BookingError;

use crate::world::*;

const DATE: &str = "2026-12-24";
/// How far apart the two containers' clocks are, each way from the world's.
const SKEW: i64 = 2;

fn order(numbers: std::ops::RangeInclusive<i64>) -> HoldRequest {
    HoldRequest {
        concert_id: concert_id(SPRING),
        date: day(DATE),
        seats: SeatChoice::Seats(numbers.map(|n| SeatNumber::parse(n).unwrap()).collect()),
    }
}

/// Seats the fan owns at the end, as the store holds them: sold to the fan, or under a hold of
/// the fan still live by the latest clock of any container.
async fn owned(w: &World, fan: &UserId, latest: i64) -> usize {
    w.inventory()
        .await
        .reservations
        .iter()
        .filter(|r| &r.user_id == fan)
        .filter(|r| match r.status {
            StoredReservationStatus::Confirmed => true,
            StoredReservationStatus::Held => r.held_until > latest,
            StoredReservationStatus::Released => false,
        })
        .map(|r| r.seats.len())
        .sum()
}

pub async fn a_payment_in_the_last_second_never_lets_a_fan_own_past_the_limit(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    w.charged(&ana, 600_000).await;
    let (first, _) = w
        .booking
        .hold_seats(&ana, Some(&token), &order(1..=4), None)
        .await
        .expect("four seats, the whole limit");
    let until = first.held_until.epoch_seconds();
    // The hold's last second: live by the payer's clock, lapsed by the holder's.
    w.advance(until - 1 - w.now().epoch_seconds());
    let payer = w.container(-SKEW);
    let holder = w.container(SKEW);

    let (again, _) = holder
        .hold_seats(&ana, Some(&token), &order(5..=8), None)
        .await
        .expect("the holder judges the first hold lapsed");
    assert_eq!(again.seat_numbers.len(), 4);
    let paid = payer
        .pay(&ana, Some(&token), first.reservation_id, None)
        .await;
    assert!(
        matches!(paid, Err(BookingError::ReservationExpired)),
        "the tally no longer counts the first hold: {paid:?}"
    );
    assert_eq!(owned(&w, &ana, until + SKEW).await, 4);
    assert_eq!(
        w.booking.balance(&ana).await.unwrap().balance.get(),
        600_000
    );
}

pub async fn payments_racing_holds_at_the_lapse_second_never_pass_the_limit(w: World) {
    let w = w.unhurried();
    let fans = w.scale(12, 6);
    let mut admitted = Vec::new();
    for i in 0..fans {
        let (fan, token) = w.admitted_fan(&format!("racer{i:02}"), SPRING).await;
        w.charged(&fan, 600_000).await;
        admitted.push((fan, token));
    }
    // Each fan holds four seats of its own (seats 1..=48 on the date), all ending together.
    let mut firsts = Vec::new();
    for (i, (fan, token)) in admitted.iter().enumerate() {
        let from = 1 + 4 * i as i64;
        let (r, _) = w
            .booking
            .hold_seats(fan, Some(token), &order(from..=from + 3), None)
            .await
            .expect("the first hold");
        firsts.push(r);
    }
    let until = firsts
        .iter()
        .map(|r| r.held_until.epoch_seconds())
        .max()
        .unwrap();
    w.advance(until - 1 - w.now().epoch_seconds());
    let barrier = Arc::new(Barrier::new(2 * fans));
    let mut racers = tokio::task::JoinSet::new();
    for (i, ((fan, token), first)) in admitted.iter().zip(&firsts).enumerate() {
        let (payer, holder) = (w.container(-SKEW), w.container(SKEW));
        // Another fan's seats, on a date none of them took: free for this fan's second hold.
        let from = 1 + 4 * i as i64;
        let second = HoldRequest {
            date: day("2026-12-25"),
            ..order(from..=from + 3)
        };
        let (fan, token, id) = (fan.clone(), token.clone(), first.reservation_id);
        let b = barrier.clone();
        let (f, t) = (fan.clone(), token.clone());
        racers.spawn(async move {
            b.wait().await;
            payer.pay(&f, Some(&t), id, None).await.map(|_| ()).err()
        });
        let b = barrier.clone();
        racers.spawn(async move {
            b.wait().await;
            holder
                .hold_seats(&fan, Some(&token), &second, None)
                .await
                .map(|_| ())
                .err()
        });
    }
    for refused in racers.join_all().await.into_iter().flatten() {
        assert!(
            matches!(
                refused,
                BookingError::ReservationExpired
                    | BookingError::TicketLimitReached { .. }
                    | BookingError::QueueTokenExpired
                    | BookingError::Contention
            ),
            "{refused:?}"
        );
    }
    for (fan, _) in &admitted {
        let owned = owned(&w, fan, until + SKEW).await;
        assert!(owned <= 4, "{fan} owns {owned} seats, over the limit of 4");
    }
}
