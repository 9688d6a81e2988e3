//! The admission tick: counts the numbers drawn, learns the seats, and admits waiting fans in
//! queue order, per concert with a live queue.
//!
//! What a tick does for one concert, and why it scales with the fans it admits:
//! 1. Reads the queue state (the last tick's), the operators' control item and the catalog.
//! 2. Takes the tick's claim (the `VERSION` item) for its slot, the ADMIT_TICK_SECONDS interval
//!    it ticks for: one version up from the state's, and only if no tick holds this slot or a
//!    later one. Every write after it is conditional on the claim, so two ticks never both
//!    admit, and a second delivery of the same tick (EventBridge delivers at least once), or an
//!    overlapping minute, finds the slot taken and leaves. A claim left by a tick that died (a
//!    version beyond the state's, an earlier slot) is taken over; what that tick committed
//!    counts (below), what it did not is done again.
//! 3. Seals and counts the seconds that have settled (two seconds old): one UpdateItem per
//!    counter item (64 a minute) that marks it counted through that second and returns its
//!    counts. A number drawn after the seal is refused (the join draws in a later second), so
//!    no fan is drawn into a second already counted, whatever the clocks say. The counts go into
//!    pages before the state that refers to them.
//! 4. Learns every date's seats from its ledger, a few items a date however many seats it has
//!    (one BatchGet per 100): sold, held by a live hold, free, per date and per section. Counts
//!    no tick reads again are dropped from the ledger once a shard has a few. Learns the live
//!    slots from the slot ledger (`booking::slots`, one BatchGet of 32 items): tokens whose slot
//!    has not ended (idled out, reached its cap, or spent by a payment), exactly, without
//!    reading a single ticket; a slot freed since the last tick is filled by this one. A tick
//!    that took its claim over reads them again after it: the tick it took over may have
//!    admitted fans between the first read and the takeover.
//! 5. At the opening, draws the pre-queue's lottery once: the draw is kept on the claim before
//!    anyone is admitted by it, and every tick after (one that takes over a dead tick's claim
//!    included) uses the draw kept there.
//! 6. Admits at most ADMIT_PER_TICK, never past MAX_ACTIVE nor past ACTIVE_PER_FREE_SEAT times
//!    the free seats for the fans still shopping (the active fans seen in the last minute or so,
//!    beyond the seats held): nobody while every seat is held or sold. The pre-queue's lottery order
//!    first, then first come, first served, from seconds at least three seconds old (their
//!    entries are written).
//! 7. Walks the queue in chunks: one Query per counter for the chunk's entries (the whole key
//!    range: a stray entry cannot push a real one out of a page), one BatchGet per 100 tickets,
//!    then transactions of 99 admissions, drops (fans idle past WAITING_IDLE_SECONDS) and
//!    numbers nobody claimed. Each transaction counts its admissions' slots on a slot shard,
//!    and adds them to the claim's `pending` count for this second: if the tick dies before its
//!    state is written, the next tick counts them as admitted (and the ledger as active). A transaction refused because a ticket moved (a poll
//!    racing a drop) ends the walk there; the state records the progress up to it, and the next
//!    tick judges the rest again.
//! 8. Writes the state under the claim, folding the pending counts into its admitted total.
//!
//! Requests therefore grow with the fans admitted divided by DynamoDB's batch and transaction
//! sizes, plus a constant per concert; and only concerts whose queue joins registered are
//! visited, not the catalog.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;
use tracing::{debug, instrument, warn};

use super::cache::REGISTER_EVERY_SECONDS;
use super::{Lottery, Ticketing};
use crate::domain::{
    BookingError, ConcertDate, ConcertId, QueuePlace, QueueToken, StoreError, UserId,
};
use crate::store::{
    every_ledger_shard, page_of, page_seconds, AdmissionBatchPlan, CommitOutcome, ConcertRecord,
    DateStanding, LiveQueue, LotteryRecord, QueueEntryRecord, QueuePageRecord, QueueStateRecord,
    SeatCounts, SeatLedgerRecord, SecondCounts, TickClaim, TickClaimRecord, TicketRecord,
    TicketStatus, ADMISSION_BATCH_ITEMS, SECTION_HOLD_WINDOW,
};

