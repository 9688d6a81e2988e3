//! What the service should have answered, kept by the simulator from what it knows for sure:
//! when each fan arrived, the place its ticket holds (as stored), whom the store admitted or
//! dropped (as applied, a dead tick's batches included), and the draw as kept. Never from the
//! service's pages, its state's counts or its positions.
//!
//! Queue order: the pre-queue first (the fans whose place is before the opening), in the order
//! of the draw's ranks; then first come, first served by place (second, counter, number). A
//! waiting fan's true position is the waiting fans ahead of it in that order, plus one.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use ticketing::domain::{QueuePlace, QUEUE_SHARDS};

/// Counts over places, with prefix sums in O(log n), grown on demand.
#[derive(Default)]
struct Fenwick(Vec<i64>);

impl Fenwick {
    fn add(&mut self, place: usize, delta: i64) {
        if place >= self.0.len() {
            self.grow((place + 1).next_power_of_two());
        }
        let mut i = place + 1;
        while i <= self.0.len() {
            self.0[i - 1] += delta;
            i += i & i.wrapping_neg();
        }
    }

    /// The sum over places `0..place`.
    fn before(&self, place: usize) -> i64 {
        let mut i = place.min(self.0.len());
        let mut sum = 0;
        while i > 0 {
            sum += self.0[i - 1];
            i -= i & i.wrapping_neg();
        }
        sum
    }

    fn grow(&mut self, size: usize) {
        let counts: Vec<i64> = (0..self.0.len())
            .map(|p| self.before(p + 1) - self.before(p))
            .collect();
        self.0 = vec![0; size];
        for (place, count) in counts.into_iter().enumerate() {
            if count != 0 {
                self.add(place, count);
            }
        }
    }
}

/// The fans of one second still waiting, by counter and number.
struct SecondWaiting {
    /// Numbers a counter's slot holds: the index is counter × width + number − 1.
    width: usize,
    fans: Fenwick,
}

impl SecondWaiting {
    fn new() -> Self {
        SecondWaiting {
            width: 64,
            fans: Fenwick::default(),
        }
    }

    fn index(&self, place: QueuePlace) -> usize {
        usize::from(place.shard) * self.width + place.number as usize - 1
    }

    fn add(&mut self, place: QueuePlace, delta: i64) {
        if place.number as usize > self.width {
            let mut width = self.width;
            while (place.number as usize) > width {
                width *= 2;
            }
            let mut fans = Fenwick::default();
            for shard in 0..QUEUE_SHARDS {
                for number in 1..=self.width {
                    let old = usize::from(shard) * self.width + number - 1;
                    let count = self.fans.before(old + 1) - self.fans.before(old);
                    if count != 0 {
                        fans.add(usize::from(shard) * width + number - 1, count);
                    }
                }
            }
            self.width = width;
            self.fans = fans;
        }
        let index = self.index(place);
        self.fans.add(index, delta);
    }

    fn before(&self, place: QueuePlace) -> i64 {
        self.fans.before(self.index(place))
    }
}

/// Positions told against the truth. A position is told during a second whose admissions
/// land in any order around it: it is exact anywhere from the truth at the end of the second
/// (every admission landed) to the truth at its start (none had).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PositionFigures {
    pub checked: u64,
    pub exact: u64,
    /// Worse than the truth at the second's start (the service's view was stale: a tick that
    /// failed, or numbers nobody uses, count as fans until passed).
    pub behind: u64,
    pub max_behind: u64,
    /// Better than the truth at the end of the second: a fan told a place it does not have.
    pub ahead_of_truth: u64,
    pub max_ahead: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FairnessFigures {
    /// Admissions of a first-come fan while another who arrived more than 1 s plus twice the
    /// clock skew earlier still waited (clocks that differ by the skew blur the seconds in
    /// between: the service orders by the joining container's clock).
    pub inversions: u64,
    pub admitted_checked: u64,
    /// The clock skew the inversions allow for, in seconds.
    pub skew_allowed_seconds: u64,
}

