//! Where a waiting fan stands, worked out from what the last tick left (the queue state, and
//! the page of counts for the second the fan joined) and the fan's own place: no shared item is
//! read for it but those two, which every container caches.
//!
//! Queue order numbers every drawn number by second, then counter, then number: a number's
//! ordinal is its second's `base`, plus the numbers of the counters before its own, plus its
//! number. The state says how many numbers the tick has passed (`processed`), so the position
//! is the ordinal minus that, plus one. Numbers nobody uses (a join that died, or found the fan
//! already queued) count as fans until the tick passes them, so a position may be a little worse
//! than the truth, never better. A fan who joined after the last tick counted is behind everyone
//! it counted: its position is the known queue's length plus one. Pre-queue numbers come first,
//! in the lottery's order once it is drawn.

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

/// A waiting fan's position as of `state`: `None` in the pre-queue before the draw.
pub(crate) fn position(
    concert: &ConcertRecord,
    state: Option<&QueueStateRecord>,
    page: Option<&QueuePageRecord>,
    place: QueuePlace,
) -> Option<u64> {
    let Some(state) = state else {
        // No tick has counted anyone yet.
        return (!in_pre_queue(concert, place)).then_some(1);
    };
    let behind_everyone = state.waiting() + 1;
    if in_pre_queue(concert, place) {
        let lottery = state.lottery?;
        let Some(ordinal) = ordinal(page, place).filter(|o| *o < lottery.size) else {
            return Some(behind_everyone);
        };
        let rank = Lottery::new(lottery.seed, lottery.size).rank(ordinal);
        return Some(rank.saturating_sub(state.processed) + 1);
    }
    match ordinal(page, place) {
        Some(ordinal) if place.second <= state.counted_through => {
            Some(ordinal.saturating_sub(state.processed) + 1)
        }
        _ => Some(behind_everyone),
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

/// When to poll next: half the wait, so a fan notices its turn soon after it comes, and so far
/// back fans poll rarely; at least a second, at most a third of the idle limit, so that a client
/// that follows it is never dropped.
pub(crate) fn poll_after(settings: &Settings, wait: u64) -> u64 {
    let longest = (settings.waiting_idle_seconds / 3).max(1) as u64;
    wait.div_ceil(2).clamp(1, longest)
}

/// In the pre-queue: poll once the draw is done, spread over a window so that the whole
/// pre-queue does not poll in the same second; never later than the idle limit allows.
pub(crate) fn poll_after_draw(settings: &Settings, until_draw: u64) -> u64 {
    let longest = (settings.waiting_idle_seconds / 3).max(1) as u64;
    let spread = fastrand::u64(0..longest);
    (until_draw + spread).clamp(1, longest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConcertDate, ConcertId, Won};
    use crate::store::{LotteryRecord, SeatPriceRange, SecondCounts};
    use std::collections::BTreeMap;

    fn concert(sale_opens_at: Option<i64>) -> ConcertRecord {
        let date = ConcertDate::parse("2026-12-24").unwrap();
        ConcertRecord {
            concert_id: ConcertId::parse("c").unwrap(),
            title: "C".into(),
            first_date: date,
            last_date: date,
            dates: vec![date],
            seat_prices: vec![SeatPriceRange {
                from_seat: crate::domain::SeatNumber::parse(1).unwrap(),
                to_seat: crate::domain::SeatNumber::parse(50).unwrap(),
                price: Won::new(1).unwrap(),
            }],
            queue_opens_at: None,
            sale_opens_at,
            sold_out: false,
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
        assert_eq!(at(place(100, 0, 3)), Some(1));
        assert_eq!(at(place(100, 2, 1)), Some(2));
        assert_eq!(at(place(101, 1, 4)), Some(7));
        // Joined after the last count: behind everyone counted.
        assert_eq!(at(place(102, 0, 1)), Some(8));
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
            None
        );
        state.lottery = Some(LotteryRecord {
            seed: 9,
            size: 5,
            drawn_at: 101,
        });
        let mut ranks: Vec<u64> = [(0, 1), (0, 2), (0, 3), (2, 1), (2, 2)]
            .iter()
            .map(|(s, n)| {
                position(&concert, Some(&state), Some(&page), place(100, *s, *n)).unwrap()
            })
            .collect();
        ranks.sort();
        assert_eq!(ranks, [1, 2, 3, 4, 5]);
        // After the pre-queue, first come, first served.
        assert_eq!(
            position(&concert, Some(&state), Some(&page), place(101, 1, 1)),
            Some(6)
        );
    }

    #[test]
    fn far_back_fans_poll_rarely_but_before_they_would_be_dropped() {
        let settings = Settings::default();
        assert_eq!(poll_after(&settings, 0), 1);
        assert_eq!(poll_after(&settings, 10), 5);
        assert_eq!(poll_after(&settings, 100_000), 100);
        assert!(poll_after(&settings, 30) <= poll_after(&settings, 60));
    }
}
