//! The on-sale simulator: a whole on-sale in virtual time over the service's real operations and
//! the in-memory store, every store call charged as the DynamoDB requests it would send.
//!
//! Time moves in whole seconds (the service's own resolution). Each second, fans arrive at the
//! join rate, and every fan request due that second (join, poll when told, list dates and
//! seats, hold a random free seat, top up, pay; give up now and then) and the admission tick,
//! when due, run as operations of the world's executor (`world`): their store calls interleave
//! one by one in an order the seed draws, and the faults, the duplicate and dying ticks and the
//! skewed clocks the flags ask for strike at the store's gate and the containers' clocks. Each
//! request goes to a container of its function (see `fleet`), whose caches are its own. Once
//! the second's operations end, the simulator learns from the store what happened (whom it
//! admitted, dropped, or saw pay), keeps its own account of the truth (`truth`), and judges
//! what the fans were told against it. One seed, one run.

mod capacity;
mod fleet;
mod holdings;
mod journey;
mod options;
mod report;
mod svg;
mod tail;
mod truth;
mod world;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use ticketing::booking::{audit, Catalog, Lottery};
use ticketing::domain::{ConcertDate, ConcertId, ManualClock, QueueToken, Timestamp, UserId};
use ticketing::store::{
    CatalogStore, GatedStore, LotteryRecord, MemoryStore, MeteredStore, QueueStore, Store,
    TicketChangeKind, LEDGER_SHARDS,
};
use ticketing::Ticketing;

use self::capacity::Capacity;
use self::fleet::Fleet;
use self::holdings::Holdings;
use self::journey::{Basket, Step};
pub use self::options::{parse, Command, Hall, Options, USAGE};
pub use self::report::Report;
use self::report::{
    ActiveFigures, Admission, BuyingFigures, Dynamodb, FanFigures, Invariants, LotteryFigures,
    Requests, RunSettings, SoldOutFigures,
};
use self::svg::Series;
use self::tail::Tail;
use self::truth::{Standing, Truth};
use self::world::{Kind, Operation, SkewedClock, World};

/// 2026-12-01T00:00:00Z: the on-sale's first second. Dates start a month later.
const START: i64 = 1_796_083_200;
const FIRST_DATE_DAYS_AHEAD: i64 = 30;
/// The simulated concert's `maxTicketsPerFan` (the service's default).
const SIMULATED_TICKET_LIMIT: u32 = 4;
/// A date of more than this many seats is listed a section at a time (the service's
/// `LIST_WHOLE_DATE_UP_TO`): its fans list the sections first.
const LIST_WHOLE_DATE_UP_TO: u32 = 1_000;
/// Sections' prices run from the front's down to the back's.
const FRONT_PRICE: u64 = 165_000;
const BACK_PRICE: u64 = 66_000;
/// The functions a fan buys through: the items their requests touch are the buying path's.
const BUYING_PATH: [&str; 4] = ["hold-seat", "pay", "list-seats", "list-sections"];
/// A tick that dies does so at one of its first this many store calls.
const TICK_DIES_BY_CALL: u32 = 24;
/// The report lists this many of the items written most.
const MOST_WRITTEN_LISTED: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Waiting,
    Shopping,
    Bought,
    GaveUp,
    DroppedWhilePolling,
    TokenExpired,
    /// Told the concert sold out.
    SoldOut,
}

struct Fan {
    token: Option<QueueToken>,
    /// The second the fan arrived.
    arrived: u64,
    /// The second its join went through: its arrival, for fairness.
    joined: u64,
    /// Its place in the queue's order, once its ticket is stored.
    standing: Option<Standing>,
    /// Waiting as the store has it: joined, not yet admitted or dropped.
    queued: bool,
    /// The second the store admitted or dropped it, once it has.
    left_queue: Option<u64>,
    /// Admitted and not yet spent: until when.
    active_until: Option<i64>,
    outcome: Outcome,
    basket: Option<Box<Basket>>,
    /// Seats it orders at once.
    party: u32,
    /// Orders by quantity (best available) rather than from the chart.
    best_available: bool,
    bot: bool,
    /// A bot that spins seats (hold, release, hold again).
    spinner: bool,
    /// A fan who pays in its hold's last seconds while holding again, once; `racing` while
    /// the two are answered.
    lapse_payer: bool,
    racing: bool,
}

/// Per-second counts of what fans asked.
#[derive(Default)]
struct Traffic {
    api: u64,
    polls: u64,
    joins: u64,
    admitted: u64,
    peak_api: u64,
    peak_polls: u64,
    peak_joins: u64,
    by_endpoint: BTreeMap<&'static str, u64>,
}

/// The pre-queue's draw, as the store kept it, and how the fans fared in it.
#[derive(Default)]
struct Draws {
    /// Every draw seen kept: on the claim, or in a tick's state.
    seen: BTreeSet<(u64, u64)>,
    /// The first draw a tick that finished reported.
    reported: Option<LotteryRecord>,
    /// The draw fans were ranked by (the first seen).
    ranked_by: Option<LotteryRecord>,
    figures: LotteryFigures,
}

