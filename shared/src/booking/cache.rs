//! What one container keeps between requests. One `Ticketing` is one container (a Lambda
//! process, the local server, one simulated container), and each has its own cache.
//!
//! - Concerts: never change once written (but for `sold_out`, which nothing here reads from the
//!   cached copy), so they are kept for good. A concert id found unknown is kept as unknown for
//!   `UNKNOWN_CONCERT_SECONDS` (or until this container adds that concert): anyone may send
//!   any id, and each unknown one would otherwise be a strong read of the catalog's partition,
//!   which every concert shares. A concert an operator adds elsewhere is found by this
//!   container at most that long after.
//! - A queue's state: the tick writes it once a tick, so a copy is current until the next tick
//!   is due (`next_tick_at`), and then for this container's own lag (0 to 3 s, drawn at start);
//!   once that has passed it is read again, at most once a second (plus the lag), so that a late
//!   tick does not turn the crowd's polls into reads. The lag spreads the crowd's containers
//!   over four seconds: they would all read the new state in the tick's second, and with clocks
//!   a second apart, twice (the simulator found the queue's partition over half its read limit
//!   with a million fans, the more so with 400 dates, whose state is 14 KB, 2 units a read).
//!   A stale copy is only more cautious: positions counted from it are never better than the
//!   truth, and lag it by at most one tick and three seconds.
//! - Queue pages: a counted second's counts never change, so a page is kept for the seconds it
//!   holds, and read again only for a second it lacks that the state says is counted.
//! - Registrations: a join registers its concert for the tick at most once a minute per
//!   container, counted from the last registration that went through (see
//!   `booking::admission` for why that is enough).
//! - The concert list of `GET /concerts`: kept a second.
//! - Tokens this container found ACTIVE, with when they end and their cap: a fan's next seat
//!   listing or hold skips the gate's read (a hold's transaction checks the ticket all the
//!   same), and renews from the kept end when due (see `booking::slots`); a renewal moves the
//!   kept end, and one refused (the end moved elsewhere) forgets it. A token spent elsewhere
//!   since may still list seats until its kept end; it can never hold one. At most
//!   `ACTIVE_TOKENS_KEPT`; beyond that the lot is forgotten and read again. Tokens being
//!   renewed by a request of this container are marked, so that its other requests with the
//!   same token do not renew it too.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rustc_hash::FxHashMap as HashMap;

use crate::domain::{Clock, ConcertDate, ConcertId, QueueToken, UserId};
use crate::store::{
    page_of, page_seconds, ConcertListingRecord, ConcertRecord, QueuePageRecord, QueueStateRecord,
    SecondCounts, Store, StoreError,
};

/// How often a container registers a concert it serves joins for.
pub(crate) const REGISTER_EVERY_SECONDS: i64 = 60;
const CONCERT_LIST_SECONDS: i64 = 1;
/// How long an unknown concert id is answered from memory, and how many are kept (beyond
/// that the lot is forgotten: a flood of distinct ids then costs one read each, never more).
pub(crate) const UNKNOWN_CONCERT_SECONDS: i64 = 10;
const UNKNOWN_CONCERTS_KEPT: usize = 10_000;
const ACTIVE_TOKENS_KEPT: usize = 10_000;
/// The most a container keeps a queue state past when it is due.
pub(crate) const STATE_LAG_MAX: i64 = 3;

pub(crate) struct Cache {
    inner: Mutex<Kept>,
    /// Seconds this container keeps a queue state past when it is due (0 to 3).
    state_lag: i64,
    /// The container's clock, for what is kept a while.
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct Kept {
    concerts: HashMap<ConcertId, Arc<ConcertRecord>>,
    /// Concert ids found unknown, until when that answer is kept.
    unknown_concerts: HashMap<ConcertId, i64>,
    states: HashMap<ConcertId, (Option<Arc<QueueStateRecord>>, i64)>,
    /// Pages, with the last second each is known complete through.
    pages: HashMap<(ConcertId, i64), (Arc<QueuePageRecord>, i64)>,
    registered: HashMap<ConcertId, i64>,
    /// The listings of concerts not yet over, as read at that second.
    concert_list: Option<(Arc<Vec<ConcertListingRecord>>, i64)>,
    /// Active tokens: the holder, the slot's end, its cap.
    active_tokens: HashMap<QueueToken, (UserId, i64, i64)>,
    renewing: rustc_hash::FxHashSet<QueueToken>,
}

impl Cache {
    /// A cold cache that keeps queue states `state_lag` seconds (0 to 3) past when they are due.
    pub(crate) fn with_state_lag(state_lag: i64, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::default(),
            state_lag: state_lag.clamp(0, STATE_LAG_MAX),
            clock,
        }
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The slot's end and cap, if this container found `user`'s `token` ACTIVE and it has not
    /// ended by `now`.
    pub(crate) fn active_slot(
        &self,
        user: &UserId,
        token: &QueueToken,
        now: i64,
    ) -> Option<(i64, i64)> {
        self.kept()
            .active_tokens
            .get(token)
            .filter(|(holder, until, _)| holder == user && *until > now)
            .map(|(_, until, cap)| (*until, *cap))
    }