/// The truth of the queue.
pub struct Truth {
    origin: i64,
    /// First-come fans waiting, per second (from `origin`), and within each second.
    seconds: Fenwick,
    in_second: HashMap<i64, SecondWaiting>,
    /// Pre-queued fans waiting, by rank once drawn; and how many, drawn or not.
    ranks: Fenwick,
    pub pre_queue_waiting: u64,
    /// First-come fans waiting, by the second they arrived in: for fairness.
    waiting_by_arrival: BTreeMap<u64, u64>,
    skew: u64,
    /// The last place (first come) and rank (pre-queue) the tick passed.
    first_come_passed: Option<QueuePlace>,
    rank_passed: Option<u64>,
    pub waiting: u64,
    pub positions: PositionFigures,
    pub fairness: FairnessFigures,
}

/// Where a fan stands in the truth's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    FirstCome(QueuePlace),
    /// Pre-queued, and drawn at this rank (`None` before the draw).
    PreQueue(Option<u64>),
}

impl Truth {
    pub fn new(origin: i64, skew: u64) -> Self {
        Truth {
            origin,
            seconds: Fenwick::default(),
            in_second: HashMap::new(),
            ranks: Fenwick::default(),
            pre_queue_waiting: 0,
            waiting_by_arrival: BTreeMap::new(),
            skew,
            first_come_passed: None,
            rank_passed: None,
            waiting: 0,
            positions: PositionFigures::default(),
            fairness: FairnessFigures {
                skew_allowed_seconds: skew,
                ..FairnessFigures::default()
            },
        }
    }

    fn second_index(&self, place: QueuePlace) -> usize {
        (place.second - self.origin).max(0) as usize
    }

    /// A fan joined, arriving in second `arrival` (of the simulation), and waits.
    pub fn joined(&mut self, standing: Standing, arrival: u64) {
        self.waiting += 1;
        match standing {
            Standing::FirstCome(place) => {
                self.seconds.add(self.second_index(place), 1);
                self.in_second
                    .entry(place.second)
                    .or_insert_with(SecondWaiting::new)
                    .add(place, 1);
                *self.waiting_by_arrival.entry(arrival).or_default() += 1;
            }
            Standing::PreQueue(rank) => {
                self.pre_queue_waiting += 1;
                if let Some(rank) = rank {
                    self.ranks.add(rank as usize, 1);
                }
            }
        }
    }

    /// The pre-queue is drawn: a waiting pre-queued fan takes its rank.
    pub fn ranked(&mut self, rank: u64) {
        self.ranks.add(rank as usize, 1);
    }

    /// A waiting fan left the queue: admitted or dropped by a tick (as the store applied it).
    /// For an admission, the fairness of it is judged first.
    pub fn left(&mut self, standing: Standing, arrival: u64, admitted: bool) -> LeftFigures {
        let mut figures = LeftFigures::default();
        self.waiting -= 1;
        match standing {
            Standing::FirstCome(place) => {
                if admitted {
                    self.fairness.admitted_checked += 1;
                    let apart = 1 + 2 * self.skew;
                    if self
                        .waiting_by_arrival
                        .keys()
                        .next()
                        .is_some_and(|earliest| earliest + apart < arrival)
                    {
                        self.fairness.inversions += 1;
                    }
                }
                self.seconds.add(self.second_index(place), -1);
                if let Some(second) = self.in_second.get_mut(&place.second) {
                    second.add(place, -1);
                }
                if let Some(count) = self.waiting_by_arrival.get_mut(&arrival) {
                    *count -= 1;
                    if *count == 0 {
                        self.waiting_by_arrival.remove(&arrival);
                    }
                }
                self.first_come_passed = self.first_come_passed.max(Some(place));
            }
            Standing::PreQueue(rank) => {
                self.pre_queue_waiting -= 1;
                // Admitted from the pre-queue with no draw kept: by an order nobody can check,
                // which a later draw may contradict.
                figures.out_of_order = admitted && rank.is_none();
                if let Some(rank) = rank {
                    if admitted {
                        figures.out_of_order = self.ranks.before(rank as usize) > 0;
                    }
                    self.ranks.add(rank as usize, -1);
                    self.rank_passed = self.rank_passed.max(Some(rank));
                }
            }
        }
        figures
    }

