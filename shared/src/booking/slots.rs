//! A slot lasts while it is used: an ACTIVE token ends `ACTIVE_IDLE_SECONDS` after the last
//! request that carried it (renewed), and never later than `ACTIVE_SECONDS` after its admission
//! (its cap). A fan with a live hold keeps the slot until the hold ends: a hold first moves the
//! token's end to the hold's, past the cap if need be (by at most `HOLD_SECONDS`), so a fan who
//! holds can always pay. A hold placed in a token's last seconds would otherwise end with the
//! token: a payment refused, and the seats kept from everyone for the whole hold.
//!
//! How the tick learns the live slots without reading a ticket: the slot ledger, `SLOT_SHARDS`
//! items a concert (`SLOTS#{c}#{shard}`), each counting tokens by the second their slot ends,
//! moved in the same transaction as the ticket's end:
//! - an admission transaction adds its admissions at their end on one shard (the batches of a
//!   tick rotate over the shards), one item of the transaction's 100 (98 tickets, the claim);
//! - a renewal moves the ticket's end and, on the fan's shard (a hash of the fan), takes one
//!   off the old end and adds one at the new, conditional on the end it read: of requests
//!   racing with one token, one renewal is written and the others are refused and write nothing;
//! - a payment ends the session (the ticket is spent) and takes one off its end, so a fan who
//!   bought stops counting at once, not when the slot would have ended.
//!
//! So live slots = the sum over shards of the counts whose end is after the tick's now: exact,
//! `SLOT_SHARDS` (256) items read a tick (three BatchGets), whatever the number of active fans. A shard may count
//! negative at an end (a token admitted on one shard, renewed on its fan's); only the sum over
//! shards means anything. Ends in the past are pruned by the tick once a shard has a few.
//!
//! Ends are rounded up to `SLOT_BUCKET_SECONDS` (the cap excepted), so that a shard holds a
//! few dozen counts, not one per second: at the defaults (idle 120 s, holds 300 s) about 45
//! ends live at once, under 1 KB an item (one write unit, two in a transaction); at
//! ACTIVE_IDLE_SECONDS = 1,800 about 200, some 3 KB. A token therefore ends up to 10 s after
//! its idle time.
//!
//! Renewal is cheap: a request renews only when the end was set at least `renew_every`
//! (min(30 s, idle / 4)) ago, so a token costs at most one write per interval however many
//! requests carry it; within a container, a token renews one request at a time (the others go
//! on, the token still live). A token this container found ACTIVE costs no read: the cache
//! keeps its end and cap, and a request renews from them when due (a renewal refused because
//! another container moved the end forgets the kept end; the next request reads it).
//!
//! No item is shared by the crowd: at 100,000 active fans renewing every 30 s, 3,333 renewals a
//! second spread over 256 shards by the fan's hash, about 13 transactional writes a second on
//! each (2 units each under 1 KB: about 26 of a key's 1,000 write units), plus each fan's own
//! ticket. Throughput alone would allow 32 shards; conflicts would not: a transaction holds its
//! items 5 to 20 ms, and at 32 shards the simulated stadium on-sale (300,000 fans) had a third
//! of the attempts on each slot shard refused for `TransactionConflict`, resent at up to 642
//! write units a second on one shard. A renewal that fails (throttled, a conflict) changes nothing the fan sees: the token
//! lives to the end it had, and the next request renews. The hold's own renewal is the
//! exception: a hold is refused (503, retry) rather than placed on a token that could idle out
//! under it. The hold moves the end with a renewal of its own before its transaction, rather
//! than inside it: the hold's transaction (blocks, ledger shards, tally) is the sale's busiest,
//! and a slot shard in it would add the crowd's renewals to what it can conflict with. A hold
//! then refused moves the end back (one more renewal), so that an order that failed does not
//! keep a slot for a fan who walks away.

use std::ops::RangeInclusive;

use tracing::warn;

use super::cache::Cache;
use super::Ticketing;
use crate::domain::{BookingError, ConcertId, QueueToken, StoreError, UserId};
use crate::store::{
    AdmissionBatchPlan, CommitOutcome, SlotRenewal, SlotShardRecord, TicketRecord, TicketStatus,
    SLOT_SHARDS,
};

/// `ACTIVE_IDLE_SECONDS`' range: at least a few polls' worth, at most Cloudflare's longest
/// session.
pub const ACTIVE_IDLE_RANGE: RangeInclusive<i64> = 30..=1_800;
/// Slot ends are rounded up to this many seconds (see the module note).
pub(crate) const SLOT_BUCKET_SECONDS: i64 = 10;
/// The longest a token goes between renewals while requests carry it.
const RENEW_EVERY_MAX_SECONDS: i64 = 30;
/// A slot shard is pruned once it has this many ends past: one write every few ticks.
const PRUNE_SLOTS_AT: usize = 16;
/// A hold's renewal refused because the end moved is tried again this often.
const HOLD_RENEWAL_ATTEMPTS: u32 = 3;