    /// Keeps a token found ACTIVE until `until`, unless a later end is kept already (a read
    /// that went out before a renewal of this container must not move its end back).
    pub(crate) fn found_active(&self, user: &UserId, token: &QueueToken, until: i64, cap: i64) {
        let mut kept = self.kept();
        if kept.active_tokens.len() >= ACTIVE_TOKENS_KEPT {
            kept.active_tokens.clear();
        }
        let entry = kept
            .active_tokens
            .entry(token.clone())
            .or_insert_with(|| (user.clone(), until, cap));
        if entry.0 != *user || entry.1 < until {
            *entry = (user.clone(), until, cap);
        }
    }

    pub(crate) fn forget_active(&self, token: &QueueToken) {
        self.kept().active_tokens.remove(token);
    }

    /// Marks `token` as being renewed by one request: `false` when another already is.
    pub(crate) fn begin_renewal(&self, token: &QueueToken) -> bool {
        self.kept().renewing.insert(token.clone())
    }

    pub(crate) fn end_renewal(&self, token: &QueueToken) {
        self.kept().renewing.remove(token);
    }

    /// The concert if this container already holds it: no request either way.
    pub(crate) fn concert_held(&self, concert: &ConcertId) -> Option<Arc<ConcertRecord>> {
        self.kept().concerts.get(concert).cloned()
    }

    pub(crate) async fn concert(
        &self,
        store: &dyn Store,
        concert: &ConcertId,
    ) -> Result<Option<Arc<ConcertRecord>>, StoreError> {
        let now = self.clock.now().epoch_seconds();
        {
            let kept = self.kept();
            if let Some(found) = kept.concerts.get(concert) {
                return Ok(Some(found.clone()));
            }
            if kept
                .unknown_concerts
                .get(concert)
                .is_some_and(|until| *until > now)
            {
                return Ok(None);
            }
        }
        let found = store.concert(concert).await?.map(Arc::new);
        let mut kept = self.kept();
        match &found {
            Some(record) => {
                kept.unknown_concerts.remove(concert);
                kept.concerts.insert(concert.clone(), record.clone());
            }
            None => {
                if kept.unknown_concerts.len() >= UNKNOWN_CONCERTS_KEPT {
                    kept.unknown_concerts.clear();
                }
                let until = now + UNKNOWN_CONCERT_SECONDS;
                kept.unknown_concerts.insert(concert.clone(), until);
            }
        }
        Ok(found)
    }

    /// A concert this container just added is known from now on.
    pub(crate) fn concert_added(&self, concert: &ConcertId) {
        self.kept().unknown_concerts.remove(concert);
    }

    /// The cached state when current, else `None`: the caller reads it (in parallel with its
    /// own reads) and hands it to [`Cache::keep_state`].
    pub(crate) fn current_state(
        &self,
        concert: &ConcertId,
        now: i64,
    ) -> Option<Option<Arc<QueueStateRecord>>> {
        let kept = self.kept();
        let (state, fresh_until) = kept.states.get(concert)?;
        (now < *fresh_until).then(|| state.clone())
    }

    /// Keeps what a read returned (or what the tick wrote), unless a newer copy is kept.
    pub(crate) fn keep_state(
        &self,
        concert: &ConcertId,
        read: Option<QueueStateRecord>,
        now: i64,
    ) -> Option<Arc<QueueStateRecord>> {
        let mut kept = self.kept();
        let older = kept
            .states
            .get(concert)
            .and_then(|(s, _)| s.clone())
            .filter(|s| read.as_ref().is_none_or(|r| s.version > r.version));
        let state = older.or_else(|| read.map(Arc::new));
        let fresh_until = self.state_lag
            + match &state {
                Some(s) if s.next_tick_at > now => s.next_tick_at,
                _ => now + 1,
            };
        kept.states
            .insert(concert.clone(), (state.clone(), fresh_until));
        state
    }

    /// The queue state as current as this container can tell, reading it when due.
    pub(crate) async fn queue_state(
        &self,
        store: &dyn Store,
        concert: &ConcertId,
        now: i64,
    ) -> Result<Option<Arc<QueueStateRecord>>, StoreError> {
        if let Some(state) = self.current_state(concert, now) {
            return Ok(state);
        }
        let read = store.queue_state(concert, false).await?;
        Ok(self.keep_state(concert, read, now))
    }