/// Seconds are counted once this old: a join's number lands within a round trip of its second.
const COUNT_LAG_SECONDS: i64 = 2;
/// The first second a tick may draw the pre-queue of a sale opening at `opens`: once the last
/// second before the opening is counted.
pub(crate) fn first_draw_second(opens: i64) -> i64 {
    opens - 1 + COUNT_LAG_SECONDS
}

/// A draw lands within this long of its second, whatever a container's clock says (a join's
/// requests end within its function's budget, and clocks differ by far less): the counters of
/// minutes older than this are only read, never sealed.
const DRAWS_LAND_WITHIN_SECONDS: i64 = 120;
/// Fans are admitted from seconds this old: a join's entry lands right after its number.
const ADMIT_LAG_SECONDS: i64 = 3;
/// Registrations land out of the order of their seconds (a slow join's after a faster one's),
/// and containers' clocks differ: counting starts this long before the first registration, so
/// that an earlier second registered late is counted all the same.
const REGISTRATION_SLACK_SECONDS: i64 = 60;
/// A queue idle this long after its last registration is retired (every container's
/// registration memo has lapsed by then, so the next join registers it again).
const RETIRE_AFTER_SECONDS: i64 = 2 * REGISTER_EVERY_SECONDS;
/// A tick that has not run for long catches up an hour of seconds at a time.
const COUNT_AT_MOST_SECONDS: i64 = 3_600;
/// Numbers examined per round of the walk (one Query per counter, one BatchGet per 100).
const WALK_CHUNK: usize = 10_000;
/// How often a tick sends a call that failed on the way (see [`again`]).
const TICK_CALL_ATTEMPTS: u32 = 3;
/// A ledger shard is pruned once it has this many counts no tick reads again: one write per
/// shard every few ticks, not every tick.
const PRUNE_AT: usize = 16;
/// How much each tick weighs in the admission rate that estimated waits follow.
const RATE_WEIGHT: f64 = 0.3;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdmissionReport {
    pub concerts: Vec<ConcertTick>,
    /// Concerts whose tick failed, or found its slot taken; the next tick does them again.
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
            failed: false,
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
    /// Already admitted (and counted), a ticket since replaced, or nobody's: pass it.
    Pass,
}

impl Verdict {
    fn uses_slot(&self) -> bool {
        matches!(self, Verdict::Admit(..))
    }
}

/// How far the walk has gone: numbers passed, and the last first-come place passed.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Progress {
    processed: u64,
    cursor: Option<QueuePlace>,
}

impl Progress {
    fn of(state: &QueueStateRecord) -> Self {
        Progress {
            processed: state.processed,
            cursor: state.cursor,
        }
    }
}

/// The state's count after a tick counted: how far, how many numbers, the pre-queue's share,
/// and the pages it wrote.
#[derive(Debug, Clone, PartialEq)]
struct Counted {
    through: i64,
    known: u64,
    pre_queue: u64,
    pages: Vec<i64>,
}

impl Counted {
    fn apply(self, state: &mut QueueStateRecord) {
        state.counted_through = self.through;
        state.known = self.known;
        state.pre_queue = self.pre_queue;
        state.pages.extend(self.pages);
        state.pages.sort_unstable();
        state.pages.dedup();
    }
}

/// One number judged, and the progress once it is passed.
#[derive(Debug, Clone, PartialEq)]
struct Judged {
    verdict: Verdict,
    place: QueuePlace,
    after: Progress,
}

