use async_trait::async_trait;

use super::*;

#[async_trait]
impl IdempotencyStore for MemoryStore {
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
        within_limits(dynamo::meter_claim_idempotency_key(claim))?;
        t.idempotency.insert(key, claim.clone());
        Ok(ClaimOutcome::Claimed)
    }

    async fn complete_idempotency_key(
        &self,
        completion: &IdempotencyCompletion,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let completion = Some(completion.clone());
        if !t.claim_is_ours(&completion) {
            return Ok(false);
        }
        within_limits(dynamo::meter_complete_idempotency_key(
            completion.as_ref().expect("given"),
        ))?;
        t.complete_claim(&completion);
        Ok(true)
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
