//! The admission settings operators may turn live, with the ranges the API allows.

use super::BookingError;

/// Fans one tick may admit for one concert: 1 to 10,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmitPerTick(u32);

impl AdmitPerTick {
    pub const MAX: u32 = 10_000;

    pub fn parse(raw: i64) -> Result<Self, BookingError> {
        u32::try_from(raw)
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(Self)
            .ok_or(BookingError::InvalidAdmitPerTick)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Fans active at once for one concert: 1 to 100,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxActive(u32);

impl MaxActive {
    pub const MAX: u32 = 100_000;

    pub fn parse(raw: i64) -> Result<Self, BookingError> {
        u32::try_from(raw)
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(Self)
            .ok_or(BookingError::InvalidMaxActive)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Holds one queue session (one admission) may place for one concert: 1 to 100. It bounds seat
/// spinning: holding and releasing to keep seats from other fans without buying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxHoldsPerSession(u32);

impl MaxHoldsPerSession {
    pub const MAX: u32 = 100;
    pub const DEFAULT: u32 = 10;

    pub fn parse(raw: i64) -> Result<Self, BookingError> {
        u32::try_from(raw)
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(Self)
            .ok_or(BookingError::InvalidMaxHoldsPerSession)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_those_of_the_api() {
        assert_eq!(AdmitPerTick::parse(1).unwrap().get(), 1);
        assert_eq!(AdmitPerTick::parse(10_000).unwrap().get(), 10_000);
        for bad in [0, -1, 10_001, i64::MAX] {
            assert!(matches!(
                AdmitPerTick::parse(bad),
                Err(BookingError::InvalidAdmitPerTick)
            ));
        }
        assert_eq!(MaxHoldsPerSession::parse(100).unwrap().get(), 100);
        for bad in [0, 101, -5] {
            assert!(matches!(
                MaxHoldsPerSession::parse(bad),
                Err(BookingError::InvalidMaxHoldsPerSession)
            ));
        }
        assert_eq!(MaxActive::parse(100_000).unwrap().get(), 100_000);
        for bad in [0, 100_001, i64::MIN] {
            assert!(matches!(
                MaxActive::parse(bad),
                Err(BookingError::InvalidMaxActive)
            ));
        }
    }
}