    /// The page holding a counted second (one with numbers, such as a fan's own), from this
    /// container when it holds it, or read.
    pub(crate) async fn page_with(
        &self,
        store: &dyn Store,
        concert: &ConcertId,
        second: i64,
    ) -> Result<Option<Arc<QueuePageRecord>>, StoreError> {
        if let Some(page) = self.page_holding(concert, second) {
            return Ok(Some(page));
        }
        let minute = page_of(second);
        let Some(page) = store.queue_page(concert, minute).await? else {
            return Ok(None);
        };
        let mut kept = self.kept();
        let slot = kept
            .pages
            .entry((concert.clone(), minute))
            .or_insert_with(|| (Arc::default(), i64::MIN));
        if page.seconds.len() >= slot.0.seconds.len() {
            slot.0 = Arc::new(page);
        }
        Ok(Some(slot.0.clone()))
    }

    /// The kept page that holds `second`.
    pub(crate) fn page_holding(
        &self,
        concert: &ConcertId,
        second: i64,
    ) -> Option<Arc<QueuePageRecord>> {
        self.kept()
            .pages
            .get(&(concert.clone(), page_of(second)))
            .filter(|(page, _)| page.seconds.contains_key(&second))
            .map(|(page, _)| page.clone())
    }

    /// The page of `minute`, when this container holds it complete through `through`.
    pub(crate) fn kept_page(
        &self,
        concert: &ConcertId,
        minute: i64,
        through: i64,
    ) -> Option<Arc<QueuePageRecord>> {
        self.kept()
            .pages
            .get(&(concert.clone(), minute))
            .filter(|(_, complete)| *complete >= through)
            .map(|(page, _)| page.clone())
    }

    /// The page of `minute`, complete through `needed`: from this container, or read. The
    /// caller knows every second through `counted` is counted (pages are written before the
    /// state that counts them), so a page read now is complete that far.
    pub(crate) async fn page_through(
        &self,
        store: &dyn Store,
        concert: &ConcertId,
        minute: i64,
        needed: i64,
        counted: i64,
    ) -> Result<Option<Arc<QueuePageRecord>>, StoreError> {
        if let Some(page) = self.kept_page(concert, minute, needed) {
            return Ok(Some(page));
        }
        let Some(page) = store.queue_page(concert, minute).await? else {
            return Ok(None);
        };
        let page = Arc::new(page);
        let complete = counted.max(needed).min(page_seconds(minute).1);
        self.kept()
            .pages
            .insert((concert.clone(), minute), (page.clone(), complete));
        Ok(Some(page))
    }

    /// Adds the seconds a tick just counted (`from` through `through`) to this container's
    /// page; it is complete through `through` if it was complete up to `from`.
    pub(crate) fn extend_page(
        &self,
        concert: &ConcertId,
        minute: i64,
        seconds: BTreeMap<i64, SecondCounts>,
        (from, through): (i64, i64),
    ) {
        let mut kept = self.kept();
        let slot = kept
            .pages
            .entry((concert.clone(), minute))
            .or_insert_with(|| (Arc::default(), i64::MIN));
        let mut page = (*slot.0).clone();
        page.seconds.extend(seconds);
        let whole = slot.1 >= from - 1 || page_seconds(minute).0 >= from;
        *slot = (Arc::new(page), if whole { through } else { slot.1 });
    }

    /// Whether this container should register the concert's queue now.
    pub(crate) fn registration_due(&self, concert: &ConcertId, now: i64) -> bool {
        self.kept()
            .registered
            .get(concert)
            .is_none_or(|at| now - at >= REGISTER_EVERY_SECONDS)
    }

    /// Notes a registration that went through (one that failed stays due).
    pub(crate) fn registered(&self, concert: &ConcertId, now: i64) {
        self.kept().registered.insert(concert.clone(), now);
    }

    /// The listings of concerts whose last date is `today` or later, read at most once a
    /// `CONCERT_LIST_SECONDS` (a list read just before midnight may hold yesterday's last day:
    /// the caller filters by date again).
    pub(crate) async fn concert_list(
        &self,
        store: &dyn Store,
        now: i64,
        today: ConcertDate,
    ) -> Result<Arc<Vec<ConcertListingRecord>>, StoreError> {
        if let Some((list, at)) = &self.kept().concert_list {
            if now - at < CONCERT_LIST_SECONDS {
                return Ok(list.clone());
            }
        }
        let list = Arc::new(store.listed_concerts(today).await?);
        self.kept().concert_list = Some((list.clone(), now));
        Ok(list)
    }
}
