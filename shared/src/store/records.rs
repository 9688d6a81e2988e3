//! The shapes the service persists. Both stores keep exactly these; the DynamoDB store adds only
//! its keys (and spreads the two per-seat maps of a date over top-level attributes, so that a
//! condition can name one seat). Times are epoch seconds, so that conditions compare them with
//! `now`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{
    ConcertDate, ConcertId, IdempotencyKey, PaymentId, QueuePlace, QueueToken, ReservationId,
    SeatNumber, TicketLimit, TopUpId, UserId, Won, QUEUE_SHARDS,
};

// ------------------------------------------------------------------------------- catalog

/// A concert, its dates and its seats: written once, by the catalog loader or an operator, and
/// never changed after, but for `sold_out` (set once by the admission tick). So every container
/// may cache it for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConcertRecord {
    pub concert_id: ConcertId,
    pub title: String,
    pub first_date: ConcertDate,
    pub last_date: ConcertDate,
    pub dates: Vec<ConcertDate>,
    /// Every date's seats, in seat order: numbered from 1 to the capacity with no gaps, each
    /// section a range at one price (a `seatPrices` tier is a section without a name).
    pub sections: Vec<SectionRecord>,
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

/// `GET /concerts` lists at most this many concerts, those whose last date comes soonest: one
/// Query of at most two 1 MB pages (a listing item is at most 1,079 bytes, `dynamo::maxima`),
/// and an answer of about as much, well under the handler's 2 MB budget.
pub const MAX_LISTED_CONCERTS: usize = 1_000;

/// What `GET /concerts` shows of a concert, kept apart from its record (`ConcertRecord`, up to
/// tens of KB with its dates and sections) so that every container's listing reads small items,
/// and only those of concerts not yet over. Written with its record, in the same transaction,
/// and changed only with it (`sold_out`), so the two never disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcertListingRecord {
    pub concert_id: ConcertId,
    pub title: String,
    pub first_date: ConcertDate,
    pub last_date: ConcertDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_opens_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_opens_at: Option<i64>,
    #[serde(default)]
    pub sold_out: bool,
    #[serde(default)]
    pub max_tickets_per_fan: TicketLimit,
}

