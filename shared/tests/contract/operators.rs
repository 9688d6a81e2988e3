//! What operators see and turn: the waiting room as the last tick left it, admission changed
//! live (at the next tick), and concerts added without a deploy.

use std::sync::Arc;

use tokio::task::JoinSet;

use ticketing::booking::{CatalogConcert, QueueStatus, RoomState, WaitingRoom};
use ticketing::domain::{OperatorId, QueueToken, UserId};
use ticketing::store::QueueControlChange;
use ticketing::{BookingError, Settings};

use crate::world::*;

fn ops() -> OperatorId {
    OperatorId::parse("arn:aws:sts::000000000000:assumed-role/OnSaleOperators/alice").unwrap()
}

async fn room(w: &World, concert: &str) -> WaitingRoom {
    w.booking.waiting_room(&concert_id(concert)).await.unwrap()
}

async fn change(w: &World, concert: &str, change: QueueControlChange) -> WaitingRoom {
    w.booking
        .change_admission(&ops(), &concert_id(concert), &change)
        .await
        .unwrap()
}

fn admit_per_tick(n: u32) -> QueueControlChange {
    QueueControlChange {
        admit_per_tick: Some(n),
        ..QueueControlChange::default()
    }
}

fn max_active(n: u32) -> QueueControlChange {
    QueueControlChange {
        max_active: Some(n),
        ..QueueControlChange::default()
    }
}

fn paused(paused: bool) -> QueueControlChange {
    QueueControlChange {
        paused: Some(paused),
        ..QueueControlChange::default()
    }
}

pub async fn the_waiting_room_is_the_last_ticks_books_and_changes_apply_at_the_next_tick(w: World) {
    let w = w.with_settings(Settings {
        admit_per_tick: 2,
        max_active: 100,
        ..Settings::default()
    });
    let before = room(&w, SPRING).await;
    assert_eq!(before.state, RoomState::Open);
    assert_eq!(
        (before.waiting, before.active, before.admitted_total),
        (0, 0, 0)
    );
    assert_eq!(
        (before.seats.free, before.seats.held, before.seats.sold),
        (100, 0, 0),
        "two dates on sale, fifty seats each"
    );
    assert_eq!(
        (
            before.admit_per_tick,
            before.max_active,
            before.admit_tick_seconds
        ),
        (2, 100, 10)
    );

    let mut fans: Vec<(UserId, QueueToken)> = Vec::new();
    for i in 0..6 {
        let fan = fan(&format!("fan{i}"));
        let (ticket, _) = w
            .booking
            .join_queue(&fan, &concert_id(SPRING))
            .await
            .unwrap();
        fans.push((fan, ticket.token));
        w.advance(1);
    }
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(SPRING).await, (2, 0));
    let after = room(&w, SPRING).await;
    assert_eq!(
        (after.waiting, after.active, after.admitted_total),
        (4, 2, 2)
    );
    assert!(after.estimated_wait_seconds_for_last > 0);
    w.hold(&fans[0].0, &fans[0].1, SPRING, "2026-12-24", 3)
        .await
        .unwrap();
    assert_eq!(
        room(&w, SPRING).await.seats.held,
        0,
        "the room is the last tick's books"
    );

    // Each change is answered at once and applied by the next tick.
    let changed = change(&w, SPRING, admit_per_tick(1)).await;
    assert_eq!((changed.admit_per_tick, changed.waiting), (1, 4));
    w.advance(1);
    assert_eq!(w.tick(SPRING).await, (1, 0));
    let seen = room(&w, SPRING).await;
    assert_eq!((seen.seats.free, seen.seats.held), (99, 1));

    assert_eq!(
        change(&w, SPRING, paused(true)).await.state,
        RoomState::Paused
    );
    w.advance(1);
    assert_eq!(w.tick(SPRING).await, (0, 0), "paused: nobody is admitted");
    let polled = w
        .booking
        .queue_status(&fans[5].0, Some(&fans[5].1))
        .await
        .unwrap();
    assert_eq!(
        (polled.status, polled.position),
        (QueueStatus::Waiting, Some(3)),
        "polls go on answering while paused"
    );

    let resumed = change(
        &w,
        SPRING,
        QueueControlChange {
            paused: Some(false),
            max_active: Some(3),
            ..QueueControlChange::default()
        },
    )
    .await;
    assert_eq!(
        (resumed.state, resumed.admit_per_tick, resumed.max_active),
        (RoomState::Open, 1, 3),
        "a change keeps the knobs it does not name"
    );
    w.advance(1);
    assert_eq!(w.tick(SPRING).await, (0, 0), "three are active already");
    change(&w, SPRING, max_active(10)).await;
    w.advance(1);
    assert_eq!(w.tick(SPRING).await, (1, 0));
    let last = room(&w, SPRING).await;
    assert_eq!((last.waiting, last.active, last.admitted_total), (2, 4, 4));

    let unchanged = change(&w, SPRING, QueueControlChange::default()).await;
    assert_eq!(unchanged, last, "an empty change changes nothing");

    let unknown = w
        .booking
        .change_admission(&ops(), &concert_id("no-such-show"), &paused(true))
        .await;
    assert!(matches!(unknown, Err(BookingError::ConcertNotFound)));
    assert!(
        !w.store
            .queue_control(&concert_id("no-such-show"))
            .await
            .unwrap()
            .paused,
        "nothing was written for it"
    );
    assert!(matches!(
        w.booking.waiting_room(&concert_id("no-such-show")).await,
        Err(BookingError::ConcertNotFound)
    ));
}

