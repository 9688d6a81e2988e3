//! The shapes the service persists. Both stores keep exactly these; the DynamoDB store adds only
//! its keys (and spreads the two per-seat maps of a date over top-level attributes, so that a
//! condition can name one seat). Times are epoch seconds, so that conditions compare them with
//! `now`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{
    ConcertDate, ConcertId, IdempotencyKey, PaymentId, QueuePlace, QueueToken, ReservationId,
    SeatNumber, TicketLimit, UserId, Won, QUEUE_SHARDS,
};

// ------------------------------------------------------------------------------- catalog

/// A concert, its dates and its seat prices: written once, by the catalog loader or an
/// operator, and never changed after, but for `sold_out` (set once by the admission tick). So
/// every container may cache it for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConcertRecord {
    pub concert_id: ConcertId,
    pub title: String,
    pub first_date: ConcertDate,
    pub last_date: ConcertDate,
    pub dates: Vec<ConcertDate>,
    pub seat_prices: Vec<SeatPriceRange>,
    /// Before this, joining is refused. `None`: open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_opens_at: Option<i64>,
    /// Joins before this enter the pre-queue, drawn by lottery at this moment. `None`: open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_opens_at: Option<i64>,
    #[serde(default)]
    pub sold_out: bool,
    /// Seats one fan may hold and buy of this concert, all dates together.
    #[serde(default)]
    pub max_tickets_per_fan: TicketLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatPriceRange {
    pub from_seat: SeatNumber,
    pub to_seat: SeatNumber,
    pub price: Won,
}

impl ConcertRecord {
    /// The price of a seat that exists.
    pub fn price(&self, seat: SeatNumber) -> Option<Won> {
        self.seat_prices
            .iter()
            .find(|r| (r.from_seat..=r.to_seat).contains(&seat))
            .map(|r| r.price)
    }

    /// Every seat that exists on each date, in order.
    pub fn seats(&self) -> impl Iterator<Item = (SeatNumber, Won)> + '_ {
        SeatNumber::all().filter_map(|s| self.price(s).map(|p| (s, p)))
    }

    pub fn seat_count(&self) -> u32 {
        self.seats().count() as u32
    }

    pub fn has_date(&self, date: ConcertDate) -> bool {
        self.dates.contains(&date)
    }
}

// ------------------------------------------------------------------------------- seats

/// What is taken on one date: the live-or-lapsed hold on each seat (its end), and each sold
/// seat with the admission batch of the token that bought it (on the first seat of its order;
/// the order's other seats say [`SOLD_WITH_ITS_ORDER`], so that the tick counts the token's
/// sale once). One item per date, written by
/// holds, releases and payments, read whole by seat charts and by the admission tick, which
/// learns the free seats of every date from these alone.
/// A sold seat bought in one order with a lower seat, whose entry carries the batch.
pub const SOLD_WITH_ITS_ORDER: i64 = 0;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DateSeatsRecord {
    pub holds: BTreeMap<SeatNumber, i64>,
    pub sold: BTreeMap<SeatNumber, i64>,
}

impl DateSeatsRecord {
    pub fn is_sold(&self, seat: SeatNumber) -> bool {
        self.sold.contains_key(&seat)
    }

    pub fn is_held(&self, seat: SeatNumber, now: i64) -> bool {
        !self.is_sold(seat) && self.holds.get(&seat).is_some_and(|until| *until > now)
    }

    pub fn held(&self, now: i64) -> u32 {
        self.holds
            .iter()
            .filter(|(seat, until)| **until > now && !self.sold.contains_key(seat))
            .count() as u32
    }

    pub fn sold_count(&self) -> u32 {
        self.sold.len() as u32
    }
}

// ------------------------------------------------------------------------------- reservations

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StoredReservationStatus {
    /// Held until `held_until`; after that it reads as expired.
    Held,
    Confirmed,
    Released,
}

/// One seat of an order, at the price it was held at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservedSeat {
    pub seat_number: SeatNumber,
    pub price: Won,
}

/// One order: seats of one date, held, paid and released together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReservationRecord {
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    /// In seat order, at least one.
    pub seats: Vec<ReservedSeat>,
    /// The order's total.
    pub price: Won,
    /// The hold's end; also what the date's seats record holds against the seat, so it tells
    /// this hold from a later one on the same seat.
    pub held_until: i64,
    pub status: StoredReservationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
}

impl ReservationRecord {
    pub fn seat_numbers(&self) -> Vec<SeatNumber> {
        self.seats.iter().map(|s| s.seat_number).collect()
    }
}

/// What the ticket limit counts for one fan and one concert: the fan's holds (a lapsed one
/// counts no more, and is forgotten by the fan's next hold) and the seats the fan bought.
/// Every change moves `version`, and a hold is conditional on the version it counted, so two
/// racing holds of one fan can never both pass the limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FanTallyRecord {
    pub version: u64,
    pub bought: u32,
    pub holds: BTreeMap<ReservationId, TalliedHold>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TalliedHold {
    pub date: ConcertDate,
    pub seats: Vec<SeatNumber>,
    pub until: i64,
}

