//! The store's half of the per-fan rate limit (`booking::rate`): one conditional write on the
//! fan's own `RATE` item decides each request, so concurrent requests of one fan are counted
//! exactly and no item is shared by the crowd.
//!
//! The bucket is kept as GCRA keeps it: one number, the fan's theoretical arrival time `tat`
//! (milliseconds), which each request taken moves on by `interval` (one token's worth), from
//! `now` when the fan was idle. A request is taken while the new `tat` is at most `window`
//! (the burst's worth of intervals) ahead of `now`: a token bucket of `window / interval`
//! tokens refilled one per `interval`, without a read and without a clock on the item.

use async_trait::async_trait;

use crate::domain::UserId;

use super::StoreError;

/// One request of one fan, to be taken from its bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateTake {
    pub user_id: UserId,
    /// Milliseconds since the epoch.
    pub now_ms: i64,
    /// One token's worth, in milliseconds (at least 1).
    pub interval_ms: i64,
    /// The burst's worth: `burst * interval_ms`.
    pub window_ms: i64,
}

impl RateTake {
    /// The latest `tat` a request may find and still be taken (moving it on by one interval).
    pub fn latest_tat(&self) -> i64 {
        self.now_ms + self.window_ms - self.interval_ms
    }

    /// When DynamoDB's TTL may delete the item (seconds): once `tat` is past, the bucket is
    /// full, and an absent item reads the same.
    pub fn expires_at(&self, tat_ms: i64) -> i64 {
        tat_ms.div_euclid(1_000) + RATE_ITEM_KEPT_SECONDS
    }
}

/// A `RATE` item outlives its `tat` by this much before TTL may collect it.
pub const RATE_ITEM_KEPT_SECONDS: i64 = 60;

/// What the store decided, and the bucket's `tat` after it (as found, when refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateTaken {
    pub taken: bool,
    pub tat_ms: i64,
    /// The fan's bucket was full (no `tat` ahead of now): one write decided it. Otherwise the
    /// DynamoDB store needed a second, conditional on the `tat` it found.
    pub was_idle: bool,
}

#[async_trait]
pub trait RateStore: Send + Sync + 'static {
    /// Takes one request from the fan's bucket if it holds one (see the module note).
    async fn take_rate_token(&self, take: &RateTake) -> Result<RateTaken, StoreError>;
}
