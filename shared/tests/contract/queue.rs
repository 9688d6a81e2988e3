use ticketing::booking::QueueStatus;
use ticketing::domain::QueueToken;
use ticketing::{BookingError, Settings};

use crate::world::*;

pub async fn joining_twice_returns_the_same_token(w: World) {
    let (first, created) = w
        .booking
        .join_queue(&fan("ana"), &concert_id(SPRING))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(first.status, QueueStatus::Waiting);
    // No tick has counted the second ana joined in: no position yet, never a guess.
    assert_eq!(first.position, None);
    assert!(first.poll_after_seconds >= 1);
    let (again, created) = w
        .booking
        .join_queue(&fan("ana"), &concert_id(SPRING))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.token, first.token);
    assert_eq!(again.position, None);
    w.advance(SETTLE_SECONDS);
    w.pause(SPRING, true).await;
    w.tick(SPRING).await;
    let (counted, created) = w
        .booking
        .join_queue(&fan("ana"), &concert_id(SPRING))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!((counted.token, counted.position), (first.token, Some(1)));

    let unknown = w
        .booking
        .join_queue(&fan("ana"), &concert_id("no-such-show"))
        .await;
    assert!(matches!(unknown, Err(BookingError::ConcertNotFound)));
}

pub async fn positions_follow_join_order_with_an_estimated_wait(w: World) {
    let w = w.with_settings(Settings {
        admit_per_tick: 2,
        admit_tick_seconds: 10,
        ..Settings::default()
    });
    // Paused, the tick counts the queue without admitting anyone.
    w.pause(SPRING, true).await;
    let names = ["a", "b", "c", "d", "e"];
    let mut tokens = Vec::new();
    for name in names {
        let (ticket, _) = w
            .booking
            .join_queue(&fan(name), &concert_id(SPRING))
            .await
            .unwrap();
        tokens.push(ticket.token);
        w.advance(1);
    }
    let status = |i: usize| {
        let (w, token) = (&w, tokens[i].clone());
        async move {
            w.booking
                .queue_status(&fan(names[i]), Some(&token))
                .await
                .unwrap()
        }
    };
    assert_eq!(w.tick(SPRING).await, (0, 0));
    // Positions are as of the last tick: it counted a to d; e joined after, and has none yet
    // (how many joined in the seconds not counted is unknown).
    assert_eq!(status(0).await.position, Some(1));
    assert_eq!(status(3).await.position, Some(4));
    assert_eq!(status(4).await.position, None);
    assert_eq!(status(4).await.status, QueueStatus::Waiting);
    w.advance(1);
    assert_eq!(w.tick(SPRING).await, (0, 0));
    let fifth = status(4).await;
    let fourth = status(3).await;
    assert_eq!((fourth.position, fifth.position), (Some(4), Some(5)));
    assert_eq!(fifth.expires_at, w.now().plus_seconds(300));
    // Paused: no wait is promised, and the ticket says why.
    assert_eq!(
        (fourth.estimated_wait_seconds, fifth.estimated_wait_seconds),
        (None, None)
    );
    assert!(fourth.admission_paused && fifth.admission_paused);
    // Not before the next tick (ten seconds on, spread over three), at most a third of the
    // idle limit.
    assert!((9..=100).contains(&fifth.poll_after_seconds));

    w.pause(SPRING, false).await;
    w.advance(10);
    assert_eq!(w.tick(SPRING).await, (2, 0));
    let (fourth, fifth) = (status(3).await, status(4).await);
    assert_eq!((fourth.position, fifth.position), (Some(2), Some(3)));
    assert!(!fifth.admission_paused);
    let (Some(nearer), Some(further)) =
        (fourth.estimated_wait_seconds, fifth.estimated_wait_seconds)
    else {
        panic!("resumed, the waits are known: {fourth:?} {fifth:?}");
    };
    assert!(further > nearer && nearer > 0);
    let first = status(0).await;
    assert_eq!(first.status, QueueStatus::Active);
    assert_eq!(
        (first.position, first.estimated_wait_seconds),
        (Some(0), Some(0))
    );
    // Active: ACTIVE_IDLE_SECONDS on, unless a request carries the token before.
    assert_eq!(first.expires_at, w.now().plus_seconds(120));
}

