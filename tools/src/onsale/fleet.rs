//! Lambda containers, one pool per function. Each container is its own `Ticketing`, with its own
//! caches and its own clock, as a warm Lambda process would be; never one cache for all.
//!
//! Lambda runs one request per container at a time, so a function needs as many warm containers
//! as it has requests in flight: its rate times how long a request takes. Here each second's
//! pool is sized from the larger of the last second's and this second's requests at
//! `REQUEST_MILLIS` each, requests are spread round-robin over it (so every warm container sees
//! traffic, as under load), new containers start cold, and a container idle for
//! `IDLE_RECLAIM_SECONDS` is reclaimed. Each container has a lane: the simulator runs a lane's
//! requests of a second one after another, never interleaved, as Lambda gives a container one
//! request at a time (so a cache miss is not repeated by requests the container has not yet
//! taken).

use std::collections::BTreeMap;

use serde::Serialize;
use ticketing::Ticketing;

/// How long one request keeps a container busy: a few DynamoDB round trips.
pub const REQUEST_MILLIS: u64 = 20;
/// Lambda keeps an idle container warm for minutes; this model says ten.
const IDLE_RECLAIM_SECONDS: u64 = 600;

struct Container {
    booking: Ticketing,
    last_used: u64,
    lane: usize,
}

#[derive(Default)]
struct Pool {
    containers: Vec<Container>,
    second: u64,
    this_second: u64,
    last_second: u64,
    peak: usize,
    cold_starts: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolFigures {
    pub peak_containers: usize,
    pub cold_starts: u64,
}

pub struct Fleet {
    pools: BTreeMap<&'static str, Pool>,
    start: Box<dyn FnMut() -> Ticketing>,
    lanes: usize,
    last_lane: usize,
    last_function: &'static str,
}

impl Fleet {
    /// `start` boots a container: a `Ticketing` with empty caches (and a clock of its own).
    pub fn new(start: impl FnMut() -> Ticketing + 'static) -> Self {
        Fleet {
            pools: BTreeMap::new(),
            start: Box::new(start),
            lanes: 0,
            last_lane: 0,
            last_function: "",
        }
    }

    /// The container that serves the next request of `function` in simulated second `now`.
    pub fn container(&mut self, function: &'static str, now: u64) -> &Ticketing {
        let pool = self.pools.entry(function).or_default();
        if pool.second != now {
            pool.last_second = if now == pool.second + 1 {
                pool.this_second
            } else {
                0
            };
            pool.second = now;
            pool.this_second = 0;
            pool.containers
                .retain(|c| now.saturating_sub(c.last_used) < IDLE_RECLAIM_SECONDS);
        }
        pool.this_second += 1;
        let in_flight = pool.last_second.max(pool.this_second) * REQUEST_MILLIS;
        let warm = in_flight.div_ceil(1_000).max(1) as usize;
        let index = ((pool.this_second - 1) % warm as u64) as usize;
        if index >= pool.containers.len() {
            self.lanes += 1;
            pool.containers.push(Container {
                booking: (self.start)(),
                last_used: now,
                lane: self.lanes,
            });
            pool.cold_starts += 1;
            pool.peak = pool.peak.max(pool.containers.len());
        }
        let last = pool.containers.len() - 1;
        let container = &mut pool.containers[index.min(last)];
        container.last_used = now;
        self.last_lane = container.lane;
        self.last_function = function;
        &container.booking
    }

    /// The lane of the container the last `container` call gave, and its function.
    pub fn last_lane(&self) -> (usize, &'static str) {
        (self.last_lane, self.last_function)
    }

    /// A container started for one request alone (a second delivery of the admitter's event
    /// runs beside the first, so on another container), cold.
    pub fn cold(&mut self) -> Ticketing {
        (self.start)()
    }

    pub fn figures(&self) -> BTreeMap<&'static str, PoolFigures> {
        self.pools
            .iter()
            .map(|(name, pool)| {
                (
                    *name,
                    PoolFigures {
                        peak_containers: pool.peak,
                        cold_starts: pool.cold_starts,
                    },
                )
            })
            .collect()
    }
}
