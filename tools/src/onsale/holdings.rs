//! What each fan owns, held plus sold, kept by the simulator from the answers it got, never from
//! the service's tally: a hold counts from the second its `201` came back until it is released
//! (`204`), paid (`201`: its seats then count as sold for good) or lapses. The ticket limit
//! (`maxTicketsPerFan`) must hold at every second of true time, whatever the containers'
//! clocks say.
//!
//! Lapsing by true time: a container whose clock is ahead by the skew judges a hold lapsed that
//! many seconds before its `heldUntil`, and may rightly let the fan hold again then (the lapsed
//! hold can no longer be paid: the fan's tally stopped counting it). So a hold counts until its
//! `heldUntil` less the run's clock skew, the earliest any container may end it; seats paid
//! count from the payment's answer on. A fan holding again while a payment of its old hold goes
//! through (the lapse-second race) owns both orders, whatever the clocks: over the limit.
//!
//! The same account gives the bots' seat spinning its figures: the seat-seconds their holds kept
//! from fans (each hold's seats times the seconds from its answer to its release or its
//! `heldUntil`), and the holds each session placed.

use std::collections::HashMap;

use serde::Serialize;
use ticketing::domain::ReservationId;

/// The violations listed by name; the rest are counted.
const LISTED_VIOLATIONS: usize = 10;

/// One order the service answered `201` for.
struct Hold {
    reservation: ReservationId,
    seats: u32,
    /// The second (of the simulation) its answer came.
    from: u64,
    /// Its `heldUntil`, as a second of the simulation.
    held_until: i64,
    /// The second it was released or paid, when it was.
    ended: Option<u64>,
}

#[derive(Default)]
struct Owner {
    bot: bool,
    holds: Vec<Hold>,
    /// Seats paid for, and whose payments were seen (a retry's answer is not counted twice).
    sold: u32,
    paid: Vec<ReservationId>,
    /// New holds placed (a replay of a hold it already had is not one).
    holds_placed: u32,
    over_limit: bool,
}

/// Seat spinning and the ticket limit, as the simulator saw them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HoldingFigures {
    /// The most seats any fan or bot owned (held plus sold) at one second, by true time.
    pub owned_max: u32,
    pub ticket_limit: u32,
    /// Fans and bots that ever owned more than the limit.
    pub over_limit: u64,
    /// Payments answered in their hold's last seconds while the fan held again (the
    /// lapse-second race), and how many of each side went through.
    pub lapse_races: u64,
    pub lapse_race_payments: u64,
    pub lapse_race_holds: u64,
    /// Bots that spin seats (hold, release, hold again), of all the bots.
    pub spinning_bots: u64,
    /// Seats times seconds held by bots' holds: seats kept from fans.
    pub bot_seat_seconds: u64,
    /// The same for everyone's holds, for scale.
    pub seat_seconds: u64,
    /// Holds answered `429 TOO_MANY_HOLDS`, to bots and to fans.
    pub too_many_holds: u64,
    pub too_many_holds_to_fans: u64,
    /// The most holds one session (a fan's or a bot's admission) placed.
    pub most_holds_a_session: u32,
    pub most_holds_a_bot_session: u32,
    /// Releases answered `204`.
    pub releases: u64,
    /// Releases sent by the pages of fans who gave up while holding seats (answered or not).
    pub released_on_leaving: u64,
    /// The bots' share of the crowd (fans and bots) and of the seats sold.
    pub bots_share_of_crowd: f64,
    pub bots_share_of_sold: f64,
}

/// The account of what every fan owns.
pub struct Holdings {
    /// The run's first second, as an epoch second: `heldUntil` is kept relative to it.
    origin: i64,
    skew: i64,
    limit: u32,
    owners: HashMap<u32, Owner>,
    violations: Vec<String>,
    pub figures: HoldingFigures,
}

impl Holdings {
    pub fn new(origin: i64, skew: u64, limit: u32) -> Self {
        Holdings {
            origin,
            skew: skew as i64,
            limit,
            owners: HashMap::new(),
            violations: Vec::new(),
            figures: HoldingFigures {
                ticket_limit: limit,
                ..HoldingFigures::default()
            },
        }
    }

