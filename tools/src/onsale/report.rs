//! The simulator's report: the JSON document (its field names are a contract) and the summary
//! printed on stdout.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::capacity::{HotKey, KeySecond, LargestItem};
use super::fleet::PoolFigures;
use super::svg::Series;
use super::truth::{FairnessFigures, PositionFigures};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub fans: u64,
    pub seats: u64,
    pub sold: u64,
    pub simulated_seconds: u64,
    pub wall_seconds: f64,
    pub sellout_seconds: Option<u64>,
    pub waiting_peak: u64,
    pub waiting_at_end: u64,
    pub invariants: Invariants,
    pub requests: Requests,
    pub dynamodb: Dynamodb,
    pub hot_keys: Vec<HotKey>,
    pub over_limit: Vec<KeySecond>,
    pub over_limit_count: u64,
    pub over_half_limit: Vec<KeySecond>,
    pub over_half_limit_count: u64,
    pub largest_item: LargestItem,
    /// The pre-queue's draw, when there was one.
    pub lottery: Option<LotteryFigures>,
    pub sold_out: SoldOutFigures,
    pub fairness: FairnessFigures,
    pub positions: PositionFigures,
    pub admission: Admission,
    pub fans_outcome: FanOutcomes,
    pub containers: BTreeMap<&'static str, PoolFigures>,
    pub settings: RunSettings,
    /// What the SVG draws, second by second.
    pub per_second: Series,
}