/// Operators pause or resume a concert's admission.
pub async fn the_tick_admits_in_order_and_at_most_per_tick(w: World) {
    let w = w.with_settings(Settings {
        admit_per_tick: 3,
        ..Settings::default()
    });
    let mut tokens = Vec::new();
    for i in 0..7 {
        let (ticket, _) = w
            .booking
            .join_queue(&fan(&format!("fan{i}")), &concert_id(SPRING))
            .await
            .unwrap();
        tokens.push(ticket.token);
        w.advance(1);
    }
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(SPRING).await, (3, 0));
    assert_eq!(
        active_flags(&w, &tokens).await,
        [true, true, true, false, false, false, false]
    );
    assert_eq!(w.tick(SPRING).await, (3, 0));
    assert_eq!(w.tick(SPRING).await, (1, 0));
    assert_eq!(active_flags(&w, &tokens).await, [true; 7]);
    // A tick over every live queue reports what it did.
    let report = w.tick_report().await;
    assert_eq!((report.concerts.len(), report.admitted()), (1, 0));
}

async fn active_flags(w: &World, tokens: &[QueueToken]) -> Vec<bool> {
    let mut flags = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let ticket = w
            .booking
            .queue_status(&fan(&format!("fan{i}")), Some(token))
            .await
            .unwrap();
        flags.push(ticket.status == QueueStatus::Active);
    }
    flags
}

pub async fn never_more_than_max_active_tokens_are_active(w: World) {
    let w = w.with_settings(Settings {
        admit_per_tick: 10,
        max_active: 3,
        waiting_idle_seconds: 120,
        ..Settings::default()
    });
    let mut tokens = Vec::new();
    for i in 0..6 {
        let (ticket, _) = w
            .booking
            .join_queue(&fan(&format!("fan{i}")), &concert_id(SPRING))
            .await
            .unwrap();
        tokens.push(ticket.token);
        w.advance(1);
    }
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(SPRING).await, (3, 0));
    assert_eq!(w.tick(SPRING).await, (0, 0));

    // A payment spends fan0's token: one slot frees up.
    w.charged(&fan("fan0"), 200_000).await;
    let held = w
        .hold(&fan("fan0"), &tokens[0], SPRING, "2026-12-24", 1)
        .await
        .unwrap();
    w.booking
        .pay(&fan("fan0"), Some(&tokens[0]), held.reservation_id, None)
        .await
        .unwrap();
    assert_eq!(w.tick(SPRING).await, (1, 0));
    assert_eq!(w.tick(SPRING).await, (0, 0));

    // Active tokens end after ACTIVE_SECONDS; the waiting fan keeps polling meanwhile.
    for _ in 0..6 {
        w.advance(100);
        w.booking
            .queue_status(&fan("fan5"), Some(&tokens[5]))
            .await
            .unwrap();
    }
    // fan4 never polled and is dropped; fan5 takes a slot freed by the ended tokens.
    assert_eq!(w.tick(SPRING).await, (1, 1));
}

