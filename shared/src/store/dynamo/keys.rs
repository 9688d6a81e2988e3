//! The single table's key scheme. Keys are built only here.

use serde::Serialize;

use crate::domain::{
    ConcertDate, ConcertId, IdempotencyKey, PaymentId, QueueToken, ReservationId, SeatNumber,
    UserId,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct Key {
    pub pk: String,
    pub sk: String,
}

fn key(pk: String, sk: impl Into<String>) -> Key {
    Key { pk, sk: sk.into() }
}

/// All concerts share one partition so that listing them is one query.
pub(super) const CONCERTS_PK: &str = "CONCERTS";
pub(super) const DATE_PREFIX: &str = "DATE#";
pub(super) const SEAT_PREFIX: &str = "SEAT#";
pub(super) const HOLD_PREFIX: &str = "HOLD#";
pub(super) const ENTRY_PREFIX: &str = "TX#";
pub(super) const QUEUE_ENTRY_PREFIX: &str = "SEQ#";

pub(super) fn concert(concert: &ConcertId) -> Key {
    key(CONCERTS_PK.into(), format!("CONCERT#{concert}"))
}

pub(super) fn dates_pk(concert: &ConcertId) -> String {
    format!("CONCERT#{concert}")
}

pub(super) fn date(concert: &ConcertId, date: ConcertDate) -> Key {
    key(dates_pk(concert), format!("{DATE_PREFIX}{date}"))
}

/// Seats and their holds share a partition: one query lists a date's seats with live holds.
pub(super) fn seats_pk(concert: &ConcertId, date: ConcertDate) -> String {
    format!("SEATS#{concert}#{date}")
}

pub(super) fn seat(concert: &ConcertId, date: ConcertDate, seat: SeatNumber) -> Key {
    key(
        seats_pk(concert, date),
        format!("{SEAT_PREFIX}{:02}", seat.get()),
    )
}

pub(super) fn hold(concert: &ConcertId, date: ConcertDate, seat: SeatNumber) -> Key {
    key(
        seats_pk(concert, date),
        format!("{HOLD_PREFIX}{:02}", seat.get()),
    )
}

/// Everything a user owns lives under their partition: another user's id is simply not found.
pub(super) fn user_pk(user: &UserId) -> String {
    format!("USER#{user}")
}

pub(super) fn reservation(user: &UserId, id: ReservationId) -> Key {
    key(user_pk(user), format!("RESERVATION#{id}"))
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

pub(super) fn queue_pointer(user: &UserId, concert: &ConcertId) -> Key {
    key(user_pk(user), format!("QUEUE#{concert}"))
}

pub(super) fn queue_pk(concert: &ConcertId) -> String {
    format!("QUEUE#{concert}")
}

pub(super) fn queue_state(concert: &ConcertId) -> Key {
    key(queue_pk(concert), "STATE")
}

pub(super) fn active_set(concert: &ConcertId) -> Key {
    key(queue_pk(concert), "ACTIVE")
}

pub(super) fn queue_entry_sk(seq: u64) -> String {
    format!("{QUEUE_ENTRY_PREFIX}{seq:020}")
}

pub(super) fn queue_entry(concert: &ConcertId, seq: u64) -> Key {
    key(queue_pk(concert), queue_entry_sk(seq))
}

/// Tokens get their own partitions: polls and heartbeats never crowd the queue's hot item.
pub(super) fn token(token: &QueueToken) -> Key {
    key(format!("TOKEN#{token}"), "TOKEN")
}