impl FanTallyRecord {
    /// Seats in the fan's live holds.
    pub fn held(&self, now: i64) -> u32 {
        self.live_holds(now)
            .map(|(_, h)| h.seats.len() as u32)
            .sum()
    }

    pub fn live_holds(&self, now: i64) -> impl Iterator<Item = (&ReservationId, &TalliedHold)> {
        self.holds.iter().filter(move |(_, h)| h.until > now)
    }

    /// Holds that count no more: the next hold forgets them.
    pub fn lapsed(&self, now: i64) -> Vec<ReservationId> {
        self.holds
            .iter()
            .filter(|(_, h)| h.until <= now)
            .map(|(id, _)| *id)
            .collect()
    }
}

// ------------------------------------------------------------------------------- money

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_numbers: Vec<SeatNumber>,
    pub amount: Won,
    pub balance_after: Won,
    pub paid_at: i64,
}

/// A user's balance. `version` counts the entries ever written, so every change is conditional
/// on the version it was computed from and every entry knows its exact balance after.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BalanceRecord {
    pub amount: Won,
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntryKind {
    Charge,
    Payment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalanceEntryRecord {
    /// The balance version this entry created; entries sort by it, newest last.
    pub version: u64,
    pub kind: EntryKind,
    pub amount: Won,
    pub balance_after: Won,
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdempotencyState {
    InFlight,
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub user_id: UserId,
    pub key: IdempotencyKey,
    /// The operation and its canonical request; another request under the same key is refused.
    pub request: String,
    /// Which invocation owns an in-flight record; its completion is conditional on it.
    pub claim_id: String,
    pub state: IdempotencyState,
    /// After this, an in-flight record left by a crashed invocation may be taken over.
    pub locked_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    pub expires_at: i64,
}

// ------------------------------------------------------------------------------- queue

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TicketStatus {
    Waiting,
    Active,
    /// Spent by a payment.
    Used,
    /// Dropped by the admission tick after the holder stopped polling.
    Dropped,
}

/// A fan's ticket for one concert's queue: one per fan and concert, so that joining again finds
/// it and a poll reads it by the caller's own key. Only the fan writes it while it waits (the
/// poll refreshes `last_seen_at`); the tick writes it once, to admit or drop it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketRecord {
    pub token: QueueToken,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub shard: u8,
    pub number: u32,
    pub status: TicketStatus,
    pub last_seen_at: i64,
    /// The tick that admitted it: the admission batch its sale is counted against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admitted_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_until: Option<i64>,
    /// Tokens this fan held before for this concert, newest first: they read as ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ended_tokens: Vec<QueueToken>,
    pub expires_at: i64,
}

/// How many ended tokens a ticket remembers.
pub const REMEMBERED_TOKENS: usize = 4;

impl TicketRecord {
    pub fn place(&self) -> QueuePlace {
        QueuePlace {
            second: self.token.joined_at(),
            shard: self.shard,
            number: self.number,
        }
    }

    /// Waiting, or active and not yet ended.
    pub fn is_live(&self, now: i64) -> bool {
        match self.status {
            TicketStatus::Waiting => true,
            TicketStatus::Active => self.active_until.is_some_and(|until| until > now),
            TicketStatus::Used | TicketStatus::Dropped => false,
        }
    }
}

/// Who drew a queue number, so that the tick can find their ticket; `None` for a number nobody
/// will use (its join died, or found the fan already queued), which the tick passes over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntryRecord {
    pub second: i64,
    pub shard: u8,
    pub number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
}

impl QueueEntryRecord {
    pub fn place(&self) -> QueuePlace {
        QueuePlace {
            second: self.second,
            shard: self.shard,
            number: self.number,
        }
    }
}

/// The numbers drawn in one second, counter by counter, and where they start in queue order:
/// `base` numbers were drawn in the counted seconds before this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondCounts {
    pub base: u64,
    pub counts: Vec<u32>,
}

impl SecondCounts {
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| u64::from(*c)).sum()
    }

    pub fn count(&self, shard: u8) -> u32 {
        self.counts.get(usize::from(shard)).copied().unwrap_or(0)
    }

    /// Numbers of this second that come before counter `shard`.
    pub fn before_shard(&self, shard: u8) -> u64 {
        self.counts
            .iter()
            .take(usize::from(shard))
            .map(|c| u64::from(*c))
            .sum()
    }

    /// The place of the number at `offset` (0-based) within this second.
    pub fn place_at(&self, second: i64, mut offset: u64) -> Option<QueuePlace> {
        for shard in 0..QUEUE_SHARDS {
            let count = u64::from(self.count(shard));
            if offset < count {
                return Some(QueuePlace {
                    second,
                    shard,
                    number: offset as u32 + 1,
                });
            }
            offset -= count;
        }
        None
    }
}

