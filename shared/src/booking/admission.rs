//! The admission tick: counts the numbers drawn, learns the seats, and admits waiting fans in
//! queue order, per concert with a live queue.
//!
//! What a tick does for one concert, and why it scales with the fans it admits:
//! 1. Reads the queue state (its own last write), the operators' control item and the catalog.
//! 2. Counts the seconds that have settled (two seconds old: joins in flight have landed): one
//!    BatchGet of each counter's minute item, and the counts written as pages, before the state
//!    that refers to them.
//! 3. Learns every date's seats from one item per date (one BatchGet of 100 dates): sold, held by
//!    a live hold, free. Sales are counted against the admission batch of the token that paid,
//!    so the active count is exact without reading a single ticket.
//! 4. Admits at most ADMIT_PER_TICK, never past MAX_ACTIVE nor past ACTIVE_PER_FREE_SEAT times
//!    the free seats: nobody while every seat is held or sold. The pre-queue's lottery order
//!    first, then first come, first served, from seconds at least three seconds old (their
//!    entries are written).
//! 5. Walks the queue in chunks: one Query per counter for the chunk's entries, one BatchGet per
//!    100 tickets, then transactions of 99 admissions, drops (fans idle past
//!    WAITING_IDLE_SECONDS) and numbers nobody claimed, each also checking that the state is
//!    still the version this tick read: two ticks that race cannot both admit.
//! 6. Writes the state, conditional on that version.
//!
//! Requests therefore grow with the fans admitted divided by DynamoDB's batch and transaction
//! sizes, plus a constant per concert; and only concerts whose queue joins registered are
//! visited, not the catalog. A tick that dies half-way leaves admitted tickets whose batch the
//! next tick finds and counts.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;
use tracing::{instrument, warn};

use super::cache::REGISTER_EVERY_SECONDS;
use super::{Lottery, Ticketing};
use crate::domain::{BookingError, ConcertDate, ConcertId, QueuePlace, QueueToken, UserId};
use crate::store::{
    page_of, page_seconds, AdmissionBatch, AdmissionBatchPlan, CommitOutcome, ConcertRecord,
    DateStanding, LiveQueue, LotteryRecord, QueueEntryRecord, QueuePageRecord, QueueStateRecord,
    SeatCounts, SecondCounts, TicketRecord, TicketStatus, ADMISSION_BATCH_ITEMS,
};

/// Seconds are counted once this old: a join's number lands within a round trip of its second.
const COUNT_LAG_SECONDS: i64 = 2;
/// The first second a tick may draw the pre-queue of a sale opening at `opens`: once the last
/// second before the opening is counted.
pub(crate) fn first_draw_second(opens: i64) -> i64 {
    opens - 1 + COUNT_LAG_SECONDS
}

/// Fans are admitted from seconds this old: a join's entry lands right after its number.
const ADMIT_LAG_SECONDS: i64 = 3;
/// A queue idle this long after its last registration is retired (every container's
/// registration memo has lapsed by then, so the next join registers it again).
const RETIRE_AFTER_SECONDS: i64 = 2 * REGISTER_EVERY_SECONDS;
/// A tick that has not run for long catches up an hour of seconds at a time.
const COUNT_AT_MOST_SECONDS: i64 = 3_600;
/// Numbers examined per round of the walk (one Query per counter, one BatchGet per 100).
const WALK_CHUNK: usize = 10_000;
/// How much each tick weighs in the admission rate that estimated waits follow.
const RATE_WEIGHT: f64 = 0.3;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdmissionReport {
    pub concerts: Vec<ConcertTick>,
    /// Concerts whose tick failed or lost a race; the next tick does them again.
    pub deferred: usize,
    /// Queues forgotten because nobody waits or is active.
    pub retired: usize,
}

impl AdmissionReport {
    pub fn admitted(&self) -> usize {
        self.concerts.iter().map(|c| c.admitted.len()).sum()
    }

    pub fn dropped(&self) -> usize {
        self.concerts.iter().map(|c| c.dropped.len()).sum()
    }

