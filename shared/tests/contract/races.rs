//! Real concurrency: every racer starts behind one barrier, and the final state is checked,
//! not only the answers.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::Barrier;
use tokio::task::JoinSet;

use ticketing::booking::{Catalog, PageLimit, ReservationStatus, SeatStatus};
use ticketing::domain::{ChargeAmount, IdempotencyKey};
use ticketing::store::EntryKind;
use ticketing::{BookingError, Settings};

use crate::world::*;

fn roomy() -> Settings {
    Settings {
        admit_per_tick: 1_000,
        max_active: 10_000,
        active_seconds: 30 * 86_400,
        active_idle_seconds: *ticketing::booking::ACTIVE_IDLE_RANGE.end(),
        ..Settings::default()
    }
}

pub async fn hundred_fans_racing_for_one_seat_yield_one_hold(w: World) {
    let w = w.with_settings(roomy());
    let crowd = w.admitted_crowd("racer", 100, SPRING).await;
    let barrier = Arc::new(Barrier::new(crowd.len()));
    let mut racers = JoinSet::new();
    for (fan, token) in crowd.clone() {
        let (booking, barrier) = (w.booking.clone(), barrier.clone());
        racers.spawn(async move {
            barrier.wait().await;
            let result = booking
                .hold_seats(
                    &fan,
                    Some(&token),
                    &hold_request(SPRING, "2026-12-24", 10),
                    None,
                )
                .await;
            (fan, result)
        });
    }
    let results = racers.join_all().await;
    let winners: Vec<_> = results.iter().filter(|(_, r)| r.is_ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one hold");
    for (_, result) in &results {
        if let Err(error) = result {
            assert!(
                matches!(error, BookingError::SeatUnavailable(_)),
                "{error:?}"
            );
        }
    }
    let (winner, Ok((reservation, true))) = winners[0] else {
        panic!("the winner's hold is new")
    };
    let stored = w
        .booking
        .reservation(winner, reservation.reservation_id)
        .await
        .unwrap();
    assert_eq!(stored.status, ReservationStatus::Held);
    let (fan, token) = &crowd[0];
    let chart = w
        .booking
        .seat_chart(fan, Some(token), &concert_id(SPRING), day("2026-12-24"))
        .await
        .unwrap();
    let held: Vec<u32> = chart
        .seats
        .iter()
        .filter(|s| s.status != SeatStatus::Available)
        .map(|s| s.seat_number.get())
        .collect();
    assert_eq!(held, [10]);
}

pub async fn fifty_payments_racing_on_one_balance_never_overdraw(w: World) {
    // A payment spends its concert's token, so fifty payments need fifty concerts.
    let concerts: Vec<String> = (0..50)
        .map(|i| {
            format!(
                r#"{{"concertId": "race-{i:02}", "title": "Race {i}", "dates": ["2026-12-24"],
                    "seatPrices": [{{"fromSeat": 1, "toSeat": 1, "price": 10000}}]}}"#
            )
        })
        .collect();
    let catalog =
        Catalog::from_json(&format!(r#"{{"concerts": [{}]}}"#, concerts.join(","))).unwrap();
    w.booking.load_catalog(&catalog).await.unwrap();
    let payer = fan("payer");
    let mut joins = JoinSet::new();
    for i in 0..50 {
        let (booking, payer) = (w.booking.clone(), payer.clone());
        joins.spawn(async move {
            let concert = concert_id(&format!("race-{i:02}"));
            let (ticket, _) = booking.join_queue(&payer, &concert).await.unwrap();
            (concert, ticket.token)
        });
    }
    let tickets = joins.join_all().await;
    w.advance(SETTLE_SECONDS);
    // Ticks until the payer is admitted to all fifty (a tick may count less than it would,
    // when DynamoDB Local is too busy to take every seal: the next one counts the rest).
    for _ in 0..10 {
        let mut active = 0;
        for (concert, _) in &tickets {
            let ticket = w.store.ticket(&payer, concert).await.unwrap().unwrap();
            active += usize::from(ticket.admitted_at.is_some());
        }
        if active == tickets.len() {
            break;
        }
        w.tick_report().await;
    }
    let mut setup = JoinSet::new();
    for (concert, token) in tickets {
        let (booking, payer) = (w.booking.clone(), payer.clone());
        setup.spawn(async move {
            let (held, _) = booking
                .hold_seats(
                    &payer,
                    Some(&token),
                    &hold_request(concert.as_str(), "2026-12-24", 1),
                    None,
                )
                .await
                .unwrap();
            (token, held.reservation_id)
        });
    }
    let holds = setup.join_all().await;
    w.charged(&payer, 100_000).await;

    let barrier = Arc::new(Barrier::new(holds.len()));
    let mut racers = JoinSet::new();
    for (token, reservation) in holds {
        let (booking, barrier, payer) = (w.booking.clone(), barrier.clone(), payer.clone());
        racers.spawn(async move {
            barrier.wait().await;
            booking.pay(&payer, Some(&token), reservation, None).await
        });
    }
    let results = racers.join_all().await;
    let paid = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(paid, 10);
    for result in &results {
        if let Err(error) = result {
            assert!(
                matches!(error, BookingError::InsufficientBalance),
                "{error:?}"
            );
        }
    }
    assert_eq!(w.booking.balance(&payer).await.unwrap().balance.get(), 0);
    let history = w
        .booking
        .balance_history(&payer, PageLimit::parse("100").unwrap(), None)
        .await
        .unwrap();
    let payments: Vec<i64> = history
        .items
        .iter()
        .filter(|i| i.kind == EntryKind::Payment)
        .map(|i| i.balance_after.get())
        .collect();
    assert_eq!(payments, (0..10).map(|k| k * 10_000).collect::<Vec<_>>());
    let mut sold = 0;
    for i in 0..50 {
        sold += usize::from(
            w.seat_is_sold(&format!("race-{i:02}"), "2026-12-24", 1)
                .await,
        );
    }
    assert_eq!(sold, 10);
}

pub async fn hundred_concurrent_charges_all_apply_once(w: World) {
    let ana = fan("ana");
    let barrier = Arc::new(Barrier::new(100));
    let mut racers = JoinSet::new();
    for _ in 0..100 {
        let (booking, barrier, ana) = (w.booking.clone(), barrier.clone(), ana.clone());
        racers.spawn(async move {
            barrier.wait().await;
            booking
                .charge(&ana, ChargeAmount::parse(1_000).unwrap(), None)
                .await
        });
    }
    for result in racers.join_all().await {
        result.expect("every charge applies");
    }
    assert_eq!(
        w.booking.balance(&ana).await.unwrap().balance.get(),
        100_000
    );
    let history = w
        .booking
        .balance_history(&ana, PageLimit::parse("100").unwrap(), None)
        .await
        .unwrap();
    let after: BTreeSet<i64> = history
        .items
        .iter()
        .map(|i| i.balance_after.get())
        .collect();
    assert_eq!(after, (1..=100).map(|k| k * 1_000).collect());
    assert_eq!(history.next_cursor, None);
}

pub async fn one_idempotency_key_sent_twenty_times_applies_once(w: World) {
    let ana = fan("ana");
    let key = IdempotencyKey::parse("double-click").unwrap();
    let barrier = Arc::new(Barrier::new(20));
    let mut racers = JoinSet::new();
    for _ in 0..20 {
        let (booking, barrier, ana, key) =
            (w.booking.clone(), barrier.clone(), ana.clone(), key.clone());
        racers.spawn(async move {
            barrier.wait().await;
            booking
                .charge(&ana, ChargeAmount::parse(7_000).unwrap(), Some(&key))
                .await
        });
    }
    let results = racers.join_all().await;
    let answers: BTreeSet<i64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|b| b.balance.get()))
        .collect();
    assert_eq!(answers, BTreeSet::from([7_000]));
    for result in &results {
        if let Err(error) = result {
            assert!(
                matches!(error, BookingError::IdempotencyKeyInUse),
                "{error:?}"
            );
        }
    }
    assert_eq!(w.booking.balance(&ana).await.unwrap().balance.get(), 7_000);
    let replay = w
        .booking
        .charge(&ana, ChargeAmount::parse(7_000).unwrap(), Some(&key))
        .await
        .unwrap();
    assert_eq!(replay.balance.get(), 7_000);
}

