//! Buying: the ticket limit, orders of several seats, best available, and a hold's
//! Idempotency-Key. Spring Fest lets a fan have 4 seats (the default); seats 1 to 10 cost
//! 150,000 and the rest 90,000.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::Barrier;
use tokio::task::JoinSet;

use ticketing::booking::{HoldRequest, Reservation, ReservationStatus, SeatChoice};
use ticketing::domain::{IdempotencyKey, QueueToken, SeatNumber, UserId};
use ticketing::BookingError;

use crate::world::*;

const DATE: &str = "2026-12-24";

fn seats(numbers: &[i64]) -> SeatChoice {
    SeatChoice::Seats(
        numbers
            .iter()
            .map(|n| SeatNumber::parse(*n).unwrap())
            .collect(),
    )
}

fn order(choice: SeatChoice) -> HoldRequest {
    HoldRequest {
        concert_id: concert_id(SPRING),
        date: day(DATE),
        seats: choice,
    }
}

fn numbers(reservation: &Reservation) -> Vec<u32> {
    reservation.seat_numbers.iter().map(|s| s.get()).collect()
}

impl World {
    async fn order(
        &self,
        fan: &UserId,
        token: &QueueToken,
        choice: SeatChoice,
    ) -> Result<Reservation, BookingError> {
        self.booking
            .hold_seats(fan, Some(token), &order(choice), None)
            .await
            .map(|(reservation, _)| reservation)
    }

    /// The seats of the date under a live hold or sold, as the seats item stands.
    async fn taken(&self) -> BTreeSet<u32> {
        let now = self.now().epoch_seconds();
        let taken = self.date_seats(SPRING, DATE).await;
        taken
            .holds
            .keys()
            .chain(taken.sold.keys())
            .filter(|s| !taken.is_free(**s, now))
            .map(|s| s.get())
            .collect()
    }
}

fn limit_reached(result: &Result<Reservation, BookingError>) -> Option<(u32, u32, u32)> {
    match result {
        Err(BookingError::TicketLimitReached {
            limit,
            held,
            bought,
        }) => Some((*limit, *held, *bought)),
        _ => None,
    }
}

pub async fn a_fan_never_holds_or_buys_past_the_ticket_limit(w: World) {
    let w = w.unhurried();
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    let pair = w.order(&ana, &token, seats(&[1, 2])).await.unwrap();
    w.order(&ana, &token, seats(&[20])).await.unwrap();
    // Two more would make five: refused, and nothing of it held.
    let over = w.order(&ana, &token, SeatChoice::BestAvailable(2)).await;
    assert_eq!(limit_reached(&over), Some((4, 3, 0)), "{over:?}");
    let over = w.order(&ana, &token, seats(&[30, 31])).await;
    assert_eq!(limit_reached(&over), Some((4, 3, 0)), "{over:?}");
    assert_eq!(w.taken().await, BTreeSet::from([1, 2, 20]));
    w.order(&ana, &token, seats(&[30])).await.unwrap();
    assert_eq!(
        limit_reached(&w.order(&ana, &token, seats(&[40])).await),
        Some((4, 4, 0))
    );

    // A release gives its seats back to the count.
    w.booking
        .release_reservation(&ana, pair.reservation_id)
        .await
        .unwrap();
    let again = w.order(&ana, &token, seats(&[5, 6])).await.unwrap();

    // A purchase never does; the holds it did not pay lapse and give theirs back.
    w.charged(&ana, 300_000).await;
    w.booking
        .pay(&ana, Some(&token), again.reservation_id, None)
        .await
        .unwrap();
    let (_, token) = w.admitted_fan("ana", SPRING).await;
    assert_eq!(
        limit_reached(&w.order(&ana, &token, seats(&[41, 42, 43])).await),
        Some((4, 2, 2))
    );
    w.advance(300);
    let last = w
        .order(&ana, &token, SeatChoice::BestAvailable(2))
        .await
        .unwrap();
    assert_eq!(last.seat_numbers.len(), 2);
    assert_eq!(
        limit_reached(&w.order(&ana, &token, seats(&[44])).await),
        Some((4, 2, 2))
    );
    // Another concert counts on its own.
    let (ana_winter, winter_token) = w.admitted_fan("ana", WINTER).await;
    assert!(w
        .hold(&ana_winter, &winter_token, WINTER, "2026-12-31", 1)
        .await
        .is_ok());
}

