use std::fmt;

use serde::{Deserialize, Serialize};

/// Queue numbers are drawn from this many counters, so that no counter takes more than its share
/// of a crowd's joins (see `booking::queue`).
pub const QUEUE_SHARDS: u8 = 64;

/// Where a fan stands in a concert's queue: the second they joined, the counter they drew from,
/// and the number it gave them. Queue order is this order: first come, first served by the
/// second; within a second, by counter, then number (any order is fair within a second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QueuePlace {
    pub second: i64,
    pub shard: u8,
    /// 1 for the first number a counter gave in that second.
    pub number: u32,
}

impl fmt::Display for QueuePlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.second, self.shard, self.number)
    }
}
