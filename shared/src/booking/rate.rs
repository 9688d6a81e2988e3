//! The per-fan rate limit: a token bucket per fan (`sub`), so that one fan cannot use up the
//! stage's limit or write without end (3,000 one-won charges in 2.5 s, each kept forever).
//!
//! What it covers: the writes a fan sends (join, hold, release, charge, pay), checked by the
//! HTTP edge before the operation runs. Reads are left to the stage's throttle and the edge's
//! WAF rule: a bucket costs a write, and a waiting crowd polls far more than it writes (a
//! million fans polling every ten seconds would add 100,000 writes a second for nothing).
//!
//! What it costs: one conditional UpdateItem on the fan's own `RATE` item per covered request
//! (1 write unit, about one DynamoDB round trip, a few milliseconds), two within a burst (see
//! `store::rate`); no read, and no item shared with another fan. A fan over the limit is
//! `429 RATE_LIMITED` with `Retry-After` (whole seconds until a token is back) and the IETF
//! `RateLimit` / `RateLimit-Policy` headers, which every covered answer carries.
//!
//! The limits come from configuration: `RATE_LIMIT_PER_MINUTE` tokens a minute (default 120:
//! two a second) and `RATE_LIMIT_BURST` at once (default 20).

use crate::domain::{BookingError, UserId};
use crate::store::RateTake;

use super::Ticketing;

/// One fan's bucket: `burst` requests at once, refilled `per_minute` a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    per_minute: u32,
    burst: u32,
}

impl RateLimit {
    pub const DEFAULT_PER_MINUTE: u32 = 120;
    pub const DEFAULT_BURST: u32 = 20;
    /// At most one a millisecond: the bucket counts in milliseconds.
    pub const MAX_PER_MINUTE: u32 = 60_000;
    pub const MAX_BURST: u32 = 10_000;
    /// The policy's name in the `RateLimit` headers.
    pub const POLICY: &'static str = "fan-writes";

    pub fn new(per_minute: u32, burst: u32) -> Option<Self> {
        ((1..=Self::MAX_PER_MINUTE).contains(&per_minute) && (1..=Self::MAX_BURST).contains(&burst))
            .then_some(RateLimit { per_minute, burst })
    }

    pub fn per_minute(self) -> u32 {
        self.per_minute
    }

    pub fn burst(self) -> u32 {
        self.burst
    }

    /// One token's worth.
    fn interval_ms(self) -> i64 {
        60_000 / i64::from(self.per_minute)
    }

    /// The burst's worth of intervals.
    fn window_ms(self) -> i64 {
        self.interval_ms() * i64::from(self.burst)
    }

    /// `RateLimit-Policy`: the quota and its window in seconds (RFC 9651 structured fields).
    pub fn policy_header(self) -> String {
        format!(
            "\"{}\";q={};w={}",
            Self::POLICY,
            self.burst,
            seconds_up(self.window_ms()).max(1)
        )
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_minute: Self::DEFAULT_PER_MINUTE,
            burst: Self::DEFAULT_BURST,
        }
    }
}

/// A request taken from the fan's bucket: what is left of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanQuota {
    pub limit: RateLimit,
    /// Requests the fan may still send at once.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_seconds: u64,
}

impl FanQuota {
    /// `RateLimit`: what is left and when the bucket is full again.
    pub fn header(&self) -> String {
        format!(
            "\"{}\";r={};t={}",
            RateLimit::POLICY,
            self.remaining,
            self.reset_seconds
        )
    }
}

fn seconds_up(ms: i64) -> u64 {
    u64::try_from((ms.max(0) + 999) / 1_000).unwrap_or(0)
}

impl Ticketing {
    /// This container's limit, if any (the deployed service always has one; see `Config`).
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// Takes one request of `user` from its bucket: `None` when no limit is set, `429
    /// RATE_LIMITED` when the bucket is empty.
    pub async fn take_rate_token(&self, user: &UserId) -> Result<Option<FanQuota>, BookingError> {
        let Some(limit) = self.rate_limit else {
            return Ok(None);
        };
        let take = RateTake {
            user_id: user.clone(),
            now_ms: self.clock.now_millis(),
            interval_ms: limit.interval_ms(),
            window_ms: limit.window_ms(),
        };
        let taken = self.store.take_rate_token(&take).await?;
        let ahead = taken.tat_ms - take.now_ms;
        if !taken.taken {
            return Err(BookingError::RateLimited {
                retry_after: seconds_up(taken.tat_ms - take.latest_tat()).max(1),
                limit: limit.burst,
                window: seconds_up(take.window_ms).max(1),
            });
        }
        let left = (take.window_ms - ahead).max(0) / take.interval_ms;
        Ok(Some(FanQuota {
            limit,
            remaining: u32::try_from(left).unwrap_or(0),
            reset_seconds: seconds_up(ahead),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_within_their_ranges() {
        assert_eq!(RateLimit::new(120, 20), Some(RateLimit::default()));
        assert_eq!(RateLimit::new(0, 20), None);
        assert_eq!(RateLimit::new(120, 0), None);
        assert_eq!(RateLimit::new(60_001, 1), None);
        assert_eq!(RateLimit::new(1, 10_001), None);
    }

    #[test]
    fn the_headers_name_the_policy_quota_and_window() {
        let limit = RateLimit::default();
        assert_eq!(limit.policy_header(), "\"fan-writes\";q=20;w=10");
        let quota = FanQuota {
            limit,
            remaining: 19,
            reset_seconds: 1,
        };
        assert_eq!(quota.header(), "\"fan-writes\";r=19;t=1");
    }
}
