//! Buying at its edges: a keyed hold of seats the fan already holds, seat spinning, best
//! available on a venue whose counted sections have sold out since the last tick.

use ticketing::booking::{HoldRequest, SeatChoice};
use ticketing::domain::{IdempotencyKey, OperatorId, SeatNumber};
use ticketing::store::{QueueControlChange, StoredReservationStatus, RESERVATION_KEPT_SECONDS};
use ticketing::BookingError;

use crate::world::*;

const DATE: &str = "2026-12-24";

impl World {
    /// Seats of the date under a live hold or sold.
    async fn held_or_sold(&self) -> Vec<u32> {
        let now = self.now().epoch_seconds();
        let seats = self.date_seats(SPRING, DATE).await;
        seats
            .holds
            .keys()
            .chain(seats.sold.keys())
            .filter(|s| !seats.is_free(**s, now))
            .map(|s| s.get())
            .collect()
    }
}

fn pair() -> HoldRequest {
    HoldRequest {
        concert_id: concert_id(SPRING),
        date: day(DATE),
        seats: SeatChoice::Seats(vec![
            SeatNumber::parse(21).unwrap(),
            SeatNumber::parse(22).unwrap(),
        ]),
    }
}

pub async fn a_keyed_hold_of_seats_already_held_completes_its_key(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    let (first, new) = w
        .booking
        .hold_seats(&ana, Some(&token), &pair(), None)
        .await
        .unwrap();
    assert!(new);
    let key = IdempotencyKey::parse("re-hold-1").unwrap();
    let (again, new) = w
        .booking
        .hold_seats(&ana, Some(&token), &pair(), Some(&key))
        .await
        .expect("the same hold, answered 200");
    assert!(!new);
    assert_eq!(again.reservation_id, first.reservation_id);
    // Its retry is the same answer at once, not 409 IDEMPOTENCY_KEY_IN_USE...
    let (retry, new) = w
        .booking
        .hold_seats(&ana, Some(&token), &pair(), Some(&key))
        .await
        .expect("the key's answer, replayed");
    assert_eq!((retry.reservation_id, new), (first.reservation_id, false));
    // ... and still after the key's in-flight lock would have lapsed: never applied again.
    w.advance(61);
    let (late, new) = w
        .booking
        .hold_seats(&ana, Some(&token), &pair(), Some(&key))
        .await
        .expect("replayed");
    assert_eq!((late.reservation_id, new), (first.reservation_id, false));
    let held: Vec<_> = w
        .inventory()
        .await
        .reservations
        .into_iter()
        .filter(|r| r.user_id == ana)
        .collect();
    assert_eq!(held.len(), 1, "one reservation: {held:?}");
}

pub async fn a_keyed_hold_the_gate_refuses_leaves_no_claim(w: World) {
    let ana = fan("ana");
    let (ticket, _) = w
        .booking
        .join_queue(&ana, &concert_id(SPRING))
        .await
        .unwrap();
    let key = IdempotencyKey::parse("too-early").unwrap();
    // Were a claim written, freeing it would fail here, and it would lock the key.
    w.script.refuse("release_idempotency_key", 1);
    let early = w
        .booking
        .hold_seats(&ana, Some(&ticket.token), &pair(), Some(&key))
        .await;
    assert!(
        matches!(early, Err(BookingError::QueueNotAdmitted { .. })),
        "{early:?}"
    );
    let (_, token) = w.admitted_fan("ana", SPRING).await;
    assert_eq!(token, ticket.token);
    let (held, new) = w
        .booking
        .hold_seats(&ana, Some(&token), &pair(), Some(&key))
        .await
        .expect("the key is free: the refused request claimed nothing");
    assert!(new);
    assert_eq!(held.seat_numbers.len(), 2);
}