    /// The service answered a hold of `seats` seats, until `held_until` (epoch seconds), in
    /// `second`; `new` is false for a replay of a hold the fan already had.
    pub fn held(
        &mut self,
        fan: u32,
        bot: bool,
        second: u64,
        reservation: ReservationId,
        seats: u32,
        held_until: i64,
    ) {
        let origin = self.origin;
        let owner = self.owners.entry(fan).or_default();
        owner.bot = bot;
        if owner.holds.iter().any(|h| h.reservation == reservation)
            || owner.paid.contains(&reservation)
        {
            return;
        }
        owner.holds.push(Hold {
            reservation,
            seats,
            from: second,
            held_until: held_until - origin,
            ended: None,
        });
        owner.holds_placed += 1;
        let f = &mut self.figures;
        f.most_holds_a_session = f.most_holds_a_session.max(owner.holds_placed);
        if bot {
            f.most_holds_a_bot_session = f.most_holds_a_bot_session.max(owner.holds_placed);
        }
        self.judge(fan, second);
    }

    /// The hold was released (`204`), or found lapsed, in `second`.
    pub fn released(&mut self, fan: u32, second: u64, reservation: ReservationId) {
        self.figures.releases += 1;
        if let Some(hold) = self
            .owners
            .get_mut(&fan)
            .and_then(|o| o.holds.iter_mut().find(|h| h.reservation == reservation))
        {
            hold.ended.get_or_insert(second);
        }
    }

    /// The seats of a hold the fan was answered for.
    pub fn seats(&self, fan: u32, reservation: ReservationId) -> Option<u32> {
        let owner = self.owners.get(&fan)?;
        let hold = owner.holds.iter().find(|h| h.reservation == reservation)?;
        Some(hold.seats)
    }

    /// A payment of `seats` seats for the reservation was answered `201` in `second`.
    pub fn paid(&mut self, fan: u32, second: u64, reservation: ReservationId, seats: u32) {
        let owner = self.owners.entry(fan).or_default();
        if owner.paid.contains(&reservation) {
            return;
        }
        owner.paid.push(reservation);
        owner.sold += seats;
        if let Some(hold) = owner
            .holds
            .iter_mut()
            .find(|h| h.reservation == reservation)
        {
            hold.ended.get_or_insert(second);
        }
        self.judge(fan, second);
    }

    /// Seats the fan owns in `second`: sold, and held by a hold no container may yet judge
    /// lapsed.
    fn owned(&self, fan: u32, second: u64) -> u32 {
        let Some(owner) = self.owners.get(&fan) else {
            return 0;
        };
        let held: u32 = owner
            .holds
            .iter()
            .filter(|h| {
                let lapses = h.held_until - self.skew;
                h.from <= second
                    && (second as i64) < lapses
                    && h.ended.is_none_or(|ended| second < ended)
            })
            .map(|h| h.seats)
            .sum();
        owner.sold + held
    }

    fn judge(&mut self, fan: u32, second: u64) {
        let owned = self.owned(fan, second);
        self.figures.owned_max = self.figures.owned_max.max(owned);
        if owned <= self.limit {
            return;
        }
        let Some(owner) = self.owners.get_mut(&fan) else {
            return;
        };
        if !owner.over_limit {
            owner.over_limit = true;
            self.figures.over_limit += 1;
            if self.violations.len() < LISTED_VIOLATIONS {
                self.violations.push(format!(
                    "fan-{fan} owned {owned} seats (held and sold) at {second} s, over the ticket limit of {}",
                    self.limit
                ));
            }
        }
    }

    /// What broke the ticket limit: one line a fan (the first few), empty when it held.
    pub fn violations(&self) -> Vec<String> {
        let mut listed = self.violations.clone();
        let unlisted = self.figures.over_limit.saturating_sub(listed.len() as u64);
        if unlisted > 0 {
            listed.push(format!("{unlisted} more fans over the ticket limit"));
        }
        listed
    }