/// While every slot is taken, the line moves only as admitted fans pay, give seats back or idle
/// out: no wait is promised then, and one is again once the tick leaves a slot free.
pub async fn no_wait_is_promised_while_every_slot_is_taken(w: World) {
    let w = w.with_settings(Settings {
        admit_per_tick: 1,
        max_active: 3,
        ..Settings::default()
    });
    let mut tokens = Vec::new();
    for i in 0..5 {
        let (ticket, _) = w
            .booking
            .join_queue(&fan(&format!("fan{i}")), &concert_id(SPRING))
            .await
            .unwrap();
        tokens.push(ticket.token);
        w.advance(1);
    }
    w.advance(SETTLE_SECONDS);
    let status = |i: usize| {
        let (w, token) = (&w, tokens[i].clone());
        async move {
            w.booking
                .queue_status(&fan(&format!("fan{i}")), Some(&token))
                .await
                .unwrap()
        }
    };
    assert_eq!(w.tick(SPRING).await, (1, 0));
    let last = status(4).await;
    assert_eq!(last.position, Some(4));
    assert!(
        last.estimated_wait_seconds.is_some_and(|s| s > 0),
        "{last:?}"
    );
    assert_eq!(w.tick(SPRING).await, (1, 0));
    assert_eq!(w.tick(SPRING).await, (1, 0));
    // Three of three slots taken: places are known, waits are not.
    for (i, place) in [(3, 1), (4, 2)] {
        let ticket = status(i).await;
        assert_eq!(
            (
                ticket.status,
                ticket.position,
                ticket.estimated_wait_seconds
            ),
            (QueueStatus::Waiting, Some(place), None)
        );
        assert!(!ticket.admission_paused);
    }
    // The gate tells a waiting fan the same.
    let refused = w
        .booking
        .seat_chart(
            &fan("fan4"),
            Some(&tokens[4]),
            &concert_id(SPRING),
            day("2026-12-24"),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(BookingError::QueueNotAdmitted {
                position: Some(2),
                estimated_wait_seconds: None
            })
        ),
        "{refused:?}"
    );

    // Two fans pay: the tick admits one into the freed slots and leaves one free.
    for (seat, token) in (1..).zip(&tokens[..2]) {
        let who = fan(&format!("fan{}", seat - 1));
        w.charged(&who, 200_000).await;
        let held = w
            .hold(&who, token, SPRING, "2026-12-24", seat)
            .await
            .unwrap();
        w.booking
            .pay(&who, Some(token), held.reservation_id, None)
            .await
            .unwrap();
    }
    assert_eq!(w.tick(SPRING).await, (1, 0));
    let last = status(4).await;
    assert_eq!(last.position, Some(1));
    assert!(
        last.estimated_wait_seconds.is_some_and(|s| s > 0),
        "{last:?}"
    );
}

pub async fn idle_waiting_tokens_are_dropped_and_never_stall_admission(w: World) {
    let w = w.with_settings(Settings {
        admit_per_tick: 1,
        waiting_idle_seconds: 120,
        ..Settings::default()
    });
    let (idle, _) = w
        .booking
        .join_queue(&fan("idle"), &concert_id(SPRING))
        .await
        .unwrap();
    w.advance(1);
    let (keen, _) = w
        .booking
        .join_queue(&fan("keen"), &concert_id(SPRING))
        .await
        .unwrap();
    w.advance(89);
    w.booking
        .queue_status(&fan("keen"), Some(&keen.token))
        .await
        .unwrap();
    w.advance(60);
    // One admission per tick, yet the idle fan ahead does not use it up.
    assert_eq!(w.tick(SPRING).await, (1, 1));
    let keen_now = w
        .booking
        .queue_status(&fan("keen"), Some(&keen.token))
        .await
        .unwrap();
    assert_eq!(keen_now.status, QueueStatus::Active);
    let idle_now = w
        .booking
        .queue_status(&fan("idle"), Some(&idle.token))
        .await;
    assert!(matches!(idle_now, Err(BookingError::QueueTokenExpired)));
}

