//! The in-memory store: one lock around plain maps. Each method is one critical section and
//! checks exactly the conditions its DynamoDB twin sends, so races resolve the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::*;

#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

type SeatKey = (ConcertId, ConcertDate, SeatNumber);

#[derive(Default)]
struct Tables {
    concerts: BTreeMap<ConcertId, ConcertRecord>,
    dates: BTreeMap<(ConcertId, ConcertDate), DateRecord>,
    seats: BTreeMap<SeatKey, SeatRecord>,
    holds: HashMap<SeatKey, HoldRecord>,
    reservations: HashMap<(UserId, ReservationId), ReservationRecord>,
    payments: HashMap<(UserId, PaymentId), PaymentRecord>,
    balances: HashMap<UserId, BalanceRecord>,
    entries: BTreeMap<(UserId, u64), BalanceEntryRecord>,
    queues: HashMap<ConcertId, QueueStateRecord>,
    active_sets: HashMap<ConcertId, ActiveSetRecord>,
    queue_entries: BTreeMap<(ConcertId, u64), QueueEntryRecord>,
    tokens: HashMap<QueueToken, TokenRecord>,
    pointers: HashMap<(UserId, ConcertId), QueueToken>,
    idempotency: HashMap<(UserId, IdempotencyKey), IdempotencyRecord>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every seat, reservation, payment, balance and entry, for an audit.
    pub fn inventory(&self) -> Inventory {
        let t = self.tables();
        Inventory {
            seats: t.seats.values().cloned().collect(),
            reservations: t.reservations.values().cloned().collect(),
            payments: t.payments.values().cloned().collect(),
            balances: t.balances.iter().map(|(u, b)| (u.clone(), *b)).collect(),
            entries: t
                .entries
                .iter()
                .map(|((u, _), e)| (u.clone(), e.clone()))
                .collect(),
        }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a half-applied change: every method
        // checks all conditions before it writes anything.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn seat_key(r: &ReservationRecord) -> SeatKey {
    (r.concert_id.clone(), r.date, r.seat_number)
}

impl Tables {
    fn balance_change_allowed(&self, change: &BalanceChange) -> bool {
        let current = self
            .balances
            .get(&change.user_id)
            .copied()
            .unwrap_or_default();
        current.version + 1 == change.entry.version
            && !self
                .entries
                .contains_key(&(change.user_id.clone(), change.entry.version))
    }

    fn claim_is_ours(&self, completion: &Option<IdempotencyCompletion>) -> bool {
        completion.as_ref().is_none_or(|c| {
            self.idempotency
                .get(&(c.user_id.clone(), c.key.clone()))
                .is_some_and(|r| r.claim_id == c.claim_id && r.state == IdempotencyState::InFlight)
        })
    }

