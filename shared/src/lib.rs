//! The concert-ticket reservation service: validated domain values (`domain`), the rules as
//! operations (`booking`), and the stores that enforce them with conditional writes (`store`).

pub mod booking;
pub mod domain;
pub mod store;

pub use booking::{Settings, Ticketing};
pub use domain::BookingError;
