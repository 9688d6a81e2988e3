use serde::{Deserialize, Serialize};

use super::BookingError;

/// A date has at most this many seats (a stadium's); each concert says how many of them exist.
pub const MAX_SEATS_PER_DATE: u32 = 100_000;

/// A seat number, 1 to [`MAX_SEATS_PER_DATE`]. Whether the seat exists is the concert's to
/// say (`ConcertRecord::section_of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct SeatNumber(u32);

impl SeatNumber {
    pub fn parse(number: i64) -> Result<Self, BookingError> {
        u32::try_from(number)
            .ok()
            .filter(|n| (1..=MAX_SEATS_PER_DATE).contains(n))
            .map(Self)
            .ok_or(BookingError::InvalidSeatNumber)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The seats `from..=to`, in order.
    pub fn range(from: SeatNumber, to: SeatNumber) -> impl Iterator<Item = SeatNumber> {
        (from.0..=to.0).map(SeatNumber)
    }
}

impl TryFrom<i64> for SeatNumber {
    type Error = BookingError;
    fn try_from(number: i64) -> Result<Self, Self::Error> {
        Self::parse(number)
    }
}

impl From<SeatNumber> for i64 {
    fn from(seat: SeatNumber) -> i64 {
        i64::from(seat.0)
    }
}

/// How many seats one fan may hold and buy for one concert, 1 to 10: the seats of the fan's
/// live holds plus the seats the fan bought never exceed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct TicketLimit(u8);

impl TicketLimit {
    pub const MAX: u8 = 10;

    pub fn parse(limit: i64) -> Result<Self, BookingError> {
        u8::try_from(limit)
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(Self)
            .ok_or_else(|| {
                BookingError::InvalidCatalog(
                    "maxTicketsPerFan must be an integer from 1 to 10".into(),
                )
            })
    }

    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

impl Default for TicketLimit {
    /// What most ticket sellers allow a fan for one event.
    fn default() -> Self {
        Self(4)
    }
}

impl TryFrom<i64> for TicketLimit {
    type Error = BookingError;
    fn try_from(limit: i64) -> Result<Self, Self::Error> {
        Self::parse(limit)
    }
}

impl From<TicketLimit> for i64 {
    fn from(limit: TicketLimit) -> i64 {
        i64::from(limit.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fan_may_buy_one_to_ten_seats_of_a_concert() {
        assert_eq!(TicketLimit::default().get(), 4);
        assert_eq!(TicketLimit::parse(10).unwrap().get(), 10);
        for bad in [0, 11, -1, i64::MAX] {
            assert!(TicketLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seats_are_numbered_one_to_a_stadiums_capacity() {
        assert_eq!(SeatNumber::parse(1).unwrap().get(), 1);
        assert_eq!(SeatNumber::parse(100_000).unwrap().get(), 100_000);
        for bad in [0, 100_001, -1, i64::MAX] {
            assert!(SeatNumber::parse(bad).is_err(), "{bad}");
        }
        let (from, to) = (SeatNumber::parse(7).unwrap(), SeatNumber::parse(9).unwrap());
        assert_eq!(SeatNumber::range(from, to).count(), 3);
    }
}
