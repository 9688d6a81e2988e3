//! The sale opening and the sell-out: a queue that opens before its sale, a pre-queue drawn by
//! lottery at the opening, first come, first served behind it, and the end of waiting once
//! every seat is sold.

use std::collections::{BTreeMap, BTreeSet};

use ticketing::booking::{Catalog, QueueStatus, QueueTicket};
use ticketing::domain::{QueueToken, Timestamp, UserId};
use ticketing::{BookingError, Settings};

use crate::world::*;

const PREMIERE: &str = "premiere";
/// The premiere's queue opens a minute after the world starts and its sale ten minutes after.
const QUEUE_OPENS: i64 = START + 60;
const SALE_OPENS: i64 = START + 600;
const DATE: &str = "2026-12-24";

/// The premiere with `seats` seats on one date.
async fn premiere(w: &World, seats: u8) {
    let at = |t: i64| Timestamp::from_epoch_seconds(t).to_string();
    let catalog = Catalog::from_json(&format!(
        r#"{{"concerts": [{{"concertId": "{PREMIERE}", "title": "Premiere", "dates": ["{DATE}"],
             "seatPrices": [{{"fromSeat": 1, "toSeat": {seats}, "price": 70000}}],
             "queueOpensAt": "{}", "saleOpensAt": "{}"}}]}}"#,
        at(QUEUE_OPENS),
        at(SALE_OPENS)
    ))
    .expect("a valid catalog");
    w.booking.load_catalog(&catalog).await.unwrap();
}

/// Pre-queued fans must outlast the wait for the opening without polling.
fn patient(settings: Settings) -> Settings {
    Settings {
        waiting_idle_seconds: 3_600,
        ..settings
    }
}

async fn join(w: &World, name: &str) -> (UserId, QueueTicket) {
    let fan = fan(name);
    let (ticket, created) = w
        .booking
        .join_queue(&fan, &concert_id(PREMIERE))
        .await
        .unwrap();
    assert!(created, "{name} joins once");
    (fan, ticket)
}

async fn poll(w: &World, fan: &UserId, token: &QueueToken) -> QueueTicket {
    w.booking.queue_status(fan, Some(token)).await.unwrap()
}

/// Every fan the premiere's tick admitted, in its order.
async fn tick_admitted(w: &World) -> Vec<UserId> {
    let report = w.tick_report().await;
    report
        .concerts
        .iter()
        .filter(|c| c.concert_id.as_str() == PREMIERE)
        .flat_map(|c| c.admitted.iter().map(|(fan, _)| fan.clone()))
        .collect()
}

