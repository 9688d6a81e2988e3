//! The world the tick lives in, each fault reached every run by the store's gate or by clocks
//! the scenario sets, never by luck: a draw tick that dies half-way, two ticks at once, an
//! opening off a ten-second boundary, a registration that fails or lands late, a stray entry,
//! a tick whose clock runs ahead of a join's, a refused batch, a failed retire, a sell-out whose
//! mark fails, and a fan asking before its second is counted.

use std::collections::BTreeSet;

use ticketing::booking::{Catalog, Lottery, QueueStatus};
use ticketing::domain::{ConcertId, QueueToken, Timestamp, UserId};
use ticketing::store::{page_of, Draw, EnqueueOutcome, TicketRecord, TicketStatus};
use ticketing::{BookingError, Settings};

use crate::world::*;

const SHOW: &str = "night-show";
const DATE: &str = "2026-12-24";

/// One concert, one date of `seats` seats; its queue and sale open at the given times.
async fn show(w: &World, seats: u8, opening: Option<(i64, i64)>) {
    let at = |t: i64| Timestamp::from_epoch_seconds(t).to_string();
    let times = opening.map_or(String::new(), |(queue, sale)| {
        format!(
            r#", "queueOpensAt": "{}", "saleOpensAt": "{}""#,
            at(queue),
            at(sale)
        )
    });
    let catalog = Catalog::from_json(&format!(
        r#"{{"concerts": [{{"concertId": "{SHOW}", "title": "Night Show", "dates": ["{DATE}"],
             "seatPrices": [{{"fromSeat": 1, "toSeat": {seats}, "price": 70000}}]{times}}}]}}"#
    ))
    .expect("a valid catalog");
    w.booking.load_catalog(&catalog).await.unwrap();
}

async fn join(booking: &ticketing::Ticketing, name: &str, concert: &str) -> (UserId, QueueToken) {
    let fan = fan(name);
    let (ticket, _) = booking
        .join_queue(&fan, &concert_id(concert))
        .await
        .unwrap();
    (fan, ticket.token)
}

/// Who of `fans` holds an ACTIVE ticket for `concert` now, or spent one on a payment.
async fn admitted(w: &World, concert: &str, fans: &[(UserId, QueueToken)]) -> Vec<UserId> {
    let mut admitted = Vec::new();
    for (fan, _) in fans {
        let ticket = w
            .store
            .ticket(fan, &concert_id(concert))
            .await
            .unwrap()
            .unwrap();
        if ticket.admitted_at.is_some() {
            admitted.push(fan.clone());
        }
    }
    admitted
}

/// How many of `fans` hold an ACTIVE ticket that has not ended.
/// The show on sale, ticks of 4 admissions under a MAX_ACTIVE of 6, and ten fans joined in
/// seconds a tick may count.
async fn ten_fans_waiting(w: World) -> (World, Vec<(UserId, QueueToken)>) {
    let w = w.with_settings(Settings {
        admit_per_tick: 4,
        max_active: 6,
        ..Settings::default()
    });
    show(&w, 50, None).await;
    let mut fans = Vec::new();
    for i in 0..10 {
        fans.push(join(&w.booking, &format!("fan{i}"), SHOW).await);
    }
    w.advance(SETTLE_SECONDS);
    (w, fans)
}

async fn active(w: &World, concert: &str, fans: &[(UserId, QueueToken)]) -> usize {
    let now = w.now().epoch_seconds();
    let mut active = 0;
    for (fan, _) in fans {
        let ticket = w.store.ticket(fan, &concert_id(concert)).await.unwrap();
        active += usize::from(ticket.is_some_and(|t| {
            t.status == TicketStatus::Active && t.active_until.is_some_and(|u| u > now)
        }));
    }
    active
}

/// A fan's place in the draw of the pre-queue as the state keeps it: the rank of the fan's
/// number among the pre-queue's, by the state's seed.
async fn rank_in_draw(w: &World, concert: &str, fan: &UserId) -> u64 {
    let concert = concert_id(concert);
    let state = w.store.queue_state(&concert, true).await.unwrap().unwrap();
    let lottery = state.lottery.expect("drawn");
    let place = w
        .store
        .ticket(fan, &concert)
        .await
        .unwrap()
        .unwrap()
        .place();
    let page = w
        .store
        .queue_page(&concert, page_of(place.second))
        .await
        .unwrap()
        .unwrap();
    let counts = &page.seconds[&place.second];
    let ordinal = counts.base + counts.before_shard(place.shard) + u64::from(place.number) - 1;
    Lottery::new(lottery.seed, lottery.size).rank(ordinal)
}