    /// The tick in the figures its metric lines carry.
    pub fn figures(&self) -> crate::metrics::TickFigures {
        crate::metrics::TickFigures {
            concerts: self
                .concerts
                .iter()
                .map(|c| crate::metrics::ConcertTickFigures {
                    concert_id: c.concert_id.to_string(),
                    waiting: c.state.waiting(),
                    active: c.state.active,
                    admitted: c.admitted.len(),
                    dropped: c.dropped.len(),
                })
                .collect(),
            deferred: self.deferred,
        }
    }
}

/// What one tick did for one concert, and the state it left.
#[derive(Debug, Clone, PartialEq)]
pub struct ConcertTick {
    pub concert_id: ConcertId,
    pub admitted: Vec<(UserId, QueueToken)>,
    pub dropped: Vec<(UserId, QueueToken)>,
    pub state: QueueStateRecord,
}

impl ConcertTick {
    fn new(concert_id: &ConcertId) -> Self {
        ConcertTick {
            concert_id: concert_id.clone(),
            admitted: Vec::new(),
            dropped: Vec::new(),
            state: QueueStateRecord::default(),
        }
    }

    /// Nobody waits and nobody is active: the queue may be retired.
    fn idle(&self) -> bool {
        self.state.waiting() == 0 && self.state.active == 0
    }
}

/// What the walk decided for one number.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Admit(UserId, QueueToken),
    Drop(UserId, QueueToken, i64),
    /// Nobody's entry claims the number: mark it passed.
    Void,
    /// Already handled, or a ticket since replaced: pass it.
    Pass,
    /// Admitted by a tick that died before writing its state: count it in its batch.
    Recovered(i64),
}

impl Ticketing {
    /// One tick over every live queue.
    #[instrument(skip(self))]
    pub async fn admit_waiting(&self) -> Result<AdmissionReport, BookingError> {
        let now = self.now().epoch_seconds();
        let mut report = AdmissionReport::default();
        for queue in self.store.live_queues().await? {
            match self.tick_queue(&queue).await {
                Ok(Some(tick)) => {
                    if tick.idle()
                        && now - queue.last_registered >= RETIRE_AFTER_SECONDS
                        && self
                            .store
                            .retire_queue(&queue.concert_id, queue.last_registered)
                            .await?
                    {
                        report.retired += 1;
                    }
                    report.concerts.push(tick);
                }
                Ok(None) => report.deferred += 1,
                Err(error) => {
                    warn!(concert = %queue.concert_id, %error, "admission tick failed");
                    report.deferred += 1;
                }
            }
        }
        Ok(report)
    }

    /// One tick for one concert, registered or not: `None` when another tick (or a fan's poll
    /// racing a drop) moved the queue first; the next tick does it again.
    pub async fn admit_concert(
        &self,
        concert: &ConcertId,
    ) -> Result<Option<ConcertTick>, BookingError> {
        let now = self.now().epoch_seconds();
        let queue = self
            .store
            .live_queues()
            .await?
            .into_iter()
            .find(|q| &q.concert_id == concert)
            .unwrap_or(LiveQueue {
                concert_id: concert.clone(),
                first_registered: now,
                last_registered: now,
            });
        self.tick_queue(&queue).await
    }