    fn apply_balance_change(&mut self, change: &BalanceChange) {
        self.balances.insert(
            change.user_id.clone(),
            BalanceRecord {
                amount: change.entry.balance_after,
                version: change.entry.version,
            },
        );
        self.entries.insert(
            (change.user_id.clone(), change.entry.version),
            change.entry.clone(),
        );
        if let Some(c) = &change.completion {
            if let Some(record) = self
                .idempotency
                .get_mut(&(c.user_id.clone(), c.key.clone()))
            {
                record.state = IdempotencyState::Done;
                record.response = Some(c.response.clone());
            }
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put_catalog_item(&self, item: &CatalogItem) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let created = match item {
            CatalogItem::Concert(c) => insert_absent(&mut t.concerts, c.concert_id.clone(), c),
            CatalogItem::Date(d) => insert_absent(&mut t.dates, (d.concert_id.clone(), d.date), d),
            CatalogItem::Seat(s) => insert_absent(
                &mut t.seats,
                (s.concert_id.clone(), s.date, s.seat_number),
                s,
            ),
        };
        Ok(created)
    }

    async fn concerts(&self) -> Result<Vec<ConcertRecord>, StoreError> {
        Ok(self.tables().concerts.values().cloned().collect())
    }

    async fn concert(&self, concert: &ConcertId) -> Result<Option<ConcertRecord>, StoreError> {
        Ok(self.tables().concerts.get(concert).cloned())
    }

    async fn dates(&self, concert: &ConcertId) -> Result<Vec<DateRecord>, StoreError> {
        let t = self.tables();
        Ok(t.dates
            .values()
            .filter(|d| &d.concert_id == concert)
            .cloned()
            .collect())
    }

    async fn date(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<Option<DateRecord>, StoreError> {
        Ok(self.tables().dates.get(&(concert.clone(), date)).cloned())
    }

    async fn seat(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        seat: SeatNumber,
    ) -> Result<Option<SeatRecord>, StoreError> {
        Ok(self
            .tables()
            .seats
            .get(&(concert.clone(), date, seat))
            .cloned())
    }

    async fn seat_map(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<SeatMap, StoreError> {
        let t = self.tables();
        let seats: Vec<SeatRecord> = t
            .seats
            .values()
            .filter(|s| &s.concert_id == concert && s.date == date)
            .cloned()
            .collect();
        let mut holds: Vec<HoldRecord> = seats
            .iter()
            .filter_map(|s| {
                t.holds
                    .get(&(concert.clone(), date, s.seat_number))
                    .cloned()
            })
            .collect();
        holds.sort_by_key(|h| h.seat_number);
        Ok(SeatMap { seats, holds })
    }

    async fn queue_pointer(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<Option<QueueToken>, StoreError> {
        Ok(self
            .tables()
            .pointers
            .get(&(user.clone(), concert.clone()))
            .cloned())
    }

    async fn token(&self, token: &QueueToken) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.tables().tokens.get(token).cloned())
    }

    async fn token_and_queue(
        &self,
        token: &QueueToken,
    ) -> Result<(Option<TokenRecord>, QueueStateRecord), StoreError> {
        let t = self.tables();
        let state = t.queues.get(token.concert()).copied().unwrap_or_default();
        Ok((t.tokens.get(token).cloned(), state))
    }

    async fn issue_queue_number(
        &self,
        concert: &ConcertId,
    ) -> Result<QueueStateRecord, StoreError> {
        let mut t = self.tables();
        let state = t.queues.entry(concert.clone()).or_default();
        state.issued += 1;
        Ok(*state)
    }

    async fn enqueue(
        &self,
        token: &TokenRecord,
        previous: Option<&QueueToken>,
    ) -> Result<EnqueueOutcome, StoreError> {
        let mut t = self.tables();
        let pointer_key = (token.user_id.clone(), token.concert_id.clone());
        if t.pointers.get(&pointer_key) != previous {
            return Ok(EnqueueOutcome::PointerMoved);
        }
        let cursor = t.queues.get(&token.concert_id).map_or(0, |q| q.cursor);
        let entry_key = (token.concert_id.clone(), token.seq);
        if cursor >= token.seq || t.queue_entries.contains_key(&entry_key) {
            return Ok(EnqueueOutcome::NumberPassed);
        }
        t.queue_entries.insert(
            entry_key,
            QueueEntryRecord {
                seq: token.seq,
                token: Some(token.token.clone()),
                joined_at: token.last_seen_at,
            },
        );
        t.tokens.insert(token.token.clone(), token.clone());
        t.pointers.insert(pointer_key, token.token.clone());
        Ok(EnqueueOutcome::Enqueued)
    }

    async fn void_queue_number(
        &self,
        concert: &ConcertId,
        seq: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        let cursor = t.queues.get(concert).map_or(0, |q| q.cursor);
        if cursor < seq {
            t.queue_entries
                .entry((concert.clone(), seq))
                .or_insert(QueueEntryRecord {
                    seq,
                    token: None,
                    joined_at: now,
                });
        }
        Ok(())
    }

    async fn heartbeat(
        &self,
        token: &QueueToken,
        user: &UserId,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        if let Some(record) = t.tokens.get_mut(token) {
            if &record.user_id == user && record.status == TokenStatus::Waiting {
                record.last_seen_at = now;
            }
        }
        Ok(())
    }

    async fn queue_state(&self, concert: &ConcertId) -> Result<QueueStateRecord, StoreError> {
        Ok(self
            .tables()
            .queues
            .get(concert)
            .copied()
            .unwrap_or_default())
    }

    async fn active_set(&self, concert: &ConcertId) -> Result<ActiveSetRecord, StoreError> {
        Ok(self
            .tables()
            .active_sets
            .get(concert)
            .cloned()
            .unwrap_or_default())
    }

    async fn queue_entries(
        &self,
        concert: &ConcertId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<QueueEntryRecord>, StoreError> {
        let t = self.tables();
        Ok(t.queue_entries
            .range((concert.clone(), after_seq + 1)..=(concert.clone(), u64::MAX))
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn tokens(&self, tokens: &[QueueToken]) -> Result<Vec<TokenRecord>, StoreError> {
        let t = self.tables();
        Ok(tokens
            .iter()
            .filter_map(|k| t.tokens.get(k).cloned())
            .collect())
    }

    async fn commit_admission(&self, plan: &AdmissionPlan) -> Result<CommitOutcome, StoreError> {
        let mut t = self.tables();
        let state = t.queues.get(&plan.concert_id).copied().unwrap_or_default();
        let waiting = |t: &Tables, token: &QueueToken| {
            t.tokens
                .get(token)
                .is_some_and(|r| r.status == TokenStatus::Waiting)
        };
        let allowed = state.cursor == plan.expected_cursor
            && plan.admitted.iter().all(|k| waiting(&t, k))
            && plan.dropped.iter().all(|(k, seen)| {
                waiting(&t, k) && t.tokens.get(k).is_some_and(|r| r.last_seen_at == *seen)
            })
            && plan.holes.iter().all(|seq| {
                !t.queue_entries
                    .contains_key(&(plan.concert_id.clone(), *seq))
            });
        if !allowed {
            return Ok(CommitOutcome::Refused);
        }
        if let Some(q) = t.queues.get_mut(&plan.concert_id) {
            q.cursor = plan.new_cursor;
        }
        t.active_sets
            .insert(plan.concert_id.clone(), plan.active_set.clone());
        for token in &plan.admitted {
            if let Some(r) = t.tokens.get_mut(token) {
                r.status = TokenStatus::Active;
                r.active_until = Some(plan.active_until);
                r.expires_at = token_expiry(plan.active_until);
            }
        }
        for (token, _) in &plan.dropped {
            if let Some(r) = t.tokens.get_mut(token) {
                r.status = TokenStatus::Dropped;
            }
        }
        Ok(CommitOutcome::Committed)
    }

    async fn place_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError> {
        let mut t = self.tables();
        let key = seat_key(reservation);
        let seat_free = t.seats.get(&key).is_some_and(|s| !s.sold);
        let unheld = t.holds.get(&key).is_none_or(|h| h.expires_at <= now);
        let reservation_key = (reservation.user_id.clone(), reservation.reservation_id);
        if !seat_free || !unheld || t.reservations.contains_key(&reservation_key) {
            return Ok(CommitOutcome::Refused);
        }
        t.holds.insert(key, reservation.hold());
        t.reservations.insert(reservation_key, reservation.clone());
        Ok(CommitOutcome::Committed)
    }

    async fn reservation(
        &self,
        user: &UserId,
        reservation: ReservationId,
    ) -> Result<Option<ReservationRecord>, StoreError> {
        Ok(self
            .tables()
            .reservations
            .get(&(user.clone(), reservation))
            .cloned())
    }

    async fn release_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError> {
        let mut t = self.tables();
        let key = seat_key(reservation);
        let reservation_key = (reservation.user_id.clone(), reservation.reservation_id);
        let live = t
            .reservations
            .get(&reservation_key)
            .is_some_and(|r| r.status == StoredReservationStatus::Held && r.held_until > now);
        let ours = t
            .holds
            .get(&key)
            .is_some_and(|h| h.reservation_id == reservation.reservation_id);
        if !live || !ours {
            return Ok(CommitOutcome::Refused);
        }
        t.holds.remove(&key);
        if let Some(r) = t.reservations.get_mut(&reservation_key) {
            r.status = StoredReservationStatus::Released;
        }
        Ok(CommitOutcome::Committed)
    }

    async fn balance(&self, user: &UserId) -> Result<BalanceRecord, StoreError> {
        Ok(self
            .tables()
            .balances
            .get(user)
            .copied()
            .unwrap_or_default())
    }

    async fn apply_balance_change(
        &self,
        change: &BalanceChange,
    ) -> Result<CommitOutcome, StoreError> {
        let mut t = self.tables();
        if !t.balance_change_allowed(change) {
            return Ok(CommitOutcome::Refused);
        }
        if !t.claim_is_ours(&change.completion) {
            return Ok(CommitOutcome::ClaimLost);
        }
        t.apply_balance_change(change);
        Ok(CommitOutcome::Committed)
    }

    async fn balance_entries(
        &self,
        user: &UserId,
        before_version: Option<u64>,
        limit: usize,
    ) -> Result<Vec<BalanceEntryRecord>, StoreError> {
        let t = self.tables();
        let end = before_version.unwrap_or(u64::MAX);
        Ok(t.entries
            .range((user.clone(), 0)..(user.clone(), end))
            .rev()
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn payment_context(
        &self,
        user: &UserId,
        reservation: ReservationId,
        token: &QueueToken,
    ) -> Result<PaymentContext, StoreError> {
        let t = self.tables();
        Ok(PaymentContext {
            reservation: t.reservations.get(&(user.clone(), reservation)).cloned(),
            balance: t.balances.get(user).copied().unwrap_or_default(),
            token: t.tokens.get(token).cloned(),
        })
    }

    async fn commit_payment(&self, p: &PaymentCommit) -> Result<CommitOutcome, StoreError> {
        let mut t = self.tables();
        let r = &p.reservation;
        let key = seat_key(r);
        let reservation_key = (r.user_id.clone(), r.reservation_id);
        let held = t.reservations.get(&reservation_key).is_some_and(|stored| {
            stored.status == StoredReservationStatus::Held && stored.held_until > p.now
        });
        let hold_ours = t
            .holds
            .get(&key)
            .is_some_and(|h| h.reservation_id == r.reservation_id && h.expires_at > p.now);
        let seat_unsold = t.seats.get(&key).is_some_and(|s| !s.sold);
        let token_active = t.tokens.get(&p.token).is_some_and(|k| {
            k.user_id == r.user_id
                && k.concert_id == r.concert_id
                && k.status == TokenStatus::Active
                && k.active_until.is_some_and(|until| until > p.now)
        });
        let payment_key = (r.user_id.clone(), p.payment.payment_id);
        if !(held
            && hold_ours
            && seat_unsold
            && token_active
            && t.balance_change_allowed(&p.balance)
            && !t.payments.contains_key(&payment_key))
        {
            return Ok(CommitOutcome::Refused);
        }
        if !t.claim_is_ours(&p.balance.completion) {
            return Ok(CommitOutcome::ClaimLost);
        }
        if let Some(stored) = t.reservations.get_mut(&reservation_key) {
            stored.status = StoredReservationStatus::Confirmed;
            stored.payment_id = Some(p.payment.payment_id);
        }
        t.holds.remove(&key);
        if let Some(seat) = t.seats.get_mut(&key) {
            seat.sold = true;
        }
        if let Some(date) = t.dates.get_mut(&(r.concert_id.clone(), r.date)) {
            date.remaining_seats = date.remaining_seats.saturating_sub(1);
        }
        if let Some(token) = t.tokens.get_mut(&p.token) {
            token.status = TokenStatus::Used;
        }
        t.payments.insert(payment_key, p.payment.clone());
        t.apply_balance_change(&p.balance);
        Ok(CommitOutcome::Committed)
    }

    async fn payment(
        &self,
        user: &UserId,
        payment: PaymentId,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        Ok(self
            .tables()
            .payments
            .get(&(user.clone(), payment))
            .cloned())
    }

    async fn claim_idempotency_key(
        &self,
        claim: &IdempotencyRecord,
        now: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        let mut t = self.tables();
        let key = (claim.user_id.clone(), claim.key.clone());
        if let Some(existing) = t.idempotency.get(&key) {
            let claimable = existing.expires_at <= now
                || (existing.state == IdempotencyState::InFlight
                    && existing.locked_until <= now
                    && existing.request == claim.request);
            if !claimable {
                return Ok(ClaimOutcome::Existing(existing.clone()));
            }
        }
        t.idempotency.insert(key, claim.clone());
        Ok(ClaimOutcome::Claimed)
    }

    async fn release_idempotency_key(
        &self,
        user: &UserId,
        key: &IdempotencyKey,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        let key = (user.clone(), key.clone());
        if t.idempotency
            .get(&key)
            .is_some_and(|r| r.claim_id == claim_id && r.state == IdempotencyState::InFlight)
        {
            t.idempotency.remove(&key);
        }
        Ok(())
    }
}

fn insert_absent<K: Ord, V: Clone>(map: &mut BTreeMap<K, V>, key: K, value: &V) -> bool {
    match map.entry(key) {
        std::collections::btree_map::Entry::Vacant(slot) => {
            slot.insert(value.clone());
            true
        }
        std::collections::btree_map::Entry::Occupied(_) => false,
    }
}

/// How long a token item is kept after it stops mattering, so late callers still read
/// "expired" rather than "unknown".
pub(crate) fn token_expiry(ends_at: i64) -> i64 {
    ends_at + 24 * 3600
}