/// Finding: the lottery's seed was kept only with the state, after the admissions, so a draw
/// tick that committed a batch and then died drew again at the next tick, from a new seed; and
/// the dead tick's admissions were counted late, their sales twice. Now the draw is kept on the
/// claim before anyone is admitted by it, and the admissions a dead tick committed count from
/// the next tick's first read.
pub async fn a_draw_tick_that_dies_leaves_one_draw_and_counts_what_it_admitted(w: World) {
    let w = w.with_settings(Settings {
        admit_per_tick: 4,
        max_active: 6,
        waiting_idle_seconds: 3_600,
        ..Settings::default()
    });
    let (queue_opens, sale_opens) = (START + 60, START + 600);
    show(&w, 50, Some((queue_opens, sale_opens))).await;
    w.advance(60);
    let mut fans = Vec::new();
    for i in 0..40 {
        fans.push(join(&w.booking, &format!("pre{i:02}"), SHOW).await);
        if i % 4 == 3 {
            w.advance(1);
        }
    }
    w.advance(sale_opens + SETTLE_SECONDS - w.now().epoch_seconds());

    // The draw tick admits four, then dies before its state is written (however often it
    // sends it).
    w.script.refuse_next_times("commit_queue_state", 3);
    let died = w.tick_anyhow().await;
    assert_eq!(died.deferred, 1);
    let drawn_at = w.now().epoch_seconds();
    let first = admitted(&w, SHOW, &fans).await;
    assert_eq!(first.len(), 4);
    // One of them buys before the next tick: a sale ends its token, once.
    let buyer = fans.iter().find(|(f, _)| *f == first[0]).unwrap().clone();
    let reservation = w.hold(&buyer.0, &buyer.1, SHOW, DATE, 1).await.unwrap();
    w.charged(&buyer.0, 70_000).await;
    w.booking
        .pay(&buyer.0, Some(&buyer.1), reservation.reservation_id, None)
        .await
        .unwrap();

    // The next tick: three active of six, so three more, by the same draw.
    let (admits, _) = w.tick(SHOW).await;
    assert_eq!(admits, 3, "MAX_ACTIVE 6 with 3 active");
    assert_eq!(active(&w, SHOW, &fans).await, 6);
    let everyone = admitted(&w, SHOW, &fans).await;
    assert_eq!(everyone.len(), 7);
    let mut ranks = Vec::new();
    for fan in &everyone {
        ranks.push(rank_in_draw(&w, SHOW, fan).await);
    }
    ranks.sort_unstable();
    assert_eq!(
        ranks,
        (0..7).collect::<Vec<u64>>(),
        "one draw, admitted in its order"
    );
    let state = w
        .store
        .queue_state(&concert_id(SHOW), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        state.lottery.map(|l| (l.drawn_at, l.size)),
        Some((drawn_at, 40)),
        "the dead tick's draw, kept"
    );
    assert_eq!(
        state.admitted_total, 7,
        "the operators' books count the dead tick's admissions too"
    );
}

