use ticketing::booking::{PageLimit, ReservationStatus, SeatStatus};
use ticketing::domain::{IdempotencyKey, PaymentId, ReservationId};
use ticketing::store::EntryKind;
use ticketing::BookingError;

use crate::world::*;

pub async fn a_payment_changes_everything_at_once(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    w.charged(&ana, 200_000).await;
    let held = w
        .hold(&ana, &token, SPRING, "2026-12-24", 12)
        .await
        .unwrap();
    assert_eq!(held.payment_id, None, "a hold has no receipt yet");
    w.advance(30);
    let receipt = w
        .booking
        .pay(&ana, Some(&token), held.reservation_id, None)
        .await
        .unwrap();
    assert_eq!(receipt.reservation_id, held.reservation_id);
    assert_eq!(
        (receipt.concert_id.as_str(), receipt.seat_number.get()),
        (SPRING, 12)
    );
    assert_eq!(receipt.date.to_string(), "2026-12-24");
    assert_eq!(
        (receipt.amount.get(), receipt.balance_after.get()),
        (90_000, 110_000)
    );
    assert_eq!(receipt.paid_at, w.now());

    assert_eq!(
        w.booking.balance(&ana).await.unwrap().balance.get(),
        110_000
    );
    let confirmed = w
        .booking
        .reservation(&ana, held.reservation_id)
        .await
        .unwrap();
    assert_eq!(confirmed.status, ReservationStatus::Confirmed);
    // A receipt whose answer was lost is found again: the order and the history name it.
    assert_eq!(confirmed.payment_id, Some(receipt.payment_id));
    let listed = w
        .booking
        .reservations(&ana, PageLimit::DEFAULT, None)
        .await
        .unwrap();
    assert_eq!(listed.items[0].payment_id, Some(receipt.payment_id));
    assert_eq!(
        w.booking.payment(&ana, receipt.payment_id).await.unwrap(),
        receipt
    );
    let history = w
        .booking
        .balance_history(&ana, PageLimit::DEFAULT, None)
        .await
        .unwrap();
    assert_eq!(history.items[0].kind, EntryKind::Payment);
    assert_eq!(history.items[0].balance_after.get(), 110_000);
    assert_eq!(history.items[0].payment_id, Some(receipt.payment_id));
    assert_eq!(history.items[1].kind, EntryKind::Charge);
    assert_eq!(
        (history.items[1].payment_id, history.items[1].top_up_id),
        (None, None)
    );

    // The token is spent: the fan's queue session is over.
    let spent = w
        .booking
        .dates_on_sale(&ana, Some(&token), &concert_id(SPRING))
        .await;
    assert!(matches!(spent, Err(BookingError::QueueTokenExpired)));
    // The seat is sold for good, even after the hold would have ended.
    w.advance(600);
    let (bob, bob_token) = w.admitted_fan("bob", SPRING).await;
    let chart = w
        .booking
        .seat_chart(
            &bob,
            Some(&bob_token),
            &concert_id(SPRING),
            day("2026-12-24"),
        )
        .await
        .unwrap();
    assert_eq!(chart.seats[11].status, SeatStatus::Sold);
    let dates = w
        .booking
        .dates_on_sale(&bob, Some(&bob_token), &concert_id(SPRING))
        .await
        .unwrap();
    assert_eq!(dates.dates[0].remaining_seats, 49);
    let again = w.hold(&bob, &bob_token, SPRING, "2026-12-24", 12).await;
    assert!(matches!(again, Err(BookingError::SeatUnavailable(_))));
    // Receipts are private.
    let peek = w.booking.payment(&bob, receipt.payment_id).await;
    assert!(matches!(peek, Err(BookingError::PaymentNotFound)));
    let unknown = w.booking.payment(&ana, PaymentId::new()).await;
    assert!(matches!(unknown, Err(BookingError::PaymentNotFound)));
}

pub async fn an_insufficient_balance_changes_nothing(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    w.charged(&ana, 149_999).await;
    let held = w.hold(&ana, &token, SPRING, "2026-12-24", 1).await.unwrap();
    let short = w
        .booking
        .pay(&ana, Some(&token), held.reservation_id, None)
        .await;
    assert!(matches!(short, Err(BookingError::InsufficientBalance)));
    assert_eq!(
        w.booking.balance(&ana).await.unwrap().balance.get(),
        149_999
    );
    let still = w
        .booking
        .reservation(&ana, held.reservation_id)
        .await
        .unwrap();
    assert_eq!(still.status, ReservationStatus::Held);
    assert!(!w.seat_is_sold(SPRING, "2026-12-24", 1).await);
    // The token still works, and a top-up makes the same payment go through.
    w.charged(&ana, 1).await;
    let paid = w
        .booking
        .pay(&ana, Some(&token), held.reservation_id, None)
        .await
        .unwrap();
    assert_eq!(paid.balance_after.get(), 0);
}

