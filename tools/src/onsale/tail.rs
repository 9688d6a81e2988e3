//! The sale's tail: how long the last seats took to sell, and the seats left free while fans
//! waited for them. Kept from the world's truth, never from the service's view: each second
//! ends with the seats as the store holds them (sold, under a live hold by true time, free) and
//! the queue as the simulator's truth has it (every fan whose ticket waits, whether it still
//! polls or walked away and waits for the tick to drop it).
//!
//! A seat is idle in a second that ends with it neither held nor sold while fans wait in the
//! queue once the sale is open (before it, nobody can be admitted): `idle_seat_seconds` sums
//! those seats over the seconds. Most of it is the opening's ramp (every seat free while the
//! first ticks admit), which admission paces by design; `tail_idle_seat_seconds` is the part
//! from the second 90% of the seats were sold on, where seats stand free for want of live
//! slots. Such a second is a starved one; a fan who waited through at least one starved second
//! is counted once among those who waited while seats were free.

use serde::Serialize;

/// The shares of the seats whose selling second is reported, in percent.
const SOLD_PERCENTS: [u64; 4] = [50, 90, 99, 100];
/// The tail starts once this share (`SOLD_PERCENTS[TAIL_FROM]`, 90%) is sold.
const TAIL_FROM: usize = 1;

/// The tail's figures, flattened into the report (their names are part of its contract).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TailFigures {
    /// The second by the end of which half the seats were sold, and so on (`None`: never).
    pub sold_50_percent_seconds: Option<u64>,
    pub sold_90_percent_seconds: Option<u64>,
    pub sold_99_percent_seconds: Option<u64>,
    pub sold_100_percent_seconds: Option<u64>,
    /// Each second of the open sale, the seats neither held nor sold while fans waited in
    /// the queue, summed.
    pub idle_seat_seconds: u64,
    /// Of those, the seat-seconds from the second 90% of the seats were sold on.
    pub tail_idle_seat_seconds: u64,
    /// The seconds that ended with seats free and fans waiting, and the longest run of them.
    pub starved_seconds: u64,
    pub longest_starved_run_seconds: u64,
    /// Distinct fans who were in the queue at the end of at least one starved second.
    pub fans_waiting_while_seats_free: u64,
    /// Of those, the fans in the queue at the end of a starved second from 90% sold on.
    pub tail_fans_waiting_while_seats_free: u64,
    /// The fans waiting, summed over the starved seconds (a fan counts once a second).
    pub fan_seconds_waiting_while_seats_free: u64,
}

/// The account kept second by second.
pub struct Tail {
    seats: u64,
    /// The first second of the open sale.
    opens: u64,
    /// The second each share of `SOLD_PERCENTS` was reached.
    reached: [Option<u64>; SOLD_PERCENTS.len()],
    /// Starved seconds before each second: `starved_before[s]` counts those in `0..s`, the
    /// first of the pair all of them, the second those of the tail.
    starved_before: Vec<(u64, u64)>,
    run: u64,
    figures: TailFigures,
}

impl Tail {
    /// `seats` on sale, the sale open from second `opens` of the simulation.
    pub fn new(seats: u64, opens: u64) -> Self {
        Tail {
            seats,
            opens,
            reached: [None; SOLD_PERCENTS.len()],
            starved_before: vec![(0, 0)],
            run: 0,
            figures: TailFigures::default(),
        }
    }

    /// Second `second` (they come in order, from 0) ended with `sold` seats sold, `free`
    /// neither sold nor held, and `waiting` fans in the queue; returns the seats idle in it.
    pub fn second(&mut self, second: u64, sold: u64, free: u64, waiting: u64) -> u64 {
        debug_assert_eq!(second + 1, self.starved_before.len() as u64);
        for (reached, percent) in self.reached.iter_mut().zip(SOLD_PERCENTS) {
            if reached.is_none() && self.seats > 0 && sold * 100 >= self.seats * percent {
                *reached = Some(second);
            }
        }
        let starved = second >= self.opens && free > 0 && waiting > 0;
        let in_tail = starved && self.reached[TAIL_FROM].is_some();
        let f = &mut self.figures;
        if starved {
            f.idle_seat_seconds += free;
            if in_tail {
                f.tail_idle_seat_seconds += free;
            }
            f.starved_seconds += 1;
            f.fan_seconds_waiting_while_seats_free += waiting;
            self.run += 1;
            f.longest_starved_run_seconds = f.longest_starved_run_seconds.max(self.run);
        } else {
            self.run = 0;
        }
        let (all, tail) = self.starved_before[second as usize];
        self.starved_before
            .push((all + u64::from(starved), tail + u64::from(in_tail)));
        if starved {
            free
        } else {
            0
        }
    }