/// Finding: two ticks that overlapped both admitted (every batch checked only that the state
/// had not moved, and neither had written it yet). Now the second delivery of a tick finds its
/// slot taken, and a tick of a later slot takes over a stuck one, whose writes are refused.
pub async fn overlapping_ticks_admit_once(w: World) {
    let (w, fans) = ten_fans_waiting(w).await;

    let held = w.script.hold_next("commit_admission_batch");
    let booking = w.booking.clone();
    let first = tokio::spawn(async move { booking.admit_waiting().await });
    held.reached().await;
    // The same tick delivered again, while the first is half-way.
    let again = w.container(0).admit_waiting().await.unwrap();
    assert_eq!((again.deferred, again.admitted()), (1, 0));
    held.release();
    let first = first.await.unwrap().unwrap();
    assert_eq!((first.deferred, first.admitted()), (0, 4));
    assert_eq!(active(&w, SHOW, &fans).await, 4);
    // Delivered again once the first is done: the slot is ticked.
    let late = w.container(0).admit_waiting().await.unwrap();
    assert_eq!((late.deferred, late.admitted()), (1, 0));
    assert_eq!(active(&w, SHOW, &fans).await, 4);

    // A tick stuck half-way, and the next slot's tick that takes over from it.
    w.advance(10);
    let held = w.script.hold_next("commit_admission_batch");
    let booking = w.booking.clone();
    let stuck = tokio::spawn(async move { booking.admit_waiting().await });
    held.reached().await;
    w.advance(10);
    let next = w.container(0).admit_waiting().await.unwrap();
    assert_eq!(next.admitted(), 2, "MAX_ACTIVE 6 with 4 active");
    held.release();
    let stuck = stuck.await.unwrap().unwrap();
    assert_eq!((stuck.deferred, stuck.admitted()), (1, 0), "taken over");
    assert_eq!(active(&w, SHOW, &fans).await, 6);
}

/// Found by the simulator's adversary (seed 94 of the sweep, once fans' pages released the
/// holds they walked away from): a tick that took over a stuck one had read the slot ledger
/// beside its claim, before the stuck tick's admissions committed, and admitted as if those
/// slots were free: past MAX_ACTIVE. Now a tick that takes over reads the slots again.
pub async fn a_tick_that_takes_over_counts_the_slots_the_stuck_tick_filled(w: World) {
    let (w, fans) = ten_fans_waiting(w).await;
    assert_eq!(w.booking.admit_waiting().await.unwrap().admitted(), 4);
    w.advance(10);

    // A tick stuck before its admissions commit ...
    let batch = w.script.hold_next("commit_admission_batch");
    let state = w.script.hold_next("commit_queue_state");
    let booking = w.booking.clone();
    let stuck = tokio::spawn(async move { booking.admit_waiting().await });
    batch.reached().await;
    // ... and the next slot's tick, which reads the slots (4 active) and waits at its claim.
    w.advance(10);
    let reads = w.script.calls("slot_ledger");
    let claim = w.script.hold_next("claim_tick");
    let next = w.container(0);
    let next = tokio::spawn(async move { next.admit_waiting().await });
    claim.reached().await;
    while w.script.calls("slot_ledger") == reads {
        tokio::task::yield_now().await;
    }
    // The stuck tick admits two (MAX_ACTIVE 6 with 4 active) and stops before its state.
    batch.release();
    state.reached().await;
    assert_eq!(active(&w, SHOW, &fans).await, 6);
    // The next tick takes over, and counts those two.
    claim.release();
    let next = next.await.unwrap().unwrap();
    assert_eq!(next.admitted(), 0, "MAX_ACTIVE 6 with 6 active");
    state.release();
    let stuck = stuck.await.unwrap().unwrap();
    // Taken over: it reports nothing, and what it admitted stays admitted.
    assert_eq!((stuck.deferred, stuck.admitted()), (1, 0), "taken over");
    assert_eq!(active(&w, SHOW, &fans).await, 6);
}

/// Found by the simulator's adversary (seed 95 of the sweep): two ticks whose clocks are a slot
/// apart run at once. The one ahead read the state, the other claimed and wrote its state, and
/// the one ahead took over as from a dead tick with its stale state: it admitted again from
/// the old count, past MAX_ACTIVE, and overwrote the state that held the other's admissions.
/// Now a claim whose state is written is never taken over.
pub async fn a_tick_whose_state_is_overtaken_never_takes_over_a_finished_tick(w: World) {
    let (w, fans) = ten_fans_waiting(w).await;
    assert_eq!(w.booking.admit_waiting().await.unwrap().admitted(), 4);
    w.advance(10);

    // A tick whose clock is a slot ahead reads the state, then waits at its claim ...
    let held = w.script.hold_next("claim_tick");
    let ahead = w.container(10);
    let early = tokio::spawn(async move { ahead.admit_waiting().await });
    held.reached().await;
    // ... while the tick of this slot admits up to MAX_ACTIVE and writes its state.
    let on_time = w.booking.admit_waiting().await.unwrap();
    assert_eq!(on_time.admitted(), 2, "MAX_ACTIVE 6 with 4 active");
    held.release();
    let early = early.await.unwrap().unwrap();
    assert_eq!(
        (early.deferred, early.admitted()),
        (1, 0),
        "stale: not taken over"
    );
    assert_eq!(active(&w, SHOW, &fans).await, 6);
    // The next slot's tick counts all six as active: nobody more.
    w.advance(20);
    assert_eq!(w.booking.admit_waiting().await.unwrap().admitted(), 0);
    assert_eq!(active(&w, SHOW, &fans).await, 6);
}

