use ticketing::booking::ReservationStatus;
use ticketing::domain::ReservationId;
use ticketing::BookingError;

use crate::world::*;

pub async fn second_fan_cannot_hold_a_held_seat(w: World) {
    let (ana, ana_token) = w.admitted_fan("ana", SPRING).await;
    let (bob, bob_token) = w.admitted_fan("bob", SPRING).await;
    let held = w
        .hold(&ana, &ana_token, SPRING, "2026-12-24", 5)
        .await
        .unwrap();
    assert_eq!(held.status, ReservationStatus::Held);
    assert_eq!(held.price.get(), 150_000);
    assert_eq!(held.held_until, w.now().plus_seconds(300));

    let second = w.hold(&bob, &bob_token, SPRING, "2026-12-24", 5).await;
    assert!(matches!(second, Err(BookingError::SeatUnavailable(_))));
    // The same seat on another date is another seat.
    assert!(w
        .hold(&bob, &bob_token, SPRING, "2026-12-25", 5)
        .await
        .is_ok());
}

pub async fn holds_name_what_is_missing_or_unavailable(w: World) {
    let (ana, token) = w.admitted_fan("ana", WINTER).await;
    let no_date = w.hold(&ana, &token, WINTER, "2026-12-30", 1).await;
    assert!(matches!(no_date, Err(BookingError::DateNotFound)));
    // Winter Gala prices seats 1 to 40 only.
    let no_seat = w.hold(&ana, &token, WINTER, "2026-12-31", 41).await;
    assert!(matches!(no_seat, Err(BookingError::SeatNotFound)));

    w.charged(&ana, 50_000).await;
    let held = w.hold(&ana, &token, WINTER, "2026-12-31", 1).await.unwrap();
    w.booking
        .pay(&ana, Some(&token), held.reservation_id, None)
        .await
        .unwrap();
    let (bob, token) = w.admitted_fan("bob", WINTER).await;
    let sold = w.hold(&bob, &token, WINTER, "2026-12-31", 1).await;
    assert!(matches!(sold, Err(BookingError::SeatUnavailable(_))));

    let (cho, token) = w.admitted_fan("cho", SPRING).await;
    let past = w.hold(&cho, &token, SPRING, "2026-11-20", 1).await;
    assert!(matches!(past, Err(BookingError::SeatUnavailable(_))));
}

pub async fn an_expired_hold_frees_the_seat_for_everyone(w: World) {
    let w = w.unhurried();
    let (ana, ana_token) = w.admitted_fan("ana", SPRING).await;
    let (bob, bob_token) = w.admitted_fan("bob", SPRING).await;
    let held = w
        .hold(&ana, &ana_token, SPRING, "2026-12-24", 9)
        .await
        .unwrap();

    w.advance(299);
    let still = w.hold(&bob, &bob_token, SPRING, "2026-12-24", 9).await;
    assert!(matches!(still, Err(BookingError::SeatUnavailable(_))));
    w.advance(1);
    let bobs = w
        .hold(&bob, &bob_token, SPRING, "2026-12-24", 9)
        .await
        .unwrap();
    assert_eq!(bobs.status, ReservationStatus::Held);

    let anas = w
        .booking
        .reservation(&ana, held.reservation_id)
        .await
        .unwrap();
    assert_eq!(anas.status, ReservationStatus::Expired);
}

pub async fn reservations_are_private_to_their_fan(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    let held = w.hold(&ana, &token, SPRING, "2026-12-24", 2).await.unwrap();
    assert_eq!(
        w.booking
            .reservation(&ana, held.reservation_id)
            .await
            .unwrap(),
        held
    );

    let peek = w
        .booking
        .reservation(&fan("bob"), held.reservation_id)
        .await;
    assert!(matches!(peek, Err(BookingError::ReservationNotFound)));
    let release = w
        .booking
        .release_reservation(&fan("bob"), held.reservation_id)
        .await;
    assert!(matches!(release, Err(BookingError::ReservationNotFound)));
    let unknown = w.booking.reservation(&ana, ReservationId::new()).await;
    assert!(matches!(unknown, Err(BookingError::ReservationNotFound)));
    // Bob's attempt left Ana's hold alone.
    let again = w
        .booking
        .reservation(&ana, held.reservation_id)
        .await
        .unwrap();
    assert_eq!(again.status, ReservationStatus::Held);
}

