//! Buying at its edges: a keyed hold of seats the fan already holds, seat spinning, best
//! available on a venue whose counted sections have sold out since the last tick.

use ticketing::booking::{HoldRequest, SeatChoice};
use ticketing::domain::{IdempotencyKey, SeatNumber};
use ticketing::BookingError;

use crate::world::*;

const DATE: &str = "2026-12-24";

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