/// Finding: with a sale opening off a ten-second boundary, the first-come walk went through
/// the pre-queue's seconds of the opening's page again: positions ahead of the truth, and the
/// pre-queue admitted twice over. Now first come, first served starts at the opening.
pub async fn an_opening_off_the_ten_second_boundary_walks_the_pre_queue_once(w: World) {
    let w = w.with_settings(Settings {
        admit_per_tick: 1,
        max_active: 100,
        waiting_idle_seconds: 3_600,
        ..Settings::default()
    });
    let sale_opens = START + 605;
    show(&w, 50, Some((START + 60, sale_opens))).await;
    w.advance(601);
    let mut pre_queue = Vec::new();
    for i in 0..3 {
        pre_queue.push(join(&w.booking, &format!("pre{i}"), SHOW).await);
        w.advance(1);
    }
    w.advance(sale_opens + 1 - w.now().epoch_seconds());
    let mut first_come = Vec::new();
    for i in 0..3 {
        first_come.push(join(&w.booking, &format!("late{i}"), SHOW).await);
        w.advance(1);
    }
    w.advance(SETTLE_SECONDS);

    let mut order = Vec::new();
    for _ in 0..6 {
        let report = w.tick_report().await;
        order.extend(
            report
                .concerts
                .iter()
                .flat_map(|c| c.admitted.iter().map(|(fan, _)| fan.clone())),
        );
        // Every waiting first-come fan's position is exact: the pre-queue left, plus the
        // first-come fans ahead, plus one.
        let pre_left = pre_queue.iter().filter(|(f, _)| !order.contains(f)).count();
        for (i, (fan, token)) in first_come.iter().enumerate() {
            if order.contains(fan) {
                continue;
            }
            let ahead = first_come[..i]
                .iter()
                .filter(|(f, _)| !order.contains(f))
                .count();
            let ticket = w.booking.queue_status(fan, Some(token)).await.unwrap();
            assert_eq!(
                ticket.position,
                Some((pre_left + ahead + 1) as u64),
                "{fan}"
            );
        }
    }
    let drawn: BTreeSet<&UserId> = order[..3].iter().collect();
    assert_eq!(drawn, pre_queue.iter().map(|(f, _)| f).collect());
    let late: Vec<&UserId> = first_come.iter().map(|(f, _)| f).collect();
    assert_eq!(
        order[3..].iter().collect::<Vec<_>>(),
        late,
        "in the order they came"
    );
}

/// Finding: a registration that failed was remembered as done, and the join's retry found its
/// ticket and returned it without registering: the tick never visited the queue. Now only a
/// registration that went through is remembered, and the retry registers.
pub async fn a_registration_that_fails_is_made_by_the_retry(w: World) {
    w.script.refuse_next("register_queue");
    let failed = w.booking.join_queue(&fan("ana"), &concert_id(SPRING)).await;
    assert!(matches!(failed, Err(BookingError::Store(_))), "{failed:?}");
    let (ticket, created) = w
        .booking
        .join_queue(&fan("ana"), &concert_id(SPRING))
        .await
        .unwrap();
    assert!(!created, "the first attempt's ticket was written");
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(SPRING).await, (1, 0));
    let polled = w
        .booking
        .queue_status(&fan("ana"), Some(&ticket.token))
        .await
        .unwrap();
    assert_eq!(polled.status, QueueStatus::Active);
}