    /// The true position of a waiting fan, now: `None` for a pre-queued fan before the draw.
    pub fn position(&self, standing: Standing) -> Option<u64> {
        match standing {
            Standing::PreQueue(rank) => Some(self.ranks.before(rank? as usize) as u64 + 1),
            Standing::FirstCome(place) => {
                let earlier_seconds = self.seconds.before(self.second_index(place));
                let same_second = self
                    .in_second
                    .get(&place.second)
                    .map_or(0, |s| s.before(place));
                Some(self.pre_queue_waiting + (earlier_seconds + same_second) as u64 + 1)
            }
        }
    }

    /// A waiting fan the tick has passed: it will never be admitted.
    pub fn is_passed(&self, standing: Standing) -> bool {
        match standing {
            Standing::FirstCome(place) => self.first_come_passed.is_some_and(|p| p > place),
            Standing::PreQueue(rank) => {
                rank.is_some_and(|r| self.rank_passed.is_some_and(|p| p > r))
            }
        }
    }

    /// A position told this second: `at_start` is the truth as the second began, `at_end` as
    /// it ended.
    pub fn judge_position(&mut self, reported: u64, at_start: u64, at_end: u64) {
        let p = &mut self.positions;
        p.checked += 1;
        if reported < at_end {
            p.ahead_of_truth += 1;
            p.max_ahead = p.max_ahead.max(at_end - reported);
        } else if reported > at_start {
            p.behind += 1;
            p.max_behind = p.max_behind.max(reported - at_start);
        } else {
            p.exact += 1;
        }
    }
}

/// What a departure showed.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeftFigures {
    /// A pre-queued fan admitted while one drawn before it still waited, or before any draw
    /// was kept.
    pub out_of_order: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(second: i64, shard: u8, number: u32) -> QueuePlace {
        QueuePlace {
            second,
            shard,
            number,
        }
    }

    #[test]
    fn positions_count_the_waiting_fans_ahead_in_queue_order() {
        let mut truth = Truth::new(100, 0);
        let fans = [
            place(100, 3, 1),
            place(100, 3, 2),
            place(100, 9, 1),
            place(101, 0, 300),
            place(102, 0, 1),
        ];
        for (i, p) in fans.iter().enumerate() {
            truth.joined(Standing::FirstCome(*p), i as u64);
        }
        assert_eq!(truth.position(Standing::FirstCome(fans[0])), Some(1));
        assert_eq!(truth.position(Standing::FirstCome(fans[4])), Some(5));
        truth.left(Standing::FirstCome(fans[1]), 1, true);
        assert_eq!(truth.position(Standing::FirstCome(fans[3])), Some(3));
        // A pre-queue, once drawn, waits ahead of everyone who came after it.
        truth.joined(Standing::PreQueue(Some(1)), 0);
        truth.joined(Standing::PreQueue(Some(0)), 0);
        assert_eq!(truth.position(Standing::FirstCome(fans[0])), Some(3));
        assert_eq!(truth.position(Standing::PreQueue(Some(1))), Some(2));
        assert!(truth.is_passed(Standing::FirstCome(fans[0])));
        assert!(!truth.is_passed(Standing::FirstCome(fans[2])));
        let left = truth.left(Standing::PreQueue(Some(1)), 0, true);
        assert!(left.out_of_order, "rank 0 still waited");
        assert_eq!(truth.waiting, 5);
    }

    #[test]
    fn passing_an_earlier_arrival_is_an_inversion_beyond_the_skew() {
        let mut truth = Truth::new(0, 1);
        truth.joined(Standing::FirstCome(place(5, 0, 1)), 5);
        truth.joined(Standing::FirstCome(place(8, 0, 1)), 8);
        truth.joined(Standing::FirstCome(place(9, 0, 1)), 9);
        // Three seconds apart with a skew of one: within 1 + 2 x 1, fair.
        truth.left(Standing::FirstCome(place(8, 0, 1)), 8, true);
        assert_eq!(truth.fairness.inversions, 0);
        truth.left(Standing::FirstCome(place(9, 0, 1)), 9, true);
        assert_eq!(truth.fairness.inversions, 1);
    }
}
