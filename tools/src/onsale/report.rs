//! The simulator's report: the JSON document (its field names are a contract) and the summary
//! printed on stdout.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use ticketing::store::meter::DynamoRequest;

use super::capacity::{HotKey, KeySecond, KindWrites, LargestItem, WrittenItem};
use super::fleet::PoolFigures;
use super::holdings::HoldingFigures;
use super::svg::Series;
use super::tail::TailFigures;
use super::truth::{FairnessFigures, PositionFigures};
use super::world::{ConflictFigures, FaultFigures};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub seats: u64,
    pub sold: u64,
    pub simulated_seconds: u64,
    pub wall_seconds: f64,
    pub sellout_seconds: Option<u64>,
    /// The sale's tail, by the world's truth: when 50, 90, 99 and 100% of the seats were
    /// sold, and the seats left free while fans waited (`tail`).
    #[serde(flatten)]
    pub tail: TailFigures,
    pub waiting_peak: u64,
    pub invariants: Invariants,
    pub requests: Requests,
    pub dynamodb: Dynamodb,
    pub hot_keys: Vec<HotKey>,
    pub over_limit: Vec<KeySecond>,
    pub over_limit_count: u64,
    pub over_half_limit: Vec<KeySecond>,
    pub over_half_limit_count: u64,
    pub largest_item: LargestItem,
    /// The items written most in a second, most first, with their size and units.
    pub most_written: Vec<WrittenItem>,
    /// The pre-queue's draw (zeros when there was none).
    pub lottery: LotteryFigures,
    pub sold_out: SoldOutFigures,
    pub fairness: FairnessFigures,
    pub positions: PositionFigures,
    pub admission: Admission,
    /// ACTIVE tokens in the store after each tick, against the limits.
    pub active: ActiveFigures,
    /// What the world did to the service.
    pub faults: FaultFigures,
    /// Transactions cancelled by conflicts with others (`TransactionConflict`), by item.
    pub conflicts: ConflictFigures,
    pub fans: FanFigures,
    pub buying: BuyingFigures,
    /// What fans and bots owned by the simulator's own account, and the bots' seat spinning.
    pub holdings: HoldingFigures,
    pub containers: BTreeMap<&'static str, PoolFigures>,
    pub settings: RunSettings,
    /// What the SVG draws, second by second.
    pub per_second: Series,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LotteryFigures {
    pub pre_queue_fans: u64,
    /// Rank correlation between the order pre-queued fans arrived in and the order the draw
    /// admits them in: 0 is no relation.
    pub spearman: f64,
    /// Draws seen kept (on the tick's claim, or in a tick's state): one for a sale.
    pub draws: u64,
    /// Seeds among them.
    pub seeds_used: u64,
    /// Pre-queued fans admitted while one drawn before them still waited, or before any draw
    /// was kept.
    pub out_of_order: u64,
}

/// Tokens active in the store (admitted, not spent, not past their end). With clocks that
/// differ by the skew, both limits are judged by what is still active, and the seats still
/// free, the skew's seconds later: an admitter ahead by that much sees them end that soon.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActiveFigures {
    pub peak: u64,
    /// How far the tokens active after a tick exceeded MAX_ACTIVE, at most.
    pub peak_over_max_active: u64,
    /// How far they exceeded ACTIVE_PER_FREE_SEAT times the seats free as a tick began (and
    /// those the releases sent in its second may free first), on the seconds a tick admitted
    /// (0: admission never ran ahead of the seats).
    pub peak_over_seat_pacing: u64,
}

