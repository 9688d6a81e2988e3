//! `Idempotency-Key` for charges and payments: the first response is kept and replayed.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::warn;
use uuid::Uuid;

use super::Ticketing;
use crate::domain::{BookingError, IdempotencyKey, UserId};
use crate::store::{
    ClaimOutcome, IdempotencyCompletion, IdempotencyRecord, IdempotencyState, StoreError,
};

/// An in-flight record blocks its key this long; after that a crashed invocation's claim may be
/// taken over. Longer than any function's timeout.
pub(crate) const IN_FLIGHT_LOCK_SECONDS: i64 = 60;
/// Keys are kept at least 24 hours.
const KEPT_SECONDS: i64 = 25 * 3600;

/// This invocation's hold on a key; its completion rides in the operation's own transaction.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    user_id: UserId,
    key: IdempotencyKey,
    claim_id: String,
}

impl Claim {
    pub(crate) fn completion(
        &self,
        response: &impl Serialize,
    ) -> Result<IdempotencyCompletion, BookingError> {
        Ok(IdempotencyCompletion {
            user_id: self.user_id.clone(),
            key: self.key.clone(),
            claim_id: self.claim_id.clone(),
            response: serde_json::to_string(response)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        })
    }
}

impl Ticketing {
    /// Runs `operation` once per key. `request` names the operation and its canonical body: the
    /// same key with another request is refused. A refused operation changed nothing, so its
    /// key is freed for a corrected retry; only a success is kept and replayed.
    ///
    /// The claim and the operation's first read (`first_read`) go out together, so that a keyed
    /// operation costs no round trip more than an unkeyed one; a replay discards the read.
    pub(crate) async fn idempotent<T, R, ReadFut, F, Fut>(
        &self,
        user: &UserId,
        key: Option<&IdempotencyKey>,
        request: String,
        first_read: ReadFut,
        operation: F,
    ) -> Result<T, BookingError>
    where
        T: Serialize + DeserializeOwned,
        ReadFut: Future<Output = Result<R, BookingError>>,
        F: FnOnce(Option<Claim>, R) -> Fut,
        Fut: Future<Output = Result<T, BookingError>>,
    {
        let Some(key) = key else {
            return operation(None, first_read.await?).await;
        };
        let now = self.now().epoch_seconds();
        let claim = IdempotencyRecord {
            user_id: user.clone(),
            key: key.clone(),
            request,
            claim_id: Uuid::new_v4().to_string(),
            state: IdempotencyState::InFlight,
            locked_until: now + IN_FLIGHT_LOCK_SECONDS,
            response: None,
            expires_at: now + KEPT_SECONDS,
        };
        let (claimed, read) =
            tokio::join!(self.store.claim_idempotency_key(&claim, now), first_read);
        let claimed = match claimed {
            Ok(claimed) => claimed,
            Err(error) => {
                // The claim may have been written though its answer was lost: free it, so
                // that the fan's retry is not locked out by its own first attempt.
                self.free_claim(user, key, &claim.claim_id).await;
                return Err(error.into());
            }
        };
        match claimed {
            ClaimOutcome::Claimed => {}
            // The SDK sent the claim again after its first answer was lost: it is ours.
            ClaimOutcome::Existing(existing) if existing.claim_id == claim.claim_id => {}
            ClaimOutcome::Existing(existing) if existing.request != claim.request => {
                return Err(BookingError::IdempotencyKeyReused);
            }
            ClaimOutcome::Existing(existing) => {
                return match (existing.state, existing.response) {
                    (IdempotencyState::Done, Some(response)) => serde_json::from_str(&response)
                        .map_err(|e| StoreError::Corrupt(e.to_string()).into()),
                    _ => Err(BookingError::IdempotencyKeyInUse),
                };
            }
        }
        let ours = Claim {
            user_id: user.clone(),
            key: key.clone(),
            claim_id: claim.claim_id,
        };
        let outcome = match read {
            Ok(read) => operation(Some(ours.clone()), read).await,
            Err(error) => Err(error),
        };
        if outcome.is_err() {
            self.free_claim(user, key, &ours.claim_id).await;
        }
        outcome
    }

    /// Frees a claim still in flight (a completed one stays, whatever the error); failing to
    /// free it only delays the key until its lock lapses.
    async fn free_claim(&self, user: &UserId, key: &IdempotencyKey, claim_id: &str) {
        if let Err(error) = self
            .store
            .release_idempotency_key(user, key, claim_id)
            .await
        {
            warn!(%error, "could not free an idempotency key; it unlocks by itself");
        }
    }
}