/// What the slot ledger counts at a tick: the live slots (what `MAX_ACTIVE` bounds), and those
/// of fans seen lately (what the pacing by free seats counts: a fan who left ten seconds into
/// its idle time keeps its slot, not the crowd from a free seat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LiveSlots {
    pub(crate) live: u32,
    pub(crate) seen_lately: u32,
}

/// How a hold's renewal moved a token's end: from, to, and the token's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotMoved {
    from: i64,
    to: i64,
    cap: i64,
}

impl SlotMoved {
    /// This move, then `next`: from the first's start to the last's end.
    pub(crate) fn then(self, next: SlotMoved) -> SlotMoved {
        SlotMoved {
            from: self.from,
            ..next
        }
    }
}

/// `at`, rounded up to the slot ledger's buckets.
fn bucket_up(at: i64) -> i64 {
    at.div_euclid(SLOT_BUCKET_SECONDS) * SLOT_BUCKET_SECONDS
        + if at.rem_euclid(SLOT_BUCKET_SECONDS) == 0 {
            0
        } else {
            SLOT_BUCKET_SECONDS
        }
}

/// How long a token goes between renewals: min(30 s, a quarter of the idle time).
pub(crate) fn renew_every(idle: i64) -> i64 {
    (idle / 4).clamp(1, RENEW_EVERY_MAX_SECONDS)
}

/// How far ahead the end of a slot whose fan was seen lately stays, for an idle time of `idle`
/// seconds: the idle time less two renewal intervals (60 s at the defaults).
pub fn seen_lately_margin(idle: i64) -> i64 {
    idle - 2 * renew_every(idle)
}

/// The live slots the ledger counts at `now`, over every shard.
pub(crate) fn live_slots(shards: &[(u32, SlotShardRecord)], now: i64) -> u32 {
    let live: i64 = shards.iter().map(|(_, shard)| shard.live(now)).sum();
    live.clamp(0, i64::from(u32::MAX)) as u32
}

/// The shard a tick's `n`-th admission transaction counts on: a tick's batches rotate.
pub(crate) fn admission_shard(now: i64, n: usize) -> u32 {
    ((now as u64).wrapping_add(n as u64) % u64::from(SLOT_SHARDS)) as u32
}

/// One request's renewal of a token in this container: the mark is lifted however the
/// request ends.
struct Renewing<'a> {
    cache: &'a Cache,
    token: &'a QueueToken,
}

impl<'a> Renewing<'a> {
    fn begin(cache: &'a Cache, token: &'a QueueToken) -> Option<Self> {
        // Built only when marked: a guard dropped unmarked would lift another request's mark.
        if cache.begin_renewal(token) {
            Some(Renewing { cache, token })
        } else {
            None
        }
    }
}

impl Drop for Renewing<'_> {
    fn drop(&mut self) {
        self.cache.end_renewal(self.token);
    }
}

impl Ticketing {
    /// When a token admitted at `admitted_at` ends at the latest.
    pub(crate) fn slot_cap(&self, admitted_at: i64) -> i64 {
        admitted_at + self.settings.active_seconds
    }

    /// The end of a slot used at `now`: idle time on, rounded up, never past the cap.
    pub(crate) fn slot_end(&self, cap: i64, now: i64) -> i64 {
        bucket_up(now + self.settings.active_idle_seconds).min(cap)
    }

    /// Why an ACTIVE ticket that ended did: idled out before its cap, or reached it.
    pub(crate) fn ended(&self, ticket: &TicketRecord) -> BookingError {
        match (ticket.status, ticket.admitted_at, ticket.active_until) {
            (TicketStatus::Active, Some(at), Some(until)) if until < self.slot_cap(at) => {
                BookingError::QueueTokenIdle
            }
            _ => BookingError::QueueTokenExpired,
        }
    }

    /// The end a renewal at `now` moves `until` to, when one is due.
    fn renewal_due(&self, until: i64, cap: i64, now: i64) -> Option<i64> {
        let idle = self.settings.active_idle_seconds;
        let set_long_enough_ago = now >= until - idle + renew_every(idle);
        let to = self.slot_end(cap, now);
        (set_long_enough_ago && to > until && until > now).then_some(to)
    }