#[derive(Debug, Clone, Serialize)]
pub struct LotteryFigures {
    pub pre_queue_fans: u64,
    /// Rank correlation between the order pre-queued fans arrived in and the order the draw
    /// admits them in: 0 is no relation.
    pub spearman: f64,
    /// Pre-queued fans admitted while one drawn before them still waited.
    pub out_of_order: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SoldOutFigures {
    /// The second the last seat was sold.
    pub last_sale_second: Option<u64>,
    /// Polls answered SOLD_OUT.
    pub told: u64,
    /// Joins answered 409 SOLD_OUT.
    pub joins_refused: u64,
    /// The latest a poll after the last sale still answered WAITING or PRE_QUEUE, in seconds
    /// after it: at most a tick.
    pub still_waiting_after_sellout_max_seconds: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Invariants {
    pub ok: bool,
    pub violations: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Requests {
    /// DynamoDB requests.
    pub total: u64,
    pub per_fan: f64,
    pub per_sold_seat: Option<f64>,
    /// API requests (every endpoint the fans call) in the busiest second.
    pub peak_api_per_second: u64,
    pub peak_polls_per_second: u64,
    pub peak_joins_per_second: u64,
    /// DynamoDB requests by operation.
    pub by_operation: BTreeMap<&'static str, u64>,
    /// API requests by endpoint.
    pub api_total: u64,
    pub api_by_endpoint: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dynamodb {
    pub read_units: f64,
    pub write_units: f64,
    /// The table's busiest second, all keys together: what to pre-warm it to.
    pub peak_read_units_per_second: f64,
    pub peak_write_units_per_second: f64,
    pub read_units_per_fan: f64,
    pub write_units_per_fan: f64,
    pub read_units_per_sold_seat: Option<f64>,
    pub write_units_per_sold_seat: Option<f64>,
    pub cost_usd: f64,
    pub cost_usd_per_1000_sold_seats: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Admission {
    pub ticks: u64,
    pub admitted: u64,
    pub dropped: u64,
    pub peak_admitted_per_tick: u64,
    /// DynamoDB requests of the busiest tick, and on average.
    pub peak_requests_per_tick: u64,
    pub mean_requests_per_tick: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FanOutcomes {
    pub arrived: u64,
    pub bought: u64,
    pub gave_up: u64,
    /// Told their token had ended while they were still following the service's directions.
    pub dropped_while_polling: u64,
    pub token_expired_shopping: u64,
    pub still_waiting: u64,
    pub still_shopping: u64,
    pub told_sold_out: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSettings {
    pub join_rate: f64,
    pub concerts: u32,
    pub dates: u32,
    pub admit_per_tick: u32,
    pub max_active: u32,
    pub tick_seconds: u64,
    pub poll_seconds: u64,
    pub abandon_rate: f64,
    pub queue_opens_before: u64,
    pub duration: u64,
    pub seed: u64,
}

impl Report {
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let per = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        let _ = writeln!(
            s,
            "on-sale: {} fans at {}/s for {} seats ({} concert(s) x {} dates), seed {}",
            self.fans,
            self.settings.join_rate,
            self.seats,
            self.settings.concerts,
            self.settings.dates,
            self.settings.seed
        );
        let _ = writeln!(
            s,
            "  sold {} of {} seats{}; simulated {} s in {:.1} s of wall time",
            self.sold,
            self.seats,
            self.sellout_seconds
                .map_or(String::new(), |t| format!(", sold out at {t} s")),
            self.simulated_seconds,
            self.wall_seconds
        );
        let _ = writeln!(
            s,
            "  waiting: peak {}, at the end {}; admitted {} in {} ticks (peak {} a tick), dropped {}",
            self.waiting_peak,
            self.waiting_at_end,
            self.admission.admitted,
            self.admission.ticks,
            self.admission.peak_admitted_per_tick,
            self.admission.dropped
        );
        let o = &self.fans_outcome;
        let _ = writeln!(
            s,
            "  fans: {} bought, {} gave up, {} told sold out, {} still waiting, {} still shopping, {} token ended while shopping, {} dropped while polling as told",
            o.bought, o.gave_up, o.told_sold_out, o.still_waiting, o.still_shopping, o.token_expired_shopping, o.dropped_while_polling
        );
        let _ = writeln!(
            s,
            "  invariants: {}",
            if self.invariants.ok {
                "hold".to_owned()
            } else {
                format!("BROKEN ({})", self.invariants.violations.len())
            }
        );
        let _ = writeln!(
            s,
            "  fairness: {} inversions over {} admissions; positions: {} checked, {} wrong, max error {}, {} ahead of the truth",
            self.fairness.inversions,
            self.fairness.admitted_checked,
            self.positions.checked,
            self.positions.wrong,
            self.positions.max_error,
            self.positions.ahead_of_truth
        );
        if let Some(l) = &self.lottery {
            let _ = writeln!(
                s,
                "  lottery: {} pre-queued fans drawn, Spearman {:.4} against arrival, {} admitted out of order",
                l.pre_queue_fans, l.spearman, l.out_of_order
            );
        }
        if let Some(last) = self.sold_out.last_sale_second {
            let _ = writeln!(
                s,
                "  sold out at {last} s: {} polls told SOLD_OUT, {} joins refused; a poll still answered waiting at most {} s after",
                self.sold_out.told,
                self.sold_out.joins_refused,
                self.sold_out
                    .still_waiting_after_sellout_max_seconds
                    .map_or("-".to_owned(), |s| s.to_string())
            );
        }
        let _ = writeln!(
            s,
            "  API: {} requests, peak {}/s, polls peak {}/s, joins peak {}/s",
            self.requests.api_total,
            self.requests.peak_api_per_second,
            self.requests.peak_polls_per_second,
            self.requests.peak_joins_per_second
        );
        let _ = writeln!(
            s,
            "  DynamoDB: {} requests ({:.2} a fan, {} a sold seat), {:.0} RCU + {:.0} WCU, ${:.2} (${} per 1,000 sold seats)",
            self.requests.total,
            self.requests.per_fan,
            per(self.requests.per_sold_seat),
            self.dynamodb.read_units,
            self.dynamodb.write_units,
            self.dynamodb.cost_usd,
            self.dynamodb.cost_usd_per_1000_sold_seats.map_or("-".to_owned(), |c| format!("{c:.2}"))
        );
        let _ = writeln!(
            s,
            "  table: peak {:.0} RCU + {:.0} WCU a second (what to pre-warm it to)",
            self.dynamodb.peak_read_units_per_second, self.dynamodb.peak_write_units_per_second
        );
        let _ = writeln!(
            s,
            "  keys over the limit: {} key-seconds; over half of it: {}",
            self.over_limit_count, self.over_half_limit_count
        );
        let _ = writeln!(
            s,
            "  largest item: {:.1} KB ({})",
            self.largest_item.bytes as f64 / 1024.0,
            self.largest_item.key
        );
        let _ = writeln!(s, "  hottest keys (peak units a second, read / write):");
        for key in self.hot_keys.iter().take(8) {
            let _ = writeln!(
                s,
                "    {:>9} {:>8.0} / {:<8.0} {}",
                format!("{:?}", key.scope).to_lowercase(),
                key.peak_read_units_per_second,
                key.peak_write_units_per_second,
                key.key
            );
        }
        s
    }
}