/// Finding: registrations that landed out of second order set the queue's first second late,
/// and the seconds before it were never counted. Now counting starts well before the first
/// registration.
pub async fn registrations_landing_out_of_order_count_the_earlier_second(w: World) {
    let w = w.with_settings(Settings {
        admit_per_tick: 1,
        ..Settings::default()
    });
    let held = w.script.hold_next("register_queue");
    let slow = w.container(0);
    let ana = tokio::spawn(async move { join(&slow, "ana", SPRING).await });
    held.reached().await;
    w.advance(1);
    let bob = join(&w.container(0), "bob", SPRING).await;
    held.release();
    let ana = ana.await.unwrap();
    w.advance(SETTLE_SECONDS);
    let fans = [ana.clone(), bob.clone()];
    assert_eq!(w.tick(SPRING).await, (1, 0));
    assert_eq!(
        admitted(&w, SPRING, &fans).await,
        std::slice::from_ref(&ana.0)
    );
    assert_eq!(w.tick(SPRING).await, (1, 0));
    assert_eq!(admitted(&w, SPRING, &fans).await.len(), 2);
}

/// A fan drawn on counter `shard` in `second`, as a join would, with the store itself.
async fn plant(w: &World, name: &str, second: i64, shard: u8) -> (UserId, QueueToken) {
    let concert = concert_id(SPRING);
    let Draw::Number(number) = w
        .store
        .draw_queue_number(&concert, shard, second)
        .await
        .unwrap()
    else {
        panic!("the second is not counted yet");
    };
    let ticket = planted_ticket(name, &concert, second, shard, number);
    assert_eq!(
        w.store.enqueue(&ticket, None).await.unwrap(),
        EnqueueOutcome::Enqueued
    );
    (ticket.user_id.clone(), ticket.token)
}

fn planted_ticket(
    name: &str,
    concert: &ConcertId,
    second: i64,
    shard: u8,
    number: u32,
) -> TicketRecord {
    TicketRecord {
        token: QueueToken::new(concert.clone(), second),
        user_id: fan(name),
        concert_id: concert.clone(),
        shard,
        number,
        status: TicketStatus::Waiting,
        last_seen_at: second,
        admitted_at: None,
        active_until: None,
        ended_tokens: Vec::new(),
        holds_placed: 0,
        expires_at: second + 86_400,
    }
}

/// Finding: the entries Query asked for as many items as places were expected on a counter, so
/// one stray entry pushed a real one out of the page; the tick's void of that one failed, and
/// every later tick failed on the same batch. Now the Query reads the whole range.
pub async fn a_stray_entry_never_stalls_the_queue(w: World) {
    let concert = concert_id(SPRING);
    let s = w.now().epoch_seconds();
    let shard = 7;
    let xena = plant(&w, "xena", s, shard).await;
    w.advance(1);
    let zoe = plant(&w, "zoe", s + 1, shard).await;
    // An entry for a number that was never drawn, between theirs on their counter.
    let ghost = planted_ticket("ghost", &concert, s, shard, 2);
    w.store.enqueue(&ghost, None).await.unwrap();
    w.store.register_queue(&concert, s).await.unwrap();
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(SPRING).await, (2, 0));
    assert_eq!(admitted(&w, SPRING, &[xena, zoe]).await.len(), 2);
}

/// Finding: a join kept its number if it came back within two seconds by its own clock, while
/// the tick counted a second once two seconds old by its clock: with the tick's clock ahead, a
/// slow join drew into a second already counted, and its fan was never admitted. Now the tick
/// seals what it counts, and such a join draws in a later second.
pub async fn a_join_behind_the_ticks_clock_draws_in_a_second_not_yet_counted(w: World) {
    join(&w.booking, "first", SPRING).await;
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(SPRING).await, (1, 0));
    // A container whose clock is three seconds behind the tick's joins now.
    let behind = w.container(-SETTLE_SECONDS);
    let late = join(&behind, "late", SPRING).await;
    assert!(
        late.1.joined_at() > w.now().epoch_seconds() - SETTLE_SECONDS,
        "drawn after the counted seconds"
    );
    w.advance(SETTLE_SECONDS);
    let mut admits = 0;
    for _ in 0..3 {
        admits += w.tick(SPRING).await.0;
    }
    assert_eq!(admits, 1);
    assert_eq!(admitted(&w, SPRING, &[late]).await.len(), 1);
}