impl ConcertListingRecord {
    pub fn of(concert: &ConcertRecord) -> Self {
        ConcertListingRecord {
            concert_id: concert.concert_id.clone(),
            title: concert.title.clone(),
            first_date: concert.first_date,
            last_date: concert.last_date,
            queue_opens_at: concert.queue_opens_at,
            sale_opens_at: concert.sale_opens_at,
            sold_out: concert.sold_out,
            max_tickets_per_fan: concert.max_tickets_per_fan,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionRecord {
    /// `None` for a `seatPrices` tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub from_seat: SeatNumber,
    pub to_seat: SeatNumber,
    pub price: Won,
}

impl SectionRecord {
    pub fn seat_count(&self) -> u32 {
        self.to_seat.get() - self.from_seat.get() + 1
    }

    pub fn seats(&self) -> impl Iterator<Item = SeatNumber> {
        SeatNumber::range(self.from_seat, self.to_seat)
    }

    /// The section's seat blocks, each by its first seat.
    pub fn blocks(&self) -> impl Iterator<Item = SeatNumber> + '_ {
        self.seats().step_by(BLOCK_SEATS as usize)
    }
}

/// Where a date's seats are stored, and why so: a date of a stadium has up to 100,000 seats,
/// and DynamoDB bills a write by the KB of the whole item and serves one key at most 1,000
/// write units a second. So a date's holds and sales live in blocks of at most `BLOCK_SEATS`
/// seats of one section (a few KB at most: a hold or a sale writes one block, a listing of a
/// section reads only its blocks), and what the admission tick needs (seats sold and held, per
/// date and per section) is counted, in the same transactions, in
/// a date's ledger of at most `LEDGER_SHARDS` items: the tick reads those, never the blocks,
/// so its cost per date stops growing with the seats past `LEDGER_SHARDS` blocks.
///
/// A seat counts in the shard of its block, consecutive blocks in consecutive shards
/// ([`ledger_shard`]): where a crowd buys, it buys in neighbouring blocks (a section's
/// lowest runs, the sections best available spreads over), so a shard takes the writes of
/// one block of the crowd's at a time, not those of a group of sections. A block takes at
/// most its 100 seats' holds and sales, so no shard is hotter than the hottest block much
/// beyond it. (Counted by section, 16 shards of 8 sections each, the stadium on-sale wrote
/// 753 times a second, over 3,000 write units, to one shard.)
///
/// A ledger shard is over 1 KB while its blocks sell, written by every hold, release and
/// payment (twice its KB in units, in a transaction), and stays so: it counts live holds by the
/// second they end (`h{second}`, about 13 bytes each), the only way the tick knows exactly how
/// many are live at its `now` (`learn_seats`); holds last five minutes, so a shard whose
/// blocks are held most seconds carries a few hundred such counts until the tick prunes
/// those past. Coarser buckets would leave the bucket the tick's `now` falls in unknown;
/// more shards spread the writes but not the seconds. What it costs per 1,000 seats sold and
/// the largest shard written at the stadium on-sale are in docs/simulator.md
/// (`onsale` reports both); what it costs most is throughput: a 2 KB shard takes 250
/// transactional writes a second to its 1,000-unit limit, not 500, and a conflict on it is
/// resent at that size.
pub const BLOCK_SEATS: u32 = 100;
/// A date's ledger has at most this many shards (fewer for a date of fewer blocks). The tick
/// reads them all for every date on sale, one BatchGetItem per 100: at the catalog's maxima
/// (`MAX_DATES` dates of 100,000 seats) that is 9,600 small items a tick.
pub const LEDGER_SHARDS: u32 = 64;
/// A concert has at most this many sections: each has a few counts in its ledger shard, and a
/// free-seat count a date in the queue state.
pub const MAX_SECTIONS: usize = 200;
/// A concert has at most this many dates. The queue state (one item, written by every tick and
/// read by every container once a tick) keeps a standing per date, each with a count per
/// section, so it grows with dates times sections (about 1 KB a date of 200 sections): at these
/// maxima it measures about 180 KB (`dynamo::maxima`, every count at its widest), under
/// half of DynamoDB's 400 KB item limit; 200 dates would not be.
pub const MAX_DATES: usize = 150;
/// A section has at most as many seats as a date: its listing is paged (`SEAT_PAGE_LIMIT` a
/// page), so its size is bounded only by the date's.
pub const MAX_SEATS_PER_SECTION: u32 = crate::domain::MAX_SEATS_PER_DATE;

impl ConcertRecord {
    /// The section a seat is in, with its index, if the seat exists.
    pub fn section_of(&self, seat: SeatNumber) -> Option<(u32, &SectionRecord)> {
        let after = self.sections.partition_point(|s| s.from_seat <= seat);
        let index = after.checked_sub(1)?;
        let section = &self.sections[index];
        (seat <= section.to_seat).then_some((index as u32, section))
    }

    /// The section called `name`, with its index.
    pub fn section_named(&self, name: &str) -> Option<(u32, &SectionRecord)> {
        self.sections
            .iter()
            .enumerate()
            .find(|(_, s)| s.name.as_deref() == Some(name))
            .map(|(i, s)| (i as u32, s))
    }

    /// The price of a seat that exists.
    pub fn price(&self, seat: SeatNumber) -> Option<Won> {
        self.section_of(seat).map(|(_, s)| s.price)
    }

    /// Every seat that exists on each date, in order.
    pub fn seats(&self) -> impl Iterator<Item = (SeatNumber, Won)> + '_ {
        self.sections
            .iter()
            .flat_map(|s| s.seats().map(move |seat| (seat, s.price)))
    }

    pub fn seat_count(&self) -> u32 {
        self.sections.last().map_or(0, |s| s.to_seat.get())
    }

    /// The first seat of the block a seat of `section` is stored in.
    pub fn block_of(section: &SectionRecord, seat: SeatNumber) -> SeatNumber {
        let offset = (seat.get() - section.from_seat.get()) / BLOCK_SEATS * BLOCK_SEATS;
        SeatNumber::range(section.from_seat, section.to_seat)
            .nth(offset as usize)
            .unwrap_or(section.from_seat)
    }

    /// Every block of a date, by first seat.
    pub fn blocks(&self) -> Vec<SeatNumber> {
        self.sections
            .iter()
            .flat_map(SectionRecord::blocks)
            .collect()
    }

    /// How many ledger shards each date has: one a block, up to `LEDGER_SHARDS` (every block
    /// starts at or below the date's last seat, see [`ledger_shard`]).
    pub fn ledger_shards(&self) -> u32 {
        (self.seat_count() / BLOCK_SEATS + 1).min(LEDGER_SHARDS)
    }

    pub fn has_date(&self, date: ConcertDate) -> bool {
        self.dates.contains(&date)
    }
}

/// Every ledger shard of these dates, `shards` a date.
pub fn every_ledger_shard(dates: &[ConcertDate], shards: u32) -> Vec<(ConcertDate, u32)> {
    dates
        .iter()
        .flat_map(|d| (0..shards).map(move |shard| (*d, shard)))
        .collect()
}

/// The ledger shard that counts the seats of the block starting at `block`: a section's
/// blocks are `BLOCK_SEATS` apart, so consecutive blocks count in consecutive shards.
pub fn ledger_shard(block: SeatNumber) -> u32 {
    (block.get() / BLOCK_SEATS) % LEDGER_SHARDS
}

// ------------------------------------------------------------------------------- seats

/// What is taken among some seats of one date: the live-or-lapsed hold on each seat (its end),
/// and each sold seat with the admission batch of the token that bought it. Stored one item per
/// block of seats (see [`BLOCK_SEATS`]); a read of several blocks gives them merged.
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