/// How the crowd bought: orders, the ticket limit, and what the bots got.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BuyingFigures {
    /// Holds that went through.
    pub holds: u64,
    /// Hold transactions refused because a seat was taken (best available's own retries
    /// included), per hold that went through.
    pub hold_conflicts: u64,
    pub hold_conflicts_per_hold: f64,
    /// Best available's: its conflicts are retried inside the request, seen by nobody.
    pub best_available_holds: u64,
    pub best_available_conflicts_per_hold: f64,
    /// Orders of seats picked from a chart: each conflict is a `SEAT_UNAVAILABLE` the fan saw.
    pub picked_holds: u64,
    pub picked_conflicts: u64,
    pub picked_conflicts_per_hold: f64,
    /// The most seats any fan or bot had of the concert at once (live holds and bought).
    pub seats_per_fan_max: u32,
    pub ticket_limit: u32,
    /// Holds refused `TICKET_LIMIT_REACHED`.
    pub tickets_limit_refusals: u64,
    /// Best available's orders refused `SEAT_UNAVAILABLE` naming no seat: no room for the
    /// party where it looked.
    pub holds_refused_no_room: u64,
    /// Times a party that picks its seats found no section with room for it together, but some
    /// with fewer, and settled for the most one had.
    pub parties_settled: u64,
    /// Holds answered `503 SERVICE_BUSY` (races lost, a token admitted mid-hold).
    pub holds_busy: u64,
    pub bots: u64,
    pub seats_bought_by_bots: u64,
    /// Requests the bots sent (joins again, seat listings with made-up tokens, holds).
    pub bot_requests: u64,
    /// The largest item (its size as DynamoDB counts it) any request of the buying path read
    /// or wrote: a hold, a payment, a listing of seats or of sections. A Query's pages are not
    /// items and are left out.
    pub largest_item_bytes: usize,
    pub largest_item_key: String,
    /// Of those, the largest item a request of the buying path wrote, and the write units one
    /// write of it costs (twice its KB in a transaction).
    pub largest_written_bytes: usize,
    pub largest_written_key: String,
    pub largest_written_units: f64,
}

impl BuyingFigures {
    /// Takes note of the items a request of the buying path touched.
    pub fn note_items(&mut self, requests: &[DynamoRequest]) {
        for item in requests.iter().flat_map(|r| &r.items) {
            let Some(sk) = &item.sk else {
                continue;
            };
            if item.bytes > self.largest_item_bytes {
                self.largest_item_bytes = item.bytes;
                self.largest_item_key = format!("{} | {sk}", item.pk);
            }
            if item.write_units > 0.0 && item.bytes > self.largest_written_bytes {
                self.largest_written_bytes = item.bytes;
                self.largest_written_key = format!("{} | {sk}", item.pk);
                self.largest_written_units = item.write_units;
            }
        }
    }
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
    /// Writes by the kind of item written (`capacity::kind`), and their write units per 1,000
    /// seats sold.
    pub written_by_kind: BTreeMap<String, KindWrites>,
    pub write_units_per_1000_sold_seats_by_kind: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
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
pub struct FanFigures {
    pub arrived: u64,
    /// Whose ticket the store holds.
    pub joined: u64,
    /// Admitted, and dropped for idling, by ticks (as the store applied them).
    pub admitted: u64,
    pub dropped_idle: u64,
    pub told_sold_out: u64,
    pub bought: u64,
    pub gave_up: u64,
    /// Still waiting at the end, with a tick still to reach them.
    pub waiting_at_end: u64,
    /// Joined, never dropped, never admitted, and passed by the tick for good.
    pub lost: u64,
    pub still_shopping: u64,
    pub token_ended_shopping: u64,
    /// Told their token had ended while they were still following the service's directions.
    pub dropped_while_polling: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSettings {
    pub fans: u64,
    pub join_rate: f64,
    pub concerts: u32,
    pub dates: u32,
    pub seats_per_date: u32,
    pub section_size: u32,
    pub admit_per_tick: u32,
    pub max_active: u32,
    pub tick_seconds: u64,
    pub poll_seconds: u64,
    pub abandon_rate: f64,
    pub leaving_releases: f64,
    pub queue_opens_before: u64,
    pub duration: u64,
    pub faults: f64,
    pub duplicate_ticks: f64,
    pub tick_crash: f64,
    pub clock_skew: u64,
    pub transaction_ms: (u32, u32),
    pub seed: u64,
}

impl Report {
    /// The rules the service must keep whatever the world does, each one broken named with
    /// its figure: empty when every one held.
    pub fn broken_rules(&self) -> Vec<String> {
        let mut broken = Vec::new();
        let mut check = |held: bool, rule: String| {
            if !held {
                broken.push(rule);
            }
        };
        check(
            self.invariants.ok,
            format!("{} invariant violations", self.invariants.violations.len()),
        );
        check(self.fans.lost == 0, format!("{} fans lost", self.fans.lost));
        check(
            self.active.peak_over_max_active == 0,
            format!(
                "MAX_ACTIVE overshot by {}",
                self.active.peak_over_max_active
            ),
        );
        check(
            self.active.peak_over_seat_pacing == 0,
            format!(
                "seat pacing overshot by {}",
                self.active.peak_over_seat_pacing
            ),
        );
        check(
            self.positions.ahead_of_truth == 0,
            format!(
                "{} positions ahead of the truth",
                self.positions.ahead_of_truth
            ),
        );
        check(
            self.fairness.inversions == 0,
            format!("{} fairness inversions", self.fairness.inversions),
        );
        check(
            self.buying.seats_per_fan_max <= self.buying.ticket_limit,
            format!(
                "a fan had {} seats, over the limit of {}",
                self.buying.seats_per_fan_max, self.buying.ticket_limit
            ),
        );
        check(
            self.lottery.seeds_used <= 1,
            format!("{} lottery seeds", self.lottery.seeds_used),
        );
        check(
            self.lottery.out_of_order == 0,
            format!(
                "{} drawn fans admitted out of order",
                self.lottery.out_of_order
            ),
        );
        broken
    }

