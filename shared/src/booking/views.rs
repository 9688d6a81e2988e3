//! What callers see: the bodies of `openapi.yaml`, in camelCase.

use serde::{Deserialize, Serialize};

use crate::domain::{
    ConcertDate, ConcertId, PaymentId, QueueToken, ReservationId, SeatNumber, Timestamp, TopUpId,
    Won,
};
use crate::store::{
    ConcertListingRecord, EntryKind, PaymentRecord, ReservationRecord, StoredReservationStatus,
};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcertList {
    pub concerts: Vec<ConcertSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcertSummary {
    pub concert_id: ConcertId,
    pub title: String,
    pub first_date: ConcertDate,
    pub last_date: ConcertDate,
    /// `null`: the queue is open.
    pub queue_opens_at: Option<Timestamp>,
    /// `null`: the sale is open (no pre-queue).
    pub sale_opens_at: Option<Timestamp>,
    pub sold_out: bool,
    pub max_tickets_per_fan: u32,
}

impl ConcertSummary {
    pub fn of(concert: &ConcertListingRecord) -> Self {
        ConcertSummary {
            concert_id: concert.concert_id.clone(),
            title: concert.title.clone(),
            first_date: concert.first_date,
            last_date: concert.last_date,
            queue_opens_at: concert.queue_opens_at.map(Timestamp::from_epoch_seconds),
            sale_opens_at: concert.sale_opens_at.map(Timestamp::from_epoch_seconds),
            sold_out: concert.sold_out,
            max_tickets_per_fan: concert.max_tickets_per_fan.get(),
        }
    }
}

/// A concert's waiting room as its operators see it: the last tick's books and the live knobs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitingRoom {
    pub concert_id: ConcertId,
    pub state: RoomState,
    /// Queue places the tick has not reached yet: fans waiting or pre-queued (a fan who went
    /// idle, or a number a join drew and left unused, counts until the tick reaches it).
    pub waiting: u64,
    pub active: u32,
    pub admitted_total: u64,
    pub dropped_total: u64,
    pub seats: SeatTotals,
    pub admit_per_tick: u32,
    pub max_active: u32,
    /// Holds one queue session may place (seat spinning's bound).
    pub max_holds_per_session: u32,
    pub admit_tick_seconds: u64,
    pub estimated_wait_seconds_for_last: u64,
    pub queue_opens_at: Option<Timestamp>,
    pub sale_opens_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoomState {
    NotOpen,
    PreQueue,
    Open,
    Paused,
    SoldOut,
}

/// The seats of a concert's dates on sale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeatTotals {
    pub free: u32,
    pub held: u32,
    pub sold: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatesOnSale {
    pub concert_id: ConcertId,
    pub dates: Vec<DateAvailability>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DateAvailability {
    pub date: ConcertDate,
    pub remaining_seats: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatChart {
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    /// One page of the seats, in seat order.
    pub seats: Vec<SeatView>,
    /// Pass back as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatView {
    pub seat_number: SeatNumber,
    /// The seat's section; `null` for a hall without sections.
    pub section: Option<String>,
    pub price: Won,
    pub status: SeatStatus,
}

/// A date's sections, with their free seats as of the last admission tick.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionMap {
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub sections: Vec<SectionView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionView {
    /// `null` for a price tier of a hall without sections.
    pub section: Option<String>,
    pub from_seat: SeatNumber,
    pub to_seat: SeatNumber,
    pub price: Won,
    /// Neither sold nor held, as of the last admission tick.
    pub free_seats: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SeatStatus {
    Available,
    Held,
    Sold,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueTicket {
    pub token: QueueToken,
    pub concert_id: ConcertId,
    pub status: QueueStatus,
    /// 1 for the next user to be admitted, 0 once active or sold out; `null` in the pre-queue.
    pub position: Option<u64>,
    /// `None` while admission is paused or every slot is taken (see `standing::wait_known`).
    pub estimated_wait_seconds: Option<u64>,
    /// Active: when the token stops working. Waiting: when it is dropped unless polled again.
    pub expires_at: Timestamp,
    /// When to poll next: short near the front, longer far back, never more than a third of
    /// WAITING_IDLE_SECONDS.
    pub poll_after_seconds: u64,
    /// An operator paused the concert's admission, as of the last tick: a waiting fan's
    /// position stands still until it resumes.
    pub admission_paused: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QueueStatus {
    PreQueue,
    Waiting,
    Active,
    SoldOut,
}

/// An order of seats of one date. Also replayed from idempotency records, so it reads back
/// as it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub reservation_id: ReservationId,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_numbers: Vec<SeatNumber>,
    pub seats: Vec<ReservedSeatView>,
    /// The order's total.
    pub price: Won,
    /// The first of `seat_numbers`, for clients written for one-seat orders.
    pub seat_number: SeatNumber,
    pub status: ReservationStatus,
    pub held_until: Timestamp,
    /// A `CONFIRMED` order's receipt (`GET /payments/{paymentId}`), so a payment whose answer
    /// was lost can be found again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservedSeatView {
    pub seat_number: SeatNumber,
    /// The seat's section; `null` for a hall without sections.
    pub section: Option<String>,
    pub price: Won,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationStatus {
    Held,
    Confirmed,
    Expired,
    Released,
}

impl ReservationStatus {
    /// A held reservation reads as expired from the moment its hold ends.
    pub fn of(record: &ReservationRecord, now: Timestamp) -> Self {
        match record.status {
            StoredReservationStatus::Held if record.held_until <= now.epoch_seconds() => {
                Self::Expired
            }
            StoredReservationStatus::Held => Self::Held,
            StoredReservationStatus::Confirmed => Self::Confirmed,
            StoredReservationStatus::Released => Self::Released,
        }
    }
}

impl Reservation {
    pub(crate) fn of(record: &ReservationRecord, now: Timestamp) -> Self {
        Self {
            reservation_id: record.reservation_id,
            concert_id: record.concert_id.clone(),
            date: record.date,
            seat_numbers: record.seat_numbers(),
            seats: record
                .seats
                .iter()
                .map(|s| ReservedSeatView {
                    seat_number: s.seat_number,
                    section: s.section_name.clone(),
                    price: s.price,
                })
                .collect(),
            price: record.price,
            // A reservation holds at least one seat.
            seat_number: record.seats[0].seat_number,
            status: ReservationStatus::of(record, now),
            held_until: Timestamp::from_epoch_seconds(record.held_until),
            payment_id: record
                .payment_id
                .filter(|_| record.status == StoredReservationStatus::Confirmed),
        }
    }
}

/// A page of a fan's reservations, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationPage {
    pub items: Vec<Reservation>,
    /// Pass back as `cursor` for the next, older page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A receipt. Also replayed from idempotency records, so it reads back as it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub concert_id: ConcertId,
    pub date: ConcertDate,
    pub seat_numbers: Vec<SeatNumber>,
    /// The first of `seat_numbers`, for clients written for one-seat orders.
    pub seat_number: SeatNumber,
    pub amount: Won,
    pub balance_after: Won,
    pub paid_at: Timestamp,
}

impl From<&PaymentRecord> for Payment {
    fn from(record: &PaymentRecord) -> Self {
        Self {
            payment_id: record.payment_id,
            reservation_id: record.reservation_id,
            concert_id: record.concert_id.clone(),
            date: record.date,
            seat_numbers: record.seat_numbers.clone(),
            seat_number: record.seat_numbers[0],
            amount: record.amount,
            balance_after: record.balance_after,
            paid_at: Timestamp::from_epoch_seconds(record.paid_at),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    pub balance: Won,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceHistory {
    pub items: Vec<BalanceTransaction>,
    /// Pass back as `cursor` for the next, older page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One charge or payment. `amount` is always positive; `type` says which way it went.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceTransaction {
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub amount: Won,
    pub balance_after: Won,
    pub at: Timestamp,
    /// A `PAYMENT`'s receipt (`GET /payments/{paymentId}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    /// A `TOP_UP`'s top-up (`GET /balance/charges/{topUpId}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_up_id: Option<TopUpId>,
}
