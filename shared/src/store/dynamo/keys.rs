//! The single table's key scheme. Keys are built only here.
//!
//! | item | pk | sk |
//! | --- | --- | --- |
//! | concert (catalog, with dates and prices) | `CONCERT#{c}` | `CONCERT` |
//! | a concert's listing (what `GET /concerts` shows), by its last date | `CONCERTS` | `LISTED#{last date}#{c}` |
//! | a block of a date's seats (at most 100 of one section): holds and sales | `SEATS#{c}#{date}#{first seat}` | `SEATS` |
//! | a shard of a date's ledger: seats held and sold, per date and section, for the tick | `LEDGER#{c}#{date}#{shard}` | `LEDGER` |
//! | reservation, payment, balance, entry, idempotency record | `USER#{u}` | `RESERVATION#{v7 id}`, `PAYMENT#{id}`, `BALANCE`, `TX#{version}`, `IDEMPOTENCY#{key}` |
//! | a fan's queue ticket | `USER#{u}` | `QUEUE#{c}` |
//! | a fan's top-up, and the count of top-ups started on a day | `USER#{u}` | `TOPUP#{id}`, `TOPUPS#{epoch day}` |
//! | a provider event that credited a top-up | `PAYMENT_EVENT#{event id}` | `EVENT` |
//! | the top-up a provider's payment belongs to | `PAYMENT_INTENT#{payment id}` | `LINK` |
//! | a confirmed payment that matched no top-up, for operators | `PAYMENTS#UNMATCHED` | `EVENT#{event id}` |
//! | a fan's tally for the ticket limit: live holds and seats bought | `USER#{u}` | `TALLY#{c}` |
//! | a fan's rate limit bucket (`store::rate`) | `USER#{u}` | `RATE` |
//! | queue counter, one per shard and minute | `QUEUE#{c}#COUNT#{shard}` | `M#{minute}` |
//! | queue entry, one per number drawn | `QUEUE#{c}#ENTRY#{shard}` | `{second}#{number}` |
//! | a shard of a concert's slot ledger: active tokens by the second their slot ends | `SLOTS#{c}#{shard}` | `SLOTS` |
//! | queue state, the tick's claim, pages of counts (ten seconds each), operator control | `QUEUE#{c}` | `STATE`, `VERSION`, `PAGE#{page}`, `CONTROL` |
//! | the queues the tick visits | `QUEUES` | `LIVE` |
//!
//! Why so many partitions: DynamoDB serves one partition key at most 3,000 read and 1,000 write
//! units a second. A join writes a counter and an entry of one of 64 shards, so a crowd of 10,000
//! joins a second puts about 160 writes a second on each; a fan's ticket lives under the fan;
//! the queue state is written once a tick and read once a tick per container. The listing
//! partition is read once a second per container, but only the small listings of concerts not
//! yet over (a Query from today's date on); a concert's record is read by id alone.

use serde::Serialize;

