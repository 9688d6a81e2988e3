//! The concert-ticket reservation service: validated domain values (`domain`), the rules as
//! operations (`booking`), the stores that enforce them with conditional writes (`store`), the
//! HTTP contract (`http`), and the Lambda entry points that the functions call (`lambda`).

pub mod booking;
pub mod config;
pub mod deadline;
pub mod domain;
pub mod http;
pub mod lambda;
pub mod metrics;
pub mod store;
pub mod stripe;

pub use booking::{Settings, Ticketing};
pub use domain::BookingError;