    async fn tick_queue(&self, queue: &LiveQueue) -> Result<Option<ConcertTick>, BookingError> {
        let now = self.now();
        let t = now.epoch_seconds();
        let concert_id = &queue.concert_id;
        let (concert, previous, control) = tokio::join!(
            self.cache.concert(&*self.store, concert_id),
            self.store.queue_state(concert_id, true),
            self.store.queue_control(concert_id),
        );
        let (previous, control) = (previous?, control?);
        let Some(concert) = concert? else {
            // Registered by joins for a concert that does not exist: nothing to tick.
            return Ok(Some(ConcertTick::new(concert_id)));
        };
        let expected_version = previous.as_ref().map_or(0, |s| s.version);
        let mut state = previous.clone().unwrap_or_else(|| {
            let from = queue
                .first_registered
                .max(concert.queue_opens_at.unwrap_or(i64::MIN));
            QueueStateRecord {
                counted_from: from,
                counted_through: from - 1,
                ..QueueStateRecord::default()
            }
        });

        self.count(&concert, &mut state, queue.first_registered, t)
            .await?;
        let sold_by_batch = self.learn_seats(&concert, &mut state, now).await?;
        state
            .batches
            .retain(|b| b.admitted_at + self.settings.active_seconds > t);
        let active: u32 = state
            .batches
            .iter()
            .map(|b| {
                b.admitted
                    .saturating_sub(sold_by_batch.get(&b.admitted_at).copied().unwrap_or(0))
            })
            .sum();

        let admit_per_tick = control
            .admit_per_tick
            .unwrap_or(self.settings.admit_per_tick);
        let max_active = control.max_active.unwrap_or(self.settings.max_active);
        let sale_open = concert.sale_opens_at.is_none_or(|opens| t >= opens);
        if let Some(opens) = concert.sale_opens_at {
            if sale_open && state.lottery.is_none() && state.counted_through >= opens - 1 {
                state.lottery = Some(LotteryRecord {
                    seed: fastrand::u64(..),
                    size: state.pre_queue,
                    drawn_at: t,
                });
            }
        }
        let sold_out = !state.dates.is_empty() && state.dates.iter().all(|d| d.unsold == 0);
        let drawn = concert.sale_opens_at.is_none() || state.lottery.is_some();
        let slots = if sale_open && drawn && !sold_out && !control.paused {
            let by_seats =
                (self.settings.active_per_free_seat * state.seats.free).saturating_sub(active);
            admit_per_tick
                .min(max_active.saturating_sub(active))
                .min(by_seats)
        } else {
            0
        };

        let mut tick = ConcertTick::new(concert_id);
        let verdicts = if slots > 0 {
            self.walk(&concert, &mut state, slots as usize, t).await?
        } else {
            Vec::new()
        };
        Self::prune_pages(&concert, &mut state);
        let active_until = t + self.settings.active_seconds;
        let mut recovered: BTreeMap<i64, u32> = BTreeMap::new();
        let mut plan = self.plan(concert_id, expected_version, t, active_until);
        for (place, verdict) in verdicts {
            match verdict {
                Verdict::Admit(user, token) => {
                    tick.admitted.push((user.clone(), token.clone()));
                    plan.admit.push((user, token));
                }
                Verdict::Drop(user, token, seen) => {
                    tick.dropped.push((user.clone(), token.clone()));
                    plan.drop.push((user, token, seen));
                }
                Verdict::Void => plan.voids.push(place),
                Verdict::Recovered(at) => *recovered.entry(at).or_default() += 1,
                Verdict::Pass => {}
            }
            if plan.len() == ADMISSION_BATCH_ITEMS {
                let full = std::mem::replace(
                    &mut plan,
                    self.plan(concert_id, expected_version, t, active_until),
                );
                if self.store.commit_admission_batch(&full).await? != CommitOutcome::Committed {
                    return Ok(None);
                }
            }
        }
        if !plan.is_empty()
            && self.store.commit_admission_batch(&plan).await? != CommitOutcome::Committed
        {
            return Ok(None);
        }

        let admitted = tick.admitted.len() as u32;
        *recovered.entry(t).or_default() += admitted;
        for (admitted_at, count) in recovered.into_iter().filter(|(_, n)| *n > 0) {
            // One batch per second: a sale counts against the second its token was admitted.
            match state
                .batches
                .iter_mut()
                .find(|b| b.admitted_at == admitted_at)
            {
                Some(batch) => batch.admitted += count,
                None => state.batches.push(AdmissionBatch {
                    admitted_at,
                    admitted: count,
                }),
            }
        }
        let elapsed = previous
            .as_ref()
            .map(|p| t - p.tick_at)
            .filter(|e| *e > 0)
            .unwrap_or(self.settings.admit_tick_seconds as i64) as f64;
        let instant = f64::from(admitted) / elapsed;
        state.admission_rate = match &previous {
            Some(p) => RATE_WEIGHT * instant + (1.0 - RATE_WEIGHT) * p.admission_rate,
            None => instant,
        };
        state.version = expected_version + 1;
        state.tick_at = t;
        state.next_tick_at = t + self.settings.admit_tick_seconds as i64;
        state.admitted_total += u64::from(admitted);
        state.dropped_total += tick.dropped.len() as u64;
        state.active = active + admitted;
        if sold_out {
            // Everyone still waiting is told the sale is over: nobody is left to pass.
            state.processed = state.known;
            state.pages.clear();
        }
        state.sold_out = sold_out;
        state.paused = control.paused;
        state.admit_per_tick = admit_per_tick;
        state.max_active = max_active;
        if self
            .store
            .commit_queue_state(concert_id, &state, expected_version)
            .await?
            != CommitOutcome::Committed
        {
            return Ok(None);
        }
        if sold_out && !previous.as_ref().is_some_and(|p| p.sold_out) {
            self.store.mark_sold_out(concert_id).await?;
        }
        self.cache.keep_state(concert_id, Some(state.clone()), t);
        tick.state = state;
        Ok(Some(tick))
    }