    pub fn is_free(&self, seat: SeatNumber, now: i64) -> bool {
        !self.is_sold(seat) && !self.is_held(seat, now)
    }

    /// The seats of `other`, which are none of these.
    pub fn merge(&mut self, other: DateSeatsRecord) {
        self.holds.extend(other.holds);
        self.sold.extend(other.sold);
    }
}

/// A section's holds are counted by the minute they end in: `window_end(until)` is the end of
/// that minute, so that a shard keeps at most a few counts per section however many holds
/// there are.
pub const SECTION_HOLD_WINDOW: i64 = 60;

pub fn window_end(until: i64) -> i64 {
    until.div_euclid(SECTION_HOLD_WINDOW) * SECTION_HOLD_WINDOW + SECTION_HOLD_WINDOW
}

/// One shard of a date's ledger: the counts the admission tick learns a date's seats from,
/// kept in the same transactions as the blocks (see [`BLOCK_SEATS`]). Holds are counted by
/// the second they end, so that the tick knows exactly how many are live at its `now`; per
/// section by the minute they end (see [`window_end`]), the minute of the tick's `now` shared
/// out by the date's exact count (admission's `LiveCounts`). Counts whose holds are over are
/// dropped by the tick; an amount a late release adds to one again is never read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeatLedgerRecord {
    pub sold: i64,
    /// Seats sold, per section.
    pub sold_by_section: BTreeMap<u32, i64>,
    /// Seats held (neither released nor sold), by the second their hold ends.
    pub holds: BTreeMap<i64, i64>,
    /// The same per section, by the end of the minute the hold ends in.
    pub section_holds: BTreeMap<(u32, i64), i64>,
}