pub async fn a_session_places_at_most_its_holds_and_other_fans_hold_on(w: World) {
    // An operator turns the bound down to three; the next tick applies it.
    w.booking
        .change_admission(
            &OperatorId::parse("ops-desk").unwrap(),
            &concert_id(SPRING),
            &QueueControlChange {
                max_holds_per_session: Some(3),
                ..QueueControlChange::default()
            },
        )
        .await
        .unwrap();
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    for _ in 0..3 {
        let spun = w.hold(&ana, &token, SPRING, DATE, 5).await.unwrap();
        w.booking
            .release_reservation(&ana, spun.reservation_id)
            .await
            .unwrap();
    }
    let fourth = w.hold(&ana, &token, SPRING, DATE, 5).await;
    assert!(
        matches!(fourth, Err(BookingError::TooManyHolds { limit: 3 })),
        "{fourth:?}"
    );
    assert!(
        w.held_or_sold().await.is_empty(),
        "nothing held by the refused hold"
    );

    let (bob, bob_token) = w.admitted_fan("bob", SPRING).await;
    let bobs = w.hold(&bob, &bob_token, SPRING, DATE, 5).await.unwrap();
    w.charged(&bob, 200_000).await;
    w.booking
        .pay(&bob, Some(&bob_token), bobs.reservation_id, None)
        .await
        .unwrap();

    // Released reservations are kept 30 days, then TTL deletes them; a paid one is kept.
    let now = w.now().epoch_seconds();
    for r in w.inventory().await.reservations {
        match r.status {
            StoredReservationStatus::Released => {
                let kept = r.expires_at.expect("a TTL") - RESERVATION_KEPT_SECONDS;
                assert!((now - 60..=now).contains(&kept), "released at {kept}");
            }
            StoredReservationStatus::Confirmed => assert_eq!(r.expires_at, None),
            StoredReservationStatus::Held => {
                assert_eq!(r.expires_at, Some(r.held_until + RESERVATION_KEPT_SECONDS))
            }
        }
    }
}

/// Sixteen small sections of two seats, then one of a thousand: the lowest sixteen with room are
/// the small ones, which fill between two ticks.
const ARENA: &str = "spin-arena";

pub async fn best_available_finds_seats_in_any_section_with_room(w: World) {
    let mut sections: Vec<String> = (0..16)
        .map(|i| {
            format!(
                r#"{{"section": "S{i:02}", "fromSeat": {}, "toSeat": {}, "price": 50000}}"#,
                2 * i + 1,
                2 * i + 2
            )
        })
        .collect();
    sections.push(r#"{"section": "Main", "fromSeat": 33, "toSeat": 1032, "price": 30000}"#.into());
    let catalog = ticketing::booking::Catalog::from_json(&format!(
        r#"{{"concerts": [{{"concertId": "{ARENA}", "title": "Spin Arena",
            "dates": ["{DATE}"], "sections": [{}]}}]}}"#,
        sections.join(", ")
    ))
    .unwrap();
    w.booking.load_catalog(&catalog).await.unwrap();
    // Everyone admitted first: the ticks count every section free.
    let mut fans = Vec::new();
    for i in 0..9 {
        fans.push(w.admitted_fan(&format!("arena{i}"), ARENA).await);
    }
    // Eight fans take the thirty-two seats of the small sections, with no tick since.
    for (i, (fan, token)) in fans[..8].iter().enumerate() {
        let from = 4 * i as i64 + 1;
        let seats = (from..from + 4)
            .map(|n| SeatNumber::parse(n).unwrap())
            .collect();
        let order = HoldRequest {
            concert_id: concert_id(ARENA),
            date: day(DATE),
            seats: SeatChoice::Seats(seats),
        };
        w.booking
            .hold_seats(fan, Some(token), &order, None)
            .await
            .unwrap();
    }
    let (buyer, token) = &fans[8];
    let best = HoldRequest {
        concert_id: concert_id(ARENA),
        date: day(DATE),
        seats: SeatChoice::BestAvailable(2),
    };
    let (held, _) = w
        .booking
        .hold_seats(buyer, Some(token), &best, None)
        .await
        .expect("a thousand seats are free in Main");
    let numbers: Vec<u32> = held.seat_numbers.iter().map(|s| s.get()).collect();
    assert_eq!(numbers.len(), 2);
    assert!(numbers.iter().all(|n| *n > 32), "{numbers:?}");
    assert_eq!(numbers[1], numbers[0] + 1, "adjacent: {numbers:?}");
}