/// Finding: a batch refused because a ticket moved (a poll racing a drop) threw away the
/// tick. Now the tick keeps the progress before the refused batch and writes its state; the
/// next tick judges the rest again.
pub async fn a_drop_racing_a_poll_keeps_the_tick(w: World) {
    let w = w.with_settings(Settings {
        waiting_idle_seconds: 10,
        ..Settings::default()
    });
    let idle = join(&w.booking, "idle", SPRING).await;
    w.advance(1);
    let keen = join(&w.booking, "keen", SPRING).await;
    w.advance(11);
    w.booking
        .queue_status(&keen.0, Some(&keen.1))
        .await
        .unwrap();
    // The tick would drop the idle fan and admit the keen one, in one batch; the idle fan
    // polls while the batch is on its way.
    let held = w.script.hold_next("commit_admission_batch");
    let booking = w.booking.clone();
    let tick = tokio::spawn(async move { booking.admit_waiting().await });
    held.reached().await;
    w.booking
        .queue_status(&idle.0, Some(&idle.1))
        .await
        .unwrap();
    held.release();
    let report = tick.await.unwrap().unwrap();
    assert_eq!(
        (report.deferred, report.admitted(), report.dropped()),
        (0, 0, 0)
    );
    w.advance(10);
    let (admits, drops) = w.tick(SPRING).await;
    assert_eq!(
        (admits, drops),
        (2, 0),
        "both judged again, both seen lately"
    );
}

/// Finding: one failed call to retire an idle queue failed the whole tick over every concert.
/// Now it is logged, and the next tick retires the queue.
pub async fn a_failed_retire_leaves_the_tick_whole(w: World) {
    join(&w.booking, "ana", SPRING).await;
    w.advance(SETTLE_SECONDS);
    assert_eq!(w.tick(SPRING).await, (1, 0));
    // The fan's token ends; nobody waits or is active: the queue is retired two minutes after
    // its registration.
    w.advance(700);
    w.script.refuse_next("retire_queue");
    let report = w.tick_report().await;
    assert_eq!(report.retired, 0);
    let report = w.tick_report().await;
    assert_eq!(report.retired, 1);
}

/// Finding: the concert was marked sold out only by the tick that first saw the sell-out; if
/// that mark failed, `soldOut` never showed. Now the mark comes before the state, so the next
/// tick sees the sell-out anew and marks it.
pub async fn a_sell_out_whose_mark_fails_is_marked_by_the_next_tick(w: World) {
    show(&w, 1, None).await;
    let (fan, token) = w.admitted_fan("only", SHOW).await;
    let reservation = w.hold(&fan, &token, SHOW, DATE, 1).await.unwrap();
    w.charged(&fan, 70_000).await;
    w.booking
        .pay(&fan, Some(&token), reservation.reservation_id, None)
        .await
        .unwrap();

    w.script.refuse_next_times("mark_sold_out", 3);
    let report = w.tick_anyhow().await;
    assert_eq!(report.deferred, 1, "the mark failed");
    let concert = w.store.concert(&concert_id(SHOW)).await.unwrap().unwrap();
    assert!(!concert.sold_out);
    w.tick(SHOW).await;
    let concert = w.store.concert(&concert_id(SHOW)).await.unwrap().unwrap();
    assert!(concert.sold_out, "marked by the next tick");
}

/// Finding: a fan whose second was not counted yet was told the place behind everyone counted,
/// ahead of the fans not yet counted who joined before it. Now it is told no position until a
/// tick has counted its second, and then the exact one.
pub async fn a_fan_not_yet_counted_is_never_told_a_place_ahead_of_the_truth(w: World) {
    w.pause(SPRING, true).await;
    join(&w.booking, "first", SPRING).await;
    w.advance(SETTLE_SECONDS);
    w.tick(SPRING).await;
    for i in 0..5 {
        join(&w.booking, &format!("crowd{i}"), SPRING).await;
    }
    w.advance(1);
    let (last, token) = join(&w.booking, "last", SPRING).await;
    let told = w.booking.queue_status(&last, Some(&token)).await.unwrap();
    assert_eq!((told.status, told.position), (QueueStatus::Waiting, None));
    w.advance(SETTLE_SECONDS);
    w.tick(SPRING).await;
    let told = w.booking.queue_status(&last, Some(&token)).await.unwrap();
    assert_eq!(told.position, Some(7), "six ahead, once counted");
}
