//! Where a waiting fan stands, worked out from what the last tick left (the queue state, and
//! the page of counts for the second the fan joined) and the fan's own place: no shared item is
//! read for it but those two, which every container caches.
//!
//! Queue order numbers every drawn number by second, then counter, then number: a number's
//! ordinal is its second's `base`, plus the numbers of the counters before its own, plus its
//! number. The state says how many numbers the tick has passed (`processed`), so the position
//! is the ordinal minus that, plus one. Numbers nobody uses (a join that died, or found the fan
//! already queued) count as fans until the tick passes them, so a position may be a little worse
//! than the truth, never better. A fan who joined after the last tick counted has no position
//! yet: how many joined before it in the seconds not yet counted is unknown, and any number
//! given could be better than the truth. Pre-queue numbers come first, in the lottery's order
//! once it is drawn.

use crate::domain::QueuePlace;
use crate::store::{ConcertRecord, QueuePageRecord, QueueStateRecord};

use super::{Lottery, Settings};

/// The ordinal of a counted number.
pub(crate) fn ordinal(page: Option<&QueuePageRecord>, place: QueuePlace) -> Option<u64> {
    let counts = page?.seconds.get(&place.second)?;
    (place.number >= 1 && place.number <= counts.count(place.shard))
        .then(|| counts.base + counts.before_shard(place.shard) + u64::from(place.number) - 1)
}

/// Whether a place was drawn before the sale opened: the pre-queue, drawn by lottery.
pub(crate) fn in_pre_queue(concert: &ConcertRecord, place: QueuePlace) -> bool {
    concert
        .sale_opens_at
        .is_some_and(|opens| place.second < opens)
}

/// Where a waiting fan stands as of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// In the pre-queue, before the draw: no order exists yet.
    PreQueue,
    /// Joined in a second the last tick had not counted: no position yet.
    Uncounted,
    /// 1 for the next fan to be admitted.
    At(u64),
}

/// A waiting fan's standing as of `state`.
pub(crate) fn position(
    concert: &ConcertRecord,
    state: Option<&QueueStateRecord>,
    page: Option<&QueuePageRecord>,
    place: QueuePlace,
) -> Standing {
    let pre_queue = in_pre_queue(concert, place);
    let Some(state) = state else {
        // No tick has counted anyone yet.
        return if pre_queue {
            Standing::PreQueue
        } else {
            Standing::Uncounted
        };
    };
    if pre_queue {
        let Some(lottery) = state.lottery else {
            return Standing::PreQueue;
        };
        let Some(ordinal) = ordinal(page, place).filter(|o| *o < lottery.size) else {
            return Standing::Uncounted;
        };
        let rank = Lottery::new(lottery.seed, lottery.size).rank(ordinal);
        return Standing::At(rank.saturating_sub(state.processed) + 1);
    }
    match ordinal(page, place) {
        Some(ordinal) if place.second <= state.counted_through => {
            Standing::At(ordinal.saturating_sub(state.processed) + 1)
        }
        _ => Standing::Uncounted,
    }
}

/// Seconds until a fan at `position` is admitted, at the rate admissions have been going (or,
/// before any, at the most a tick may admit).
pub(crate) fn estimated_wait(
    settings: &Settings,
    state: Option<&QueueStateRecord>,
    position: u64,
) -> u64 {
    let tick = settings.admit_tick_seconds.max(1) as f64;
    let per_second = match state {
        Some(s) if s.admitted_total > 0 => s.admission_rate.max(1.0 / tick),
        Some(s) if s.admit_per_tick > 0 => f64::from(s.admit_per_tick) / tick,
        _ => f64::from(settings.admit_per_tick.max(1)) / tick,
    };
    (position as f64 / per_second).ceil() as u64
}

/// Whether the next tick could admit a fan at `position`, should the seats held now come free
/// (a hold lapses, is released): within what a tick admits and `ACTIVE_PER_FREE_SEAT` times the
/// seats not sold (free, or held and may come free). While every seat is held, the measured
/// rate falls toward nothing and tells such a fan to poll rarely (a third of the idle limit);
/// but its turn comes in a burst at the tick that finds seats free, and a fan admitted who
/// learns it a minute and a half late keeps those seats from everyone that long. So it polls
/// after each tick instead: at most `ADMIT_PER_TICK` fans, each once a tick, as when admission
/// flows.
pub(crate) fn within_reach(settings: &Settings, state: &QueueStateRecord, position: u64) -> bool {
    let unsold = u64::from(state.seats.free) + u64::from(state.seats.held);
    let reach = u64::from(state.admit_per_tick)
        .min(u64::from(settings.active_per_free_seat).saturating_mul(unsold));
    !state.paused && !state.sold_out && position <= reach
}

