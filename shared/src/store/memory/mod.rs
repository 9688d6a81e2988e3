//! The in-memory store: one lock around plain maps. Each method is one critical section and
//! checks exactly the conditions its DynamoDB twin sends, so races resolve the same way. It
//! serves tests, the local server and the simulator (which runs a million fans through it), so
//! its maps hash with FxHash; nothing here faces untrusted keys at scale.

mod admission;
mod catalog;
mod idempotency;
mod payments;
mod queue;
mod rate;
mod reservations;
mod topups;
mod wallet;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use rustc_hash::FxHashMap as HashMap;

use super::dynamo::{self, meter::DynamoRequest};
use super::*;

#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

/// What happened to a fan's ticket, as the store applied it: what the on-sale simulator keeps
/// its own account from (a tick that dies after a batch reports nothing, but its batch stands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketChange {
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub change: TicketChangeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketChangeKind {
    /// Admitted, by the tick of `at`, active until `until`.
    Admitted {
        at: i64,
        until: i64,
    },
    Dropped,
    /// Spent by a payment.
    Used,
    /// Its end moved on by a request that carried it (see `booking::slots`).
    Renewed {
        until: i64,
    },
}

#[derive(Default)]
struct Tables {
    concerts: BTreeMap<ConcertId, ConcertRecord>,
    /// Each concert's listing, by last date, as the DynamoDB partition sorts them.
    listings: BTreeMap<(ConcertDate, ConcertId), ConcertListingRecord>,
    /// A date's seats, by block (its first seat), as DynamoDB keeps them.
    seats: HashMap<(ConcertId, ConcertDate, SeatNumber), DateSeatsRecord>,
    ledgers: HashMap<(ConcertId, ConcertDate, u32), SeatLedgerRecord>,
    reservations: BTreeMap<(UserId, ReservationId), ReservationRecord>,
    payments: HashMap<(UserId, PaymentId), PaymentRecord>,
    balances: HashMap<UserId, BalanceRecord>,
    balance_entries: BTreeMap<(UserId, u64), BalanceEntryRecord>,
    idempotency: HashMap<(UserId, IdempotencyKey), IdempotencyRecord>,
    top_ups: HashMap<(UserId, TopUpId), TopUpRecord>,
    top_up_days: HashMap<(UserId, i64), TopUpDayRecord>,
    payment_events: HashMap<String, PaymentEventRecord>,
    payment_links: HashMap<String, PaymentLinkRecord>,
    /// By event id, as the DynamoDB partition sorts them.
    unmatched_payments: BTreeMap<String, UnmatchedPaymentRecord>,
    tickets: HashMap<(UserId, ConcertId), TicketRecord>,
    tallies: HashMap<(UserId, ConcertId), FanTallyRecord>,
    /// Each fan's rate limit bucket: its `tat` (see `store::rate`).
    rates: HashMap<UserId, i64>,
    counters: HashMap<(ConcertId, u8, i64), u32>,
    /// Each counter's seal, by its minute (as DynamoDB keeps a counter item a minute).
    seals: HashMap<(ConcertId, u8, i64), i64>,
    claims: HashMap<ConcertId, TickClaimRecord>,
    queue_entries: BTreeMap<(ConcertId, u8, i64, u32), QueueEntryRecord>,
    states: HashMap<ConcertId, QueueStateRecord>,
    pages: HashMap<(ConcertId, i64), QueuePageRecord>,
    controls: HashMap<ConcertId, QueueControlRecord>,
    /// Each concert's slot ledger, by shard.
    slots: HashMap<(ConcertId, u32), SlotShardRecord>,
    live_queues: BTreeMap<ConcertId, (i64, i64)>,
    /// Holds refused because a seat was taken: the simulator's measure of seat contention.
    seat_conflicts: u64,
    /// Ticket changes since the last take, when recording.
    ticket_changes: Option<Vec<TicketChange>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that records every ticket it admits, drops or spends (see
    /// [`MemoryStore::take_ticket_changes`]).
    pub fn recording_ticket_changes() -> Self {
        let store = Self::default();
        store.tables().ticket_changes = Some(Vec::new());
        store
    }

    /// The ticket changes recorded since the last take, in the order they were applied.
    pub fn take_ticket_changes(&self) -> Vec<TicketChange> {
        self.tables()
            .ticket_changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The numbers each counter drew in each second from `from` through `through`, as stored
    /// (seconds with none are left out). A read, for audits: it seals nothing.
    pub fn drawn(&self, concert: &ConcertId, from: i64, through: i64) -> BTreeMap<i64, Vec<u32>> {
        let t = self.tables();
        let mut drawn = BTreeMap::new();
        let seconds = t
            .counters
            .keys()
            .filter(|(c, _, s)| c == concert && (from..=through).contains(s))
            .map(|(_, _, s)| *s);
        for second in seconds.collect::<std::collections::BTreeSet<i64>>() {
            drawn.insert(second, t.drawn_in(concert, second));
        }
        drawn
    }

    /// How many holds were refused because a seat of theirs was taken.
    pub fn seat_conflicts(&self) -> u64 {
        self.tables().seat_conflicts
    }

    /// The tick's claim on a concert's queue, as stored.
    pub fn tick_claim(&self, concert: &ConcertId) -> Option<TickClaimRecord> {
        self.tables().claims.get(concert).cloned()
    }

    /// Every concert, seat state, reservation, payment, balance and entry, for an audit.
    pub fn inventory(&self) -> Inventory {
        let t = self.tables();
        Inventory {
            concerts: t.concerts.values().cloned().collect(),
            listings: t.listings.values().cloned().collect(),
            seats: {
                let mut dates: BTreeMap<(ConcertId, ConcertDate), DateSeatsRecord> =
                    BTreeMap::new();
                for ((c, d, _), block) in &t.seats {
                    dates
                        .entry((c.clone(), *d))
                        .or_default()
                        .merge(block.clone());
                }
                dates.into_iter().map(|((c, d), s)| (c, d, s)).collect()
            },
            ledgers: t
                .ledgers
                .iter()
                .map(|((c, d, shard), l)| (c.clone(), *d, *shard, l.clone()))
                .collect(),
            reservations: t.reservations.values().cloned().collect(),
            payments: t.payments.values().cloned().collect(),
            balances: t.balances.iter().map(|(u, b)| (u.clone(), *b)).collect(),
            entries: t
                .balance_entries
                .iter()
                .map(|((u, _), e)| (u.clone(), e.clone()))
                .collect(),
        }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a half-applied change: every method
        // checks all conditions before it writes anything.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Tables {
    /// The numbers each counter drew in `second`.
    fn drawn_in(&self, concert: &ConcertId, second: i64) -> Vec<u32> {
        (0..crate::domain::QUEUE_SHARDS)
            .map(|shard| {
                self.counters
                    .get(&(concert.clone(), shard, second))
                    .copied()
                    .unwrap_or(0)
            })
            .collect()
    }

    fn record(&mut self, user_id: &UserId, concert_id: &ConcertId, change: TicketChangeKind) {
        if let Some(changes) = self.ticket_changes.as_mut() {
            changes.push(TicketChange {
                user_id: user_id.clone(),
                concert_id: concert_id.clone(),
                change,
            });
        }
    }

    fn balance_change_allowed(&self, change: &BalanceChange) -> bool {
        let current = self
            .balances
            .get(&change.user_id)
            .copied()
            .unwrap_or_default();
        current.version + 1 == change.entry.version
            && !self
                .balance_entries
                .contains_key(&(change.user_id.clone(), change.entry.version))
    }

    fn claim_is_ours(&self, completion: &Option<IdempotencyCompletion>) -> bool {
        completion.as_ref().is_none_or(|c| {
            self.idempotency
                .get(&(c.user_id.clone(), c.key.clone()))
                .is_some_and(|r| r.claim_id == c.claim_id && r.state == IdempotencyState::InFlight)
        })
    }

    fn apply_balance_change(&mut self, change: &BalanceChange) {
        self.balances.insert(
            change.user_id.clone(),
            BalanceRecord {
                amount: change.entry.balance_after,
                version: change.entry.version,
            },
        );
        self.balance_entries.insert(
            (change.user_id.clone(), change.entry.version),
            change.entry.clone(),
        );
        self.complete_claim(&change.completion);
    }

    fn complete_claim(&mut self, completion: &Option<IdempotencyCompletion>) {
        if let Some(c) = completion {
            if let Some(record) = self
                .idempotency
                .get_mut(&(c.user_id.clone(), c.key.clone()))
            {
                record.state = IdempotencyState::Done;
                record.response = Some(c.response.clone());
            }
        }
    }

    /// The fan's tally after `change` (a payment or a release of `reservation`): every change
    /// moves its version.
    fn retally(
        &mut self,
        reservation: &ReservationRecord,
        change: impl FnOnce(&mut FanTallyRecord),
    ) {
        let tally = self
            .tallies
            .entry((reservation.user_id.clone(), reservation.concert_id.clone()))
            .or_default();
        tally.holds.remove(&reservation.reservation_id);
        change(tally);
        tally.version += 1;
    }

    /// The caller's ticket for the concert is `token`, active and not yet ended.
    fn ticket_is_active(
        &self,
        user: &UserId,
        concert: &ConcertId,
        token: &QueueToken,
        now: i64,
    ) -> bool {
        self.tickets
            .get(&(user.clone(), concert.clone()))
            .is_some_and(|t| {
                &t.token == token
                    && t.status == TicketStatus::Active
                    && t.active_until.is_some_and(|until| until > now)
            })
    }

    fn block(&self, r: &ReservationRecord, seat: &ReservedSeat) -> Option<&DateSeatsRecord> {
        self.seats.get(&(r.concert_id.clone(), r.date, seat.block))
    }

    /// Every seat of the order is ours to take: not sold, and not under a live hold.
    fn seats_are_free(&self, r: &ReservationRecord, now: i64) -> bool {
        r.seats.iter().all(|seat| {
            self.block(r, seat).is_none_or(|s| {
                !s.is_sold(seat.seat_number)
                    && s.holds
                        .get(&seat.seat_number)
                        .is_none_or(|until| *until <= now)
            })
        })
    }

    /// Every seat of the order is held by its hold (which ends at `held_until`), still live,
    /// and not sold.
    fn seats_held_by(&self, r: &ReservationRecord, now: i64) -> bool {
        r.held_until > now
            && r.seats.iter().all(|seat| {
                self.block(r, seat).is_some_and(|s| {
                    !s.is_sold(seat.seat_number)
                        && s.holds.get(&seat.seat_number) == Some(&r.held_until)
                })
            })
    }

    /// The order's blocks and ledger shards as they will be once its seats are held (`end`
    /// none) or its hold ended: what a write sizes and stores.
    fn seats_after(&self, r: &ReservationRecord, end: Option<HoldEnd>) -> SeatsTouched {
        let mut blocks: BTreeMap<SeatNumber, DateSeatsRecord> = BTreeMap::new();
        for seat in &r.seats {
            let block = blocks
                .entry(seat.block)
                .or_insert_with(|| self.block(r, seat).cloned().unwrap_or_default());
            match end {
                None => {
                    block.holds.insert(seat.seat_number, r.held_until);
                }
                Some(HoldEnd::Released) => {
                    block.holds.remove(&seat.seat_number);
                }
                Some(HoldEnd::Sold(batch)) => {
                    block.holds.remove(&seat.seat_number);
                    block.sold.insert(seat.seat_number, batch);
                }
            }
        }
        let ledgers = LedgerChange::of(r, end)
            .into_iter()
            .map(|change| {
                let mut ledger = self
                    .ledgers
                    .get(&(r.concert_id.clone(), r.date, change.shard))
                    .cloned()
                    .unwrap_or_default();
                ledger.apply(&change);
                (change.shard, ledger)
            })
            .collect();
        SeatsTouched {
            blocks: blocks.into_iter().collect(),
            ledgers,
        }
    }

    /// Stores what [`Tables::seats_after`] gave.
    fn store_seats(&mut self, r: &ReservationRecord, seats: SeatsTouched) {
        for (block, record) in seats.blocks {
            self.seats
                .insert((r.concert_id.clone(), r.date, block), record);
        }
        for (shard, ledger) in seats.ledgers {
            self.ledgers
                .insert((r.concert_id.clone(), r.date, shard), ledger);
        }
    }

    /// A slot shard as it will be once `slots` is applied: what a write sizes and stores.
    fn slots_after(&self, concert: &ConcertId, slots: &SlotMove) -> SlotShardRecord {
        let mut shard = self
            .slots
            .get(&(concert.clone(), slots.shard))
            .cloned()
            .unwrap_or_default();
        for (end, n) in &slots.adds {
            *shard.ends.entry(*end).or_default() += n;
        }
        shard
    }

    /// A fan's tally for a concert as it stands (version 0: none yet).
    fn tally(&self, user: &UserId, concert: &ConcertId) -> FanTallyRecord {
        self.tallies
            .get(&(user.clone(), concert.clone()))
            .cloned()
            .unwrap_or_default()
    }
}

/// Refuses, before anything is written, a write that DynamoDB would refuse: the requests the
/// DynamoDB store sends for it (as the meter models them, sized from what the write leaves
/// behind), held to DynamoDB's hard limits (`store::limits`).
fn within_limits(requests: Vec<DynamoRequest>) -> Result<(), StoreError> {
    limits::check(&requests)
}

/// How long a ticket item is kept after it stops mattering, so late callers still read
/// "expired" rather than "unknown".
pub(crate) fn ticket_expiry(ends_at: i64) -> i64 {
    ends_at + 24 * 3600
}