    fn plan(
        &self,
        concert: &ConcertId,
        version: u64,
        admitted_at: i64,
        active_until: i64,
    ) -> AdmissionBatchPlan {
        AdmissionBatchPlan {
            concert_id: concert.clone(),
            state_version: version,
            admit: Vec::new(),
            admitted_at,
            active_until,
            drop: Vec::new(),
            voids: Vec::new(),
        }
    }

    /// Counts the settled seconds since the last count into pages, and the state's totals. A
    /// queue registered again after it was retired had no joins in between: counting resumes
    /// at its registration.
    async fn count(
        &self,
        concert: &ConcertRecord,
        state: &mut QueueStateRecord,
        registered: i64,
        now: i64,
    ) -> Result<(), BookingError> {
        let from = (state.counted_through + 1).max(registered);
        let through = (now - COUNT_LAG_SECONDS).min(from + COUNT_AT_MOST_SECONDS - 1);
        if through < from {
            return Ok(());
        }
        let drawn = self
            .store
            .queue_counts(&concert.concert_id, from, through)
            .await?;
        let mut pages: BTreeMap<i64, QueuePageRecord> = BTreeMap::new();
        for (second, counts) in drawn {
            let counts = SecondCounts {
                base: state.known,
                counts,
            };
            state.known += counts.total();
            if concert.sale_opens_at.is_some_and(|opens| second < opens) {
                state.pre_queue += counts.total();
            }
            pages
                .entry(page_of(second))
                .or_default()
                .seconds
                .insert(second, counts);
        }
        if !pages.is_empty() {
            self.store
                .write_queue_pages(&concert.concert_id, &pages)
                .await?;
            state.pages.extend(pages.keys().copied());
            state.pages.sort_unstable();
            state.pages.dedup();
            for (minute, page) in pages {
                self.cache
                    .extend_page(&concert.concert_id, minute, page.seconds, (from, through));
            }
        }
        state.counted_through = through;
        Ok(())
    }

    /// Reads every date on sale's seats; returns the sales per admission batch.
    async fn learn_seats(
        &self,
        concert: &ConcertRecord,
        state: &mut QueueStateRecord,
        now: crate::domain::Timestamp,
    ) -> Result<HashMap<i64, u32>, BookingError> {
        let today = now.date();
        let on_sale: Vec<ConcertDate> = concert
            .dates
            .iter()
            .filter(|d| **d >= today)
            .copied()
            .collect();
        let seats = self
            .store
            .dates_seats(&concert.concert_id, &on_sale)
            .await?;
        let per_date = concert.seat_count();
        let mut sold_by_batch: HashMap<i64, u32> = HashMap::default();
        let mut totals = SeatCounts::default();
        state.dates.clear();
        for (date, taken) in &seats {
            let sold = taken.sold_count().min(per_date);
            let held = taken.held(now.epoch_seconds()).min(per_date - sold);
            let standing = DateStanding {
                date: *date,
                unsold: per_date - sold,
                free: per_date - sold - held,
            };
            totals.sold += sold;
            totals.held += held;
            totals.free += standing.free;
            state.dates.push(standing);
            for batch in taken.sold.values() {
                *sold_by_batch.entry(*batch).or_default() += 1;
            }
        }
        state.seats = totals;
        Ok(sold_by_batch)
    }