    /// The figures once the run ended at `end` (a second of the simulation): holds still
    /// running count up to it.
    pub fn close(&mut self, end: u64, crowd: u64, bots: u64, sold: u64, sold_to_bots: u64) {
        let (mut all, mut by_bots) = (0u64, 0u64);
        for owner in self.owners.values() {
            for hold in &owner.holds {
                let until = hold.held_until.clamp(hold.from as i64, end as i64) as u64;
                let until = hold.ended.map_or(until, |ended| ended.min(until));
                let seat_seconds = u64::from(hold.seats) * until.saturating_sub(hold.from);
                all += seat_seconds;
                if owner.bot {
                    by_bots += seat_seconds;
                }
            }
        }
        let f = &mut self.figures;
        f.seat_seconds = all;
        f.bot_seat_seconds = by_bots;
        f.bots_share_of_crowd = bots as f64 / crowd.max(1) as f64;
        f.bots_share_of_sold = sold_to_bots as f64 / sold.max(1) as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: i64 = 1_000;

    fn id() -> ReservationId {
        ReservationId::new()
    }

    #[test]
    fn a_payment_in_the_lapse_second_beside_a_new_hold_is_over_the_limit() {
        let mut holdings = Holdings::new(ORIGIN, 2, 4);
        let first = id();
        holdings.held(7, false, 10, first, 4, ORIGIN + 310);
        // A clock two seconds ahead judged it lapsed at 308: holding again then is no breach.
        let second = id();
        holdings.held(7, false, 308, second, 4, ORIGIN + 608);
        assert_eq!(holdings.figures.over_limit, 0);
        assert_eq!(holdings.figures.owned_max, 4);
        // The first hold paid in that same second all the same: 8 seats owned.
        holdings.paid(7, 308, first, 4);
        assert_eq!(holdings.figures.over_limit, 1);
        assert_eq!(holdings.figures.owned_max, 8);
        assert_eq!(holdings.violations().len(), 1);
        assert!(holdings.violations()[0].starts_with("fan-7 owned 8 seats"));
    }

    #[test]
    fn holding_again_before_any_clock_sees_the_hold_lapse_is_over_the_limit() {
        let mut holdings = Holdings::new(ORIGIN, 2, 4);
        holdings.held(1, false, 10, id(), 3, ORIGIN + 310);
        holdings.held(1, false, 307, id(), 2, ORIGIN + 607);
        assert_eq!(holdings.figures.over_limit, 1);
    }

    #[test]
    fn released_and_paid_holds_leave_room_and_replays_count_once() {
        let mut holdings = Holdings::new(ORIGIN, 0, 4);
        let (a, b, c) = (id(), id(), id());
        holdings.held(3, true, 10, a, 4, ORIGIN + 310);
        holdings.held(3, true, 12, a, 4, ORIGIN + 310);
        holdings.released(3, 20, a);
        holdings.held(3, true, 21, b, 4, ORIGIN + 321);
        holdings.released(3, 51, b);
        holdings.held(3, true, 60, c, 2, ORIGIN + 360);
        holdings.paid(3, 70, c, 2);
        holdings.paid(3, 71, c, 2);
        holdings.held(4, false, 100, id(), 2, ORIGIN + 400);
        assert_eq!(holdings.figures.over_limit, 0);
        assert_eq!(holdings.figures.most_holds_a_session, 3);
        assert_eq!(holdings.figures.most_holds_a_bot_session, 3);
        // The fan's hold lapses at 400; the run ended at 200.
        holdings.close(200, 10, 1, 4, 2);
        let f = &holdings.figures;
        assert_eq!(f.bot_seat_seconds, 4 * 10 + 4 * 30 + 2 * 10);
        assert_eq!(f.seat_seconds, f.bot_seat_seconds + 2 * 100);
        assert_eq!((f.bots_share_of_crowd, f.bots_share_of_sold), (0.1, 0.5));
    }
}
