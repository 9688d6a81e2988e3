use serde::{Deserialize, Serialize};

use super::BookingError;

/// The most one charge may add.
pub const MAX_CHARGE: i64 = 10_000_000;
/// The most a balance may hold.
pub const BALANCE_LIMIT: i64 = 1_000_000_000;
/// The most one seat may cost: what one charge may add, so that a top-up always covers a seat
/// and an order of the most seats a fan may hold (10) stays far below the balance's limit.
pub const MAX_SEAT_PRICE: i64 = MAX_CHARGE;

/// An amount of money in whole won. Never negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Won(i64);

impl Won {
    pub const ZERO: Won = Won(0);

    pub fn new(amount: i64) -> Option<Self> {
        (amount >= 0).then_some(Self(amount))
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Won) -> Option<Won> {
        Won::new(self.0.checked_add(other.0)?)
    }

    pub fn checked_sub(self, other: Won) -> Option<Won> {
        Won::new(self.0.checked_sub(other.0)?)
    }

    /// Adds a charge, refusing to pass the balance limit.
    pub fn credit(self, charge: ChargeAmount) -> Result<Won, BookingError> {
        let total = self.0 + charge.0.get();
        if total > BALANCE_LIMIT {
            return Err(BookingError::BalanceLimitExceeded);
        }
        Ok(Won(total))
    }
}

impl TryFrom<i64> for Won {
    type Error = BookingError;
    fn try_from(amount: i64) -> Result<Self, Self::Error> {
        Won::new(amount).ok_or(BookingError::InvalidAmount)
    }
}

impl From<Won> for i64 {
    fn from(won: Won) -> i64 {
        won.0
    }
}

/// What one charge may add: 1 to 10,000,000 won.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct ChargeAmount(Won);

impl ChargeAmount {
    pub fn parse(amount: i64) -> Result<Self, BookingError> {
        if (1..=MAX_CHARGE).contains(&amount) {
            Ok(Self(Won(amount)))
        } else {
            Err(BookingError::InvalidAmount)
        }
    }

    pub fn won(self) -> Won {
        self.0
    }
}

impl TryFrom<i64> for ChargeAmount {
    type Error = BookingError;
    fn try_from(amount: i64) -> Result<Self, Self::Error> {
        Self::parse(amount)
    }
}

impl From<ChargeAmount> for i64 {
    fn from(amount: ChargeAmount) -> i64 {
        amount.0 .0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_between_one_and_ten_million() {
        assert!(ChargeAmount::parse(1).is_ok());
        assert!(ChargeAmount::parse(MAX_CHARGE).is_ok());
        for bad in [0, -1, MAX_CHARGE + 1, i64::MIN] {
            assert!(matches!(
                ChargeAmount::parse(bad),
                Err(BookingError::InvalidAmount)
            ));
        }
    }

    #[test]
    fn a_credit_never_passes_the_balance_limit() {
        let full = Won::new(BALANCE_LIMIT - 5).unwrap();
        assert_eq!(
            full.credit(ChargeAmount::parse(5).unwrap()).unwrap().get(),
            BALANCE_LIMIT
        );
        assert!(matches!(
            full.credit(ChargeAmount::parse(6).unwrap()),
            Err(BookingError::BalanceLimitExceeded)
        ));
    }

    #[test]
    fn money_never_goes_negative() {
        assert_eq!(Won::new(5).unwrap().checked_sub(Won::new(6).unwrap()), None);
        assert_eq!(Won::new(-1), None);
    }
}