/// What a hold, a release or a sale adds to one ledger shard (amounts may be negative).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerChange {
    pub shard: u32,
    pub sold: i64,
    pub sold_by_section: BTreeMap<u32, i64>,
    pub holds: BTreeMap<i64, i64>,
    pub section_holds: BTreeMap<(u32, i64), i64>,
}

/// What ends a hold in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldEnd {
    Released,
    /// Sold to a token of this admission batch.
    Sold(i64),
}

impl LedgerChange {
    /// The changes, one per shard the order's blocks count in: a hold adds its seats as held;
    /// a release takes them off; a sale takes them off and counts them sold.
    pub fn of(reservation: &ReservationRecord, end: Option<HoldEnd>) -> Vec<LedgerChange> {
        let until = reservation.held_until;
        let sign = if end.is_some() { -1 } else { 1 };
        let mut shards: BTreeMap<u32, LedgerChange> = BTreeMap::new();
        for seat in &reservation.seats {
            let shard = ledger_shard(seat.block);
            let change = shards.entry(shard).or_insert_with(|| LedgerChange {
                shard,
                ..LedgerChange::default()
            });
            *change.holds.entry(until).or_default() += sign;
            *change
                .section_holds
                .entry((seat.section, window_end(until)))
                .or_default() += sign;
            if let Some(HoldEnd::Sold(_)) = end {
                change.sold += 1;
                *change.sold_by_section.entry(seat.section).or_default() += 1;
            }
        }
        shards.into_values().collect()
    }
}

impl SeatLedgerRecord {
    pub fn apply(&mut self, change: &LedgerChange) {
        fn add<K: Ord + Copy>(to: &mut BTreeMap<K, i64>, from: &BTreeMap<K, i64>) {
            for (k, n) in from {
                *to.entry(*k).or_default() += n;
            }
        }
        self.sold += change.sold;
        add(&mut self.sold_by_section, &change.sold_by_section);
        add(&mut self.holds, &change.holds);
        add(&mut self.section_holds, &change.section_holds);
    }

    /// The counts that no longer change what a tick reads at `now`: holds over, and counts
    /// back to zero whose
    /// end no new hold can have any more (a hold made from `now` on ends at least
    /// `hold_seconds` later, clocks a minute apart included): every hold counted there was paid
    /// or released.
    pub fn stale(&self, now: i64, hold_seconds: i64) -> LedgerStale {
        let settled = now + hold_seconds - 60;
        let over = |end: i64, n: i64| end <= now || (n == 0 && end < settled);
        LedgerStale {
            holds: self
                .holds
                .iter()
                .filter(|(until, n)| over(**until, **n))
                .map(|(until, _)| *until)
                .collect(),
            section_holds: self
                .section_holds
                .iter()
                // A minute's count takes holds that end before its end.
                .filter(|((_, end), n)| over(*end, **n))
                .map(|(key, _)| *key)
                .collect(),
        }
    }

    pub fn forget(&mut self, stale: &LedgerStale) {
        for until in &stale.holds {
            self.holds.remove(until);
        }
        for key in &stale.section_holds {
            self.section_holds.remove(key);
        }
    }
}

/// Counts a tick drops from a ledger shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerStale {
    pub holds: Vec<i64>,
    pub section_holds: Vec<(u32, i64)>,
}

