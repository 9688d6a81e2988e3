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

pub struct Truth {
    /// Fans waiting, by queue place.
    waiting_by_place: Fenwick,
    /// Fans waiting, by the second they joined.
    waiting_by_second: BTreeMap<u64, u64>,
    pub waiting: u64,
    pub positions: PositionFigures,
    pub fairness: FairnessFigures,
}

impl Truth {
    pub fn new(capacity: usize) -> Self {
        Truth {
            waiting_by_place: Fenwick(vec![0; capacity.next_power_of_two()]),
            waiting_by_second: BTreeMap::new(),
            waiting: 0,
            positions: PositionFigures::default(),
            fairness: FairnessFigures::default(),
        }
    }

    pub fn joined(&mut self, place: usize, second: u64) {
        self.waiting_by_place.add(place, 1);
        *self.waiting_by_second.entry(second).or_default() += 1;
        self.waiting += 1;
    }

    /// A waiting fan left the queue: admitted or dropped by a tick.
    pub fn left(&mut self, place: usize, second: u64) {
        self.waiting_by_place.add(place, -1);
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

    /// The true position of a waiting fan: the fans waiting ahead of its place, plus one.
    pub fn position(&self, place: usize) -> u64 {
        (self.waiting_by_place.before(place) + 1) as u64
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
    fn positions_count_the_waiting_ahead() {
        let mut truth = Truth::new(4);
        for place in 0..10 {
            truth.joined(place, place as u64 / 3);
        }
        assert_eq!(truth.position(0), 1);
        assert_eq!(truth.position(9), 10);
        truth.left(0, 0);
        truth.left(4, 1);
        assert_eq!(truth.position(9), 8);
        assert_eq!(truth.waiting, 8);
    }

    #[test]
    fn passing_an_earlier_joiner_is_an_inversion() {
        let mut truth = Truth::new(4);
        truth.joined(0, 5);
        truth.joined(1, 5);
        truth.joined(2, 6);
        truth.left(1, 5);
        truth.judge_admission(5);
        assert_eq!(
            truth.fairness.inversions, 0,
            "same second: any order is fair"
        );
        truth.left(2, 6);
        truth.judge_admission(6);
        assert_eq!(truth.fairness.inversions, 1);
    }
}