    /// The figures, given each fan's stay in the queue: the second it joined, and the second
    /// it left (admitted or dropped), `None` when it still waits. A fan is in the queue at the
    /// end of each second from the one it joined to the one before it left.
    pub fn figures(&self, stays: impl Iterator<Item = (u64, Option<u64>)>) -> TailFigures {
        let mut figures = self.figures.clone();
        let [p50, p90, p99, p100] = self.reached;
        figures.sold_50_percent_seconds = p50;
        figures.sold_90_percent_seconds = p90;
        figures.sold_99_percent_seconds = p99;
        figures.sold_100_percent_seconds = p100;
        let ended = self.starved_before.len() - 1;
        let starved_before = |second: u64| self.starved_before[(second as usize).min(ended)];
        for (joined, left) in stays {
            let left = left.unwrap_or(ended as u64).max(joined);
            let ((all_then, tail_then), (all_now, tail_now)) =
                (starved_before(joined), starved_before(left));
            figures.fans_waiting_while_seats_free += u64::from(all_now > all_then);
            figures.tail_fans_waiting_while_seats_free += u64::from(tail_now > tail_then);
        }
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of `seats` seats whose seconds ended as `(sold, free, waiting)` say.
    fn run(seats: u64, opens: u64, seconds: &[(u64, u64, u64)]) -> Tail {
        let mut tail = Tail::new(seats, opens);
        for (second, (sold, free, waiting)) in seconds.iter().enumerate() {
            tail.second(second as u64, *sold, *free, *waiting);
        }
        tail
    }

    #[test]
    fn the_sold_percentiles_are_the_seconds_the_shares_were_first_reached() {
        // 200 seats: 100 sold by second 2 (50%), 180 by 3 (90%), 198 by 5 (99%), all by 7.
        let tail = run(
            200,
            0,
            &[
                (0, 200, 0),
                (60, 140, 0),
                (100, 100, 0),
                (180, 20, 0),
                (197, 3, 0),
                (198, 2, 0),
                (199, 1, 0),
                (200, 0, 0),
            ],
        );
        let figures = tail.figures(std::iter::empty());
        assert_eq!(
            (
                figures.sold_50_percent_seconds,
                figures.sold_90_percent_seconds,
                figures.sold_99_percent_seconds,
                figures.sold_100_percent_seconds
            ),
            (Some(2), Some(3), Some(5), Some(7))
        );
    }

    #[test]
    fn a_share_never_reached_has_no_second() {
        let figures = run(150, 0, &[(10, 140, 5), (148, 2, 5)]).figures(std::iter::empty());
        assert_eq!(figures.sold_90_percent_seconds, Some(1));
        // 148 of 150 is 98.7%: short of 99.
        assert_eq!(figures.sold_99_percent_seconds, None);
        assert_eq!(figures.sold_100_percent_seconds, None);
    }

    #[test]
    fn free_seats_while_fans_wait_add_to_the_idle_seat_seconds() {
        let tail = run(
            10,
            1,
            &[
                // Before the sale opens: the pre-queue cannot be served, nothing is idle.
                (0, 10, 50),
                // Seats free, fans waiting: 4 + 3 idle seat-seconds.
                (4, 4, 20),
                (5, 3, 10),
                // Free seats, nobody waiting; then fans waiting, no seat free (all held).
                (6, 2, 0),
                (6, 0, 10),
                // Starved again, one second, with 90% sold: the tail's.
                (9, 1, 5),
                (10, 0, 5),
            ],
        );
        // In the queue through seconds 1 and 2; through 4 to the end (5 is the tail's); through
        // second 0 alone, before the opening.
        let stays = [(1, Some(3)), (4, None), (0, Some(1))];
        let figures = tail.figures(stays.into_iter());
        assert_eq!(figures.fans_waiting_while_seats_free, 2);
        assert_eq!(figures.tail_fans_waiting_while_seats_free, 1);
        assert_eq!(figures.idle_seat_seconds, 4 + 3 + 1);
        assert_eq!(figures.tail_idle_seat_seconds, 1);
        assert_eq!(figures.starved_seconds, 3);
        assert_eq!(figures.longest_starved_run_seconds, 2);
        assert_eq!(figures.fan_seconds_waiting_while_seats_free, 20 + 10 + 5);
    }

    #[test]
    fn a_fan_who_waited_through_a_starved_second_counts_once() {
        // Seconds 1 and 2 are starved, 0, 3 and 4 are not.
        let tail = run(
            10,
            0,
            &[(0, 0, 3), (0, 2, 3), (1, 1, 3), (2, 0, 3), (3, 0, 1)],
        );
        let stays = [
            // In the queue at the end of seconds 0 to 2: both starved ones, counted once.
            (0, Some(3)),
            // Left in second 1 (admitted as it ended): waited only through second 0.
            (0, Some(1)),
            // Joined in second 3, still waiting: no starved second since.
            (3, None),
            // Joined in second 2 and left in it: never in the queue at a second's end.
            (2, Some(2)),
            // Joined in second 2, still waiting at the end: second 2 was starved.
            (2, None),
        ];
        let figures = tail.figures(stays.into_iter());
        assert_eq!(figures.fans_waiting_while_seats_free, 2);
        // 90% of the seats were never sold: no second of the tail.
        assert_eq!(figures.tail_fans_waiting_while_seats_free, 0);
    }
}