pub async fn only_a_live_hold_can_be_paid(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    w.charged(&ana, 1_000_000).await;
    let unknown = w
        .booking
        .pay(&ana, Some(&token), ReservationId::new(), None)
        .await;
    assert!(matches!(unknown, Err(BookingError::ReservationNotFound)));

    let released = w
        .hold(&ana, &token, SPRING, "2026-12-24", 20)
        .await
        .unwrap();
    w.booking
        .release_reservation(&ana, released.reservation_id)
        .await
        .unwrap();
    let paid_released = w
        .booking
        .pay(&ana, Some(&token), released.reservation_id, None)
        .await;
    assert!(matches!(
        paid_released,
        Err(BookingError::ReservationReleased)
    ));

    let expired = w
        .hold(&ana, &token, SPRING, "2026-12-24", 21)
        .await
        .unwrap();
    w.advance(300);
    let paid_expired = w
        .booking
        .pay(&ana, Some(&token), expired.reservation_id, None)
        .await;
    assert!(matches!(
        paid_expired,
        Err(BookingError::ReservationExpired)
    ));
    assert!(!w.seat_is_sold(SPRING, "2026-12-24", 21).await);

    let held = w
        .hold(&ana, &token, SPRING, "2026-12-24", 22)
        .await
        .unwrap();
    w.booking
        .pay(&ana, Some(&token), held.reservation_id, None)
        .await
        .unwrap();
    let twice = w
        .booking
        .pay(&ana, Some(&token), held.reservation_id, None)
        .await;
    assert!(matches!(twice, Err(BookingError::AlreadyPaid)));
    assert_eq!(
        w.booking.balance(&ana).await.unwrap().balance.get(),
        910_000
    );
    // Someone else's reservation does not exist for them.
    let (bob, bob_token) = w.admitted_fan("bob", SPRING).await;
    let theirs = w
        .booking
        .pay(&bob, Some(&bob_token), held.reservation_id, None)
        .await;
    assert!(matches!(theirs, Err(BookingError::ReservationNotFound)));
}

pub async fn payments_need_the_fans_active_token(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    w.charged(&ana, 1_000_000).await;
    let held = w
        .hold(&ana, &token, SPRING, "2026-12-24", 30)
        .await
        .unwrap();

    let missing = w.booking.pay(&ana, None, held.reservation_id, None).await;
    assert!(matches!(missing, Err(BookingError::QueueTokenRequired)));
    let (winter_token_holder, winter_token) = w.admitted_fan("ana", WINTER).await;
    let wrong = w
        .booking
        .pay(
            &winter_token_holder,
            Some(&winter_token),
            held.reservation_id,
            None,
        )
        .await;
    assert!(matches!(wrong, Err(BookingError::QueueTokenWrongConcert)));
    let (_, bobs_token) = w.admitted_fan("bob", SPRING).await;
    let borrowed = w
        .booking
        .pay(&ana, Some(&bobs_token), held.reservation_id, None)
        .await;
    assert!(matches!(borrowed, Err(BookingError::QueueTokenInvalid)));
    assert_eq!(
        w.booking.balance(&ana).await.unwrap().balance.get(),
        1_000_000
    );
    assert!(!w.seat_is_sold(SPRING, "2026-12-24", 30).await);
}

pub async fn a_retried_payment_returns_the_first_receipt(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    w.charged(&ana, 300_000).await;
    let held = w
        .hold(&ana, &token, SPRING, "2026-12-24", 40)
        .await
        .unwrap();
    let key = IdempotencyKey::parse("pay-40").unwrap();
    let first = w
        .booking
        .pay(&ana, Some(&token), held.reservation_id, Some(&key))
        .await
        .unwrap();
    // The token is spent by now, yet the retry replays the receipt.
    let retry = w
        .booking
        .pay(&ana, Some(&token), held.reservation_id, Some(&key))
        .await
        .unwrap();
    assert_eq!(retry, first);
    assert_eq!(
        w.booking.balance(&ana).await.unwrap().balance.get(),
        210_000
    );

    let other = w.hold(&ana, &token, SPRING, "2026-12-24", 41).await;
    assert!(matches!(other, Err(BookingError::QueueTokenExpired)));
    let another_body = w
        .booking
        .pay(&ana, Some(&token), ReservationId::new(), Some(&key))
        .await;
    assert!(matches!(
        another_body,
        Err(BookingError::IdempotencyKeyReused)
    ));
}