use crate::domain::{
    ConcertDate, ConcertId, IdempotencyKey, PaymentId, QueuePlace, ReservationId, SeatNumber,
    TopUpId, UserId,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct Key {
    pub pk: String,
    pub sk: String,
}

fn key(pk: String, sk: impl Into<String>) -> Key {
    Key { pk, sk: sk.into() }
}

/// Every concert's listing shares one partition so that listing them is one Query; sorted by
/// last date, so that the Query starts at today's and never reads a concert that is over.
pub(super) const CONCERTS_PK: &str = "CONCERTS";
pub(super) const LISTED_PREFIX: &str = "LISTED#";
/// The sort key of every concert record, each in its own partition.
pub(super) const CONCERT_SK: &str = "CONCERT";
pub(super) const ENTRY_PREFIX: &str = "TX#";
pub(super) const RESERVATION_PREFIX: &str = "RESERVATION#";
pub(super) const SEATS_PREFIX: &str = "SEATS#";
pub(super) const LEDGER_PREFIX: &str = "LEDGER#";

pub(super) fn top_up(user: &UserId, top_up: TopUpId) -> Key {
    key(user_pk(user), format!("TOPUP#{top_up}"))
}

/// The fan's rate limit bucket: in the fan's own partition, shared with nobody.
pub(super) fn rate(user: &UserId) -> Key {
    key(user_pk(user), "RATE")
}

pub(super) fn top_up_day(user: &UserId, day: i64) -> Key {
    key(user_pk(user), format!("TOPUPS#{day}"))
}

/// Each event its own partition: deliveries of different events never contend.
pub(super) fn payment_event(event_id: &str) -> Key {
    key(format!("PAYMENT_EVENT#{event_id}"), "EVENT")
}

/// Each payment its own partition, like its events.
pub(super) fn payment_link(payment_intent: &str) -> Key {
    key(format!("PAYMENT_INTENT#{payment_intent}"), "LINK")
}

/// Rare (a payment no top-up asked for), so one partition an operator queries whole.
pub(super) const UNMATCHED_PAYMENTS_PK: &str = "PAYMENTS#UNMATCHED";

pub(super) fn unmatched_payment(event_id: &str) -> Key {
    key(UNMATCHED_PAYMENTS_PK.into(), format!("EVENT#{event_id}"))
}

/// Each concert its own partition: read by id, by nobody's listing.
pub(super) fn concert(concert: &ConcertId) -> Key {
    key(format!("CONCERT#{concert}"), CONCERT_SK)
}

/// A date as the listing's sort keys hold it: `YYYY-MM-DD`, so string order is date order.
pub(super) fn listed_from(date: ConcertDate) -> String {
    format!("{LISTED_PREFIX}{date}")
}

pub(super) fn concert_listing(concert: &ConcertId, last_date: ConcertDate) -> Key {
    key(
        CONCERTS_PK.into(),
        format!("{}#{concert}", listed_from(last_date)),
    )
}

/// Each block of seats its own partition: a date's holds spread over as many keys as it has
/// blocks, and a listing reads only the blocks it shows.
pub(super) fn seat_block(concert: &ConcertId, date: ConcertDate, block: SeatNumber) -> Key {
    key(
        format!("{SEATS_PREFIX}{concert}#{date}#{}", block.get()),
        "SEATS",
    )
}

/// Each shard its own partition, for the same reason.
pub(super) fn seat_ledger(concert: &ConcertId, date: ConcertDate, shard: u32) -> Key {
    key(format!("{LEDGER_PREFIX}{concert}#{date}#{shard}"), "LEDGER")
}

/// Everything a user owns lives under their partition: another user's id is simply not found.
pub(super) fn user_pk(user: &UserId) -> String {
    format!("USER#{user}")
}

pub(super) fn reservation_sk(id: ReservationId) -> String {
    format!("{RESERVATION_PREFIX}{id}")
}

/// Under the fan, beside the ticket: a hold reads and writes it without touching anyone else's.
pub(super) fn tally(user: &UserId, concert: &ConcertId) -> Key {
    key(user_pk(user), format!("TALLY#{concert}"))
}

pub(super) fn reservation(user: &UserId, id: ReservationId) -> Key {
    key(user_pk(user), reservation_sk(id))
}

pub(super) fn payment(user: &UserId, id: PaymentId) -> Key {
    key(user_pk(user), format!("PAYMENT#{id}"))
}

pub(super) fn balance(user: &UserId) -> Key {
    key(user_pk(user), "BALANCE")
}

/// Entries sort by balance version, zero-padded so that string order is number order.
pub(super) fn balance_entry_sk(version: u64) -> String {
    format!("{ENTRY_PREFIX}{version:020}")
}

pub(super) fn balance_entry(user: &UserId, version: u64) -> Key {
    key(user_pk(user), balance_entry_sk(version))
}

pub(super) fn idempotency(user: &UserId, idempotency_key: &IdempotencyKey) -> Key {
    key(user_pk(user), format!("IDEMPOTENCY#{idempotency_key}"))
}

/// A fan's ticket for a concert's queue, found from the caller and the token's concert alone.
pub(super) fn ticket(user: &UserId, concert: &ConcertId) -> Key {
    key(user_pk(user), format!("QUEUE#{concert}"))
}

/// The minute a counter item covers.
pub(super) fn counter_minute(second: i64) -> i64 {
    second.div_euclid(60)
}

/// One counter per shard and minute, with one attribute per second of the minute.
pub(super) fn counter(concert: &ConcertId, shard: u8, minute: i64) -> Key {
    key(
        format!("QUEUE#{concert}#COUNT#{shard:02}"),
        format!("M#{minute:010}"),
    )
}

/// The attribute of a counter, or of a page, that holds second `second`.
pub(super) fn second_attribute(second: i64) -> String {
    format!("s{:02}", second.rem_euclid(60))
}

pub(super) fn entries_pk(concert: &ConcertId, shard: u8) -> String {
    format!("QUEUE#{concert}#ENTRY#{shard:02}")
}

/// Entries sort by second, then number.
pub(super) fn entry_sk(second: i64, number: u32) -> String {
    format!("{second:010}#{number:06}")
}

pub(super) fn entry(concert: &ConcertId, place: QueuePlace) -> Key {
    key(
        entries_pk(concert, place.shard),
        entry_sk(place.second, place.number),
    )
}

pub(super) fn queue_pk(concert: &ConcertId) -> String {
    format!("QUEUE#{concert}")
}

pub(super) fn queue_state(concert: &ConcertId) -> Key {
    key(queue_pk(concert), "STATE")
}

pub(super) fn queue_page(concert: &ConcertId, page: i64) -> Key {
    key(queue_pk(concert), format!("PAGE#{page:011}"))
}

/// The tick's claim (`TickClaimRecord`): what every admission transaction checks, kept apart
/// from the state (which grows with the concert's dates) so that checking it costs one unit.
pub(super) fn queue_version(concert: &ConcertId) -> Key {
    key(queue_pk(concert), "VERSION")
}

/// The claim's attribute that counts the admissions of one second not yet in a state.
pub(super) fn pending_attribute(admitted_at: i64) -> String {
    format!("a{admitted_at}")
}

/// A counter item's seal: the last second a tick counted; later draws in it are refused.
pub(super) const SEALED_ATTRIBUTE: &str = "sealed";

/// One of a concert's `SLOT_SHARDS` slot shards: each its own partition, so that renewals
/// spread over them never meet on one key.
pub(super) fn slot_shard(concert: &ConcertId, shard: u32) -> Key {
    key(format!("SLOTS#{concert}#{shard}"), "SLOTS")
}

pub(super) fn queue_control(concert: &ConcertId) -> Key {
    key(queue_pk(concert), "CONTROL")
}

pub(super) fn live_queues() -> Key {
    key("QUEUES".into(), "LIVE")
}

/// The registry's attributes for a concert: its latest and first registration.
pub(super) fn live_attributes(concert: &ConcertId) -> (String, String) {
    (concert.to_string(), format!("{concert}#first"))
}