pub async fn joining_before_during_and_after_the_pre_queue(w: World) {
    let w = w.with_settings(patient(Settings {
        admit_per_tick: 1,
        ..Settings::default()
    }));
    premiere(&w, 50).await;

    // Twice: the second is refused from the concert this container now holds.
    for _ in 0..2 {
        let early = w
            .booking
            .join_queue(&fan("eager"), &concert_id(PREMIERE))
            .await;
        match early {
            Err(BookingError::QueueNotOpen { opens_at }) => {
                assert_eq!(opens_at.epoch_seconds(), QUEUE_OPENS)
            }
            other => panic!("joining before the queue opens: {other:?}"),
        }
    }
    assert!(
        w.store
            .ticket(&fan("eager"), &concert_id(PREMIERE))
            .await
            .unwrap()
            .is_none(),
        "a refused join leaves no ticket"
    );

    w.advance(QUEUE_OPENS - START);
    let mut pre_queued = Vec::new();
    for name in ["dawn", "early", "first"] {
        let (fan, ticket) = join(&w, name).await;
        assert_eq!(ticket.status, QueueStatus::PreQueue);
        assert_eq!(ticket.position, None, "no order before the draw");
        assert_eq!(
            ticket.estimated_wait_seconds,
            Some((SALE_OPENS - QUEUE_OPENS) as u64)
        );
        assert!(ticket.poll_after_seconds >= 1);
        pre_queued.push((fan, ticket.token));
    }
    w.advance(100);
    assert!(
        tick_admitted(&w).await.is_empty(),
        "nobody is admitted before the sale opens"
    );
    for (fan, token) in &pre_queued {
        let ticket = poll(&w, fan, token).await;
        assert_eq!(
            (
                ticket.status,
                ticket.position,
                ticket.estimated_wait_seconds
            ),
            (
                QueueStatus::PreQueue,
                None,
                Some((SALE_OPENS - QUEUE_OPENS - 100) as u64)
            )
        );
        let gate = w
            .booking
            .dates_on_sale(fan, Some(token), &concert_id(PREMIERE))
            .await;
        assert!(
            matches!(
                gate,
                Err(BookingError::QueueNotAdmitted { position: None, .. })
            ),
            "a pre-queued fan is not admitted yet: {gate:?}"
        );
    }

    w.advance(SALE_OPENS - w.now().epoch_seconds());
    let (late, late_ticket) = join(&w, "late").await;
    assert_eq!(late_ticket.status, QueueStatus::Waiting);
    assert_eq!(
        late_ticket.position, None,
        "behind the whole pre-queue, and not counted yet"
    );

    // The first tick after the opening draws the pre-queue and admits its first fan; from then
    // on every position is exact, the pre-queue's in the drawn order, the late fan's behind it.
    w.advance(SETTLE_SECONDS);
    let first = tick_admitted(&w).await;
    assert_eq!(first.len(), 1);
    assert!(pre_queued.iter().any(|(fan, _)| *fan == first[0]));
    let mut by_position = BTreeMap::new();
    for (fan, token) in pre_queued
        .iter()
        .chain([&(late.clone(), late_ticket.token)])
    {
        let ticket = poll(&w, fan, token).await;
        if *fan == first[0] {
            assert_eq!(ticket.status, QueueStatus::Active);
        } else {
            assert_eq!(ticket.status, QueueStatus::Waiting);
            by_position.insert(ticket.position.unwrap(), fan.clone());
        }
    }
    assert_eq!(by_position.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(
        by_position[&3], late,
        "the late fan queues behind the pre-queue"
    );
    for (_, expected) in by_position {
        w.advance(1);
        assert_eq!(tick_admitted(&w).await, [expected], "admitted by position");
    }
}

pub async fn the_draw_is_a_permutation_not_the_arrival_order(w: World) {
    let per_tick = 7;
    let w = w.with_settings(patient(Settings {
        admit_per_tick: per_tick,
        max_active: 10_000,
        ..Settings::default()
    }));
    premiere(&w, 50).await;
    w.advance(QUEUE_OPENS - START);
    // Fans arrive over several seconds, a few per second, so that arrival order is clear.
    let crowd = w.scale(120, 40);
    let mut arrivals = Vec::new();
    for i in 0..crowd {
        if i % 4 == 0 {
            w.advance(1);
        }
        let (fan, ticket) = join(&w, &format!("fan{i:03}")).await;
        assert_eq!(ticket.status, QueueStatus::PreQueue);
        arrivals.push((fan, ticket.token));
    }

    w.advance(SALE_OPENS + SETTLE_SECONDS - w.now().epoch_seconds());
    let mut order = tick_admitted(&w).await;
    assert_eq!(order.len(), per_tick as usize);
    // Positions right after the draw: the rest of the permutation, 1, 2, 3, ... with no gap.
    let mut by_position = BTreeMap::new();
    for (fan, token) in &arrivals {
        let ticket = poll(&w, fan, token).await;
        if order.contains(fan) {
            assert_eq!(ticket.status, QueueStatus::Active);
        } else {
            assert_eq!(ticket.status, QueueStatus::Waiting);
            let position = ticket.position.expect("drawn: an exact position");
            assert!(by_position.insert(position, fan.clone()).is_none());
        }
    }
    let expected: Vec<u64> = (1..=(crowd - per_tick as usize) as u64).collect();
    assert_eq!(by_position.keys().copied().collect::<Vec<_>>(), expected);

    while order.len() < crowd {
        w.advance(1);
        let admitted = tick_admitted(&w).await;
        assert!(!admitted.is_empty(), "admission goes on until all are in");
        order.extend(admitted);
    }
    let everyone: BTreeSet<&UserId> = arrivals.iter().map(|(fan, _)| fan).collect();
    assert_eq!(order.iter().collect::<BTreeSet<_>>(), everyone);
    assert_eq!(order.len(), crowd, "every pre-queued fan exactly once");
    assert_eq!(
        order[per_tick as usize..],
        by_position.into_values().collect::<Vec<_>>()[..],
        "admitted in the drawn positions' order"
    );
    let arrival_order: Vec<UserId> = arrivals.into_iter().map(|(fan, _)| fan).collect();
    assert_ne!(order, arrival_order, "arriving early gives no edge");
    // A uniform draw leaves next to no trace of the arrival order: the mean displacement of a
    // random permutation is about a third of its length, of an arrival order zero.
    let displacement: usize = order
        .iter()
        .enumerate()
        .map(|(rank, fan)| rank.abs_diff(arrival_order.iter().position(|a| a == fan).unwrap()))
        .sum();
    assert!(
        displacement * 6 > crowd * crowd,
        "mean displacement {} of {crowd}",
        displacement / crowd
    );
}

pub async fn the_sell_out_reaches_waiting_pre_queued_and_new_fans(w: World) {
    // Two seats, three fans active at a time: three pre-queued fans win, the others wait.
    let w = w.with_settings(patient(Settings {
        admit_per_tick: 10,
        max_active: 3,
        ..Settings::default()
    }));
    premiere(&w, 2).await;
    w.advance(QUEUE_OPENS - START);
    let mut pre_queued = Vec::new();
    for name in ["pia", "pete", "pam", "paul"] {
        pre_queued.push(join(&w, name).await);
    }
    w.advance(SALE_OPENS - w.now().epoch_seconds());
    let (waiting, waiting_ticket) = join(&w, "walt").await;
    w.advance(SETTLE_SECONDS);
    let winners = tick_admitted(&w).await;
    assert_eq!(winners.len(), 3);
    let token_of = |fan: &UserId| {
        pre_queued
            .iter()
            .find(|(f, _)| f == fan)
            .expect("winners come from the pre-queue")
            .1
            .token
            .clone()
    };

    // Two of them buy the two seats; the third is still active, with nothing left to buy.
    for (seat, winner) in winners[..2].iter().enumerate() {
        let token = &token_of(winner);
        let held = w
            .hold(winner, token, PREMIERE, DATE, seat as i64 + 1)
            .await
            .unwrap();
        w.charged(winner, 70_000).await;
        w.booking
            .pay(winner, Some(token), held.reservation_id, None)
            .await
            .unwrap();
    }
    let (loser, loser_ticket) = pre_queued
        .iter()
        .find(|(fan, _)| !winners.contains(fan))
        .cloned()
        .unwrap();

    // Within one tick of the last sale, everyone waiting is told, and the queue closes.
    w.advance(1);
    assert!(tick_admitted(&w).await.is_empty());
    let (still_active, active_token) = (&winners[2], token_of(&winners[2]));
    for (fan, token) in [
        (&loser, &loser_ticket.token),
        (&waiting, &waiting_ticket.token),
        (still_active, &active_token),
    ] {
        let ticket = poll(&w, fan, token).await;
        assert_eq!(
            (ticket.status, ticket.position),
            (QueueStatus::SoldOut, Some(0)),
            "{fan} is told"
        );
        let gate = w
            .booking
            .dates_on_sale(fan, Some(token), &concert_id(PREMIERE))
            .await;
        assert!(
            matches!(gate, Err(BookingError::QueueTokenExpired)),
            "a sold-out ticket has ended: {gate:?}"
        );
    }
    let newcomer = w
        .booking
        .join_queue(&fan("nora"), &concert_id(PREMIERE))
        .await;
    assert!(
        matches!(newcomer, Err(BookingError::SoldOut)),
        "{newcomer:?}"
    );
    let again = w.booking.join_queue(&waiting, &concert_id(PREMIERE)).await;
    assert!(matches!(again, Err(BookingError::SoldOut)), "{again:?}");

    w.advance(5);
    let listed = w.booking.concerts_on_sale().await.unwrap();
    let premiere = listed
        .concerts
        .iter()
        .find(|c| c.concert_id.as_str() == PREMIERE)
        .expect("still listed until its date passes");
    assert!(premiere.sold_out);
    assert_eq!(
        premiere.sale_opens_at.map(Timestamp::epoch_seconds),
        Some(SALE_OPENS)
    );
    let spring = listed
        .concerts
        .iter()
        .find(|c| c.concert_id.as_str() == SPRING)
        .unwrap();
    assert!(!spring.sold_out, "only the premiere sold out");
    assert!(
        tick_admitted(&w).await.is_empty(),
        "admission stays stopped"
    );
}