pub async fn gated_operations_refuse_each_bad_token_distinctly(w: World) {
    let (ana, ana_token) = w.admitted_fan("ana", SPRING).await;
    let spring = concert_id(SPRING);

    let missing = w.booking.dates_on_sale(&ana, None, &spring).await;
    assert!(matches!(missing, Err(BookingError::QueueTokenRequired)));

    let unknown = QueueToken::new(spring.clone(), START);
    let invalid = w.booking.dates_on_sale(&ana, Some(&unknown), &spring).await;
    assert!(matches!(invalid, Err(BookingError::QueueTokenInvalid)));

    let someone_elses = w
        .booking
        .dates_on_sale(&fan("bob"), Some(&ana_token), &spring)
        .await;
    assert!(matches!(
        someone_elses,
        Err(BookingError::QueueTokenInvalid)
    ));

    let other_concert = w
        .booking
        .dates_on_sale(&ana, Some(&ana_token), &concert_id(WINTER))
        .await;
    assert!(matches!(
        other_concert,
        Err(BookingError::QueueTokenWrongConcert)
    ));

    let (waiting, _) = w.booking.join_queue(&fan("cho"), &spring).await.unwrap();
    let not_yet = w
        .booking
        .seat_chart(
            &fan("cho"),
            Some(&waiting.token),
            &spring,
            day("2026-12-24"),
        )
        .await;
    match not_yet {
        Err(BookingError::QueueNotAdmitted {
            position,
            estimated_wait_seconds,
        }) => {
            // Not counted yet: no position, an estimate all the same.
            assert_eq!(position, None);
            assert!(estimated_wait_seconds.is_some_and(|s| s > 0));
        }
        other => panic!("expected QueueNotAdmitted, got {other:?}"),
    }

    assert!(w
        .booking
        .dates_on_sale(&ana, Some(&ana_token), &spring)
        .await
        .is_ok());
    // Unused for longer than ACTIVE_IDLE_SECONDS: ended, and the fan is told why.
    w.advance(600);
    let idle = w
        .booking
        .dates_on_sale(&ana, Some(&ana_token), &spring)
        .await;
    assert!(matches!(idle, Err(BookingError::QueueTokenIdle)));
    let polled = w.booking.queue_status(&ana, Some(&ana_token)).await;
    assert!(matches!(polled, Err(BookingError::QueueTokenIdle)));
}

pub async fn an_ended_token_rejoins_at_the_back(w: World) {
    let (ana, old) = w.admitted_fan("ana", SPRING).await;
    w.booking
        .join_queue(&fan("bob"), &concert_id(SPRING))
        .await
        .unwrap();
    // Operators pause admission: the queue is counted, nobody is let in.
    w.pause(SPRING, true).await;
    w.advance(601);
    let (ticket, created) = w
        .booking
        .join_queue(&ana, &concert_id(SPRING))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(ticket.token, old);
    assert_eq!(ticket.status, QueueStatus::Waiting);
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(SPRING).await, (0, 0));
    let now = w
        .booking
        .queue_status(&ana, Some(&ticket.token))
        .await
        .unwrap();
    assert_eq!(now.position, Some(2), "behind bob, who joined earlier");
    // The old token reads as ended, not as someone else's.
    let stale = w.booking.queue_status(&ana, Some(&old)).await;
    assert!(matches!(stale, Err(BookingError::QueueTokenExpired)));
}

/// Finding: joining again while queued drew a new number nobody claimed, so a bot re-joining in
/// a loop pushed back everyone who joined after it. Now a re-join reads and draws nothing.
pub async fn a_re_join_storm_leaves_later_fans_positions_unchanged(w: World) {
    w.pause(SPRING, true).await;
    let concert = concert_id(SPRING);
    for name in ["a", "b", "c", "d", "e"] {
        w.booking.join_queue(&fan(name), &concert).await.unwrap();
    }
    let drawn = w.script.calls("draw_queue_number");
    // One of them joins again sixty times, all at once.
    let storm: Vec<_> = (0..60)
        .map(|_| {
            let (booking, concert) = (w.booking.clone(), concert.clone());
            tokio::spawn(async move { booking.join_queue(&fan("c"), &concert).await })
        })
        .collect();
    for join in storm {
        let (_, created) = join.await.unwrap().unwrap();
        assert!(!created);
    }
    assert_eq!(
        w.script.calls("draw_queue_number"),
        drawn,
        "a re-join draws nothing"
    );
    // The next fan, a second later, is behind the five and nobody else.
    w.advance(1);
    let (next, created) = w.booking.join_queue(&fan("f"), &concert).await.unwrap();
    assert!(created);
    w.advance(SETTLE_SECONDS);
    w.tick(SPRING).await;
    let polled = w
        .booking
        .queue_status(&fan("f"), Some(&next.token))
        .await
        .unwrap();
    assert_eq!(polled.position, Some(6));
    let room = w.booking.waiting_room(&concert).await.unwrap();
    assert_eq!(room.waiting, 6);
}

