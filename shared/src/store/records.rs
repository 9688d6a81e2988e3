//! The shapes the service persists. Both stores keep exactly these; the DynamoDB store adds only
//! its keys. Times are epoch seconds so that conditions can compare them with `now`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{
    ConcertDate, ConcertId, IdempotencyKey, PaymentId, QueueToken, ReservationId, SeatNumber,
    UserId, Won,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConcertRecord {
    pub concert_id: ConcertId,
    pub title: String,
    pub first_date: ConcertDate,
    pub last_date: ConcertDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DateRecord {
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    /// Seats not yet sold; a payment takes one off in the same transaction that sells the seat.
    pub remaining_seats: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeatRecord {
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_number: SeatNumber,
    pub price: Won,
    pub sold: bool,
}

/// A live claim on a seat. It lives beside the seat, so one query lists a date's seats with
/// their holds; `expires_at` is both the hold's end and the TTL that deletes it later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldRecord {
    pub seat_number: SeatNumber,
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StoredReservationStatus {
    /// Held until `held_until`; after that it reads as expired.
    Held,
    Confirmed,
    Released,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReservationRecord {
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_number: SeatNumber,
    pub price: Won,
    pub held_until: i64,
    pub status: StoredReservationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
}

impl ReservationRecord {
    /// The hold this reservation placed on its seat.
    pub fn hold(&self) -> HoldRecord {
        HoldRecord {
            seat_number: self.seat_number,
            reservation_id: self.reservation_id,
            user_id: self.user_id.clone(),
            expires_at: self.held_until,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_number: SeatNumber,
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

/// A concert's queue counters: `issued` numbers handed out, `cursor` the last number the
/// admission tick has passed (admitted, dropped or skipped). Position is `seq - cursor`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueStateRecord {
    pub issued: u64,
    pub cursor: u64,
}

/// Tokens the admission tick admitted and believes active, with their end. Written only by the
/// tick, in the same transaction that moves the cursor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActiveSetRecord {
    pub active: BTreeMap<String, i64>,
}

/// The queue in order: number `seq` belongs to `token`, or to nobody when a join gave it up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntryRecord {
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<QueueToken>,
    pub joined_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenStatus {
    Waiting,
    Active,
    /// Spent by a payment.
    Used,
    /// Dropped by the admission tick after the holder stopped polling.
    Dropped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub token: QueueToken,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub seq: u64,
    pub status: TokenStatus,
    pub last_seen_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_until: Option<i64>,
    pub expires_at: i64,
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