    /// Judges the next numbers in queue order until `slots` fans are admitted or the settled
    /// queue ends, advancing the state's progress past every number judged.
    async fn walk(
        &self,
        concert: &ConcertRecord,
        state: &mut QueueStateRecord,
        slots: usize,
        now: i64,
    ) -> Result<Vec<(QueuePlace, Verdict)>, BookingError> {
        let mut verdicts = Vec::new();
        let mut admitted = 0;
        // Idle fans are dropped without using a slot; still, a tick judges a bounded number.
        let budget = slots * 2 + 1_000;
        let concert_id = &concert.concert_id;

        if let Some(lottery) = state.lottery {
            let draw = Lottery::new(lottery.seed, lottery.size);
            let index = self.second_index(concert, state, true).await?;
            while state.processed < lottery.size && admitted < slots && verdicts.len() < budget {
                let take = (lottery.size - state.processed)
                    .min((slots - admitted + 16).min(WALK_CHUNK) as u64);
                let places: Vec<QueuePlace> = (state.processed..state.processed + take)
                    .filter_map(|rank| place_of(&index, draw.ordinal(rank)))
                    .collect();
                let entries = self.store.queue_entries_at(concert_id, &places).await?;
                let judged = self
                    .judge(concert_id, &places, entries, slots - admitted, now)
                    .await?;
                let stop = judged.len() < places.len();
                state.processed += judged.len() as u64;
                admitted += judged.iter().filter(|(_, v)| uses_slot(v)).count();
                verdicts.extend(judged);
                if stop {
                    return Ok(verdicts);
                }
            }
            if state.processed < lottery.size {
                return Ok(verdicts);
            }
        }

        let through = state.counted_through.min(now - ADMIT_LAG_SECONDS);
        let index = self.second_index(concert, state, false).await?;
        let mut next = state.cursor;
        while admitted < slots && verdicts.len() < budget {
            let want = (slots - admitted + 16).min(WALK_CHUNK);
            let places = places_after(&index, next, through, want);
            if places.is_empty() {
                break;
            }
            let mut entries = Vec::new();
            for (shard, first, last, count) in shard_ranges(&places) {
                entries.extend(
                    self.store
                        .queue_entries(
                            concert_id,
                            shard,
                            (first.second, first.number - 1),
                            (last.second, last.number),
                            count,
                        )
                        .await?,
                );
            }
            let judged = self
                .judge(concert_id, &places, entries, slots - admitted, now)
                .await?;
            let stop = judged.len() < places.len();
            if let Some((last, _)) = judged.last() {
                next = Some(*last);
                state.cursor = Some(*last);
            }
            state.processed += judged.len() as u64;
            admitted += judged.iter().filter(|(_, v)| uses_slot(v)).count();
            verdicts.extend(judged);
            if stop {
                break;
            }
        }
        Ok(verdicts)
    }

    /// Forgets the pages the walk has passed for good: the pre-queue's once its draw is
    /// walked, and first-come pages before the cursor's.
    fn prune_pages(concert: &ConcertRecord, state: &mut QueueStateRecord) {
        let opens = concert.sale_opens_at;
        let draw_pending =
            opens.is_some() && state.lottery.is_none_or(|l| state.processed < l.size);
        let first_come_from = state.cursor.map_or(i64::MIN, |c| page_of(c.second));
        state.pages.retain(|&page| {
            let (first, last) = page_seconds(page);
            let pre_queue = opens.is_some_and(|o| first < o);
            let first_come = opens.is_none_or(|o| last >= o);
            (pre_queue && draw_pending) || (first_come && page >= first_come_from)
        });
    }

    /// Judges `places` in order against their entries and tickets, stopping before the first
    /// fan who would need a slot when none is left.
    async fn judge(
        &self,
        concert: &ConcertId,
        places: &[QueuePlace],
        entries: Vec<QueueEntryRecord>,
        slots: usize,
        now: i64,
    ) -> Result<Vec<(QueuePlace, Verdict)>, BookingError> {
        let entries: HashMap<QueuePlace, QueueEntryRecord> =
            entries.into_iter().map(|e| (e.place(), e)).collect();
        let mut users: Vec<UserId> = entries.values().filter_map(|e| e.user_id.clone()).collect();
        users.sort();
        users.dedup();
        let tickets: HashMap<UserId, TicketRecord> = self
            .store
            .tickets(concert, &users)
            .await?
            .into_iter()
            .map(|t| (t.user_id.clone(), t))
            .collect();
        let mut judged = Vec::with_capacity(places.len());
        let mut used = 0;
        for place in places {
            let verdict = match entries.get(place) {
                None => Verdict::Void,
                Some(QueueEntryRecord { user_id: None, .. }) => Verdict::Pass,
                Some(QueueEntryRecord {
                    user_id: Some(user),
                    ..
                }) => match tickets.get(user).filter(|t| t.place() == *place) {
                    None => Verdict::Pass,
                    Some(t) => match (t.status, t.admitted_at) {
                        (TicketStatus::Waiting, _)
                            if now - t.last_seen_at > self.settings.waiting_idle_seconds =>
                        {
                            Verdict::Drop(user.clone(), t.token.clone(), t.last_seen_at)
                        }
                        (TicketStatus::Waiting, _) => Verdict::Admit(user.clone(), t.token.clone()),
                        (TicketStatus::Active, Some(at)) => Verdict::Recovered(at),
                        _ => Verdict::Pass,
                    },
                },
            };
            if uses_slot(&verdict) {
                if used == slots {
                    break;
                }
                used += 1;
            }
            judged.push((*place, verdict));
        }
        Ok(judged)
    }

