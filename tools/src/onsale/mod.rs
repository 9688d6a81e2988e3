//! The on-sale simulator: a whole on-sale in virtual time over the service's real operations and
//! the in-memory store, every store call charged as the DynamoDB requests it would send.
//!
//! Time moves in whole seconds (the service's own resolution). Each second the admission tick
//! runs when due, fans arrive at the join rate, and every fan event of that second runs in order:
//! join, poll when told, give up now and then, and once admitted list dates and seats, hold a
//! random free seat (another on SEAT_UNAVAILABLE), charge and pay. Each API call goes to a
//! container of its function (see `fleet`), whose caches are its own. One seed, one run.

mod capacity;
mod fleet;
mod options;
mod report;
mod svg;
mod truth;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use ticketing::booking::{
    audit, Catalog, HoldRequest, Lottery, QueueStatus, QueueTicket, SeatStatus,
};
use ticketing::domain::{
    ChargeAmount, ConcertDate, ConcertId, IdempotencyKey, ManualClock, QueuePlace, QueueToken,
    ReservationId, SeatNumber, Timestamp, UserId, Won,
};
use ticketing::store::{
    page_of, LotteryRecord, MemoryStore, MeteredStore, QueuePageRecord, QueueStore, Store,
};
use ticketing::{BookingError, Ticketing};

use self::capacity::Capacity;
use self::fleet::Fleet;
pub use self::options::{parse, Command, Options, USAGE};
pub use self::report::Report;
use self::report::{
    Admission, Dynamodb, FanOutcomes, Invariants, LotteryFigures, Requests, RunSettings,
    SoldOutFigures,
};
use self::svg::Series;
use self::truth::Truth;

/// 2026-12-01T00:00:00Z: the on-sale's first second. Dates start a month later.
const START: i64 = 1_796_083_200;
const FIRST_DATE_DAYS_AHEAD: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Arrive,
    Poll,
    Dates,
    Seats,
    Hold,
    Charge,
    Pay,
}

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

/// What an admitted fan is doing.
#[derive(Debug, Default)]
struct Basket {
    date: Option<ConcertDate>,
    /// Seats the last chart showed free, with their prices; tried in random order.
    candidates: Vec<(SeatNumber, Won)>,
    held: Option<(ReservationId, Won)>,
    attempts: u32,
}

struct Fan {
    token: Option<QueueToken>,
    joined: u64,
    place: Option<QueuePlace>,
    /// The fan's index in queue order, once a tick has counted its second.
    index: Option<usize>,
    /// Waiting as the service sees it: joined, not yet admitted or dropped by a tick.
    queued: bool,
    /// Joined before the sale opened: its place is the lottery's.
    pre_queue: bool,
    outcome: Outcome,
    basket: Option<Box<Basket>>,
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

struct Sim<'a> {
    options: &'a Options,
    rng: fastrand::Rng,
    clock: Arc<ManualClock>,
    store: Arc<MeteredStore<MemoryStore>>,
    fleet: Fleet,
    admitter: Ticketing,
    concert: ConcertId,
    fans: Vec<Fan>,
    /// Fans whose second no tick has counted yet, by that second.
    uncounted: BTreeMap<u64, Vec<u32>>,
    /// The second the sale opens, when there is a pre-queue.
    sale_opens: Option<u64>,
    /// Pre-queued fans in the order they arrived, until the draw orders them.
    pre_queue: Vec<u32>,
    /// The last second the last tick counted, in simulated seconds.
    counted_through: i64,
    /// Pre-queued fans still waiting, by their lottery rank (once drawn).
    lottery_waiting: BTreeMap<u64, u32>,
    lottery: Option<LotteryFigures>,
    sold_out: SoldOutFigures,
    events: BinaryHeap<Reverse<(u64, u64, u32, Step)>>,
    sequence: u64,
    truth: Truth,
    capacity: Capacity,
    traffic: Traffic,
    series: Series,
    admission: Admission,
    tick_requests: u64,
    seats: u64,
    sold: u64,
    sellout: Option<u64>,
    waiting_peak: u64,
}