/// Finding: a join for a concert that does not exist drew a number before it was refused.
pub async fn a_join_that_is_refused_writes_nothing(w: World) {
    let refused = w
        .booking
        .join_queue(&fan("ana"), &concert_id("no-such-show"))
        .await;
    assert!(matches!(refused, Err(BookingError::ConcertNotFound)));
    assert_eq!(w.script.calls("draw_queue_number"), 0);
    assert_eq!(w.script.calls("enqueue"), 0);
    assert_eq!(w.script.calls("register_queue"), 0);
}

/// Finding: the counter a join landed on was a hash of the fan and the second, so a bot could
/// pick accounts whose counters are counted first. One fan joining many concerts in the same
/// second now lands on counters nobody can predict.
pub async fn the_counter_a_join_lands_on_is_not_a_function_of_the_fan_and_second(w: World) {
    let concerts: Vec<String> = (0..12).map(|i| format!("show-{i}")).collect();
    let catalog = concerts
        .iter()
        .map(|c| {
            format!(
                r#"{{"concertId": "{c}", "title": "{c}", "dates": ["2026-12-24"],
                   "seatPrices": [{{"fromSeat": 1, "toSeat": 50, "price": 1000}}]}}"#
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let catalog =
        ticketing::booking::Catalog::from_json(&format!(r#"{{"concerts": [{catalog}]}}"#)).unwrap();
    w.booking.load_catalog(&catalog).await.unwrap();
    let mut counters = std::collections::BTreeSet::new();
    for c in &concerts {
        let (ticket, _) = w
            .booking
            .join_queue(&fan("bot"), &concert_id(c))
            .await
            .unwrap();
        assert_eq!(ticket.token.joined_at(), w.now().epoch_seconds());
        let stored = w
            .store
            .ticket(&fan("bot"), &concert_id(c))
            .await
            .unwrap()
            .unwrap();
        counters.insert(stored.shard);
    }
    assert!(counters.len() > 1, "{counters:?}");
}

/// A fan whose second is not counted yet is behind everyone counted: told to poll as late as
/// their wait allows, not all at once right after the next tick (a crowd joining 10,000 a
/// second would poll 100,000 strong within three seconds of every tick).
pub async fn a_fan_not_yet_counted_far_back_polls_as_late_as_its_wait_allows(w: World) {
    let w = w.with_settings(Settings {
        admit_per_tick: 2,
        ..Settings::default()
    });
    let crowd = w.counted_crowd("early", 60, SPRING).await;
    assert_eq!(crowd, 60);
    let (ticket, _) = w
        .booking
        .join_queue(&fan("late"), &concert_id(SPRING))
        .await
        .unwrap();
    assert_eq!(
        (ticket.status, ticket.position),
        (QueueStatus::Waiting, None)
    );
    // 58 counted ahead, admitted 2 a tick: minutes of wait, so well past the next tick.
    assert!(
        ticket.poll_after_seconds >= 60,
        "told to poll after {} s",
        ticket.poll_after_seconds
    );
    assert!(
        ticket.poll_after_seconds <= 100,
        "before it would be dropped"
    );
}
