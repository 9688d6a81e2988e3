//! A store that charges every call as the DynamoDB store would send it: the on-sale simulator
//! runs the service over `MeteredStore<MemoryStore>` and reads the requests back. The mapping
//! itself lives beside the DynamoDB store (`dynamo::meter`), so that the two change together.

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::dynamo::meter::{self, DynamoRequest};
use super::*;

pub struct MeteredStore<S> {
    inner: S,
    requests: Mutex<Vec<DynamoRequest>>,
}

impl<S: Store> MeteredStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            requests: Mutex::new(Vec::new()),
        }
    }

    /// The store underneath, for reading state without charging it.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The requests charged since the last call.
    pub fn take_requests(&self) -> Vec<DynamoRequest> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<DynamoRequest>> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Charges `requests` when the call succeeded, and passes its result on.
    fn charge<T>(
        &self,
        result: Result<T, StoreError>,
        requests: impl FnOnce(&T) -> Vec<DynamoRequest>,
    ) -> Result<T, StoreError> {
        if let Ok(value) = &result {
            let charged = requests(value);
            self.lock().extend(charged);
        }
        result
    }
}

#[async_trait]
impl<S: Store> Store for MeteredStore<S> {
    async fn put_catalog_item(&self, item: &CatalogItem) -> Result<bool, StoreError> {
        let result = self.inner.put_catalog_item(item).await;
        self.charge(result, |_| meter::put_catalog_item(item))
    }

    async fn concerts(&self) -> Result<Vec<ConcertRecord>, StoreError> {
        let result = self.inner.concerts().await;
        self.charge(result, |found| meter::concerts(found))
    }

    async fn concert(&self, concert: &ConcertId) -> Result<Option<ConcertRecord>, StoreError> {
        let result = self.inner.concert(concert).await;
        self.charge(result, |found| meter::concert(concert, found.as_ref()))
    }

    async fn dates(&self, concert: &ConcertId) -> Result<Vec<DateRecord>, StoreError> {
        let result = self.inner.dates(concert).await;
        self.charge(result, |found| meter::dates(concert, found))
    }