impl LedgerStale {
    pub fn len(&self) -> usize {
        self.holds.len() + self.section_holds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

/// One seat of an order, at the price it was held at, with where it is stored: its section
/// (by index; the name for the fan) and its block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservedSeat {
    pub seat_number: SeatNumber,
    pub price: Won,
    pub section: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    pub block: SeatNumber,
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
    /// When DynamoDB's TTL may delete it (garbage collection only): `RESERVATION_KEPT_SECONDS`
    /// after its hold ends, or after its release. A paid one has none: it is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// A released, lapsed or expired reservation is listed this long, then deleted by TTL.
pub const RESERVATION_KEPT_SECONDS: i64 = 30 * 86_400;

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
    /// A paid top-up, credited by the payment provider's confirmation.
    TopUp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalanceEntryRecord {
    /// The balance version this entry created; entries sort by it, newest last.
    pub version: u64,
    pub kind: EntryKind,
    pub amount: Won,
    pub balance_after: Won,
    pub at: i64,
    /// A `PAYMENT`'s receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    /// A `TOP_UP`'s top-up (older entries have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_up_id: Option<TopUpId>,
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
    /// Holds placed under this token (counted by each hold's transaction): at most the
    /// concert's holds per session.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub holds_placed: u32,
    pub expires_at: i64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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

/// The slot ledger's shards per concert (see `booking::slots`): renewals spread over them by
/// the fan, so no item is shared by the crowd, and few enough meet on one that transactions
/// seldom conflict there.
pub const SLOT_SHARDS: u32 = 256;

/// The slot shard a fan's renewals and payment move counts on.
pub fn slot_shard(user: &UserId) -> u32 {
    // FNV-1a: stable across processes and builds, unlike the standard hasher.
    let hash = user
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    (hash % u64::from(SLOT_SHARDS)) as u32
}

/// One shard of a concert's slot ledger: active tokens counted by the second their slot ends
/// (a ticket's `active_until`). Amounts may be negative in one shard (a token admitted on one
/// shard and renewed on its fan's); the tick sums a second over every shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotShardRecord {
    pub ends: BTreeMap<i64, i64>,
}

impl SlotShardRecord {
    /// Slots of this shard still live at `now`.
    pub fn live(&self, now: i64) -> i64 {
        self.ends.range(now + 1..).map(|(_, n)| n).sum()
    }

    /// Ends past at `now`: no tick reads them again.
    pub fn stale(&self, now: i64) -> Vec<i64> {
        self.ends.range(..=now).map(|(end, _)| *end).collect()
    }
}

/// What one store call moves on one slot shard: `-1` at the old end, `+1` at the new, or `+n`
/// at an admission's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotMove {
    pub shard: u32,
    pub adds: Vec<(i64, i64)>,
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

/// What the tick saw of one date's seats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateStanding {
    pub date: ConcertDate,
    /// Seats not sold.
    pub unsold: u32,
    /// Seats neither sold nor under a live hold.
    pub free: u32,
    /// Per section, in the concert's order, seats neither sold nor held (of the holds ending
    /// in the minute of the tick, in proportion: see [`window_end`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<u32>,
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
    /// Live slots once the tick admitted (see `booking::slots`).
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
    /// Holds one queue session may place (0 in a state written before there was such a limit:
    /// the settings' then).
    #[serde(default)]
    pub max_holds_per_session: u32,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_holds_per_session: Option<u32>,
}

/// An operator's change to the control item: only the settings given change, so that two
/// operators turning different knobs at once both take effect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueControlChange {
    pub paused: Option<bool>,
    pub admit_per_tick: Option<u32>,
    pub max_active: Option<u32>,
    pub max_holds_per_session: Option<u32>,
}

impl QueueControlChange {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(n: i64) -> SeatNumber {
        SeatNumber::parse(n).unwrap()
    }

    /// Seats 99 and 101 of section 0 and seat 3,001 of section 17.
    fn order() -> ReservationRecord {
        let reserved = |n: i64, section: u32, block: i64| ReservedSeat {
            seat_number: seat(n),
            price: Won::new(1_000).unwrap(),
            section,
            section_name: None,
            block: seat(block),
        };
        ReservationRecord {
            reservation_id: ReservationId::new(),
            user_id: UserId::parse("ana").unwrap(),
            concert_id: ConcertId::parse("c").unwrap(),
            date: ConcertDate::parse("2026-12-24").unwrap(),
            seats: vec![
                reserved(99, 0, 1),
                reserved(101, 0, 101),
                reserved(3_001, 17, 3_001),
            ],
            price: Won::new(3_000).unwrap(),
            held_until: 1_796_083_530,
            status: StoredReservationStatus::Held,
            payment_id: None,
            expires_at: None,
        }
    }