pub async fn one_fan_racing_holds_across_the_limit_never_passes_it(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    let racers = 10;
    let barrier = Arc::new(Barrier::new(racers));
    let mut holds = JoinSet::new();
    for seat in 1..=racers as i64 {
        let (booking, barrier, ana, token) = (
            w.booking.clone(),
            barrier.clone(),
            ana.clone(),
            token.clone(),
        );
        holds.spawn(async move {
            barrier.wait().await;
            booking
                .hold_seats(&ana, Some(&token), &order(seats(&[seat])), None)
                .await
                .map(|(r, _)| r)
        });
    }
    let results = holds.join_all().await;
    let held = results.iter().filter(|r| r.is_ok()).count();
    for refused in results.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(
                refused,
                Err(BookingError::TicketLimitReached { limit: 4, .. })
            ),
            "{refused:?}"
        );
    }
    assert_eq!(held, 4, "{results:?}");
    assert_eq!(w.taken().await.len(), 4);
}

pub async fn an_order_of_several_seats_is_held_and_paid_all_or_none(w: World) {
    let (ana, ana_token) = w.admitted_fan("ana", SPRING).await;
    let (bob, bob_token) = w.admitted_fan("bob", SPRING).await;
    let held = w.order(&ana, &ana_token, seats(&[11, 10])).await.unwrap();
    assert_eq!(numbers(&held), [10, 11]);
    assert_eq!(held.seat_number.get(), 10);
    assert_eq!(held.price.get(), 150_000 + 90_000);
    assert_eq!(held.seats[1].price.get(), 90_000);
    // Holding exactly those seats again is the same reservation.
    let (again, new) = w
        .booking
        .hold_seats(&ana, Some(&ana_token), &order(seats(&[10, 11])), None)
        .await
        .unwrap();
    assert_eq!((again.reservation_id, new), (held.reservation_id, false));

    // One seat of bob's order is taken: nothing of it is held, and he learns which.
    match w.order(&bob, &bob_token, seats(&[12, 11, 13])).await {
        Err(BookingError::SeatUnavailable(unavailable)) => {
            assert_eq!(unavailable, [SeatNumber::parse(11).unwrap()])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.taken().await, BTreeSet::from([10, 11]));
    for bad in [seats(&[]), seats(&[12, 12]), seats(&[1, 2, 3, 4, 5])] {
        let refused = w.order(&bob, &bob_token, bad).await;
        assert!(
            matches!(refused, Err(BookingError::InvalidSeats(_))),
            "{refused:?}"
        );
    }

    w.charged(&ana, 500_000).await;
    let paid = w
        .booking
        .pay(&ana, Some(&ana_token), held.reservation_id, None)
        .await
        .unwrap();
    assert_eq!(paid.amount.get(), 240_000);
    assert_eq!(paid.balance_after.get(), 260_000);
    assert_eq!(
        paid.seat_numbers,
        [
            SeatNumber::parse(10).unwrap(),
            SeatNumber::parse(11).unwrap()
        ]
    );
    assert!(w.seat_is_sold(SPRING, DATE, 10).await && w.seat_is_sold(SPRING, DATE, 11).await);
    let confirmed = w
        .booking
        .reservation(&ana, held.reservation_id)
        .await
        .unwrap();
    assert_eq!(confirmed.status, ReservationStatus::Confirmed);
}

pub async fn two_fans_racing_overlapping_orders_get_one_of_them(w: World) {
    let w = w.unhurried();
    let rounds = w.scale(12, 6) as i64;
    let mut fans = Vec::new();
    for i in 0..rounds {
        fans.push((
            w.admitted_fan(&format!("ana{i}"), SPRING).await,
            w.admitted_fan(&format!("bob{i}"), SPRING).await,
        ));
    }
    for (round, ((ana, ana_token), (bob, bob_token))) in fans.into_iter().enumerate() {
        // Seats 3r+1 to 3r+3: ana wants the first two, bob the last two.
        let first = 3 * round as i64 + 1;
        let barrier = Arc::new(Barrier::new(2));
        let mut racers = JoinSet::new();
        for (fan, token, wanted) in [
            (ana, ana_token, [first, first + 1]),
            (bob, bob_token, [first + 1, first + 2]),
        ] {
            let (booking, barrier) = (w.booking.clone(), barrier.clone());
            racers.spawn(async move {
                barrier.wait().await;
                booking
                    .hold_seats(&fan, Some(&token), &order(seats(&wanted)), None)
                    .await
            });
        }
        let results = racers.join_all().await;
        let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        for lost in results.iter().filter_map(|r| r.as_ref().err()) {
            match lost {
                BookingError::SeatUnavailable(unavailable) => {
                    assert_eq!(unavailable, &[SeatNumber::parse(first + 1).unwrap()])
                }
                other => panic!("round {round}: {other:?}"),
            }
        }
        let taken: BTreeSet<u32> = w
            .taken()
            .await
            .into_iter()
            .filter(|s| (first..=first + 2).contains(&i64::from(*s)))
            .collect();
        let expected: BTreeSet<u32> = numbers(&won[0].0).into_iter().collect();
        assert_eq!(taken, expected, "round {round}");
    }
}

pub async fn best_available_takes_adjacent_low_seats_and_a_burst_gets_every_seat(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    let picked = w
        .order(&ana, &token, SeatChoice::BestAvailable(3))
        .await
        .unwrap();
    let got = numbers(&picked);
    assert!(got.windows(2).all(|p| p[1] == p[0] + 1), "{got:?}");
    assert!(got[2] <= 12, "one of the best runs: {got:?}");
    let total: i64 = picked.seats.iter().map(|s| s.price.get()).sum();
    assert_eq!(picked.price.get(), total);
    w.booking
        .release_reservation(&ana, picked.reservation_id)
        .await
        .unwrap();

    // Eleven fans at once, four seats each: 44 of the 50 seats, every order whole.
    let crowd = w.admitted_crowd("crowd", 11, SPRING).await;
    let barrier = Arc::new(Barrier::new(crowd.len()));
    let mut burst = JoinSet::new();
    for (fan, token) in crowd {
        let (booking, barrier) = (w.booking.clone(), barrier.clone());
        burst.spawn(async move {
            barrier.wait().await;
            booking
                .hold_seats(
                    &fan,
                    Some(&token),
                    &order(SeatChoice::BestAvailable(4)),
                    None,
                )
                .await
                .map(|(r, _)| r)
        });
    }
    let mut all = BTreeSet::new();
    for result in burst.join_all().await {
        let held = result.expect("seats are left for every order of the burst");
        assert_eq!(held.seat_numbers.len(), 4);
        for seat in numbers(&held) {
            assert!(all.insert(seat), "seat {seat} given twice");
        }
    }
    assert_eq!(w.taken().await, all);
    // Six seats are left, not all adjacent: best available still finds four.
    let (cho, cho_token) = w.admitted_fan("cho", SPRING).await;
    let last = w
        .order(&cho, &cho_token, SeatChoice::BestAvailable(4))
        .await
        .unwrap();
    assert_eq!(last.seat_numbers.len(), 4);
    let (dan, dan_token) = w.admitted_fan("dan", SPRING).await;
    let gone = w
        .order(&dan, &dan_token, SeatChoice::BestAvailable(3))
        .await;
    assert!(
        matches!(&gone, Err(BookingError::SeatUnavailable(s)) if s.is_empty()),
        "{gone:?}"
    );
}

pub async fn a_hold_with_an_idempotency_key_is_replayed(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    let key = IdempotencyKey::parse("hold-1").unwrap();
    let request = order(SeatChoice::BestAvailable(2));
    let (first, new) = w
        .booking
        .hold_seats(&ana, Some(&token), &request, Some(&key))
        .await
        .unwrap();
    assert!(new);
    for _ in 0..3 {
        let (replayed, new) = w
            .booking
            .hold_seats(&ana, Some(&token), &request, Some(&key))
            .await
            .unwrap();
        assert_eq!((replayed, new), (first.clone(), true));
    }
    // Held once: two seats taken, two left under the limit.
    assert_eq!(w.taken().await.len(), 2);
    assert_eq!(
        limit_reached(&w.order(&ana, &token, SeatChoice::BestAvailable(3)).await),
        Some((4, 2, 0))
    );
    let reused = w
        .booking
        .hold_seats(
            &ana,
            Some(&token),
            &order(SeatChoice::BestAvailable(1)),
            Some(&key),
        )
        .await;
    assert!(
        matches!(reused, Err(BookingError::IdempotencyKeyReused)),
        "{reused:?}"
    );
}

pub async fn a_token_that_bought_several_seats_frees_one_place_under_max_active(w: World) {
    let w = w.with_settings(ticketing::Settings {
        max_active: 3,
        ..ticketing::Settings::default()
    });
    let crowd = w.admitted_crowd("first", 3, SPRING).await;
    let mut later = Vec::new();
    for i in 0..4 {
        let fan = fan(&format!("later{i}"));
        let (ticket, _) = w
            .booking
            .join_queue(&fan, &concert_id(SPRING))
            .await
            .unwrap();
        later.push((fan, ticket.token));
    }
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(SPRING).await.0, 0, "three of three are active");

    // One token buys four seats and ends: one place frees, not four.
    let (buyer, token) = &crowd[0];
    w.charged(buyer, 600_000).await;
    let held = w.order(buyer, token, seats(&[1, 2, 3, 4])).await.unwrap();
    w.booking
        .pay(buyer, Some(token), held.reservation_id, None)
        .await
        .unwrap();
    assert_eq!(w.tick(SPRING).await.0, 1);
    assert_eq!(w.tick(SPRING).await.0, 0);
}
