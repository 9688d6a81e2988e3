//! Validated values and the one error enum: once a value is constructed it is valid everywhere.

mod admission;
mod error;
mod ids;
mod money;
mod place;
mod seat;
mod text;
mod time;

pub use admission::{AdmitPerTick, MaxActive, MaxHoldsPerSession};
pub use error::{BookingError, StoreError};
pub use ids::{
    ConcertId, IdempotencyKey, OperatorId, PaymentId, QueueToken, ReservationId, TopUpId, UserId,
};
pub use money::{ChargeAmount, Won, BALANCE_LIMIT, MAX_CHARGE, MAX_SEAT_PRICE};
pub use place::{QueuePlace, QUEUE_SHARDS};
pub use seat::{SeatNumber, TicketLimit, MAX_SEATS_PER_DATE};
pub use text::{hidden_character, is_plain_text};
pub use time::{Clock, ConcertDate, ManualClock, SystemClock, Timestamp};