/// Whether a waiting fan may be told a wait at all: not while admission is paused (nobody moves
/// until an operator resumes it), nor while every slot was taken at the last tick (the line then
/// moves only as admitted fans pay, give their seats back or idle out, at a pace the rate
/// measured so far does not foretell). The page shows no time then rather than a false one.
pub(crate) fn wait_known(state: Option<&QueueStateRecord>) -> bool {
    !state.is_some_and(|s| s.paused || (s.max_active > 0 && s.active >= s.max_active))
}

/// When to poll next: half the wait, so a fan notices its turn soon after it comes and far back
/// fans poll rarely; never before the next tick, which is when a position can change; at most a
/// third of the idle limit, so that a client that follows it is never dropped. `phase` (stable
/// per fan) shortens it by up to a fifth, and spreads the polls after a tick over three seconds:
/// fans who joined together do not poll together ever after.
/// When a fan whose second is not counted yet polls: as late as `wait` (at least everyone
/// counted's) allows, and after the next tick has counted it, spread per fan over a whole tick:
/// the crowd that joined before a tick (100,000 strong at 10,000 a second) must not poll in the
/// three seconds after it, least of all before the first tick, when no wait is known yet.
pub(crate) fn poll_after_uncounted(
    settings: &Settings,
    wait: u64,
    until_next_tick: u64,
    phase: u64,
) -> u64 {
    let longest = (settings.waiting_idle_seconds / 3).max(1) as u64;
    let every = settings.admit_tick_seconds.max(1);
    let counted = until_next_tick + 1 + (phase >> 32) % every;
    poll_after(settings, wait, until_next_tick, phase)
        .max(counted)
        .min(longest)
}

pub(crate) fn poll_after(settings: &Settings, wait: u64, until_next_tick: u64, phase: u64) -> u64 {
    let longest = (settings.waiting_idle_seconds / 3).max(1) as u64;
    let base = wait.div_ceil(2).clamp(1, longest);
    let spread = phase % (base / 5 + 1);
    let after_tick = until_next_tick + 1 + (phase >> 32) % 3;
    (base - spread).max(after_tick).min(longest)
}