struct Sim<'a> {
    options: &'a Options,
    rng: fastrand::Rng,
    clock: Arc<ManualClock>,
    /// The store underneath: for reading what happened, uncharged.
    memory: Arc<MeteredStore<MemoryStore>>,
    world: Arc<World>,
    fleet: Fleet,
    admitters: Fleet,
    concert: ConcertId,
    dates: Vec<ConcertDate>,
    fans: Vec<Fan>,
    fan_by_user: HashMap<UserId, u32>,
    /// The second the sale opens, as an epoch second, when there is a pre-queue.
    sale_opens: Option<i64>,
    draws: Draws,
    sold_out: SoldOutFigures,
    events: BinaryHeap<Reverse<(u64, u64, u32, Step)>>,
    sequence: u64,
    truth: Truth,
    /// What each fan owns, held plus sold, by the answers it got.
    holdings: Holdings,
    /// Bots and fans arrived so far: spinners and lapse payers are spread evenly among them.
    arrived_bots: u64,
    arrived_fans: u64,
    /// Positions fans were told this second, judged once the second is over.
    /// (fan, position told, the truth as the second began)
    told: Vec<(u32, u64, Option<u64>)>,
    capacity: Capacity,
    traffic: Traffic,
    series: Series,
    admission: Admission,
    active: ActiveFigures,
    /// Active tokens by when they end (the store's account: admissions not spent).
    active_until: BTreeMap<i64, u64>,
    tick_requests: u64,
    seats: u64,
    sold: u64,
    /// Seats neither sold nor held as the last second ended, by true time.
    free: u64,
    sellout: Option<u64>,
    tail: Tail,
    waiting_peak: u64,
    /// Seats free as the last tick's second began, and those that releases sent in it may free
    /// before the tick reads them.
    free_at_tick: u64,
    /// Seats under a live hold as the last tick's second began: their holders shop no more.
    held_at_tick: u64,
    /// Fans whose tokens were seen lately as the last tick's second began (a renewal later in
    /// the second may add one the tick did not count; a payment may take one off before it
    /// counts).
    seen_at_tick: Vec<u32>,
    releasing: u64,
    buying: BuyingFigures,
    /// The sections' names, when they have names.
    sections: Vec<String>,
    /// Dates are listed a section at a time (more than `LIST_WHOLE_DATE_UP_TO` seats).
    by_section: bool,
}

/// Plays the on-sale `options` describe.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let wall = Instant::now();
    // The service draws from the thread's generator (shards, jitter, the lottery's seed):
    // seeded, it repeats.
    fastrand::seed(options.seed);
    let clock = Arc::new(ManualClock::starting_at(Timestamp::from_epoch_seconds(
        START,
    )));
    let memory = Arc::new(MeteredStore::new(MemoryStore::recording_ticket_changes()));
    let world = Arc::new(World::new(
        options.seed,
        options.faults,
        options.transaction_ms,
        memory.clone(),
    ));
    let store: Arc<dyn Store> = Arc::new(GatedStore::new(memory.clone(), world.clone()));
    let mut skews = fastrand::Rng::with_seed(options.seed ^ 0x0c10_c0c5);
    let skew = options.clock_skew as i64;
    let boot = {
        let (store, clock, settings) = (store.clone(), clock.clone(), options.settings.clone());
        move || {
            let offset = if skew > 0 { skews.i64(-skew..=skew) } else { 0 };
            let clock = Arc::new(SkewedClock {
                world: clock.clone(),
                offset,
            });
            Ticketing::new(store.clone(), clock, settings.clone())
        }
    };
    let loader = Ticketing::new(store.clone(), clock.clone(), options.settings.clone());
    loader
        .load_catalog(&catalog(options)?)
        .await
        .context("loading the simulated catalog")?;
    memory.take_requests();
    world.take_sent();

    let mut admitter_skews = fastrand::Rng::with_seed(options.seed ^ 0x00ad_4177);
    let admitters = {
        let (store, clock, settings) = (store.clone(), clock.clone(), options.settings.clone());
        move || {
            let offset = if skew > 0 {
                admitter_skews.i64(-skew..=skew)
            } else {
                0
            };
            let clock = Arc::new(SkewedClock {
                world: clock.clone(),
                offset,
            });
            Ticketing::new(store.clone(), clock, settings.clone())
        }
    };
    let mut sim = Sim {
        options,
        rng: fastrand::Rng::with_seed(options.seed),
        clock,
        memory,
        world,
        fleet: Fleet::new(boot),
        admitters: Fleet::new(admitters),
        concert: concert_id(0),
        dates: dates(options),
        fans: Vec::with_capacity(options.fans as usize),
        fan_by_user: HashMap::new(),
        sale_opens: (options.queue_opens_before > 0)
            .then_some(START + options.queue_opens_before as i64),
        draws: Draws::default(),
        sold_out: SoldOutFigures::default(),
        events: BinaryHeap::new(),
        sequence: 0,
        truth: Truth::new(START - 600, options.clock_skew),
        holdings: Holdings::new(START, options.clock_skew, SIMULATED_TICKET_LIMIT),
        arrived_bots: 0,
        arrived_fans: 0,
        told: Vec::new(),
        capacity: Capacity::default(),
        traffic: Traffic::default(),
        series: Series::default(),
        admission: Admission::default(),
        active: ActiveFigures::default(),
        active_until: BTreeMap::new(),
        tick_requests: 0,
        seats: u64::from(options.dates) * u64::from(options.seats_per_date),
        sold: 0,
        free: 0,
        sellout: None,
        tail: Tail::new(
            u64::from(options.dates) * u64::from(options.seats_per_date),
            options.queue_opens_before,
        ),
        waiting_peak: 0,
        free_at_tick: 0,
        held_at_tick: 0,
        seen_at_tick: Vec::new(),
        releasing: 0,
        buying: BuyingFigures::default(),
        sections: sections(options)
            .into_iter()
            .map(|(name, _, _, _)| name)
            .collect(),
        by_section: options.seats_per_date > LIST_WHOLE_DATE_UP_TO,
    };
    let simulated = sim.play(wall).await?;
    sim.report(simulated, wall.elapsed().as_secs_f64()).await
}