    async fn date(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<Option<DateRecord>, StoreError> {
        let result = self.inner.date(concert, date).await;
        self.charge(result, |found| meter::date(concert, date, found.as_ref()))
    }

    async fn seat(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        seat: SeatNumber,
    ) -> Result<Option<SeatRecord>, StoreError> {
        let result = self.inner.seat(concert, date, seat).await;
        self.charge(result, |found| {
            meter::seat(concert, date, seat, found.as_ref())
        })
    }

    async fn seat_map(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<SeatMap, StoreError> {
        let result = self.inner.seat_map(concert, date).await;
        self.charge(result, |map| meter::seat_map(concert, date, map))
    }

    async fn queue_pointer(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<Option<QueueToken>, StoreError> {
        let result = self.inner.queue_pointer(user, concert).await;
        self.charge(result, |found| {
            meter::queue_pointer(user, concert, found.as_ref())
        })
    }

    async fn token(&self, token: &QueueToken) -> Result<Option<TokenRecord>, StoreError> {
        let result = self.inner.token(token).await;
        self.charge(result, |found| meter::token(token, found.as_ref()))
    }

    async fn token_and_queue(
        &self,
        token: &QueueToken,
    ) -> Result<(Option<TokenRecord>, QueueStateRecord), StoreError> {
        let result = self.inner.token_and_queue(token).await;
        self.charge(result, |(found, queue)| {
            meter::token_and_queue(token, found.as_ref(), queue)
        })
    }

    async fn issue_queue_number(
        &self,
        concert: &ConcertId,
    ) -> Result<QueueStateRecord, StoreError> {
        let result = self.inner.issue_queue_number(concert).await;
        self.charge(result, |state| meter::issue_queue_number(concert, state))
    }

    async fn enqueue(
        &self,
        token: &TokenRecord,
        previous: Option<&QueueToken>,
    ) -> Result<EnqueueOutcome, StoreError> {
        let result = self.inner.enqueue(token, previous).await;
        self.charge(result, |_| meter::enqueue(token))
    }

    async fn void_queue_number(
        &self,
        concert: &ConcertId,
        seq: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = self.inner.void_queue_number(concert, seq, now).await;
        self.charge(result, |_| meter::void_queue_number(concert, seq, now))
    }

    async fn heartbeat(
        &self,
        token: &QueueToken,
        user: &UserId,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = self.inner.heartbeat(token, user, now).await;
        self.charge(result, |_| meter::heartbeat(token))
    }

    async fn queue_state(&self, concert: &ConcertId) -> Result<QueueStateRecord, StoreError> {
        let result = self.inner.queue_state(concert).await;
        self.charge(result, |state| meter::queue_state(concert, state))
    }

    async fn active_set(&self, concert: &ConcertId) -> Result<ActiveSetRecord, StoreError> {
        let result = self.inner.active_set(concert).await;
        self.charge(result, |set| meter::active_set(concert, set))
    }

    async fn queue_entries(
        &self,
        concert: &ConcertId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<QueueEntryRecord>, StoreError> {
        let result = self.inner.queue_entries(concert, after_seq, limit).await;
        self.charge(result, |found| meter::queue_entries(concert, found))
    }

    async fn tokens(&self, tokens: &[QueueToken]) -> Result<Vec<TokenRecord>, StoreError> {
        let result = self.inner.tokens(tokens).await;
        self.charge(result, |found| meter::tokens(tokens, found))
    }

    async fn commit_admission(&self, plan: &AdmissionPlan) -> Result<CommitOutcome, StoreError> {
        let result = self.inner.commit_admission(plan).await;
        self.charge(result, |_| meter::commit_admission(plan))
    }

    async fn place_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError> {
        let result = self.inner.place_hold(reservation, now).await;
        self.charge(result, |_| meter::place_hold(reservation))
    }

    async fn reservation(
        &self,
        user: &UserId,
        reservation: ReservationId,
    ) -> Result<Option<ReservationRecord>, StoreError> {
        let result = self.inner.reservation(user, reservation).await;
        self.charge(result, |found| {
            meter::reservation(user, reservation, found.as_ref())
        })
    }

    async fn release_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError> {
        let result = self.inner.release_hold(reservation, now).await;
        self.charge(result, |_| meter::release_hold(reservation))
    }

    async fn balance(&self, user: &UserId) -> Result<BalanceRecord, StoreError> {
        let result = self.inner.balance(user).await;
        self.charge(result, |found| meter::balance(user, found))
    }

    async fn apply_balance_change(
        &self,
        change: &BalanceChange,
    ) -> Result<CommitOutcome, StoreError> {
        let result = self.inner.apply_balance_change(change).await;
        self.charge(result, |_| meter::apply_balance_change(change))
    }

    async fn balance_entries(
        &self,
        user: &UserId,
        before_version: Option<u64>,
        limit: usize,
    ) -> Result<Vec<BalanceEntryRecord>, StoreError> {
        let result = self
            .inner
            .balance_entries(user, before_version, limit)
            .await;
        self.charge(result, |found| {
            meter::balance_entries(user, before_version, found)
        })
    }

    async fn payment_context(
        &self,
        user: &UserId,
        reservation: ReservationId,
        token: &QueueToken,
    ) -> Result<PaymentContext, StoreError> {
        let result = self.inner.payment_context(user, reservation, token).await;
        self.charge(result, |found| {
            meter::payment_context(user, reservation, token, found)
        })
    }

    async fn commit_payment(&self, payment: &PaymentCommit) -> Result<CommitOutcome, StoreError> {
        let result = self.inner.commit_payment(payment).await;
        self.charge(result, |_| meter::commit_payment(payment))
    }

    async fn payment(
        &self,
        user: &UserId,
        payment: PaymentId,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let result = self.inner.payment(user, payment).await;
        self.charge(result, |found| {
            meter::payment(user, payment, found.as_ref())
        })
    }

    async fn claim_idempotency_key(
        &self,
        claim: &IdempotencyRecord,
        now: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        let result = self.inner.claim_idempotency_key(claim, now).await;
        self.charge(result, |_| meter::claim_idempotency_key(claim))
    }

    async fn release_idempotency_key(
        &self,
        user: &UserId,
        key: &IdempotencyKey,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .inner
            .release_idempotency_key(user, key, claim_id)
            .await;
        self.charge(result, |_| meter::release_idempotency_key(user, key))
    }
}