    /// Every counted second's counts, in order: the pre-queue's (for the lottery) or those
    /// after it (first come, first served), from this container's pages or the store.
    async fn second_index(
        &self,
        concert: &ConcertRecord,
        state: &QueueStateRecord,
        pre_queue: bool,
    ) -> Result<Vec<(i64, Arc<QueuePageRecord>)>, BookingError> {
        let opens = concert.sale_opens_at.unwrap_or(i64::MIN);
        let (from, through) = if pre_queue {
            (state.counted_from, (opens - 1).min(state.counted_through))
        } else {
            let resume = state.cursor.map_or(state.counted_from, |c| c.second);
            (resume.max(opens), state.counted_through)
        };
        let mut pages = Vec::new();
        if through < from {
            return Ok(pages);
        }
        let wanted = page_of(from)..=page_of(through);
        for &minute in state.pages.iter().filter(|p| wanted.contains(p)) {
            let complete = page_seconds(minute).1.min(through);
            if let Some(page) = self
                .cache
                .page_through(
                    &*self.store,
                    &concert.concert_id,
                    minute,
                    complete,
                    state.counted_through,
                )
                .await?
            {
                pages.push((minute, page));
            }
        }
        Ok(pages)
    }
}

fn uses_slot(verdict: &Verdict) -> bool {
    matches!(verdict, Verdict::Admit(..) | Verdict::Recovered(_))
}

/// The place of the number at `ordinal`, by the seconds' bases.
fn place_of(index: &[(i64, Arc<QueuePageRecord>)], ordinal: u64) -> Option<QueuePlace> {
    for (_, page) in index {
        for (second, counts) in &page.seconds {
            if ordinal >= counts.base && ordinal < counts.base + counts.total() {
                return counts.place_at(*second, ordinal - counts.base);
            }
        }
    }
    None
}

/// Up to `want` places after `after`, through second `through`, in queue order.
fn places_after(
    index: &[(i64, Arc<QueuePageRecord>)],
    after: Option<QueuePlace>,
    through: i64,
    want: usize,
) -> Vec<QueuePlace> {
    let mut places = Vec::with_capacity(want);
    for (_, page) in index {
        for (second, counts) in page.seconds.range(..=through) {
            if after.is_some_and(|a| *second < a.second) {
                continue;
            }
            for shard in 0..crate::domain::QUEUE_SHARDS {
                for number in 1..=counts.count(shard) {
                    let place = QueuePlace {
                        second: *second,
                        shard,
                        number,
                    };
                    if after.is_some_and(|a| place <= a) {
                        continue;
                    }
                    places.push(place);
                    if places.len() == want {
                        return places;
                    }
                }
            }
        }
    }
    places
}

/// Per counter, the first and last of `places` on it and how many: one Query each.
fn shard_ranges(places: &[QueuePlace]) -> Vec<(u8, QueuePlace, QueuePlace, usize)> {
    let mut ranges: BTreeMap<u8, (QueuePlace, QueuePlace, usize)> = BTreeMap::new();
    for place in places {
        ranges
            .entry(place.shard)
            .and_modify(|(_, last, count)| {
                *last = *place;
                *count += 1;
            })
            .or_insert((*place, *place, 1));
    }
    ranges
        .into_iter()
        .map(|(shard, (first, last, count))| (shard, first, last, count))
        .collect()
}