/// Plays the on-sale `options` describe.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let wall = Instant::now();
    // The service draws from the thread's generator (shards, jitter): seeded, it repeats.
    fastrand::seed(options.seed);
    let clock = Arc::new(ManualClock::starting_at(Timestamp::from_epoch_seconds(
        START,
    )));
    let store = Arc::new(MeteredStore::new(MemoryStore::new()));
    let boot = {
        let (store, clock, settings) = (store.clone(), clock.clone(), options.settings.clone());
        move || {
            let store: Arc<dyn Store> = store.clone();
            Ticketing::new(store, clock.clone(), settings.clone())
        }
    };
    let admitter = boot();
    admitter
        .load_catalog(&catalog(options)?)
        .await
        .context("loading the simulated catalog")?;
    store.take_requests();

    let mut sim = Sim {
        options,
        rng: fastrand::Rng::with_seed(options.seed),
        clock,
        store,
        fleet: Fleet::new(boot),
        admitter,
        concert: concert_id(0),
        fans: Vec::with_capacity(options.fans as usize),
        uncounted: BTreeMap::new(),
        sale_opens: (options.queue_opens_before > 0).then_some(options.queue_opens_before),
        pre_queue: Vec::new(),
        counted_through: -1,
        lottery_waiting: BTreeMap::new(),
        lottery: None,
        sold_out: SoldOutFigures::default(),
        events: BinaryHeap::new(),
        sequence: 0,
        truth: Truth::new(options.fans as usize * 2),
        capacity: Capacity::default(),
        traffic: Traffic::default(),
        series: Series::default(),
        admission: Admission {
            ticks: 0,
            admitted: 0,
            dropped: 0,
            peak_admitted_per_tick: 0,
            peak_requests_per_tick: 0,
            mean_requests_per_tick: 0.0,
        },
        tick_requests: 0,
        seats: u64::from(options.dates) * u64::from(ticketing::domain::SEATS_PER_DATE),
        sold: 0,
        sellout: None,
        waiting_peak: 0,
    };
    let simulated = sim.play(wall).await?;
    sim.report(simulated, wall.elapsed().as_secs_f64())
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
            if second % tick_every == 0 {
                self.tick().await?;
            }
            self.arrive(second);
            while let Some(Reverse((at, _, fan, step))) = self.events.peek().copied() {
                if at > second {
                    break;
                }
                self.events.pop();
                self.act(second, fan, step).await;
                self.capacity.charge(self.store.take_requests());
            }
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

    /// Fans whose arrival time falls in this second.
    fn arrive(&mut self, second: u64) {
        let due = ((second + 1) as f64 * self.options.join_rate).ceil() as u64;
        while (self.fans.len() as u64) < due.min(self.options.fans) {
            let fan = self.fans.len() as u32;
            self.fans.push(Fan {
                token: None,
                joined: second,
                place: None,
                index: None,
                queued: false,
                pre_queue: false,
                outcome: Outcome::Waiting,
                basket: None,
            });
            self.schedule(second, fan, Step::Arrive);
        }
    }

    fn call(&mut self, function: &'static str) {
        self.traffic.api += 1;
        *self.traffic.by_endpoint.entry(function).or_default() += 1;
    }

    fn gives_up(&mut self, fan: u32) -> bool {
        if self.rng.f64() < self.options.abandon_rate {
            self.fans[fan as usize].outcome = Outcome::GaveUp;
            return true;
        }
        false
    }

    async fn act(&mut self, second: u64, fan: u32, step: Step) {
        let user = fan_id(fan);
        match step {
            Step::Arrive => self.join(second, fan, &user).await,
            Step::Poll => self.poll(second, fan, &user).await,
            _ if self.gives_up(fan) => {}
            Step::Dates => self.dates(second, fan, &user).await,
            Step::Seats => self.seats(second, fan, &user).await,
            Step::Hold => self.hold(second, fan, &user).await,
            Step::Charge => self.charge(second, fan, &user).await,
            Step::Pay => self.pay(second, fan, &user).await,
        }
    }

    /// When to poll next: when the service says.
    fn next_poll(&self, ticket: &QueueTicket) -> u64 {
        ticket.poll_after_seconds.max(1)
    }

    async fn join(&mut self, second: u64, fan: u32, user: &UserId) {
        self.call("join-queue");
        self.traffic.joins += 1;
        let joined = self
            .fleet
            .container("join-queue", second)
            .join_queue(user, &self.concert)
            .await;
        let ticket = match joined {
            Ok((ticket, _)) => ticket,
            Err(BookingError::SoldOut) => {
                self.fans[fan as usize].outcome = Outcome::SoldOut;
                self.sold_out.joins_refused += 1;
                return;
            }
            Err(_) => return self.schedule(second + 1, fan, Step::Arrive),
        };
        let place = self.place(user).await;
        let pre_queue = self.sale_opens.is_some_and(|opens| second < opens);
        let f = &mut self.fans[fan as usize];
        f.token = Some(ticket.token.clone());
        f.place = place;
        f.queued = true;
        f.joined = second;
        f.pre_queue = pre_queue;
        self.truth.joined(second, !pre_queue);
        if pre_queue {
            self.pre_queue.push(fan);
        } else {
            self.uncounted.entry(second).or_default().push(fan);
        }
        self.judge(fan, &ticket);
        let next = self.next_poll(&ticket);
        self.schedule(second + next, fan, Step::Poll);
    }

    /// The fan's place in queue order, read from the store without charging it.
    async fn place(&self, user: &UserId) -> Option<QueuePlace> {
        match self.store.inner().ticket(user, &self.concert).await {
            Ok(Some(ticket)) => Some(ticket.place()),
            _ => None,
        }
    }

    fn judge(&mut self, fan: u32, ticket: &QueueTicket) {
        if let (QueueStatus::Waiting, Some(position)) = (ticket.status, ticket.position) {
            // Until the draw, the pre-queue waits ahead of everyone who came after it: as much
            // of it as the last tick counted.
            let counted = self.counted_through;
            let undrawn = self
                .pre_queue
                .partition_point(|f| self.fans[*f as usize].joined as i64 <= counted)
                as u64;
            let truth = self.truth.position(self.fans[fan as usize].index) + undrawn;
            self.truth.judge_position(position, truth);
        }
    }

    async fn poll(&mut self, second: u64, fan: u32, user: &UserId) {
        if self.gives_up(fan) {
            return;
        }
        self.call("queue-status");
        self.traffic.polls += 1;
        let token = self.fans[fan as usize].token.clone();
        let polled = self
            .fleet
            .container("queue-status", second)
            .queue_status(user, token.as_ref())
            .await;
        match polled {
            Ok(ticket) if ticket.status == QueueStatus::Active => {
                let f = &mut self.fans[fan as usize];
                f.outcome = Outcome::Shopping;
                f.basket = Some(Box::default());
                let think = self.rng.u64(1..=3);
                self.schedule(second + think, fan, Step::Dates);
            }
            Ok(ticket) if ticket.status == QueueStatus::SoldOut => {
                self.fans[fan as usize].outcome = Outcome::SoldOut;
                self.sold_out.told += 1;
            }
            Ok(ticket) => {
                if let Some(last_sale) = self.sellout {
                    let late = second.saturating_sub(last_sale);
                    let s = &mut self.sold_out;
                    s.still_waiting_after_sellout_max_seconds = Some(
                        s.still_waiting_after_sellout_max_seconds
                            .unwrap_or(0)
                            .max(late),
                    );
                }
                self.judge(fan, &ticket);
                let next = self.next_poll(&ticket);
                self.schedule(second + next, fan, Step::Poll);
            }
            Err(BookingError::QueueTokenExpired) => {
                self.fans[fan as usize].outcome = Outcome::DroppedWhilePolling;
            }
            Err(_) => self.schedule(second + 1, fan, Step::Poll),
        }
    }

    /// An admitted fan's call failed: a token that ended ends the visit, anything else is
    /// retried in a second.
    fn shopping_failed(&mut self, second: u64, fan: u32, step: Step, error: &BookingError) {
        match error {
            BookingError::QueueTokenExpired => {
                self.fans[fan as usize].outcome = Outcome::TokenExpired;
            }
            _ => self.schedule(second + 1, fan, step),
        }
    }

    async fn dates(&mut self, second: u64, fan: u32, user: &UserId) {
        self.call("list-dates");
        let token = self.fans[fan as usize].token.clone();
        let listed = self
            .fleet
            .container("list-dates", second)
            .dates_on_sale(user, token.as_ref(), &self.concert)
            .await;
        match listed {
            Ok(list) => {
                let open: Vec<ConcertDate> = list
                    .dates
                    .iter()
                    .filter(|d| d.remaining_seats > 0)
                    .map(|d| d.date)
                    .collect();
                if open.is_empty() {
                    // Sold out, or every seat held: look again later unless all are sold.
                    if self.sold >= self.seats {
                        self.fans[fan as usize].outcome = Outcome::GaveUp;
                    } else {
                        self.schedule(second + 10, fan, Step::Dates);
                    }
                    return;
                }
                let date = open[self.rng.usize(..open.len())];
                if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                    basket.date = Some(date);
                }
                let think = self.rng.u64(1..=2);
                self.schedule(second + think, fan, Step::Seats);
            }
            Err(error) => self.shopping_failed(second, fan, Step::Dates, &error),
        }
    }

    async fn seats(&mut self, second: u64, fan: u32, user: &UserId) {
        self.call("list-seats");
        let token = self.fans[fan as usize].token.clone();
        let Some(date) = self.fans[fan as usize].basket.as_ref().and_then(|b| b.date) else {
            return self.schedule(second + 1, fan, Step::Dates);
        };
        let chart = self
            .fleet
            .container("list-seats", second)
            .seat_chart(user, token.as_ref(), &self.concert, date)
            .await;
        match chart {
            Ok(chart) => {
                let free: Vec<(SeatNumber, Won)> = chart
                    .seats
                    .iter()
                    .filter(|s| s.status == SeatStatus::Available)
                    .map(|s| (s.seat_number, s.price))
                    .collect();
                if free.is_empty() {
                    return self.schedule(second + 5, fan, Step::Dates);
                }
                if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                    basket.candidates = free;
                }
                let think = self.rng.u64(1..=2);
                self.schedule(second + think, fan, Step::Hold);
            }
            Err(error) => self.shopping_failed(second, fan, Step::Seats, &error),
        }
    }

    async fn hold(&mut self, second: u64, fan: u32, user: &UserId) {
        let token = self.fans[fan as usize].token.clone();
        let pick = {
            let Some(basket) = self.fans[fan as usize].basket.as_mut() else {
                return;
            };
            if basket.candidates.is_empty() {
                None
            } else {
                let i = self.rng.usize(..basket.candidates.len());
                Some((basket.date, basket.candidates.swap_remove(i)))
            }
        };
        let Some((Some(date), (seat, price))) = pick else {
            return self.schedule(second + 1, fan, Step::Seats);
        };
        self.call("hold-seat");
        let request = HoldRequest {
            concert_id: self.concert.clone(),
            date,
            seat_number: seat,
        };
        let held = self
            .fleet
            .container("hold-seat", second)
            .hold_seat(user, token.as_ref(), &request)
            .await;
        match held {
            Ok((reservation, _)) => {
                if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                    basket.held = Some((reservation.reservation_id, price));
                }
                let think = self.rng.u64(1..=2);
                self.schedule(second + think, fan, Step::Charge);
            }
            Err(BookingError::SeatUnavailable) => self.schedule(second + 1, fan, Step::Hold),
            Err(error) => self.shopping_failed(second, fan, Step::Hold, &error),
        }
    }

    async fn charge(&mut self, second: u64, fan: u32, user: &UserId) {
        let Some((_, price)) = self.fans[fan as usize].basket.as_ref().and_then(|b| b.held) else {
            return self.schedule(second + 1, fan, Step::Seats);
        };
        self.call("charge-balance");
        let key = IdempotencyKey::parse(&format!("charge-{fan}-{second}")).ok();
        let amount = ChargeAmount::parse(price.get()).ok();
        let Some(amount) = amount else {
            return;
        };
        let charged = self
            .fleet
            .container("charge-balance", second)
            .charge(user, amount, key.as_ref())
            .await;
        match charged {
            Ok(_) => self.schedule(second + 1, fan, Step::Pay),
            Err(error) => self.shopping_failed(second, fan, Step::Charge, &error),
        }
    }

    async fn pay(&mut self, second: u64, fan: u32, user: &UserId) {
        let (token, held, attempts) = {
            let f = &mut self.fans[fan as usize];
            let Some(basket) = f.basket.as_mut() else {
                return;
            };
            basket.attempts += 1;
            (f.token.clone(), basket.held, basket.attempts)
        };
        let Some((reservation, _)) = held else {
            return self.schedule(second + 1, fan, Step::Seats);
        };
        self.call("pay");
        let key = IdempotencyKey::parse(&format!("pay-{fan}-{attempts}")).ok();
        let paid = self
            .fleet
            .container("pay", second)
            .pay(user, token.as_ref(), reservation, key.as_ref())
            .await;
        match paid {
            Ok(_) => {
                let f = &mut self.fans[fan as usize];
                f.outcome = Outcome::Bought;
                f.basket = None;
                self.sold += 1;
                if self.sold >= self.seats && self.sellout.is_none() {
                    self.sellout = Some(second);
                }
            }
            Err(BookingError::ReservationExpired | BookingError::ReservationReleased) => {
                self.schedule(second + 1, fan, Step::Seats)
            }
            Err(BookingError::InsufficientBalance) => self.schedule(second + 1, fan, Step::Charge),
            Err(error) => self.shopping_failed(second, fan, Step::Pay, &error),
        }
    }

    async fn tick(&mut self) -> anyhow::Result<()> {
        let report = self
            .admitter
            .admit_waiting()
            .await
            .context("admission tick")?;
        let requests = self.store.take_requests();
        let charged = requests.len() as u64;
        self.capacity.charge(requests);
        self.admission.ticks += 1;
        self.tick_requests += charged;
        self.admission.peak_requests_per_tick = self.admission.peak_requests_per_tick.max(charged);
        let Some(tick) = report
            .concerts
            .into_iter()
            .find(|c| c.concert_id == self.concert)
        else {
            return Ok(());
        };
        if let (Some(lottery), None) = (tick.state.lottery, &self.lottery) {
            self.draw(lottery).await;
        }
        self.count(tick.state.counted_through);
        let admitted = tick.admitted.len() as u64;
        self.admission.admitted += admitted;
        self.admission.dropped += tick.dropped.len() as u64;
        self.admission.peak_admitted_per_tick = self.admission.peak_admitted_per_tick.max(admitted);
        self.traffic.admitted += admitted;
        let mut ranks_admitted = Vec::new();
        for (user, _) in tick.admitted.iter().chain(&tick.dropped) {
            if let Some(fan) = fan_index(user) {
                let f = &mut self.fans[fan as usize];
                if f.queued {
                    f.queued = false;
                    let (index, joined, pre_queue) = (f.index, f.joined, f.pre_queue);
                    self.truth.left(index, joined, !pre_queue);
                    if let Some((rank, _)) = self.lottery_waiting.iter().find(|(_, f)| **f == fan) {
                        let rank = *rank;
                        self.lottery_waiting.remove(&rank);
                        ranks_admitted.push(rank);
                    }
                }
            }
        }
        for (user, _) in &tick.admitted {
            if let Some(fan) = fan_index(user) {
                let f = &self.fans[fan as usize];
                if !f.pre_queue {
                    self.truth.judge_admission(f.joined);
                }
            }
        }
        // The lottery's order: nobody admitted while a better draw still waits.
        if let Some(lottery) = self.lottery.as_mut() {
            let best_waiting = self.lottery_waiting.keys().next().copied();
            lottery.out_of_order += ranks_admitted
                .iter()
                .filter(|rank| best_waiting.is_some_and(|best| best < **rank))
                .count() as u64;
        }
        Ok(())
    }

    /// The sale opened and the pre-queue was drawn: its fans take their places in the
    /// lottery's order, ahead of everyone who came after. How far that order is from the order
    /// they arrived in is the lottery's figure.
    async fn draw(&mut self, lottery: LotteryRecord) {
        let draw = Lottery::new(lottery.seed, lottery.size);
        let mut pages: BTreeMap<i64, Option<QueuePageRecord>> = BTreeMap::new();
        let mut ranked = Vec::with_capacity(self.pre_queue.len());
        for (arrival, fan) in self.pre_queue.clone().into_iter().enumerate() {
            let Some(place) = self.fans[fan as usize].place else {
                continue;
            };
            let page = page_of(place.second);
            if let std::collections::btree_map::Entry::Vacant(slot) = pages.entry(page) {
                let read = self.store.inner().queue_page(&self.concert, page).await;
                slot.insert(read.ok().flatten());
            }
            let counts = pages[&page]
                .as_ref()
                .and_then(|p| p.seconds.get(&place.second));
            let Some(counts) = counts else {
                continue;
            };
            let ordinal =
                counts.base + counts.before_shard(place.shard) + u64::from(place.number) - 1;
            if ordinal < draw.size() {
                ranked.push((draw.rank(ordinal), arrival, fan));
            }
        }
        ranked.sort();
        for (rank, _, fan) in &ranked {
            if self.fans[*fan as usize].queued {
                let index = self.truth.counted();
                self.fans[*fan as usize].index = Some(index);
                self.lottery_waiting.insert(*rank, *fan);
            }
        }
        self.lottery = Some(LotteryFigures {
            pre_queue_fans: ranked.len() as u64,
            spearman: spearman(ranked.iter().map(|(rank, arrival, _)| (*arrival, *rank))),
            out_of_order: 0,
        });
        self.pre_queue.clear();
    }

    /// The tick counted every second through `through`: their fans take their places in
    /// queue order.
    fn count(&mut self, through: i64) {
        let through = (through - START).max(-1);
        self.counted_through = through;
        while let Some(entry) = self.uncounted.first_entry() {
            if *entry.key() as i64 > through {
                break;
            }
            let mut fans = entry.remove();
            fans.sort_by_key(|f| self.fans[*f as usize].place);
            for fan in fans {
                if self.fans[fan as usize].queued {
                    let index = self.truth.counted();
                    self.fans[fan as usize].index = Some(index);
                }
            }
        }
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
        let load = self.capacity.seconds.last().map_or(0.0, |l| l.utilisation);
        s.hottest_key_percent.push(load * 100.0);
        t.api = 0;
        t.polls = 0;
        t.joins = 0;
        t.admitted = 0;
    }

    fn report(self, simulated: u64, wall_seconds: f64) -> anyhow::Result<Report> {
        let o = self.options;
        let violations = audit(&self.store.inner().inventory());
        let fans = self.fans.len().max(1) as f64;
        let sold = (self.sold > 0).then_some(self.sold as f64);
        let mut outcomes = FanOutcomes {
            arrived: self.fans.len() as u64,
            ..FanOutcomes::default()
        };
        for fan in &self.fans {
            match fan.outcome {
                Outcome::Waiting => outcomes.still_waiting += 1,
                Outcome::Shopping => outcomes.still_shopping += 1,
                Outcome::Bought => outcomes.bought += 1,
                Outcome::GaveUp => outcomes.gave_up += 1,
                Outcome::DroppedWhilePolling => outcomes.dropped_while_polling += 1,
                Outcome::TokenExpired => outcomes.token_expired_shopping += 1,
                Outcome::SoldOut => outcomes.told_sold_out += 1,
            }
        }
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
            fans: o.fans,
            seats: self.seats,
            sold: self.sold,
            simulated_seconds: simulated,
            wall_seconds,
            sellout_seconds: self.sellout,
            waiting_peak: self.waiting_peak,
            waiting_at_end: self.truth.waiting,
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
            },
            hot_keys: capacity.hottest(20),
            over_limit: capacity.over_limit.clone(),
            over_limit_count: capacity.over_limit_count,
            over_half_limit: capacity.over_half_limit.clone(),
            over_half_limit_count: capacity.over_half_limit_count,
            largest_item: capacity.largest_item.clone(),
            lottery: self.lottery.clone(),
            sold_out,
            fairness: self.truth.fairness.clone(),
            positions: self.truth.positions.clone(),
            admission,
            fans_outcome: outcomes,
            containers: self.fleet.figures(),
            settings: RunSettings {
                join_rate: o.join_rate,
                concerts: o.concerts,
                dates: o.dates,
                admit_per_tick: o.settings.admit_per_tick,
                max_active: o.settings.max_active,
                tick_seconds: o.settings.admit_tick_seconds,
                poll_seconds: o.poll_seconds,
                abandon_rate: o.abandon_rate,
                queue_opens_before: o.queue_opens_before,
                duration: o.duration,
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

fn fan_index(user: &UserId) -> Option<u32> {
    user.as_str().strip_prefix("fan-")?.parse().ok()
}

fn concert_id(index: u32) -> ConcertId {
    ConcertId::parse(&format!("onsale-{index:05}")).expect("a valid concert id")
}

/// `--concerts` concerts of `--dates` dates each, 50 priced seats a date; the first opens its
/// queue at the start and its sale `--queue-opens-before` seconds later, when that is set.
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
    let start = Timestamp::from_epoch_seconds(START);
    let dates: Vec<String> = (0..i64::from(options.dates))
        .map(|d| {
            format!(
                "\"{}\"",
                start
                    .plus_seconds((FIRST_DATE_DAYS_AHEAD + d) * 86_400)
                    .date()
            )
        })
        .collect();
    let concerts: Vec<String> = (0..options.concerts)
        .map(|i| {
            format!(
                r#"{{"concertId": "{}", "title": "On-sale {i}", "dates": [{}],
                    "seatPrices": [{{"fromSeat": 1, "toSeat": 10, "price": 165000}},
                                   {{"fromSeat": 11, "toSeat": 30, "price": 132000}},
                                   {{"fromSeat": 31, "toSeat": 50, "price": 99000}}]{}}}"#,
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
