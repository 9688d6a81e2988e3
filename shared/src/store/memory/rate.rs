//! The per-fan rate limit's bucket (`store::rate`), checked as its DynamoDB twin checks it.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl RateStore for MemoryStore {
    async fn take_rate_token(&self, take: &RateTake) -> Result<RateTaken, StoreError> {
        within_limits(dynamo::meter_take_rate_token(take))?;
        let mut t = self.tables();
        let found = t.rates.get(&take.user_id).copied();
        let idle = found.is_none_or(|tat| tat <= take.now_ms);
        if idle {
            let tat = take.now_ms + take.interval_ms;
            t.rates.insert(take.user_id.clone(), tat);
            return Ok(RateTaken {
                taken: true,
                tat_ms: tat,
                was_idle: true,
            });
        }
        let tat = found.unwrap_or(take.now_ms);
        if tat > take.latest_tat() {
            return Ok(RateTaken {
                taken: false,
                tat_ms: tat,
                was_idle: false,
            });
        }
        let moved = tat + take.interval_ms;
        t.rates.insert(take.user_id.clone(), moved);
        Ok(RateTaken {
            taken: true,
            tat_ms: moved,
            was_idle: false,
        })
    }
}
