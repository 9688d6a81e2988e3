use ticketing::booking::{HistoryCursor, PageLimit};
use ticketing::domain::{ChargeAmount, IdempotencyKey};
use ticketing::store::{EntryKind, IdempotencyRecord, IdempotencyState};
use ticketing::BookingError;

use crate::world::*;

fn won(amount: i64) -> ChargeAmount {
    ChargeAmount::parse(amount).unwrap()
}

pub async fn charges_add_up_within_the_limit(w: World) {
    let ana = fan("ana");
    assert_eq!(w.booking.balance(&ana).await.unwrap().balance.get(), 0);
    let after = w.booking.charge(&ana, won(10_000_000), None).await.unwrap();
    assert_eq!(after.balance.get(), 10_000_000);
    for _ in 0..98 {
        w.booking.charge(&ana, won(10_000_000), None).await.unwrap();
    }
    let near = w.booking.charge(&ana, won(9_999_999), None).await.unwrap();
    assert_eq!(near.balance.get(), 999_999_999);
    let over = w.booking.charge(&ana, won(2), None).await;
    assert!(matches!(over, Err(BookingError::BalanceLimitExceeded)));
    assert_eq!(
        w.booking.balance(&ana).await.unwrap().balance.get(),
        999_999_999
    );
    let exact = w.booking.charge(&ana, won(1), None).await.unwrap();
    assert_eq!(exact.balance.get(), 1_000_000_000);
    // Balances are per fan.
    assert_eq!(
        w.booking.balance(&fan("bob")).await.unwrap().balance.get(),
        0
    );
}

pub async fn history_pages_newest_first(w: World) {
    let (ana, token) = w.admitted_fan("ana", WINTER).await;
    for amount in [1_000, 2_000, 3_000] {
        w.charged(&ana, amount).await;
        w.advance(1);
    }
    w.charged(&ana, 50_000).await;
    let held = w.hold(&ana, &token, WINTER, "2026-12-31", 8).await.unwrap();
    w.advance(5);
    w.booking
        .pay(&ana, Some(&token), held.reservation_id, None)
        .await
        .unwrap();

    let page = w
        .booking
        .balance_history(&ana, PageLimit::parse("2").unwrap(), None)
        .await
        .unwrap();
    let seen: Vec<(EntryKind, i64, i64)> = page
        .items
        .iter()
        .map(|i| (i.kind, i.amount.get(), i.balance_after.get()))
        .collect();
    assert_eq!(
        seen,
        [
            (EntryKind::Payment, 50_000, 6_000),
            (EntryKind::Charge, 50_000, 56_000)
        ]
    );
    assert_eq!(page.items[0].at, w.now());
    let cursor = HistoryCursor::parse(page.next_cursor.as_deref().unwrap()).unwrap();
    let rest = w
        .booking
        .balance_history(&ana, PageLimit::DEFAULT, Some(cursor))
        .await
        .unwrap();
    let amounts: Vec<i64> = rest.items.iter().map(|i| i.amount.get()).collect();
    assert_eq!(amounts, [3_000, 2_000, 1_000]);
    assert_eq!(rest.next_cursor, None);

    let empty = w
        .booking
        .balance_history(&fan("bob"), PageLimit::DEFAULT, None)
        .await
        .unwrap();
    assert!(empty.items.is_empty() && empty.next_cursor.is_none());
}

pub async fn a_retried_charge_is_applied_once(w: World) {
    let ana = fan("ana");
    let key = IdempotencyKey::parse("top-up-1").unwrap();
    let first = w
        .booking
        .charge(&ana, won(5_000), Some(&key))
        .await
        .unwrap();
    let retry = w
        .booking
        .charge(&ana, won(5_000), Some(&key))
        .await
        .unwrap();
    assert_eq!(first, retry);
    assert_eq!(w.booking.balance(&ana).await.unwrap().balance.get(), 5_000);

    let other_body = w.booking.charge(&ana, won(6_000), Some(&key)).await;
    assert!(matches!(
        other_body,
        Err(BookingError::IdempotencyKeyReused)
    ));
    // Keys belong to their fan: Bob's same key is his own.
    let bobs = w
        .booking
        .charge(&fan("bob"), won(6_000), Some(&key))
        .await
        .unwrap();
    assert_eq!(bobs.balance.get(), 6_000);

    // A refused charge changed nothing, so its key is free for a corrected retry.
    for _ in 0..99 {
        w.booking.charge(&ana, won(10_000_000), None).await.unwrap();
    }
    let key2 = IdempotencyKey::parse("top-up-2").unwrap();
    let refused = w.booking.charge(&ana, won(10_000_000), Some(&key2)).await;
    assert!(matches!(refused, Err(BookingError::BalanceLimitExceeded)));
    let corrected = w.booking.charge(&ana, won(1), Some(&key2)).await.unwrap();
    assert_eq!(corrected.balance.get(), 990_005_001);
    let reused = w.booking.charge(&ana, won(10_000_000), Some(&key2)).await;
    assert!(matches!(reused, Err(BookingError::IdempotencyKeyReused)));
}

pub async fn a_crashed_claim_stops_blocking_after_its_lock(w: World) {
    let ana = fan("ana");
    let key = IdempotencyKey::parse("crashed").unwrap();
    let now = w.now().epoch_seconds();
    // What an invocation that died mid-charge leaves behind.
    let stale = IdempotencyRecord {
        user_id: ana.clone(),
        key: key.clone(),
        request: "charge:700".into(),
        claim_id: "dead-invocation".into(),
        state: IdempotencyState::InFlight,
        locked_until: now + 60,
        response: None,
        expires_at: now + 90_000,
    };
    w.store.claim_idempotency_key(&stale, now).await.unwrap();

    let blocked = w.booking.charge(&ana, won(700), Some(&key)).await;
    assert!(matches!(blocked, Err(BookingError::IdempotencyKeyInUse)));
    w.advance(60);
    let taken_over = w.booking.charge(&ana, won(700), Some(&key)).await.unwrap();
    assert_eq!(taken_over.balance.get(), 700);
    assert_eq!(
        w.booking.charge(&ana, won(700), Some(&key)).await.unwrap(),
        taken_over
    );
    assert_eq!(w.booking.balance(&ana).await.unwrap().balance.get(), 700);
}