    pub fn summary(&self) -> String {
        let mut s = String::new();
        let per = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        let hall = match (self.settings.seats_per_date, self.settings.section_size) {
            (50, 50) => String::new(),
            (seats, size) => format!(
                " of {seats} seats in {} sections of {size}",
                seats.div_ceil(size.max(1))
            ),
        };
        let _ = writeln!(
            s,
            "on-sale: {} fans at {}/s for {} seats ({} concert(s) x {} dates{hall}), seed {}",
            self.settings.fans,
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
        let t = &self.tail;
        let at = |second: Option<u64>| second.map_or("-".to_owned(), |s| format!("{s} s"));
        let _ = writeln!(
            s,
            "  tail: 50% of the seats sold at {}, 90% at {}, 99% at {}, 100% at {}; idle_seat_seconds {} (seats neither held nor sold while fans waited, over {} s, at most {} s in a row; {} from 90% sold on); {} distinct fans waited while seats were free ({} of them from 90% sold on; {} fan-seconds)",
            at(t.sold_50_percent_seconds),
            at(t.sold_90_percent_seconds),
            at(t.sold_99_percent_seconds),
            at(t.sold_100_percent_seconds),
            t.idle_seat_seconds,
            t.starved_seconds,
            t.longest_starved_run_seconds,
            t.tail_idle_seat_seconds,
            t.fans_waiting_while_seats_free,
            t.tail_fans_waiting_while_seats_free,
            t.fan_seconds_waiting_while_seats_free
        );
        let _ = writeln!(
            s,
            "  waiting: peak {}; admitted {} in {} ticks (peak {} a tick), dropped {}",
            self.waiting_peak,
            self.admission.admitted,
            self.admission.ticks,
            self.admission.peak_admitted_per_tick,
            self.admission.dropped
        );
        let o = &self.fans;
        let _ = writeln!(
            s,
            "  fans: {} joined, {} bought, {} gave up, {} told sold out, {} still waiting, {} lost, {} still shopping, {} token ended while shopping, {} dropped while polling as told",
            o.joined, o.bought, o.gave_up, o.told_sold_out, o.waiting_at_end, o.lost, o.still_shopping, o.token_ended_shopping, o.dropped_while_polling
        );
        let b = &self.buying;
        let per_mode = |holds: u64, conflicts: f64| {
            if holds == 0 {
                "-".to_owned()
            } else {
                format!("{conflicts:.3}")
            }
        };
        let _ = writeln!(
            s,
            "  buying: {} holds, {:.3} hold conflicts a hold ({} for best available, {} for seats picked from the chart), at most {} seats a fan (limit {}), {} refused at the limit; {} bots sent {} requests and bought {} seats",
            b.holds,
            b.hold_conflicts_per_hold,
            per_mode(b.best_available_holds, b.best_available_conflicts_per_hold),
            per_mode(b.picked_holds, b.picked_conflicts_per_hold),
            b.seats_per_fan_max,
            b.ticket_limit,
            b.tickets_limit_refusals,
            b.bots,
            b.bot_requests,
            b.seats_bought_by_bots
        );
        let _ = writeln!(
            s,
            "  buying path: largest item {} bytes ({}); {} orders found no room, {} times a party settled for fewer seats, {} holds answered busy",
            b.largest_item_bytes,
            if b.largest_item_key.is_empty() {
                "-"
            } else {
                &b.largest_item_key
            },
            b.holds_refused_no_room,
            b.parties_settled,
            b.holds_busy
        );
        let _ = writeln!(
            s,
            "  buying path: largest item written {} bytes ({}), {} write units a write",
            b.largest_written_bytes,
            if b.largest_written_key.is_empty() {
                "-"
            } else {
                &b.largest_written_key
            },
            b.largest_written_units
        );
        let h = &self.holdings;
        let _ = writeln!(
            s,
            "  holdings: at most {} seats a fan held and sold at once by true time (limit {}), {} over it; {} lapse-second races ({} paid, {} held again); {} bots ({} spinning) kept {} seat-seconds from fans ({} by all holds), {} releases ({} sent by pages as their fans left), {} answered 429 TOO_MANY_HOLDS ({} to fans), at most {} holds a session; bots {:.1}% of the crowd, {:.1}% of seats sold",
            h.owned_max,
            h.ticket_limit,
            h.over_limit,
            h.lapse_races,
            h.lapse_race_payments,
            h.lapse_race_holds,
            self.buying.bots,
            h.spinning_bots,
            h.bot_seat_seconds,
            h.seat_seconds,
            h.releases,
            h.released_on_leaving,
            h.too_many_holds,
            h.too_many_holds_to_fans,
            h.most_holds_a_session,
            h.bots_share_of_crowd * 100.0,
            h.bots_share_of_sold * 100.0
        );
        let f = &self.faults;
        let _ = writeln!(
            s,
            "  world: {} calls refused, {} answers lost, {} late; {} ticks delivered twice, {} died half-way",
            f.refused, f.lost_answers, f.slow, f.duplicate_ticks, f.crashed_ticks
        );
        let c = &self.conflicts;
        let _ = writeln!(
            s,
            "  conflicts: {} of {} write attempts refused (TransactionConflict, transactions {}-{} ms), peak {} a second; {} calls gave up (503 SERVICE_BUSY)",
            c.conflicts,
            c.attempts,
            c.transaction_ms.0,
            c.transaction_ms.1,
            c.peak_per_second,
            c.gave_up
        );
        for key in c.hottest.iter().take(5) {
            let _ = writeln!(
                s,
                "    {:>7} conflicts of {:>8} attempts ({:.3})  {}",
                key.conflicts, key.attempts, key.rate, key.key
            );
        }
        let a = &self.active;
        let _ = writeln!(
            s,
            "  active: peak {}, over MAX_ACTIVE by at most {}, over the seat pacing by at most {}",
            a.peak, a.peak_over_max_active, a.peak_over_seat_pacing
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
        let broken = self.broken_rules();
        let _ = writeln!(
            s,
            "  rules: {}",
            if broken.is_empty() {
                "every one held (no fan lost, no limit overshot, no fan over the ticket limit, no position ahead, no inversion, one draw in order)".to_owned()
            } else {
                format!("BROKEN: {}", broken.join("; "))
            }
        );
        let _ = writeln!(
            s,
            "  fairness: {} inversions (arrivals more than {} s apart) over {} admissions; positions: {} checked, {} exact, {} behind (at most {}), {} ahead of the truth (at most {})",
            self.fairness.inversions,
            1 + 2 * self.fairness.skew_allowed_seconds,
            self.fairness.admitted_checked,
            self.positions.checked,
            self.positions.exact,
            self.positions.behind,
            self.positions.max_behind,
            self.positions.ahead_of_truth,
            self.positions.max_ahead
        );
        let l = &self.lottery;
        if l.draws > 0 {
            let _ = writeln!(
                s,
                "  lottery: {} pre-queued fans drawn ({} draw(s) kept, {} seed(s)), Spearman {:.4} against arrival, {} admitted out of order",
                l.pre_queue_fans, l.draws, l.seeds_used, l.spearman, l.out_of_order
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
        let mut kinds: Vec<(&String, &f64)> = self
            .dynamodb
            .write_units_per_1000_sold_seats_by_kind
            .iter()
            .collect();
        kinds.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
        if !kinds.is_empty() {
            let listed: Vec<String> = kinds
                .iter()
                .take(5)
                .map(|(kind, units)| {
                    let mean = self
                        .dynamodb
                        .written_by_kind
                        .get(*kind)
                        .map_or(0, |w| w.bytes / w.writes.max(1));
                    format!("{kind} {units:.0} ({mean} bytes a write)")
                })
                .collect();
            let _ = writeln!(
                s,
                "  write units per 1,000 sold seats, by item: {}",
                listed.join("; ")
            );
        }
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
        let _ = writeln!(
            s,
            "  most written items (peak writes a second, bytes, write units a write / in that second):"
        );
        for item in self.most_written.iter().take(5) {
            let _ = writeln!(
                s,
                "    {:>5} {:>7} {:>5.0} / {:<6.0} {}",
                item.peak_writes_per_second,
                item.bytes,
                item.write_units_per_write,
                item.peak_write_units_per_second,
                item.key
            );
        }
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