pub async fn a_payment_racing_expiry_and_release_never_double_sells(w: World) {
    let w = w.with_settings(roomy());
    let rounds = 8;
    let payers = w.admitted_crowd("payer", rounds, SPRING).await;
    let rivals = w.admitted_crowd("rival", 3, SPRING).await;
    for (payer, _) in &payers {
        w.charged(payer, 1_000_000).await;
    }
    for (round, (payer, token)) in payers.iter().enumerate() {
        // Every fan's page polls: the rounds take longer than a slot left idle lasts.
        w.keep_polling(&payers).await;
        w.keep_polling(&rivals).await;
        let seat = 11 + round as i64;
        let held = w
            .hold(payer, token, SPRING, "2026-12-24", seat)
            .await
            .unwrap();
        // The last second of the hold: payment, release, rivals and the clock all race.
        w.advance(299);
        let barrier = Arc::new(Barrier::new(3 + rivals.len()));
        let mut racers: JoinSet<(&'static str, bool)> = JoinSet::new();
        {
            let (booking, barrier, payer, token) = (
                w.booking.clone(),
                barrier.clone(),
                payer.clone(),
                token.clone(),
            );
            racers.spawn(async move {
                barrier.wait().await;
                (
                    "pay",
                    booking
                        .pay(&payer, Some(&token), held.reservation_id, None)
                        .await
                        .is_ok(),
                )
            });
        }
        {
            let (booking, barrier, payer) = (w.booking.clone(), barrier.clone(), payer.clone());
            racers.spawn(async move {
                barrier.wait().await;
                (
                    "release",
                    booking
                        .release_reservation(&payer, held.reservation_id)
                        .await
                        .is_ok(),
                )
            });
        }
        {
            let (clock, barrier) = (w.clock.clone(), barrier.clone());
            racers.spawn(async move {
                barrier.wait().await;
                tokio::task::yield_now().await;
                clock.advance(1);
                ("clock", true)
            });
        }
        for (rival, rival_token) in rivals.clone() {
            let (booking, barrier) = (w.booking.clone(), barrier.clone());
            racers.spawn(async move {
                barrier.wait().await;
                let request = hold_request(SPRING, "2026-12-24", seat);
                (
                    "rival",
                    booking
                        .hold_seats(&rival, Some(&rival_token), &request, None)
                        .await
                        .is_ok(),
                )
            });
        }
        let outcomes = racers.join_all().await;
        let paid = outcomes.iter().any(|(who, ok)| *who == "pay" && *ok);
        let rival_holds = outcomes
            .iter()
            .filter(|(who, ok)| *who == "rival" && *ok)
            .count();

        let sold = w.seat_is_sold(SPRING, "2026-12-24", seat).await;
        let status = w
            .booking
            .reservation(payer, held.reservation_id)
            .await
            .unwrap()
            .status;
        let balance = w.booking.balance(payer).await.unwrap().balance.get();
        assert_eq!(
            sold, paid,
            "round {round}: the seat is sold exactly when the payment went through"
        );
        assert!(
            rival_holds <= 1,
            "round {round}: at most one rival holds the seat"
        );
        if paid {
            assert_eq!(rival_holds, 0, "round {round}: a sold seat was held again");
            assert_eq!(status, ReservationStatus::Confirmed);
            assert_eq!(balance, 1_000_000 - 90_000);
        } else {
            assert_ne!(status, ReservationStatus::Confirmed);
            assert_eq!(balance, 1_000_000);
        }
        // Whatever happened, nobody can take a sold or held seat afterwards; the rival who
        // holds it gets its own hold back.
        for (late, late_token) in rivals.iter().filter(|_| sold || rival_holds == 1) {
            let late_hold = w
                .booking
                .hold_seats(
                    late,
                    Some(late_token),
                    &hold_request(SPRING, "2026-12-24", seat),
                    None,
                )
                .await;
            match late_hold {
                Ok((_, new)) => assert!(!sold && rival_holds == 1 && !new, "round {round}"),
                Err(error) => assert!(
                    matches!(error, BookingError::SeatUnavailable(_)) && (sold || rival_holds == 1),
                    "round {round}: {error:?}"
                ),
            }
        }
    }
}

/// 10,000 fans on memory, 1,000 on DynamoDB (DynamoDB Local shares the test machine's cores).
pub async fn a_crowd_joining_at_once_gets_distinct_tokens_and_exact_positions(w: World) {
    let crowd = w.scale(10_000, 1_000);
    w.pause(SPRING, true).await;
    let barrier = Arc::new(Barrier::new(crowd));
    let mut joins = JoinSet::new();
    for i in 0..crowd {
        let (booking, barrier) = (w.booking.clone(), barrier.clone());
        joins.spawn(async move {
            let fan = fan(&format!("fan{i:05}"));
            barrier.wait().await;
            let (ticket, created) = booking.join_queue(&fan, &concert_id(SPRING)).await.unwrap();
            assert!(created);
            (fan, ticket)
        });
    }
    let tickets = joins.join_all().await;
    let tokens: BTreeSet<String> = tickets.iter().map(|(_, t)| t.token.to_string()).collect();
    assert_eq!(tokens.len(), crowd);
    // Once a tick has counted them, every fan has its own place, in the order of their
    // places: 1 to the crowd's size. A number drawn twice for one join (a draw the SDK sent
    // again after its answer was lost, which a busy DynamoDB Local can cause) counts as a fan
    // until passed: positions may then be worse than the rank by the unused numbers, never
    // better.
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(SPRING).await, (0, 0));
    let mut polls = JoinSet::new();
    for (fan, ticket) in tickets {
        let (booking, store) = (w.booking.clone(), w.store.clone());
        polls.spawn(async move {
            let position = booking
                .queue_status(&fan, Some(&ticket.token))
                .await
                .unwrap()
                .position
                .unwrap();
            let place = store
                .ticket(&fan, &concert_id(SPRING))
                .await
                .unwrap()
                .unwrap()
                .place();
            (place, position)
        });
    }
    let mut placed = polls.join_all().await;
    placed.sort();
    let state = w
        .store
        .queue_state(&concert_id(SPRING), true)
        .await
        .unwrap()
        .unwrap();
    let unused = state.known - crowd as u64;
    assert!(unused <= crowd as u64 / 100, "{unused} numbers unused");
    let mut last = 0;
    for (rank, (place, position)) in placed.iter().enumerate() {
        let rank = rank as u64 + 1;
        assert!(*position > last, "{place}: {position} after {last}");
        assert!(
            (rank..=rank + unused).contains(position),
            "{place}: told {position}, rank {rank}"
        );
        last = *position;
    }
}