/// A fan's phase for [`poll_after`]: a number spread over the crowd, stable for a fan's place.
pub(crate) fn phase_of(place: QueuePlace) -> u64 {
    let mut z = (place.second as u64)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(u64::from(place.shard) << 32 | u64::from(place.number));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Seconds until the tick after `state` is due (a tick's whole interval when none ran yet).
pub(crate) fn until_next_tick(
    settings: &Settings,
    state: Option<&QueueStateRecord>,
    now: i64,
) -> u64 {
    state.map_or(settings.admit_tick_seconds, |s| {
        (s.next_tick_at - now).max(0) as u64
    })
}

/// The crowd's first polls after a draw, a second at most: every pre-queued fan polls once to
/// learn its drawn place, and a million of them within three seconds would be a third of a
/// million polls (and writes, and page reads) a second. Ten thousand is the join rate the
/// queue is sized for.
const DRAW_POLLS_PER_SECOND: u64 = 10_000;

/// In the pre-queue: poll just after the draw, which the first tick at or after `draw_from`
/// makes (`None` when no tick has run yet: a tick's interval after it, at most), spread per fan
/// over three seconds as after any tick, or over as many more as keep the pre-queue's first
/// polls under `DRAW_POLLS_PER_SECOND`; never later than the idle limit allows.
pub(crate) fn poll_after_draw(
    settings: &Settings,
    state: Option<&QueueStateRecord>,
    draw_from: i64,
    now: i64,
    phase: u64,
) -> u64 {
    let longest = (settings.waiting_idle_seconds / 3).max(1) as u64;
    let every = settings.admit_tick_seconds.max(1) as i64;
    let draw_at = match state {
        Some(s) if s.next_tick_at < draw_from => {
            s.next_tick_at + (draw_from - s.next_tick_at + every - 1) / every * every
        }
        Some(s) => s.next_tick_at,
        None => draw_from,
    };
    let until_draw = (draw_at - now).max(0) as u64;
    let pre_queue = state.map_or(0, |s| s.pre_queue);
    let spread = pre_queue.div_ceil(DRAW_POLLS_PER_SECOND).max(3);
    (until_draw + 1 + (phase >> 32) % spread).clamp(1, longest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConcertDate, ConcertId, Won};
    use crate::store::{LotteryRecord, SeatCounts, SecondCounts, SectionRecord};
    use std::collections::BTreeMap;

    fn concert(sale_opens_at: Option<i64>) -> ConcertRecord {
        let date = ConcertDate::parse("2026-12-24").unwrap();
        ConcertRecord {
            concert_id: ConcertId::parse("c").unwrap(),
            title: "C".into(),
            first_date: date,
            last_date: date,
            dates: vec![date],
            sections: vec![SectionRecord {
                name: None,
                from_seat: crate::domain::SeatNumber::parse(1).unwrap(),
                to_seat: crate::domain::SeatNumber::parse(50).unwrap(),
                price: Won::new(1).unwrap(),
            }],
            queue_opens_at: None,
            sale_opens_at,
            sold_out: false,
            max_tickets_per_fan: Default::default(),
        }
    }

    fn page() -> QueuePageRecord {
        let mut seconds = BTreeMap::new();
        let mut counts = vec![0; 64];
        counts[0] = 3;
        counts[2] = 2;
        seconds.insert(100, SecondCounts { base: 0, counts });
        let mut counts = vec![0; 64];
        counts[1] = 4;
        seconds.insert(101, SecondCounts { base: 5, counts });
        QueuePageRecord { seconds }
    }

    fn place(second: i64, shard: u8, number: u32) -> QueuePlace {
        QueuePlace {
            second,
            shard,
            number,
        }
    }

    #[test]
    fn positions_count_the_numbers_ahead_not_yet_passed() {
        let state = QueueStateRecord {
            counted_through: 101,
            known: 9,
            processed: 2,
            ..QueueStateRecord::default()
        };
        let page = page();
        let at = |p| position(&concert(None), Some(&state), Some(&page), p);
        assert_eq!(at(place(100, 0, 3)), Standing::At(1));
        assert_eq!(at(place(100, 2, 1)), Standing::At(2));
        assert_eq!(at(place(101, 1, 4)), Standing::At(7));
        // Joined after the last count: no position until it is counted.
        assert_eq!(at(place(102, 0, 1)), Standing::Uncounted);
    }

    #[test]
    fn the_pre_queue_has_no_order_until_the_draw() {
        let concert = concert(Some(101));
        let mut state = QueueStateRecord {
            counted_through: 101,
            known: 9,
            ..QueueStateRecord::default()
        };
        let page = page();
        assert_eq!(
            position(&concert, Some(&state), Some(&page), place(100, 0, 1)),
            Standing::PreQueue
        );
        state.lottery = Some(LotteryRecord {
            seed: 9,
            size: 5,
            drawn_at: 101,
        });
        let mut ranks: Vec<u64> = [(0, 1), (0, 2), (0, 3), (2, 1), (2, 2)]
            .iter()
            .map(
                |(s, n)| match position(&concert, Some(&state), Some(&page), place(100, *s, *n)) {
                    Standing::At(rank) => rank,
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        ranks.sort();
        assert_eq!(ranks, [1, 2, 3, 4, 5]);
        // After the pre-queue, first come, first served.
        assert_eq!(
            position(&concert, Some(&state), Some(&page), place(101, 1, 1)),
            Standing::At(6)
        );
    }

    #[test]
    fn far_back_fans_poll_rarely_but_before_they_would_be_dropped() {
        let settings = Settings::default();
        for phase in (0..1_000u64).map(|p| p.wrapping_mul(0x9e37_79b9_7f4a_7c15)) {
            // Never before the next tick can change anything, spread over three seconds.
            assert!((1..=3).contains(&poll_after(&settings, 0, 0, phase)));
            assert!((8..=10).contains(&poll_after(&settings, 0, 7, phase)));
            assert!((24..=30).contains(&poll_after(&settings, 60, 0, phase)));
            assert!((80..=100).contains(&poll_after(&settings, 100_000, 0, phase)));
            assert_eq!(poll_after(&settings, 100_000, 500, phase), 100);
            assert!(poll_after(&settings, 30, 0, phase) <= poll_after(&settings, 90, 0, phase));
        }
        assert_ne!(phase_of(place(1, 0, 1)), phase_of(place(1, 0, 2)));
    }

    #[test]
    fn the_front_of_a_stalled_queue_polls_after_each_tick() {
        let settings = Settings::default();
        // Every seat held or sold, nobody admitted for a while: the rate is at its floor.
        let mut state = QueueStateRecord {
            admit_per_tick: 50,
            admitted_total: 500,
            admission_rate: 0.1,
            ..QueueStateRecord::default()
        };
        state.seats.held = 10;
        state.seats.sold = 90;
        // Three fans a seat that may come free, and no more than a tick admits.
        assert!(within_reach(&settings, &state, 1));
        assert!(within_reach(&settings, &state, 30));
        assert!(!within_reach(&settings, &state, 31));
        state.seats.held = 1_000;
        assert!(within_reach(&settings, &state, 50));
        assert!(!within_reach(&settings, &state, 51));
        // Nobody moves while paused, nor once sold out.
        state.paused = true;
        assert!(!within_reach(&settings, &state, 1));
        state.paused = false;
        state.seats = SeatCounts {
            free: 0,
            held: 0,
            sold: 100,
        };
        assert!(!within_reach(&settings, &state, 1));
    }

    #[test]
    fn fans_not_yet_counted_spread_their_polls_over_a_whole_tick() {
        let settings = Settings::default();
        let polls: std::collections::BTreeSet<u64> = (0..1_000u64)
            .map(|fan| {
                let phase = phase_of(QueuePlace {
                    second: 100,
                    shard: (fan % 64) as u8,
                    number: (fan / 64) as u32,
                });
                poll_after_uncounted(&settings, 0, 4, phase)
            })
            .collect();
        // After the next tick (in 4 s), over the whole next tick (10 s), not three seconds.
        assert_eq!(polls, (5..=14).collect());
        // Far back, as late as the idle limit allows.
        assert!(poll_after_uncounted(&settings, 100_000, 4, 7) >= 80);
    }

    #[test]
    fn pre_queued_fans_poll_within_seconds_of_the_draw() {
        let settings = Settings::default();
        // Ticks at 100, 110, 120, ...: a draw due from 131 is the tick at 140.
        let state = QueueStateRecord {
            next_tick_at: 110,
            ..QueueStateRecord::default()
        };
        for phase in (0..1_000u64).map(|p| p.wrapping_mul(0x9e37_79b9_7f4a_7c15)) {
            let at = |now| now + poll_after_draw(&settings, Some(&state), 131, now, phase) as i64;
            assert!((141..=143).contains(&at(77)), "{}", at(77));
            assert!((141..=143).contains(&at(105)));
            // Long before the opening: never later than a third of the idle limit.
            assert_eq!(at(0), 100);
            // The draw is late: soon after the next tick.
            let late = QueueStateRecord {
                next_tick_at: 150,
                ..QueueStateRecord::default()
            };
            let after = poll_after_draw(&settings, Some(&late), 131, 145, phase);
            assert!((6..=8).contains(&after), "{after}");
        }
        let spread: std::collections::BTreeSet<u64> = (0..100u64)
            .map(|p| {
                poll_after_draw(
                    &settings,
                    Some(&state),
                    131,
                    120,
                    phase_of(place(1, 0, p as u32)),
                )
            })
            .collect();
        assert_eq!(spread.len(), 3, "spread over three seconds");

        // A pre-queue of 400,000: its first polls spread over forty seconds after the draw.
        let crowded = QueueStateRecord {
            pre_queue: 400_000,
            ..state
        };
        let spread: std::collections::BTreeSet<u64> = (0..10_000u64)
            .map(|p| {
                let phase = phase_of(place(1, (p % 64) as u8, 1 + (p / 64) as u32));
                poll_after_draw(&settings, Some(&crowded), 131, 120, phase)
            })
            .collect();
        assert_eq!(
            (spread.len(), spread.first(), spread.last()),
            (40, Some(&21), Some(&60))
        );
    }
}
