use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::BookingError;

/// A moment, in whole seconds since the Unix epoch: the unit of every expiry and condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn from_epoch_seconds(seconds: i64) -> Self {
        Self(seconds)
    }

    pub fn epoch_seconds(self) -> i64 {
        self.0
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0 + seconds)
    }

    /// The UTC calendar day this moment falls on.
    pub fn date(self) -> ConcertDate {
        ConcertDate(self.datetime().date_naive())
    }

    fn datetime(self) -> DateTime<chrono::Utc> {
        DateTime::from_timestamp(self.0, 0).unwrap_or_default()
    }
}

/// Sent as RFC 3339 in UTC, e.g. `2026-12-24T19:00:00Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.datetime().to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|t| Timestamp(t.timestamp()))
            .map_err(serde::de::Error::custom)
    }
}

/// A concert's calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConcertDate(NaiveDate);

impl ConcertDate {
    pub fn parse(raw: &str) -> Result<Self, BookingError> {
        let well_formed = raw.len() == 10
            && raw.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !well_formed {
            return Err(BookingError::InvalidDate);
        }
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(Self)
            .map_err(|_| BookingError::InvalidDate)
    }
}

impl TryFrom<String> for ConcertDate {
    type Error = BookingError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<ConcertDate> for String {
    fn from(date: ConcertDate) -> String {
        date.to_string()
    }
}

impl fmt::Display for ConcertDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written out rather than through a format string: keys print dates on every request.
        let date = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}",
            date.year(),
            date.month(),
            date.day()
        )
    }
}

/// Where "now" comes from: the system in production, a hand-moved clock in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;

    /// Milliseconds since the epoch, for what counts finer than seconds (the rate limit); a
    /// clock of whole seconds answers whole seconds.
    fn now_millis(&self) -> i64 {
        self.now().epoch_seconds() * 1_000
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(chrono::Utc::now().timestamp())
    }

    fn now_millis(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to, so expiry is tested without sleeping.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn starting_at(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.0))
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_be_real_and_zero_padded() {
        assert_eq!(
            ConcertDate::parse("2026-12-24").unwrap().to_string(),
            "2026-12-24"
        );
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-05",
            "20261224",
            "2026-12-24T00:00:00Z",
            "",
        ] {
            assert!(ConcertDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = Timestamp::from_epoch_seconds(1_798_138_800);
        assert_eq!(t.to_string(), "2026-12-24T19:00:00Z");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-12-24T19:00:00Z\""
        );
        assert_eq!(t.date().to_string(), "2026-12-24");
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::starting_at(Timestamp::from_epoch_seconds(100));
        assert_eq!(clock.now().epoch_seconds(), 100);
        clock.advance(300);
        assert_eq!(clock.now().epoch_seconds(), 400);
    }
}