impl Ticketing {
    /// One tick over every live queue. A concert whose tick fails is deferred to the next
    /// tick; only failing to read which queues are live fails the whole tick.
    #[instrument(skip(self))]
    pub async fn admit_waiting(&self) -> Result<AdmissionReport, BookingError> {
        let now = self.now().epoch_seconds();
        let mut report = AdmissionReport::default();
        for queue in again(|| self.store.live_queues()).await? {
            match self.tick_queue(&queue).await {
                Ok(Some(tick)) => {
                    if tick.idle() && now - queue.last_registered >= RETIRE_AFTER_SECONDS {
                        match self
                            .store
                            .retire_queue(&queue.concert_id, queue.last_registered)
                            .await
                        {
                            Ok(true) => report.retired += 1,
                            Ok(false) => {}
                            // Still idle at the next tick, which retires it then.
                            Err(error) => {
                                warn!(concert = %queue.concert_id, %error, "retiring failed")
                            }
                        }
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

    /// One tick for one concert, registered or not: `None` when another tick holds its slot
    /// (or took its claim over); the next tick does it again.
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
            again(|| self.cache.concert(&*self.store, concert_id)),
            again(|| self.store.queue_state(concert_id, true)),
            again(|| self.store.queue_control(concert_id)),
        );
        let (previous, control) = (previous?, control?);
        let Some(concert) = concert? else {
            // Registered by joins for a concert that does not exist: nothing to tick.
            return Ok(Some(ConcertTick::new(concert_id)));
        };
        let seen = previous.as_ref().map_or(0, |s| s.version);
        let mut state = previous.clone().unwrap_or_else(|| {
            let from = (queue.first_registered - REGISTRATION_SLACK_SECONDS)
                .max(concert.queue_opens_at.unwrap_or(i64::MIN));
            QueueStateRecord {
                counted_from: from,
                counted_through: from - 1,
                ..QueueStateRecord::default()
            }
        });
        // The claim, the count and the seats at once: counting writes nothing that a tick
        // without the claim could not write too.
        let (claim, counted, seats, slots) = tokio::join!(
            self.claim(concert_id, seen, t),
            self.count(&concert, &state, queue.first_registered, t),
            self.read_seats(&concert, now),
            again(|| self.count_slots(concert_id, t)),
        );
        let Some((claim, taken_over)) = claim? else {
            debug!(concert = %concert_id, "the slot is another tick's");
            return Ok(None);
        };
        // The slots were read beside the claim: a tick taken over may have admitted fans since,
        // until this claim refused its writes. Read again, now that nothing more can come.
        let slots = if taken_over {
            again(|| self.count_slots(concert_id, t)).await
        } else {
            slots
        };
        state.version = claim.version;
        // What ticks that died under their claims admitted (their slots are in the ledger).
        for count in claim.pending.values() {
            state.admitted_total += u64::from(*count);
        }
        counted?.apply(&mut state);
        let ledgers = seats?;
        Self::learn_seats(&concert, &mut state, &ledgers, t);
        self.prune_ledgers(&concert, &ledgers, t).await;
        let slots = slots?;
        let active = slots.live;

        let admit_per_tick = control
            .admit_per_tick
            .unwrap_or(self.settings.admit_per_tick);
        let max_active = control.max_active.unwrap_or(self.settings.max_active);
        let sale_open = concert.sale_opens_at.is_none_or(|opens| t >= opens);
        if state.lottery.is_none() {
            state.lottery = claim.lottery;
        }
        if let Some(opens) = concert.sale_opens_at {
            if sale_open && state.lottery.is_none() && state.counted_through >= opens - 1 {
                let draw = LotteryRecord {
                    seed: fastrand::u64(..),
                    size: state.pre_queue,
                    drawn_at: t,
                };
                // Kept on the claim before anyone is admitted by it: one draw, ever.
                let Some(kept) =
                    again(|| self.store.keep_draw(concert_id, claim.version, &draw)).await?
                else {
                    return Ok(None);
                };
                state.lottery = Some(kept);
            }
        }
        let sold_out = !state.dates.is_empty() && state.dates.iter().all(|d| d.unsold == 0);
        let drawn = concert.sale_opens_at.is_none() || state.lottery.is_some();
        let slots = if sale_open && drawn && !sold_out && !control.paused {
            // A fan holding seats has them and shops no more: the free seats wait for the
            // fans seen lately beyond the seats held (at least that many: an order holds one
            // seat or more). Counting the holders, and the slots of fans who left, too kept the
            // crowd out while seats that abandoned holds let go sat free.
            let shopping = slots.seen_lately.saturating_sub(state.seats.held);
            let by_seats =
                (self.settings.active_per_free_seat * state.seats.free).saturating_sub(shopping);
            admit_per_tick
                .min(max_active.saturating_sub(active))
                .min(by_seats)
        } else {
            0
        };

        let mut tick = ConcertTick::new(concert_id);
        let judged = if slots > 0 {
            self.walk(&concert, &state, slots as usize, t).await?
        } else {
            Vec::new()
        };
        let Some(reached) = self
            .commit_walk(&concert, &state, judged, t, &mut tick)
            .await?
        else {
            return Ok(None);
        };
        state.processed = reached.processed;
        state.cursor = reached.cursor;
        Self::prune_pages(&concert, &mut state);

        let admitted = tick.admitted.len() as u32;
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
        state.max_holds_per_session = control
            .max_holds_per_session
            .unwrap_or(self.settings.max_holds_per_session);
        if sold_out && !previous.as_ref().is_some_and(|p| p.sold_out) {
            // Before the state: should this fail, the next tick sees the sell-out anew.
            again(|| self.store.mark_sold_out(&concert)).await?;
        }
        let mut settled: Vec<i64> = claim.pending.keys().copied().collect();
        if admitted > 0 && !claim.pending.contains_key(&t) {
            settled.push(t);
        }
        // Safe to send again: a state committed already is committed the same way twice.
        if again(|| self.store.commit_queue_state(concert_id, &state, &settled)).await?
            != CommitOutcome::Committed
        {
            return Ok(None);
        }
        debug!(
            concert = %concert_id,
            version = state.version,
            counted_through = state.counted_through,
            known = state.known,
            processed = state.processed,
            slots,
            admitted,
            "ticked"
        );
        self.cache.keep_state(concert_id, Some(state.clone()), t);
        tick.state = state;
        Ok(Some(tick))
    }

    /// Takes the tick's claim for the slot `t` falls in, and whether it took it over from a
    /// tick that had not finished: `None` when this slot is ticked already, or held by another
    /// tick.
    async fn claim(
        &self,
        concert: &ConcertId,
        seen: u64,
        t: i64,
    ) -> Result<Option<(TickClaimRecord, bool)>, BookingError> {
        let slot = t.div_euclid(self.settings.admit_tick_seconds.max(1) as i64);
        Ok(
            match self.store.claim_tick(concert, seen, slot, false).await? {
                TickClaim::Claimed(claim) => Some((claim, false)),
                // A tick claimed after the state this one read, at an earlier slot, and never wrote
                // its state: it died, or is too slow to finish. This one takes over; that one's
                // later writes are refused. Had it written its state, this one's is stale (a clock
                // ahead of that tick's can put it a slot on while it ran): the next slot ticks.
                TickClaim::Held(current)
                    if current.version > seen && current.slot < slot && !current.committed =>
                {
                    match self
                        .store
                        .claim_tick(concert, current.version, slot, true)
                        .await?
                    {
                        TickClaim::Claimed(claim) => Some((claim, true)),
                        TickClaim::Held(_) => None,
                    }
                }
                TickClaim::Held(_) => None,
            },
        )
    }

    /// Commits the walk's verdicts in transactions, in order, and returns how far the walk got:
    /// to the end, or to just before a transaction that was refused because a ticket moved.
    /// `None` when the claim was lost: another tick took over.
    async fn commit_walk(
        &self,
        concert: &ConcertRecord,
        state: &QueueStateRecord,
        judged: Vec<Judged>,
        t: i64,
        tick: &mut ConcertTick,
    ) -> Result<Option<Progress>, BookingError> {
        let plan = |n: usize| {
            let mut plan = AdmissionBatchPlan {
                concert_id: concert.concert_id.clone(),
                claim_version: state.version,
                admit: Vec::new(),
                admitted_at: t,
                active_until: t,
                slot_shard: 0,
                drop: Vec::new(),
                voids: Vec::new(),
            };
            self.admission_slots(t, &mut plan, n);
            plan
        };
        let mut reached = Progress::of(state);
        let mut sent = 0;
        let mut batch = plan(sent);
        let mut batch_reaches;
        let count = judged.len();
        for (i, judged) in judged.into_iter().enumerate() {
            match judged.verdict {
                // Nothing to write: passed at once, unless it follows what must be written.
                Verdict::Pass if batch.is_empty() => reached = judged.after,
                Verdict::Pass => {}
                Verdict::Admit(user, token) => batch.admit.push((user, token)),
                Verdict::Drop(user, token, seen) => batch.drop.push((user, token, seen)),
                Verdict::Void => batch.voids.push(judged.place),
            }
            if batch.is_empty() {
                continue;
            }
            batch_reaches = judged.after;
            if batch.len() < ADMISSION_BATCH_ITEMS && i + 1 < count {
                continue;
            }
            sent += 1;
            let full = std::mem::replace(&mut batch, plan(sent));
            let outcome = match self.store.commit_admission_batch(&full).await {
                // Other writes on its tickets held it off past its resends; nothing of it was
                // written. As a refusal: the state records the walk up to it.
                Err(StoreError::Contention(_)) => CommitOutcome::Refused,
                outcome => outcome?,
            };
            match outcome {
                CommitOutcome::Committed => {
                    reached = batch_reaches;
                    tick.admitted.extend(full.admit);
                    tick.dropped
                        .extend(full.drop.into_iter().map(|(user, token, _)| (user, token)));
                }
                // A ticket or an entry moved since it was judged (or is being written): the
                // rest waits for the next tick, which judges it again.
                CommitOutcome::Refused => return Ok(Some(reached)),
                CommitOutcome::ClaimLost => return Ok(None),
            }
        }
        Ok(Some(reached))
    }

    /// Seals and counts the settled seconds since the last count into pages, and returns the
    /// state as counted. A queue registered again after it was retired had no joins in
    /// between: counting resumes shortly before its registration. Any tick may do this, with
    /// or without the claim: seals only rise, and a page only gains the counts of sealed
    /// seconds, which are the same whoever counts them.
    async fn count(
        &self,
        concert: &ConcertRecord,
        state: &QueueStateRecord,
        registered: i64,
        now: i64,
    ) -> Result<Counted, BookingError> {
        let mut counted = Counted {
            through: state.counted_through,
            known: state.known,
            pre_queue: state.pre_queue,
            pages: Vec::new(),
        };
        let from = (state.counted_through + 1).max(registered - REGISTRATION_SLACK_SECONDS);
        let through = (now - COUNT_LAG_SECONDS).min(from + COUNT_AT_MOST_SECONDS - 1);
        if through < from {
            return Ok(counted);
        }
        let sealed = again(|| {
            self.store.seal_queue_counts(
                &concert.concert_id,
                from,
                through,
                now - DRAWS_LAND_WITHIN_SECONDS,
            )
        })
        .await?;
        let through = sealed.through;
        if through < from {
            return Ok(counted);
        }
        let mut pages: BTreeMap<i64, QueuePageRecord> = BTreeMap::new();
        for (second, counts) in sealed.counts {
            let counts = SecondCounts {
                base: counted.known,
                counts,
            };
            counted.known += counts.total();
            if concert.sale_opens_at.is_some_and(|opens| second < opens) {
                counted.pre_queue += counts.total();
            }
            pages
                .entry(page_of(second))
                .or_default()
                .seconds
                .insert(second, counts);
        }
        if !pages.is_empty() {
            again(|| self.store.write_queue_pages(&concert.concert_id, &pages)).await?;
            counted.pages = pages.keys().copied().collect();
            for (minute, page) in pages {
                self.cache
                    .extend_page(&concert.concert_id, minute, page.seconds, (from, through));
            }
        }
        counted.through = through;
        Ok(counted)
    }

    /// Every date on sale's ledger, as it stands.
    async fn read_seats(
        &self,
        concert: &ConcertRecord,
        now: crate::domain::Timestamp,
    ) -> Result<Vec<(ConcertDate, u32, SeatLedgerRecord)>, BookingError> {
        let today = now.date();
        let on_sale: Vec<ConcertDate> = concert
            .dates
            .iter()
            .filter(|d| **d >= today)
            .copied()
            .collect();
        let shards = every_ledger_shard(&on_sale, concert.ledger_shards());
        Ok(again(|| self.store.seat_ledgers(&concert.concert_id, &shards)).await?)
    }

    /// Learns the dates' seats into the state from their ledgers.
    fn learn_seats(
        concert: &ConcertRecord,
        state: &mut QueueStateRecord,
        ledgers: &[(ConcertDate, u32, SeatLedgerRecord)],
        now: i64,
    ) {
        let per_date = concert.seat_count();
        let mut totals = SeatCounts::default();
        let mut dates: BTreeMap<ConcertDate, LiveCounts> = BTreeMap::new();
        for (date, _, shard) in ledgers {
            let counts = dates.entry(*date).or_default();
            counts.sold += shard.sold;
            for (section, n) in &shard.sold_by_section {
                *counts.sold_by_section.entry(*section).or_default() += n;
            }
            counts.held += shard.holds.range(now + 1..).map(|(_, n)| n).sum::<i64>();
            for ((section, end), n) in &shard.section_holds {
                if *end - SECTION_HOLD_WINDOW > now {
                    *counts.held_by_section.entry(*section).or_default() += n;
                } else if *end - 1 > now {
                    // The minute `now` is in: some of its holds may have lapsed.
                    *counts.minute_by_section.entry(*section).or_default() += n;
                }
            }
        }
        state.dates.clear();
        for (date, mut counts) in dates {
            counts.take_off_lapsed();
            let sold = (counts.sold.max(0) as u32).min(per_date);
            let held = (counts.held.max(0) as u32).min(per_date - sold);
            let sections = concert
                .sections
                .iter()
                .enumerate()
                .map(|(i, section)| {
                    let i = i as u32;
                    let size = section.seat_count();
                    let sold = counts.sold_by_section.get(&i).copied().unwrap_or(0);
                    let sold = (sold.max(0) as u32).min(size);
                    let held = counts.held_by_section.get(&i).copied().unwrap_or(0);
                    size - sold - (held.max(0) as u32).min(size - sold)
                })
                .collect();
            let standing = DateStanding {
                date,
                unsold: per_date - sold,
                free: per_date - sold - held,
                sections,
            };
            totals.sold += sold;
            totals.held += held;
            totals.free += standing.free;
            state.dates.push(standing);
        }
        state.seats = totals;
    }

    /// Drops from each ledger shard the counts no tick reads again, once it has a few: a shard
    /// stays the size of its live holds. A prune that fails is done by a later tick.
    async fn prune_ledgers(
        &self,
        concert: &ConcertRecord,
        ledgers: &[(ConcertDate, u32, SeatLedgerRecord)],
        now: i64,
    ) {
        let prunes = ledgers.iter().filter_map(|(date, shard, ledger)| {
            let stale = ledger.stale(now, self.settings.hold_seconds);
            (stale.len() >= PRUNE_AT).then_some(async move {
                let pruned = self
                    .store
                    .prune_seat_ledger(&concert.concert_id, *date, *shard, &stale)
                    .await;
                if let Err(error) = pruned {
                    warn!(concert = %concert.concert_id, %date, shard, %error, "pruning a ledger failed");
                }
            })
        });
        futures::future::join_all(prunes).await;
    }

    /// Judges the next numbers in queue order until `slots` fans are admitted or the settled
    /// queue ends, each with the progress once it is passed.
    async fn walk(
        &self,
        concert: &ConcertRecord,
        state: &QueueStateRecord,
        slots: usize,
        now: i64,
    ) -> Result<Vec<Judged>, BookingError> {
        let mut judged: Vec<Judged> = Vec::new();
        let mut admitted = 0;
        // Idle fans are dropped without using a slot; still, a tick judges a bounded number.
        let budget = slots * 2 + 1_000;
        let concert_id = &concert.concert_id;
        let mut progress = Progress::of(state);

        if let Some(lottery) = state.lottery {
            let draw = Lottery::new(lottery.seed, lottery.size);
            let index = self.second_index(concert, state, true).await?;
            while progress.processed < lottery.size && admitted < slots && judged.len() < budget {
                let take = (lottery.size - progress.processed)
                    .min((slots - admitted + 16).min(WALK_CHUNK) as u64);
                let places = (progress.processed..progress.processed + take)
                    .map(|rank| {
                        place_of(&index, draw.ordinal(rank)).ok_or_else(|| {
                            crate::domain::StoreError::Corrupt(format!(
                                "no counted place for the pre-queue's number {rank}"
                            ))
                        })
                    })
                    .collect::<Result<Vec<QueuePlace>, _>>()?;
                let entries = again(|| self.store.queue_entries_at(concert_id, &places)).await?;
                let verdicts = self
                    .judge(concert_id, &places, entries, slots - admitted, now)
                    .await?;
                let stop = verdicts.len() < places.len();
                for (place, verdict) in verdicts {
                    progress.processed += 1;
                    admitted += usize::from(verdict.uses_slot());
                    judged.push(Judged {
                        verdict,
                        place,
                        after: progress,
                    });
                }
                if stop {
                    return Ok(judged);
                }
            }
            if progress.processed < lottery.size {
                return Ok(judged);
            }
        }

        // First come, first served: after the pre-queue's seconds, never through them again.
        let from = concert.sale_opens_at.unwrap_or(i64::MIN);
        let through = state.counted_through.min(now - ADMIT_LAG_SECONDS);
        let index = self.second_index(concert, state, false).await?;
        while admitted < slots && judged.len() < budget {
            let want = (slots - admitted + 16).min(WALK_CHUNK);
            let places = places_after(&index, progress.cursor, from, through, want);
            if places.is_empty() {
                break;
            }
            // One Query per counter, all at once.
            let queries = shard_ranges(&places)
                .into_iter()
                .map(|(shard, first, last)| {
                    again(move || {
                        self.store.queue_entries(
                            concert_id,
                            shard,
                            (first.second, first.number - 1),
                            (last.second, last.number),
                        )
                    })
                });
            let entries: Vec<QueueEntryRecord> = futures::future::try_join_all(queries)
                .await?
                .into_iter()
                .flatten()
                .collect();
            let verdicts = self
                .judge(concert_id, &places, entries, slots - admitted, now)
                .await?;
            let stop = verdicts.len() < places.len();
            for (place, verdict) in verdicts {
                progress.processed += 1;
                progress.cursor = Some(place);
                admitted += usize::from(verdict.uses_slot());
                judged.push(Judged {
                    verdict,
                    place,
                    after: progress,
                });
            }
            if stop {
                break;
            }
        }
        Ok(judged)
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
        let tickets: HashMap<UserId, TicketRecord> = again(|| self.store.tickets(concert, &users))
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
                    // Admitted already, by a tick whose admissions are counted (in a
                    // state's batches, or pending on the claim), or ended: passed.
                    Some(t) => match t.status {
                        TicketStatus::Waiting
                            if now - t.last_seen_at > self.settings.waiting_idle_seconds =>
                        {
                            Verdict::Drop(user.clone(), t.token.clone(), t.last_seen_at)
                        }
                        TicketStatus::Waiting => Verdict::Admit(user.clone(), t.token.clone()),
                        _ => Verdict::Pass,
                    },
                },
            };
            if verdict.uses_slot() {
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
            if let Some(page) = again(|| {
                self.cache.page_through(
                    &*self.store,
                    &concert.concert_id,
                    minute,
                    complete,
                    state.counted_through,
                )
            })
            .await?
            {
                pages.push((minute, page));
            }
        }
        Ok(pages)
    }
}

/// A tick is a client of the store like any other: a call that failed on the way (throttled, a
/// 500, an answer lost, held off by other writes past the store's own resends) is sent again a
/// few times before the tick gives up, when sending it again changes nothing (reads, seals,
/// pages, the draw, the state). A claim or a batch is never sent again: a lost answer to it is
/// what the claim's version and pending counts are for.
async fn again<T, F, Fut>(mut call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(StoreError::Request(_) | StoreError::Contention(_))
                if attempt < TICK_CALL_ATTEMPTS =>
            {
                let pause = fastrand::u64(25..=100) << attempt;
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                attempt += 1;
            }
            answer => return answer,
        }
    }
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