pub async fn operators_turning_different_knobs_at_once_both_take_effect(w: World) {
    let w = Arc::new(w);
    let mut operators = JoinSet::new();
    for i in 0..20u32 {
        let w = w.clone();
        operators.spawn(async move {
            let turn = if i % 2 == 0 {
                admit_per_tick(100 + i)
            } else {
                max_active(1_000 + i)
            };
            change(&w, WINTER, turn).await;
        });
    }
    operators.join_all().await;
    let control = w.store.queue_control(&concert_id(WINTER)).await.unwrap();
    let admit = control
        .admit_per_tick
        .expect("an admitPerTick change stuck");
    let max = control.max_active.expect("a maxActive change stuck");
    assert!((100..120).contains(&admit) && admit % 2 == 0, "{admit}");
    assert!((1_000..1_020).contains(&max) && max % 2 == 1, "{max}");
    assert!(!control.paused);
}

pub async fn a_concert_added_live_is_on_sale_and_never_overwritten(w: World) {
    let concert = |title: &str, queue_opens_at: &str| -> CatalogConcert {
        serde_json::from_value(serde_json::json!({
            "concertId": "pop-up", "title": title, "dates": ["2026-12-28"],
            "seatPrices": [{"fromSeat": 1, "toSeat": 50, "price": 55000}],
            "queueOpensAt": queue_opens_at, "saleOpensAt": "2026-12-01T00:10:00Z"
        }))
        .unwrap()
    };
    let inverted = w
        .booking
        .add_concert(&ops(), &concert("Pop-up", "2026-12-01T00:20:00Z"))
        .await;
    match inverted {
        Err(BookingError::InvalidCatalog(why)) => {
            assert!(
                why.contains("pop-up") && why.contains("queueOpensAt"),
                "{why}"
            )
        }
        other => panic!("inverted times: {other:?}"),
    }
    assert!(w
        .store
        .concert(&concert_id("pop-up"))
        .await
        .unwrap()
        .is_none());

    let added = w
        .booking
        .add_concert(&ops(), &concert("Pop-up", "2026-12-01T00:05:00Z"))
        .await
        .unwrap();
    assert_eq!(
        (
            added.concert_id.as_str(),
            added.title.as_str(),
            added.sold_out
        ),
        ("pop-up", "Pop-up", false)
    );
    let again = w
        .booking
        .add_concert(&ops(), &concert("Overwritten", "2026-12-01T00:05:00Z"))
        .await;
    assert!(
        matches!(again, Err(BookingError::ConcertExists)),
        "{again:?}"
    );

    w.advance(5 * 60);
    let listed = w.booking.concerts_on_sale().await.unwrap();
    let pop_up = listed
        .concerts
        .iter()
        .find(|c| c.concert_id.as_str() == "pop-up")
        .expect("on sale without a deploy");
    assert_eq!(pop_up.title, "Pop-up", "never overwritten");
    let (ticket, _) = w
        .booking
        .join_queue(&fan("early-bird"), &concert_id("pop-up"))
        .await
        .unwrap();
    assert_eq!(ticket.status, QueueStatus::PreQueue);
    assert_eq!(room(&w, "pop-up").await.state, RoomState::PreQueue);
}