/// The counted seconds of one minute of a queue, written by the tick as it counts them and
/// never changed after: any container may keep what it read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueuePageRecord {
    pub seconds: BTreeMap<i64, SecondCounts>,
}

/// Seconds a page of counts covers: about one tick, so that a page is complete (and never
/// changes again) soon after it is first written.
pub const PAGE_SECONDS: i64 = 10;

/// The page a second's counts are kept in.
pub fn page_of(second: i64) -> i64 {
    second.div_euclid(PAGE_SECONDS)
}

/// The first and the last second of a page.
pub fn page_seconds(page: i64) -> (i64, i64) {
    (page * PAGE_SECONDS, page * PAGE_SECONDS + PAGE_SECONDS - 1)
}

/// How many tokens one tick admitted; the sales counted against it give how many are active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionBatch {
    pub admitted_at: i64,
    pub admitted: u32,
}

/// What the tick saw of one date's seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateStanding {
    pub date: ConcertDate,
    /// Seats not sold.
    pub unsold: u32,
    /// Seats neither sold nor under a live hold.
    pub free: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatCounts {
    pub free: u32,
    pub held: u32,
    pub sold: u32,
}

/// The pre-queue's draw: its `size` numbers (drawn before the sale opened) in the order of a
/// keyed permutation of `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotteryRecord {
    pub seed: u64,
    pub size: u64,
    pub drawn_at: i64,
}

/// The tick's claim on one concert's queue, the `VERSION` item every admission transaction
/// checks. A tick takes it before it writes anything (`version` one up, for its `slot`, the
/// ADMIT_TICK_SECONDS interval it ticks for), so two ticks never both admit, and a tick that died
/// is taken over by the next. It keeps what must outlive a tick that dies half-way: the
/// pre-queue's draw, made once and kept before anyone is admitted by it, and the admissions
/// committed under claims whose state was never written (`pending`, by admission second), which
/// the next state folds in. `committed` says the claim's tick wrote its state: a tick that read
/// an older state must not take over from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickClaimRecord {
    pub version: u64,
    pub slot: i64,
    pub lottery: Option<LotteryRecord>,
    pub pending: BTreeMap<i64, u32>,
    pub committed: bool,
}

/// A concert's waiting room as the last admission tick left it. Only the tick writes it (one
/// write a tick, conditional on `version`), and every container may cache it until the next
/// tick: everything a join, a poll, a gate or a dates listing needs from the queue is here, so
/// the crowd reads it once per container per tick, never once per request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueStateRecord {
    pub version: u64,
    pub tick_at: i64,
    /// When the next tick is due: until then a cached copy is current.
    pub next_tick_at: i64,
    /// The first second counted; joins before it (before the queue opened) are not queued.
    pub counted_from: i64,
    /// The last second whose numbers are counted into pages.
    pub counted_through: i64,
    /// Numbers drawn in the counted seconds: the queue as the last tick knew it.
    pub known: u64,
    /// Numbers the tick has passed (admitted, dropped, or nobody's), lottery first.
    pub processed: u64,
    /// Numbers drawn before the sale opened: the lottery's size.
    pub pre_queue: u64,
    /// The last place passed in first-come order (after the lottery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<QueuePlace>,
    /// The pages that hold counted numbers the walk has yet to pass (the pre-queue's until its
    /// draw is walked), in order: the walk visits these, never the empty pages of a quiet
    /// queue's hours in between.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lottery: Option<LotteryRecord>,
    pub admitted_total: u64,
    pub dropped_total: u64,
    /// Admissions still inside ACTIVE_SECONDS, with what is left of them after payments.
    pub batches: Vec<AdmissionBatch>,
    pub active: u32,
    /// Admitted a second, over the last few ticks: what estimated waits follow.
    pub admission_rate: f64,
    /// The dates on sale, as the tick saw their seats.
    pub dates: Vec<DateStanding>,
    pub seats: SeatCounts,
    pub sold_out: bool,
    pub paused: bool,
    pub admit_per_tick: u32,
    pub max_active: u32,
}

impl QueueStateRecord {
    /// Numbers counted but not yet passed: the waiting fans as the last tick knew them (a number
    /// nobody uses counts until it is passed, so this errs on the side of more).
    pub fn waiting(&self) -> u64 {
        self.known.saturating_sub(self.processed)
    }

    /// Pre-queue numbers still to pass, once drawn.
    pub fn lottery_left(&self) -> u64 {
        self.lottery
            .map_or(0, |l| l.size.saturating_sub(self.processed))
    }
}

/// Operators' live settings for one concert's admission, read by every tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueControlRecord {
    #[serde(default)]
    pub paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admit_per_tick: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_active: Option<u32>,
}

/// An operator's change to the control item: only the settings given change, so that two
/// operators turning different knobs at once both take effect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueControlChange {
    pub paused: Option<bool>,
    pub admit_per_tick: Option<u32>,
    pub max_active: Option<u32>,
}

impl QueueControlChange {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