    #[test]
    fn a_ledger_counts_holds_and_sales_per_shard() {
        let r = order();
        let mut ledgers: BTreeMap<u32, SeatLedgerRecord> = BTreeMap::new();
        let apply = |ledgers: &mut BTreeMap<u32, SeatLedgerRecord>, changes: Vec<LedgerChange>| {
            for change in changes {
                ledgers.entry(change.shard).or_default().apply(&change);
            }
        };
        apply(&mut ledgers, LedgerChange::of(&r, None));
        // Each seat counts in its block's shard: blocks 1 and 101 of section 0 in shards 0
        // and 1, block 3,001 of section 17 in shard 30.
        assert_eq!(ledgers.keys().copied().collect::<Vec<_>>(), [0, 1, 30]);
        assert_eq!(ledgers[&0].holds[&1_796_083_530], 1);
        assert_eq!(ledgers[&1].section_holds[&(0, 1_796_083_560)], 1);
        assert_eq!(ledgers[&30].section_holds[&(17, 1_796_083_560)], 1);
        apply(
            &mut ledgers,
            LedgerChange::of(&r, Some(HoldEnd::Sold(1_796_083_200))),
        );
        let sold: i64 = ledgers.values().map(|l| l.sold).sum();
        let held: i64 = ledgers.values().flat_map(|l| l.holds.values()).sum();
        assert_eq!((sold, held), (3, 0));
        assert_eq!(ledgers[&30].sold_by_section[&17], 1);
    }

    #[test]
    fn a_tick_forgets_only_what_no_tick_reads_again() {
        let mut ledger = SeatLedgerRecord::default();
        for change in LedgerChange::of(&order(), None) {
            ledger.apply(&change);
        }
        assert!(ledger.stale(1_796_083_529, 300).is_empty(), "still live");
        let stale = ledger.stale(1_796_083_800, 300);
        assert_eq!((stale.holds.len(), stale.section_holds.len()), (1, 2));
        ledger.forget(&stale);
        assert!(ledger.holds.is_empty() && ledger.section_holds.is_empty());
        // A hold ending at :30 counts per section until the end of its minute.
        assert_eq!(window_end(1_796_083_530), 1_796_083_560);
        assert_eq!(window_end(1_796_083_500), 1_796_083_560);
    }
}

// ------------------------------------------------------------------------------- top-ups

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TopUpStatus {
    Pending,
    Succeeded,
    Failed,
}

/// A top-up in provider mode: written PENDING before the payment is created at the provider,
/// SUCCEEDED by the provider's confirmation in the transaction that credits the balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopUpRecord {
    pub top_up_id: TopUpId,
    pub user_id: UserId,
    pub amount: Won,
    pub status: TopUpStatus,
    pub created_at: i64,
}

/// How many top-ups a fan started on one day (UTC): the daily cap's count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpDayRecord {
    pub count: u32,
    pub expires_at: i64,
}

/// A provider event that credited a top-up: kept by its event id, so that a redelivery finds
/// it taken and credits nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentEventRecord {
    pub event_id: String,
    pub top_up_id: TopUpId,
    pub user_id: UserId,
    pub amount: Won,
    pub at: i64,
    pub expires_at: i64,
}

/// Which top-up a provider's payment belongs to, by the payment's id: the webhook's way back
/// when an event's metadata does not name the top-up and its fan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentLinkRecord {
    pub payment_intent: String,
    pub top_up_id: TopUpId,
    pub user_id: UserId,
}

/// A confirmed payment that matched no pending top-up (unknown, another amount, currency or
/// fan): credited nothing, kept for an operator to settle by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnmatchedPaymentRecord {
    pub event_id: String,
    pub payment_intent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_up_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub reason: String,
    pub at: i64,
}