    /// Renews an active token a request carried, when due: the end it has after. A renewal
    /// that fails leaves the token as it was, live to `until`.
    pub(crate) async fn keep_slot(
        &self,
        user: &UserId,
        token: &QueueToken,
        (until, cap): (i64, i64),
    ) -> i64 {
        let now = self.now().epoch_seconds();
        // Another request of this container may have renewed it since this one read it.
        let (until, cap) = match self.cache.active_slot(user, token, now) {
            Some(kept) if kept.0 > until => kept,
            _ => (until, cap),
        };
        let Some(to) = self.renewal_due(until, cap, now) else {
            return until;
        };
        let Some(_renewing) = Renewing::begin(&self.cache, token) else {
            return until;
        };
        match self.renew(user, token, until, to, cap).await {
            Ok(true) => to,
            Ok(false) => until,
            Err(error) => {
                warn!(%user, %error, "renewing a queue token failed");
                until
            }
        }
    }

    /// Moves the token's end from `from` to `to`: `false` when it had moved (another request
    /// renewed it, a payment spent it), and then the end is read again and kept, so that this
    /// container's other requests with the token do not try the same renewal.
    async fn renew(
        &self,
        user: &UserId,
        token: &QueueToken,
        from: i64,
        to: i64,
        cap: i64,
    ) -> Result<bool, BookingError> {
        let renewal = SlotRenewal {
            user_id: user.clone(),
            concert_id: token.concert().clone(),
            token: token.clone(),
            from,
            to,
        };
        match self.store.renew_ticket(&renewal).await? {
            CommitOutcome::Committed => {
                self.cache.found_active(user, token, to, cap);
                Ok(true)
            }
            _ => {
                self.cache.forget_active(token);
                let now = self.now().epoch_seconds();
                let ticket = self.store.ticket(user, token.concert()).await?;
                if let Some(t) = ticket.filter(|t| &t.token == token && t.is_live(now)) {
                    if let (TicketStatus::Active, Some(until)) = (t.status, t.active_until) {
                        self.cache.found_active(user, token, until, cap);
                    }
                }
                Ok(false)
            }
        }
    }

    /// Before a hold ending at `held_until`: the token's slot lasts as long, past its cap if need
    /// be (by at most `HOLD_SECONDS`, however many holds follow), so that a fan who holds keeps
    /// the slot to pay. Says how it moved the end, if it did: a hold
    /// then refused gives the time back ([`Ticketing::slot_back`]).
    pub(crate) async fn slot_through(
        &self,
        user: &UserId,
        token: &QueueToken,
        concert: &ConcertId,
        held_until: i64,
    ) -> Result<Option<SlotMoved>, BookingError> {
        for _ in 0..HOLD_RENEWAL_ATTEMPTS {
            let now = self.now().epoch_seconds();
            let (until, cap) = match self.cache.active_slot(user, token, now) {
                Some(slot) => slot,
                None => {
                    let ticket = self.read_gate(user, token, concert).await?;
                    match (ticket.active_until, ticket.admitted_at) {
                        (Some(until), Some(at)) => (until, self.slot_cap(at)),
                        _ => return Err(BookingError::QueueTokenExpired),
                    }
                }
            };
            let wanted = bucket_up(held_until).min(cap + self.settings.hold_seconds);
            if until >= wanted {
                return Ok(None);
            }
            let to = self.slot_end(cap, now).max(wanted);
            if self.renew(user, token, until, to, cap).await? {
                return Ok(Some(SlotMoved {
                    from: until,
                    to,
                    cap,
                }));
            }
        }
        Err(BookingError::Contention)
    }

    /// After a hold that was refused (a seat taken, a limit, a conflict): the end the hold's
    /// renewal set goes back to what the fan's requests keep (the idle time from now), or to
    /// what it was before, whichever is later. Else every refused order would keep a fan's slot
    /// a whole `HOLD_SECONDS` after it walked away: in the last seats' scramble most orders are
    /// refused, and those slots, counted against the free seats, kept the crowd out. A failure
    /// leaves the end where the hold put it.
    pub(crate) async fn slot_back(&self, user: &UserId, token: &QueueToken, moved: SlotMoved) {
        let now = self.now().epoch_seconds();
        let back = self.slot_end(moved.cap, now).max(moved.from);
        if back >= moved.to {
            return;
        }
        if let Err(error) = self.renew(user, token, moved.to, back, moved.cap).await {
            warn!(%user, %error, "giving back a refused hold's slot time failed");
        }
    }

