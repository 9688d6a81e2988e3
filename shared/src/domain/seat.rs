use serde::{Deserialize, Serialize};

use super::BookingError;

/// Every concert date has this many seats.
pub const SEATS_PER_DATE: u8 = 50;

/// A seat number, 1 to 50.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct SeatNumber(u8);

impl SeatNumber {
    pub fn parse(number: i64) -> Result<Self, BookingError> {
        u8::try_from(number)
            .ok()
            .filter(|n| (1..=SEATS_PER_DATE).contains(n))
            .map(Self)
            .ok_or(BookingError::InvalidSeatNumber)
    }

    pub fn get(self) -> u8 {
        self.0
    }

    pub fn all() -> impl Iterator<Item = SeatNumber> {
        (1..=SEATS_PER_DATE).map(SeatNumber)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_are_numbered_one_to_fifty() {
        assert_eq!(SeatNumber::parse(1).unwrap().get(), 1);
        assert_eq!(SeatNumber::parse(50).unwrap().get(), 50);
        for bad in [0, 51, -1, 256, i64::MAX] {
            assert!(SeatNumber::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(SeatNumber::all().count(), 50);
    }
}