pub async fn release_frees_the_seat_and_can_be_repeated(w: World) {
    let (ana, ana_token) = w.admitted_fan("ana", SPRING).await;
    let (bob, bob_token) = w.admitted_fan("bob", SPRING).await;
    let held = w
        .hold(&ana, &ana_token, SPRING, "2026-12-24", 3)
        .await
        .unwrap();
    w.booking
        .release_reservation(&ana, held.reservation_id)
        .await
        .unwrap();
    w.booking
        .release_reservation(&ana, held.reservation_id)
        .await
        .unwrap();
    let released = w
        .booking
        .reservation(&ana, held.reservation_id)
        .await
        .unwrap();
    assert_eq!(released.status, ReservationStatus::Released);
    assert!(w
        .hold(&bob, &bob_token, SPRING, "2026-12-24", 3)
        .await
        .is_ok());

    let expiring = w
        .hold(&ana, &ana_token, SPRING, "2026-12-24", 4)
        .await
        .unwrap();
    w.advance(300);
    let late = w
        .booking
        .release_reservation(&ana, expiring.reservation_id)
        .await;
    assert!(matches!(late, Err(BookingError::ReservationExpired)));

    let (cho, token) = w.admitted_fan("cho", SPRING).await;
    w.charged(&cho, 150_000).await;
    let paid = w.hold(&cho, &token, SPRING, "2026-12-25", 1).await.unwrap();
    w.booking
        .pay(&cho, Some(&token), paid.reservation_id, None)
        .await
        .unwrap();
    let after_paying = w
        .booking
        .release_reservation(&cho, paid.reservation_id)
        .await;
    assert!(matches!(after_paying, Err(BookingError::AlreadyPaid)));
    assert!(w.seat_is_sold(SPRING, "2026-12-25", 1).await);
}

/// Finding: a seat listing or a hold read or wrote the date's seats item before the token was
/// checked, so unadmitted traffic with any token-shaped header landed on the hottest item of
/// the sale. Now the gate comes first; and a container that found a token ACTIVE skips it.
pub async fn a_token_not_admitted_never_reaches_the_seats(w: World) {
    let date = day("2026-12-24");
    let (ana, ana_token) = w.admitted_fan("ana", SPRING).await;
    // Joined after the last tick: still waiting.
    let (waiting, _) = w
        .booking
        .join_queue(&fan("wes"), &concert_id(SPRING))
        .await
        .unwrap();
    let strangers = [
        (fan("wes"), waiting.token.clone()),
        // Someone else's admitted token.
        (fan("eve"), ana_token.clone()),
    ];
    for (who, token) in &strangers {
        let chart = w
            .booking
            .seat_chart(who, Some(token), &concert_id(SPRING), date)
            .await;
        assert!(chart.is_err(), "{chart:?}");
        let held = w
            .booking
            .hold_seats(
                who,
                Some(token),
                &hold_request(SPRING, "2026-12-24", 1),
                None,
            )
            .await;
        assert!(held.is_err(), "{held:?}");
    }
    assert_eq!(w.script.calls("seat_blocks"), 0);
    assert_eq!(w.script.calls("place_hold"), 0);

    // The admitted fan: the gate reads the ticket once, then this container knows it.
    let read = w.script.calls("ticket");
    for _ in 0..3 {
        w.booking
            .seat_chart(&ana, Some(&ana_token), &concert_id(SPRING), date)
            .await
            .unwrap();
    }
    assert_eq!(w.script.calls("ticket"), read + 1);
    assert_eq!(w.script.calls("seat_blocks"), 3);
}