    /// After a release: the token keeps what the fan's requests and its other live holds keep,
    /// no more. The hold had moved the end to its own, past the cap if need be; the hold gone,
    /// that time goes too (else a session could outlive its cap by holding and releasing). A
    /// failure leaves the end where it was.
    pub(crate) async fn slot_after_release(&self, user: &UserId, concert: &ConcertId) {
        let now = self.now().epoch_seconds();
        let (ticket, tally) = tokio::join!(
            self.store.ticket(user, concert),
            self.store.fan_tally(user, concert)
        );
        let (Ok(Some(ticket)), Ok(tally)) = (ticket, tally) else {
            return;
        };
        let (TicketStatus::Active, Some(until), Some(at)) =
            (ticket.status, ticket.active_until, ticket.admitted_at)
        else {
            return;
        };
        let cap = self.slot_cap(at);
        let holds = tally
            .live_holds(now)
            .map(|(_, hold)| bucket_up(hold.until))
            .max()
            .map_or(0, |end| end.min(cap + self.settings.hold_seconds));
        let keep = self.slot_end(cap, now).max(holds);
        if until <= now || keep >= until {
            return;
        }
        self.cache.forget_active(&ticket.token);
        if let Err(error) = self.renew(user, &ticket.token, until, keep, cap).await {
            warn!(%user, %error, "giving back a released hold's slot time failed");
        }
    }

    /// Reads the concert's slot ledger, prunes the shards with a few ends past, and returns
    /// the live slots at `now`, and those of them whose fans were seen lately (see
    /// [`Ticketing::seen_lately_from`]).
    pub(crate) async fn count_slots(
        &self,
        concert: &ConcertId,
        now: i64,
    ) -> Result<LiveSlots, StoreError> {
        let shards = self.store.slot_ledger(concert).await?;
        let prunes = shards.iter().filter_map(|(shard, record)| {
            let stale = record.stale(now);
            (stale.len() >= PRUNE_SLOTS_AT).then_some(async move {
                if let Err(error) = self.store.prune_slot_shard(concert, *shard, &stale).await {
                    warn!(%concert, shard, %error, "pruning a slot shard failed");
                }
            })
        });
        futures::future::join_all(prunes).await;
        Ok(LiveSlots {
            live: live_slots(&shards, now),
            seen_lately: live_slots(&shards, self.seen_lately_from(now)),
        })
    }

    /// A slot whose end is past this was renewed lately: a fan whose requests carry its token
    /// renews it every `renew_every` (30 s at the defaults; the fan page's keep-alive beats as
    /// often), so its end stays more than the idle time less two intervals ahead (60 s at the
    /// defaults). A slot ending sooner is a fan not seen for a minute or so, most likely gone,
    /// though the slot lives out its idle time.
    fn seen_lately_from(&self, now: i64) -> i64 {
        now + seen_lately_margin(self.settings.active_idle_seconds)
    }

    /// Where the tick's admissions at `now` end, and the shard batch `n` counts them on.
    pub(crate) fn admission_slots(&self, now: i64, plan: &mut AdmissionBatchPlan, n: usize) {
        plan.active_until = self.slot_end(self.slot_cap(now), now);
        plan.slot_shard = admission_shard(now, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_round_up_to_buckets_and_renewal_waits_its_interval() {
        assert_eq!(bucket_up(1_796_083_320), 1_796_083_320);
        assert_eq!(bucket_up(1_796_083_321), 1_796_083_330);
        assert_eq!(bucket_up(-5), 0);
        assert_eq!(renew_every(120), 30);
        assert_eq!(renew_every(30), 7);
        assert_eq!(renew_every(1_800), 30);
    }

    #[test]
    fn a_fan_renewing_as_due_stays_seen_lately() {
        for idle in [30, 120, 1_800] {
            let every = renew_every(idle);
            // Its end set at 1,000, a fan's requests are due to renew it from 1,000 + every;
            // one whose request comes up to an interval late is still seen lately, one silent
            // for two intervals is not.
            let shards = vec![(
                0,
                SlotShardRecord {
                    ends: [(bucket_up(1_000 + idle), 1)].into_iter().collect(),
                },
            )];
            let seen = |now: i64| live_slots(&shards, now + seen_lately_margin(idle));
            assert_eq!(seen(1_000 + 2 * every - 1), 1, "idle {idle}");
            assert_eq!(
                seen(1_000 + 2 * every + SLOT_BUCKET_SECONDS),
                0,
                "idle {idle}"
            );
        }
        assert_eq!(seen_lately_margin(120), 60);
    }

    #[test]
    fn live_slots_sum_every_shard_after_now() {
        let shard = |ends: &[(i64, i64)]| SlotShardRecord {
            ends: ends.iter().copied().collect(),
        };
        let shards = vec![
            (0, shard(&[(100, 5), (110, 2)])),
            (1, shard(&[(100, -1), (130, 1)])),
        ];
        assert_eq!(live_slots(&shards, 99), 7);
        assert_eq!(live_slots(&shards, 100), 3);
        assert_eq!(live_slots(&shards, 130), 0);
    }
}
