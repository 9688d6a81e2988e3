//! What the service should have answered, kept by the simulator from what it knows for sure:
//! who joined when, and whom each tick admitted or dropped. Positions are judged against the
//! fans still waiting in queue order; fairness against the order of arrival.

use std::collections::BTreeMap;

use serde::Serialize;

/// Counts over queue places, with prefix sums in O(log n).
struct Fenwick(Vec<i64>);

impl Fenwick {
    fn add(&mut self, place: usize, delta: i64) {
        if place >= self.0.len() {
            self.grow(place + 1);
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

    fn grow(&mut self, at_least: usize) {
        let mut counts: Vec<i64> = (0..self.0.len())
            .map(|p| self.before(p + 1) - self.before(p))
            .collect();
        counts.resize(at_least.next_power_of_two(), 0);
        self.0 = vec![0; counts.len()];
        for (place, count) in counts.into_iter().enumerate() {
            if count != 0 {
                self.add(place, count);
            }
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PositionFigures {
    pub checked: u64,
    pub wrong: u64,
    pub max_error: u64,
    pub ahead_of_truth: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FairnessFigures {
    /// Admissions of a fan while another who joined at least a second earlier still waited.
    pub inversions: u64,
    pub admitted_checked: u64,
}

/// The service's truth, kept by the simulator: who waits (joined, not yet admitted or dropped by
/// a tick), and, among the fans the last tick counted, in what order.
pub struct Truth {
    /// Counted fans still waiting, by their index in queue order.
    counted: Fenwick,
    /// Fans counted so far: the next index.
    next_index: usize,
    /// Fans waiting, by the second they joined.
    waiting_by_second: BTreeMap<u64, u64>,
    pub waiting: u64,
    pub positions: PositionFigures,
    pub fairness: FairnessFigures,
}

impl Truth {
    pub fn new(capacity: usize) -> Self {
        Truth {
            counted: Fenwick(vec![0; capacity.max(1).next_power_of_two()]),
            next_index: 0,
            waiting_by_second: BTreeMap::new(),
            waiting: 0,
            positions: PositionFigures::default(),
            fairness: FairnessFigures::default(),
        }
    }

    /// A fan joined in `second` and waits; `by_arrival` unless it is in the pre-queue (whose
    /// order is the lottery's, so arrival gives no claim to fairness).
    pub fn joined(&mut self, second: u64, by_arrival: bool) {
        if by_arrival {
            *self.waiting_by_second.entry(second).or_default() += 1;
        }
        self.waiting += 1;
    }

    /// A tick counted a waiting fan: it takes the next place in queue order. Returns its index.
    pub fn counted(&mut self) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        self.counted.add(index, 1);
        index
    }

    /// A waiting fan left the queue: admitted or dropped by a tick.
    pub fn left(&mut self, index: Option<usize>, second: u64, by_arrival: bool) {
        if let Some(index) = index {
            self.counted.add(index, -1);
        }
        if !by_arrival {
            self.waiting -= 1;
            return;
        }
        if let Some(count) = self.waiting_by_second.get_mut(&second) {
            *count -= 1;
            if *count == 0 {
                self.waiting_by_second.remove(&second);
            }
        }
        self.waiting -= 1;
    }

    /// After a tick's admissions and drops are applied: was this admitted fan passed ahead of
    /// someone who joined at least a second before it and still waits?
    pub fn judge_admission(&mut self, joined_second: u64) {
        self.fairness.admitted_checked += 1;
        let earliest_waiting = self.waiting_by_second.keys().next().copied();
        if earliest_waiting.is_some_and(|earliest| earliest < joined_second) {
            self.fairness.inversions += 1;
        }
    }

    /// The true position, as of the last tick, of a waiting fan: the counted fans still waiting
    /// ahead of it, plus one; a fan not yet counted is behind all of them.
    pub fn position(&self, index: Option<usize>) -> u64 {
        let ahead = match index {
            Some(index) => self.counted.before(index),
            None => self.counted.before(usize::MAX),
        };
        (ahead + 1) as u64
    }

    pub fn judge_position(&mut self, reported: u64, truth: u64) {
        let p = &mut self.positions;
        p.checked += 1;
        if reported != truth {
            p.wrong += 1;
            p.max_error = p.max_error.max(reported.abs_diff(truth));
        }
        if reported < truth {
            p.ahead_of_truth += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_the_counted_fans_waiting_ahead() {
        let mut truth = Truth::new(4);
        let indices: Vec<usize> = (0..10)
            .map(|i| {
                truth.joined(i / 3, true);
                truth.counted()
            })
            .collect();
        assert_eq!(truth.position(Some(indices[0])), 1);
        assert_eq!(truth.position(Some(indices[9])), 10);
        truth.left(Some(indices[0]), 0, true);
        truth.left(Some(indices[4]), 1, true);
        assert_eq!(truth.position(Some(indices[9])), 8);
        truth.joined(20, true);
        assert_eq!(
            truth.position(None),
            9,
            "not counted yet: behind everyone counted"
        );
        assert_eq!(truth.waiting, 9);
    }

    #[test]
    fn passing_an_earlier_joiner_is_an_inversion() {
        let mut truth = Truth::new(4);
        for second in [5, 5, 6] {
            truth.joined(second, true);
        }
        // A pre-queued fan who arrived earlier and still waits is no inversion.
        truth.joined(1, false);
        truth.left(None, 5, true);
        truth.judge_admission(5);
        assert_eq!(
            truth.fairness.inversions, 0,
            "same second: any order is fair"
        );
        truth.left(None, 6, true);
        truth.judge_admission(6);
        assert_eq!(truth.fairness.inversions, 1);
    }
}