/// Up to `want` places after `after`, in the seconds `from` through `through`, in queue order.
fn places_after(
    index: &[(i64, Arc<QueuePageRecord>)],
    after: Option<QueuePlace>,
    from: i64,
    through: i64,
    want: usize,
) -> Vec<QueuePlace> {
    let mut places = Vec::with_capacity(want);
    if through < from {
        return places;
    }
    for (_, page) in index {
        for (second, counts) in page.seconds.range(from..=through) {
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

/// Per counter, the first and the last of `places` on it: one Query each.
fn shard_ranges(places: &[QueuePlace]) -> Vec<(u8, QueuePlace, QueuePlace)> {
    let mut ranges: BTreeMap<u8, (QueuePlace, QueuePlace)> = BTreeMap::new();
    for place in places {
        ranges
            .entry(place.shard)
            .and_modify(|(_, last)| *last = *place)
            .or_insert((*place, *place));
    }
    ranges
        .into_iter()
        .map(|(shard, (first, last))| (shard, first, last))
        .collect()
}
/// One date's seats as the tick counts them, merged from its ledger shards: sold, and held by
/// holds still live at the tick (per section, by the minute).
#[derive(Default)]
struct LiveCounts {
    sold: i64,
    /// Held by a live hold, exactly (the ledger counts holds by the second they end).
    held: i64,
    sold_by_section: BTreeMap<u32, i64>,
    /// Held, per section, in the minutes after the one `now` is in: every such hold is live.
    held_by_section: BTreeMap<u32, i64>,
    /// Held, per section, in the minute `now` is in: some may have lapsed.
    minute_by_section: BTreeMap<u32, i64>,
}

impl LiveCounts {
    /// Folds the current minute into the sections' holds, less the holds of it that lapsed:
    /// the date's exact count says how many did, not in which sections, so they are taken
    /// off each section in proportion to its holds of the minute (exactly, when one section
    /// has holds ending this minute, as at the end of a sale). Without it, a seat whose hold
    /// lapsed would read as held in its section for up to a minute, and best available and
    /// the fans listing sections would pass it by while the date counts it free.
    fn take_off_lapsed(&mut self) {
        let minute: i64 = self.minute_by_section.values().map(|n| (*n).max(0)).sum();
        let later: i64 = self.held_by_section.values().sum();
        let lapsed = (later + minute - self.held).clamp(0, minute);
        let mut left = lapsed;
        for (section, n) in &self.minute_by_section {
            let n = (*n).max(0);
            let share = if minute == 0 { 0 } else { lapsed * n / minute };
            left -= share;
            *self.held_by_section.entry(*section).or_default() += n - share;
        }
        // What rounding left over comes off the sections with holds this minute, in turn.
        for (section, n) in &self.minute_by_section {
            if left == 0 {
                break;
            }
            let held = self.held_by_section.entry(*section).or_default();
            if *n > 0 && *held > 0 {
                *held -= 1;
                left -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(held: i64, later: &[(u32, i64)], minute: &[(u32, i64)]) -> LiveCounts {
        LiveCounts {
            held,
            held_by_section: later.iter().copied().collect(),
            minute_by_section: minute.iter().copied().collect(),
            ..LiveCounts::default()
        }
    }

    #[test]
    fn the_holds_that_lapsed_this_minute_come_off_the_sections_that_had_them() {
        // Section 3 had 4 holds ending this minute, 3 of them lapsed by now; section 1 holds 5
        // seats in later minutes: the date's exact count is 6.
        let mut one = counts(6, &[(1, 5)], &[(3, 4)]);
        one.take_off_lapsed();
        assert_eq!(one.held_by_section, BTreeMap::from([(1, 5), (3, 1)]));
        // Two sections this minute, 6 of 8 lapsed: in proportion, 3 and 3 off, every lapsed
        // hold taken off somewhere, none twice.
        let mut two = counts(2, &[], &[(0, 4), (2, 4)]);
        two.take_off_lapsed();
        assert_eq!(two.held_by_section, BTreeMap::from([(0, 1), (2, 1)]));
        // Rounding: 1 of 3 lapsed among three sections with one each.
        let mut three = counts(2, &[], &[(0, 1), (1, 1), (2, 1)]);
        three.take_off_lapsed();
        assert_eq!(three.held_by_section.values().sum::<i64>(), 2);
        // None lapsed: the minute counts whole; a count that says more lapsed than the minute
        // had takes off only the minute's.
        let mut none = counts(7, &[(1, 5)], &[(3, 2)]);
        none.take_off_lapsed();
        assert_eq!(none.held_by_section, BTreeMap::from([(1, 5), (3, 2)]));
        let mut odd = counts(0, &[(1, 5)], &[(3, 2)]);
        odd.take_off_lapsed();
        assert_eq!(odd.held_by_section, BTreeMap::from([(1, 5), (3, 0)]));
    }
}