impl Sim<'_> {
    /// Runs second by second; returns how many seconds it simulated.
    async fn play(&mut self, wall: Instant) -> anyhow::Result<u64> {
        let tick_every = self.options.settings.admit_tick_seconds.max(1);
        let mut ends_at = None;
        let mut last_progress = Instant::now();
        let mut second = 0;
        while second < self.options.duration {
            if second > 0 {
                self.clock.advance(1);
            }
            self.arrive(second);
            self.releasing = 0;
            let mut operations: Vec<(Kind, Option<u32>, Operation)> = Vec::new();
            let mut answers = Vec::new();
            // A container's requests run one after another; containers run side by side.
            let mut lanes: BTreeMap<usize, (&'static str, Vec<Operation>)> = BTreeMap::new();
            while let Some(Reverse((at, _, fan, step))) = self.events.peek().copied() {
                if at > second {
                    break;
                }
                self.events.pop();
                if let Some((operation, answer)) = self.request(second, fan, step) {
                    let (lane, function) = self.fleet.last_lane();
                    lanes
                        .entry(lane)
                        .or_insert_with(|| (function, Vec::new()))
                        .1
                        .push(operation);
                    answers.push((fan, step, answer));
                }
            }
            for (_, (function, requests)) in lanes {
                let lane: Operation = Box::pin(async move {
                    for request in requests {
                        request.await;
                    }
                });
                operations.push((Kind::Fan(function), None, lane));
            }
            let mut ticks = Vec::new();
            if second % tick_every == 0 {
                let skew = self.options.clock_skew as i64;
                // Seats only get taken within a second, but for a release: the tick may count
                // what the second's releases free.
                let (sold, free) = self.seat_counts(self.clock_now() + skew).await;
                self.free_at_tick = free + self.releasing;
                self.held_at_tick = self.seats.saturating_sub(sold + free);
                self.seen_at_tick = self.seen_lately(self.clock_now() + skew);
                let deliveries = if self.rng.f64() < self.options.duplicate_ticks {
                    self.world.count_duplicate_tick();
                    2
                } else {
                    1
                };
                for delivery in 0..deliveries {
                    let dies_at = (self.rng.f64() < self.options.tick_crash)
                        .then(|| self.rng.u32(1..=TICK_DIES_BY_CALL));
                    let admitter = if delivery == 0 {
                        self.admitters.container("admit-queue", second).clone()
                    } else {
                        self.admitters.cold()
                    };
                    let report = journey::slot();
                    let out = report.clone();
                    operations.push((
                        Kind::Tick,
                        dies_at,
                        Box::pin(async move {
                            let done = admitter.admit_waiting().await;
                            out.replace(Some(done));
                        }),
                    ));
                    ticks.push(report);
                }
            }
            self.world.run(operations).await;

            for (fan, step, answer) in answers {
                if let Some(answer) = answer.take() {
                    self.answered(second, fan, step, answer).await;
                }
            }
            for report in ticks {
                if let Some(Ok(report)) = report.take() {
                    self.ticked(report);
                }
            }
            self.learn().await;
            (self.sold, self.free) = self.seat_counts(self.clock_now()).await;
            if self.sold >= self.seats && self.sellout.is_none() {
                self.sellout = Some(second);
            }
            self.account(second, tick_every).await;
            self.close_second(second);
            second += 1;
            if self.sellout.is_some() && ends_at.is_none() {
                // One tick after the last sale, then stop.
                ends_at = Some(second.div_ceil(tick_every) * tick_every);
            }
            if ends_at.is_some_and(|end| second > end) {
                break;
            }
            let every = if std::io::stderr().is_terminal() {
                250
            } else {
                10_000
            };
            if self.options.progress && last_progress.elapsed().as_millis() >= every {
                last_progress = Instant::now();
                self.progress(second, wall);
            }
        }
        if self.options.progress {
            self.progress(second, wall);
            if std::io::stderr().is_terminal() {
                eprintln!();
            }
        }
        Ok(second)
    }

    /// A bar redrawn in place on a terminal; a line every ten seconds otherwise (CI logs).
    fn progress(&self, second: u64, wall: Instant) {
        let share = second as f64 / self.options.duration as f64;
        let arrived = self.fans.len() as f64 / self.options.fans as f64;
        let sold = self.sold as f64 / self.seats as f64;
        let done = share.max(sold.min(arrived)).min(1.0);
        let filled = (done * 30.0) as usize;
        let line = format!(
            "onsale [{}{}] {:>3.0}%  t={second}s  arrived {}  waiting {}  sold {}/{}  {:.0}s",
            "#".repeat(filled),
            ".".repeat(30 - filled),
            done * 100.0,
            self.fans.len(),
            self.truth.waiting,
            self.sold,
            self.seats,
            wall.elapsed().as_secs_f64()
        );
        if std::io::stderr().is_terminal() {
            eprint!("\r{line}   ");
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("{line}");
        }
    }

    fn schedule(&mut self, at: u64, fan: u32, step: Step) {
        self.sequence += 1;
        self.events.push(Reverse((at, self.sequence, fan, step)));
    }

    /// Fans (and bots, spread evenly among them) whose arrival time falls in this second.
    fn arrive(&mut self, second: u64) {
        let crowd = self.options.fans + self.options.bots;
        let due = ((second + 1) as f64 * self.options.join_rate).ceil() as u64;
        while (self.fans.len() as u64) < due.min(crowd) {
            let fan = self.fans.len() as u32;
            let bots_by = |n: u64| n * self.options.bots / crowd;
            let bot = bots_by(u64::from(fan) + 1) > bots_by(u64::from(fan));
            let party = self.party_size();
            let best_available = self.rng.f64() < self.options.best_available;
            // Every n-th of them, drawing nothing from the seed's stream.
            let every = |share: f64, n: &mut u64| {
                *n += 1;
                (*n as f64 * share).floor() > ((*n - 1) as f64 * share).floor()
            };
            let (spinner, lapse_payer) = if bot {
                (
                    every(self.options.spinning_bots, &mut self.arrived_bots),
                    false,
                )
            } else {
                (
                    false,
                    every(self.options.lapse_payers, &mut self.arrived_fans),
                )
            };
            // A lapse payer orders all the limit allows: one seat more breaks it.
            let party = if lapse_payer {
                SIMULATED_TICKET_LIMIT
            } else {
                party
            };
            self.fans.push(Fan {
                token: None,
                arrived: second,
                joined: second,
                standing: None,
                queued: false,
                left_queue: None,
                active_until: None,
                outcome: Outcome::Waiting,
                basket: None,
                party,
                best_available,
                bot,
                spinner,
                lapse_payer,
                racing: false,
            });
            self.fan_by_user.insert(fan_id(fan), fan);
            self.schedule(second, fan, Step::Arrive);
            if bot {
                self.buying.bots += 1;
                self.holdings.figures.spinning_bots += u64::from(spinner);
                self.schedule(second + 1, fan, Step::Hammer);
            }
        }
    }

    /// A party size drawn by the weights of `--party-sizes`.
    fn party_size(&mut self) -> u32 {
        let total: u32 = self.options.party_sizes.iter().map(|(_, w)| w).sum();
        let mut pick = self.rng.u32(..total.max(1));
        for (size, weight) in &self.options.party_sizes {
            if pick < *weight {
                return *size;
            }
            pick -= weight;
        }
        1
    }

    /// A tick's report: what it admitted and dropped is learned from the store (a dead tick's
    /// batches stand too); the report gives the tick's own figures and the draw it used.
    fn ticked(&mut self, report: ticketing::booking::AdmissionReport) {
        self.admission.ticks += 1;
        if let Some(tick) = report
            .concerts
            .iter()
            .find(|c| c.concert_id == self.concert)
        {
            let admitted = tick.admitted.len() as u64;
            self.admission.peak_admitted_per_tick =
                self.admission.peak_admitted_per_tick.max(admitted);
            if let Some(lottery) = tick.state.lottery {
                self.draws.seen.insert((lottery.seed, lottery.size));
                self.draws.reported.get_or_insert(lottery);
            }
        }
    }

    /// What the store applied this second: admissions, drops and spent tokens (in the order
    /// applied), and the draw as kept.
    async fn learn(&mut self) {
        // The draw as kept on the claim, or as a finished tick reported it: fans are ranked by
        // the first seen, before this second's admissions are learned.
        let claim = self.memory.inner().tick_claim(&self.concert);
        let kept = claim.and_then(|c| c.lottery);
        if let Some(lottery) = kept {
            self.draws.seen.insert((lottery.seed, lottery.size));
        }
        if let Some(lottery) = kept.or(self.draws.reported) {
            if self.draws.ranked_by.is_none() {
                self.rank(lottery).await;
            }
        }
        for change in self.memory.inner().take_ticket_changes() {
            if change.concert_id != self.concert {
                continue;
            }
            let Some(fan) = self.fan_by_user.get(&change.user_id).copied() else {
                continue;
            };
            match change.change {
                TicketChangeKind::Admitted { until, .. } => {
                    self.leaves(fan, true);
                    self.admission.admitted += 1;
                    self.traffic.admitted += 1;
                    self.fans[fan as usize].active_until = Some(until);
                    *self.active_until.entry(until).or_default() += 1;
                }
                TicketChangeKind::Dropped => {
                    self.leaves(fan, false);
                    self.admission.dropped += 1;
                }
                TicketChangeKind::Used => {
                    if let Some(until) = self.fans[fan as usize].active_until.take() {
                        if let Some(count) = self.active_until.get_mut(&until) {
                            *count -= 1;
                        }
                    }
                }
                // A request kept the slot: it ends later (an idle fan's ends where it was).
                TicketChangeKind::Renewed { until } => {
                    let f = &mut self.fans[fan as usize];
                    if let Some(old) = f.active_until.replace(until) {
                        if let Some(count) = self.active_until.get_mut(&old) {
                            *count -= 1;
                        }
                    }
                    *self.active_until.entry(until).or_default() += 1;
                }
            }
        }
        // What fans were told this second, against the truth as it began and as it ended.
        for (fan, reported, at_start) in std::mem::take(&mut self.told) {
            let f = &self.fans[fan as usize];
            if !f.queued {
                continue;
            }
            if let Some(at_end) = f.standing.and_then(|s| self.truth.position(s)) {
                let at_start = at_start.unwrap_or(at_end).max(at_end);
                self.truth.judge_position(reported, at_start, at_end);
            }
        }
    }

    /// A waiting fan left the queue, as the store applied it.
    fn leaves(&mut self, fan: u32, admitted: bool) {
        let now = (self.clock_now() - START).max(0) as u64;
        let f = &mut self.fans[fan as usize];
        if !f.queued {
            return;
        }
        f.queued = false;
        f.left_queue = Some(now);
        let (standing, joined) = (f.standing, f.joined);
        if let Some(standing) = standing {
            let left = self.truth.left(standing, joined, admitted);
            self.draws.figures.out_of_order += u64::from(left.out_of_order);
        }
    }

    /// The draw was kept: every pre-queued fan takes its rank, computed from the numbers as the
    /// counters hold them (the draw is the keyed permutation of its seed over them).
    async fn rank(&mut self, lottery: LotteryRecord) {
        self.draws.ranked_by = Some(lottery);
        let Some(opens) = self.sale_opens else {
            return;
        };
        // The queue opens at START: a number drawn in a second before it is nobody's (a join
        // on a clock behind draws, then learns the queue is not open).
        let drawn = self.memory.inner().drawn(&self.concert, START, opens - 1);
        let mut bases = BTreeMap::new();
        let mut base = 0u64;
        for (second, counts) in &drawn {
            bases.insert(*second, (base, counts.clone()));
            base += counts.iter().map(|c| u64::from(*c)).sum::<u64>();
        }
        let draw = Lottery::new(lottery.seed, lottery.size);
        let mut ranked = Vec::new();
        for fan in 0..self.fans.len() {
            let f = &self.fans[fan];
            let Some(Standing::PreQueue(None)) = f.standing else {
                continue;
            };
            let Some(place) = self.place_of(fan as u32).await else {
                continue;
            };
            let Some((base, counts)) = bases.get(&place.second) else {
                continue;
            };
            let before: u64 = counts
                .iter()
                .take(usize::from(place.shard))
                .map(|c| u64::from(*c))
                .sum();
            let ordinal = base + before + u64::from(place.number) - 1;
            if ordinal >= draw.size() {
                continue;
            }
            let rank = draw.rank(ordinal);
            ranked.push((f.arrived, rank));
            self.fans[fan].standing = Some(Standing::PreQueue(Some(rank)));
            if self.fans[fan].queued {
                self.truth.ranked(rank);
            }
        }
        ranked.sort();
        self.draws.figures.pre_queue_fans = ranked.len() as u64;
        self.draws.figures.spearman = spearman(
            ranked
                .iter()
                .enumerate()
                .map(|(arrival, (_, rank))| (arrival, *rank)),
        );
    }

    /// A fan's place as its stored ticket holds it.
    async fn place_of(&self, fan: u32) -> Option<ticketing::domain::QueuePlace> {
        let ticket = self
            .memory
            .inner()
            .ticket(&fan_id(fan), &self.concert)
            .await
            .ok()??;
        Some(ticket.place())
    }

    /// The second's DynamoDB requests, and the tokens active against the limits.
    async fn account(&mut self, second: u64, tick_every: u64) {
        let mut tick_requests = 0;
        for (kind, requests) in self.world.take_sent() {
            match kind {
                Kind::Tick => tick_requests += requests.len() as u64,
                Kind::Fan(function) if BUYING_PATH.contains(&function) => {
                    self.buying.note_items(&requests)
                }
                Kind::Fan(_) => {}
            }
            self.capacity.charge(requests);
        }
        if second % tick_every != 0 {
            return;
        }
        self.tick_requests += tick_requests;
        self.admission.peak_requests_per_tick =
            self.admission.peak_requests_per_tick.max(tick_requests);
        // Tokens active now, as the store has them: admitted, not spent, not ended.
        let now = self.clock_now();
        let ended: Vec<i64> = self.active_until.range(..=now).map(|(u, _)| *u).collect();
        for until in ended {
            self.active_until.remove(&until);
        }
        let active: u64 = self.active_until.values().sum();
        self.active.peak = self.active.peak.max(active);
        // An admitter whose clock is ahead by the skew sees tokens and holds end that much
        // sooner: it is judged by what is active and free that much later.
        let skew = self.options.clock_skew as i64;
        let active: u64 = self
            .active_until
            .range(now + skew + 1..)
            .map(|(_, n)| n)
            .sum();
        let max_active = u64::from(self.options.settings.max_active);
        self.active.peak_over_max_active = self
            .active
            .peak_over_max_active
            .max(active.saturating_sub(max_active));
        // The pacing bounds what a tick admits, against the free seats it read, for the fans
        // seen lately beyond the seats held: judged on seconds the tick admitted, by the seats free and
        // held as the second began (a hold in the second only lowers what the tick may admit;
        // a release is counted free). Tokens admitted earlier stay active while the seats
        // sell; that is not an overshoot.
        if self.traffic.admitted > 0 {
            let pacing = u64::from(self.options.settings.active_per_free_seat) * self.free_at_tick;
            // Counted as the tick may have: fans seen lately both as the second began and now,
            // and those the tick admitted.
            let lately = self.seen_lately_from(now + skew);
            let seen = self
                .seen_at_tick
                .iter()
                .filter(|fan| self.seen_since(**fan, lately))
                .count() as u64;
            let shopping = (seen + self.traffic.admitted).saturating_sub(self.held_at_tick);
            self.active.peak_over_seat_pacing = self
                .active
                .peak_over_seat_pacing
                .max(shopping.saturating_sub(pacing));
        }
    }

    /// A token whose slot ends after this, at `at`, was seen lately, as the tick counts them
    /// (the idle time less two renewal intervals on).
    fn seen_lately_from(&self, at: i64) -> i64 {
        at + ticketing::booking::seen_lately_margin(self.options.settings.active_idle_seconds)
    }

    /// The fans whose tokens were seen lately at `at`.
    fn seen_lately(&self, at: i64) -> Vec<u32> {
        let lately = self.seen_lately_from(at);
        (0..self.fans.len() as u32)
            .filter(|fan| self.seen_since(*fan, lately))
            .collect()
    }

    /// Whether the fan's slot ends after `lately` (see [`Sim::seen_lately_from`]).
    fn seen_since(&self, fan: u32, lately: i64) -> bool {
        self.fans[fan as usize]
            .active_until
            .is_some_and(|until| until > lately)
    }

    fn clock_now(&self) -> i64 {
        ticketing::domain::Clock::now(&*self.clock).epoch_seconds()
    }

    /// Seats sold, and seats neither sold nor under a live hold, on every date, as the store
    /// has them (a payment whose answer was lost is sold all the same).
    async fn seat_counts(&self, now: i64) -> (u64, u64) {
        let per_date = u64::from(self.options.seats_per_date);
        let shards: Vec<(ConcertDate, u32)> = self
            .dates
            .iter()
            .flat_map(|d| (0..LEDGER_SHARDS).map(move |shard| (*d, shard)))
            .collect();
        let ledgers = self
            .memory
            .inner()
            .seat_ledgers(&self.concert, &shards)
            .await
            .unwrap_or_default();
        let sold: i64 = ledgers.iter().map(|(_, _, l)| l.sold).sum();
        let held: i64 = ledgers
            .iter()
            .flat_map(|(_, _, l)| l.holds.range(now + 1..).map(|(_, n)| *n))
            .sum();
        let (sold, held) = (sold.max(0) as u64, held.max(0) as u64);
        let seats = per_date * self.dates.len() as u64;
        (sold, seats.saturating_sub(sold + held))
    }

    fn close_second(&mut self, second: u64) {
        self.capacity.close_second(second);
        let t = &mut self.traffic;
        t.peak_api = t.peak_api.max(t.api);
        t.peak_polls = t.peak_polls.max(t.polls);
        t.peak_joins = t.peak_joins.max(t.joins);
        self.waiting_peak = self.waiting_peak.max(self.truth.waiting);
        let s = &mut self.series;
        s.waiting.push(self.truth.waiting as f64);
        s.admitted.push(t.admitted as f64);
        s.api_requests.push(t.api as f64);
        s.polls.push(t.polls as f64);
        s.sold.push(self.sold as f64);
        s.free_seats.push(self.free as f64);
        let idle = self
            .tail
            .second(second, self.sold, self.free, self.truth.waiting);
        s.idle_seats.push(idle as f64);
        let load = self.capacity.seconds.last().map_or(0.0, |l| l.utilisation);
        s.hottest_key_percent.push(load * 100.0);
        s.conflicts.push(self.world.close_second() as f64);
        t.api = 0;
        t.polls = 0;
        t.joins = 0;
        t.admitted = 0;
    }

    async fn report(self, simulated: u64, wall_seconds: f64) -> anyhow::Result<Report> {
        let o = self.options;
        let inventory = self.memory.inner().inventory();
        let mut violations = audit(&inventory);
        violations.extend(self.holdings.violations());
        let mut buying = self.buying.clone();
        buying.hold_conflicts = self.memory.inner().seat_conflicts();
        let per_hold = |conflicts: u64, holds: u64| conflicts as f64 / holds.max(1) as f64;
        buying.hold_conflicts_per_hold = per_hold(buying.hold_conflicts, buying.holds);
        buying.picked_conflicts_per_hold = per_hold(buying.picked_conflicts, buying.picked_holds);
        buying.best_available_conflicts_per_hold = per_hold(
            buying
                .hold_conflicts
                .saturating_sub(buying.picked_conflicts),
            buying.best_available_holds,
        );
        buying.ticket_limit = inventory
            .concerts
            .iter()
            .find(|c| c.concert_id == self.concert)
            .map_or(0, |c| c.max_tickets_per_fan.get());
        buying.seats_bought_by_bots = inventory
            .payments
            .iter()
            .filter(|p| {
                self.fan_by_user
                    .get(&p.user_id)
                    .is_some_and(|f| self.fans[*f as usize].bot)
            })
            .map(|p| p.seat_numbers.len() as u64)
            .sum();
        let holdings = {
            let mut holdings = self.holdings;
            let bots = buying.bots;
            let crowd = self.fans.len() as u64;
            holdings.close(
                simulated,
                crowd,
                bots,
                self.sold,
                buying.seats_bought_by_bots,
            );
            holdings.figures
        };
        let fans = self.fans.len().max(1) as f64;
        let sold = (self.sold > 0).then_some(self.sold as f64);
        let mut figures = FanFigures {
            arrived: self.fans.len() as u64,
            admitted: self.admission.admitted,
            dropped_idle: self.admission.dropped,
            ..FanFigures::default()
        };
        let drawn = self.draws.ranked_by.is_some();
        for fan in &self.fans {
            figures.joined += u64::from(fan.standing.is_some());
            match fan.outcome {
                Outcome::Waiting => {}
                Outcome::Shopping => figures.still_shopping += 1,
                Outcome::Bought => figures.bought += 1,
                Outcome::GaveUp => figures.gave_up += 1,
                Outcome::DroppedWhilePolling => figures.dropped_while_polling += 1,
                Outcome::TokenExpired => figures.token_ended_shopping += 1,
                Outcome::SoldOut => figures.told_sold_out += 1,
            }
            if let (true, Some(standing)) = (fan.queued, fan.standing) {
                // Waiting still: lost if the tick passed it for good (or the draw left it out).
                let outside_the_draw = drawn && standing == Standing::PreQueue(None);
                if self.truth.is_passed(standing) || outside_the_draw {
                    figures.lost += 1;
                } else {
                    figures.waiting_at_end += 1;
                }
            }
        }
        let mut lottery = self.draws.figures.clone();
        lottery.draws = self.draws.seen.len() as u64;
        lottery.seeds_used = self
            .draws
            .seen
            .iter()
            .map(|(seed, _)| *seed)
            .collect::<BTreeSet<u64>>()
            .len() as u64;
        let mut sold_out = self.sold_out.clone();
        sold_out.last_sale_second = self.sellout;
        if self.sellout.is_none() {
            sold_out.still_waiting_after_sellout_max_seconds = None;
        }
        let capacity = &self.capacity;
        let mut admission = self.admission.clone();
        admission.mean_requests_per_tick =
            self.tick_requests as f64 / admission.ticks.max(1) as f64;
        let report = Report {
            seats: self.seats,
            sold: self.sold,
            simulated_seconds: simulated,
            wall_seconds,
            sellout_seconds: self.sellout,
            tail: self.tail.figures(
                self.fans
                    .iter()
                    .filter(|f| f.standing.is_some())
                    .map(|f| (f.joined, f.left_queue)),
            ),
            waiting_peak: self.waiting_peak,
            invariants: Invariants {
                ok: violations.is_empty(),
                violations,
            },
            requests: Requests {
                total: capacity.requests,
                per_fan: capacity.requests as f64 / fans,
                per_sold_seat: sold.map(|s| capacity.requests as f64 / s),
                peak_api_per_second: self.traffic.peak_api,
                peak_polls_per_second: self.traffic.peak_polls,
                peak_joins_per_second: self.traffic.peak_joins,
                by_operation: capacity.by_operation.clone(),
                api_total: self.traffic.by_endpoint.values().sum(),
                api_by_endpoint: self.traffic.by_endpoint.clone(),
            },
            dynamodb: Dynamodb {
                read_units: capacity.read_units,
                write_units: capacity.write_units,
                peak_read_units_per_second: capacity.peak_table_read_units,
                peak_write_units_per_second: capacity.peak_table_write_units,
                read_units_per_fan: capacity.read_units / fans,
                write_units_per_fan: capacity.write_units / fans,
                read_units_per_sold_seat: sold.map(|s| capacity.read_units / s),
                write_units_per_sold_seat: sold.map(|s| capacity.write_units / s),
                cost_usd: capacity.cost_usd(),
                cost_usd_per_1000_sold_seats: sold.map(|s| capacity.cost_usd() / s * 1000.0),
                written_by_kind: capacity.written_by_kind.clone(),
                write_units_per_1000_sold_seats_by_kind: sold
                    .map(|s| {
                        capacity
                            .written_by_kind
                            .iter()
                            .map(|(kind, w)| (kind.clone(), w.write_units / s * 1000.0))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            hot_keys: capacity.hottest(20),
            over_limit: capacity.over_limit.clone(),
            over_limit_count: capacity.over_limit_count,
            over_half_limit: capacity.over_half_limit.clone(),
            over_half_limit_count: capacity.over_half_limit_count,
            largest_item: capacity.largest_item.clone(),
            most_written: capacity.most_written(MOST_WRITTEN_LISTED),
            lottery,
            sold_out,
            fairness: self.truth.fairness.clone(),
            positions: self.truth.positions.clone(),
            admission,
            active: self.active.clone(),
            faults: self.world.faults(),
            conflicts: self.world.conflicts(),
            fans: figures,
            buying,
            holdings,
            containers: self.fleet.figures(),
            settings: RunSettings {
                fans: o.fans,
                join_rate: o.join_rate,
                concerts: o.concerts,
                dates: o.dates,
                seats_per_date: o.seats_per_date,
                section_size: o.section_size,
                admit_per_tick: o.settings.admit_per_tick,
                max_active: o.settings.max_active,
                tick_seconds: o.settings.admit_tick_seconds,
                poll_seconds: o.poll_seconds,
                abandon_rate: o.abandon_rate,
                leaving_releases: o.leaving_releases,
                queue_opens_before: o.queue_opens_before,
                duration: o.duration,
                faults: o.faults,
                duplicate_ticks: o.duplicate_ticks,
                tick_crash: o.tick_crash,
                clock_skew: o.clock_skew,
                transaction_ms: o.transaction_ms,
                seed: o.seed,
            },
            per_second: self.series.clone(),
        };
        if let Some(path) = &o.json {
            let json = serde_json::to_string_pretty(&report)?;
            std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        }
        if let Some(path) = &o.svg {
            let title = format!(
                "On-sale: {} fans at {}/s, {} seats, seed {}",
                o.fans, o.join_rate, self.seats, o.seed
            );
            std::fs::write(path, svg::render(&self.series, &title))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(report)
    }
}

fn fan_id(fan: u32) -> UserId {
    UserId::parse(&format!("fan-{fan}")).expect("fan ids are valid user ids")
}

/// Spearman's rank correlation of pairs of ranks (each a permutation of 0..n).
fn spearman(pairs: impl Iterator<Item = (usize, u64)>) -> f64 {
    let pairs: Vec<(f64, f64)> = pairs.map(|(a, b)| (a as f64, b as f64)).collect();
    let n = pairs.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    // Ranks are 0..n in both columns: Pearson's formula on them is Spearman's.
    let mean = (n - 1.0) / 2.0;
    let (mut cov, mut var) = (0.0, 0.0);
    let ranked_b = {
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        order.sort_by(|x, y| pairs[*x].1.total_cmp(&pairs[*y].1));
        let mut ranks = vec![0.0; pairs.len()];
        for (rank, i) in order.into_iter().enumerate() {
            ranks[i] = rank as f64;
        }
        ranks
    };
    let ranked_a = {
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        order.sort_by(|x, y| pairs[*x].0.total_cmp(&pairs[*y].0));
        let mut ranks = vec![0.0; pairs.len()];
        for (rank, i) in order.into_iter().enumerate() {
            ranks[i] = rank as f64;
        }
        ranks
    };
    for (a, b) in ranked_a.iter().zip(&ranked_b) {
        cov += (a - mean) * (b - mean);
        var += (a - mean) * (a - mean);
    }
    cov / var
}

fn concert_id(index: u32) -> ConcertId {
    ConcertId::parse(&format!("onsale-{index:05}")).expect("a valid concert id")
}

/// The dates on sale, a month on from the start.
fn dates(options: &Options) -> Vec<ConcertDate> {
    let start = Timestamp::from_epoch_seconds(START);
    (0..i64::from(options.dates))
        .map(|d| {
            start
                .plus_seconds((FIRST_DATE_DAYS_AHEAD + d) * 86_400)
                .date()
        })
        .collect()
}

/// The named sections of a date, when the hall has them: (name, first seat, last seat, price),
/// `--section-size` seats each (the last may be shorter), the front dearest.
fn sections(options: &Options) -> Vec<(String, u32, u32, u64)> {
    let Hall::Sections { seats, size } = options.hall() else {
        return Vec::new();
    };
    let count = seats.div_ceil(size);
    (0..count)
        .map(|i| {
            let from = i * size + 1;
            let to = (from + size - 1).min(seats);
            let step = (FRONT_PRICE - BACK_PRICE) * u64::from(i) / u64::from((count - 1).max(1));
            let price = (FRONT_PRICE - step) / 1_000 * 1_000;
            (format!("S{}", i + 1), from, to, price)
        })
        .collect()
}

/// `--concerts` concerts of `--dates` dates each, `--seats-per-date` priced seats a date (the
/// hall of three tiers, or named sections); the first opens its queue at the start and its
/// sale `--queue-opens-before` seconds later, when that is set.
fn catalog(options: &Options) -> anyhow::Result<Catalog> {
    let opening = |offset: u64| Timestamp::from_epoch_seconds(START + offset as i64);
    let times = if options.queue_opens_before > 0 {
        format!(
            r#", "queueOpensAt": "{}", "saleOpensAt": "{}""#,
            opening(0),
            opening(options.queue_opens_before)
        )
    } else {
        String::new()
    };
    let dates: Vec<String> = dates(options).iter().map(|d| format!("\"{d}\"")).collect();
    let seats = match options.hall() {
        Hall::Tiers => r#""seatPrices": [{"fromSeat": 1, "toSeat": 10, "price": 165000},
                                   {"fromSeat": 11, "toSeat": 30, "price": 132000},
                                   {"fromSeat": 31, "toSeat": 50, "price": 99000}]"#
            .to_owned(),
        Hall::Sections { .. } => {
            let sections: Vec<String> = sections(options)
                .iter()
                .map(|(name, from, to, price)| {
                    format!(
                        r#"{{"section": "{name}", "fromSeat": {from}, "toSeat": {to}, "price": {price}}}"#
                    )
                })
                .collect();
            format!(r#""sections": [{}]"#, sections.join(", "))
        }
    };
    let concerts: Vec<String> = (0..options.concerts)
        .map(|i| {
            format!(
                r#"{{"concertId": "{}", "title": "On-sale {i}", "dates": [{}],
                    {seats},
                    "maxTicketsPerFan": {SIMULATED_TICKET_LIMIT}{}}}"#,
                concert_id(i),
                dates.join(", "),
                if i == 0 { times.as_str() } else { "" }
            )
        })
        .collect();
    Ok(Catalog::from_json(&format!(
        r#"{{"concerts": [{}]}}"#,
        concerts.join(",")
    ))?)
}
