use async_trait::async_trait;

use super::*;

#[async_trait]
impl WalletStore for MemoryStore {
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
        within_limits(dynamo::meter_apply_balance_change(change))?;
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
        Ok(t.balance_entries
            .range((user.clone(), 0)..(user.clone(), end))
            .rev()
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }
}
