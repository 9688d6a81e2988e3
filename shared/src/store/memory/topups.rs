use async_trait::async_trait;

use super::*;

#[async_trait]
impl TopUpStore for MemoryStore {
    async fn start_top_up(&self, start: &TopUpStart) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let top_up = &start.top_up;
        let day = (top_up.user_id.clone(), start.day);
        let count = t.top_up_days.get(&day).map_or(0, |d| d.count);
        if count >= start.max_per_day {
            return Ok(false);
        }
        if t.top_ups
            .contains_key(&(top_up.user_id.clone(), top_up.top_up_id))
        {
            return Err(StoreError::Request("a new top-up's id was taken".into()));
        }
        within_limits(dynamo::meter_start_top_up(start))?;
        t.top_ups
            .insert((top_up.user_id.clone(), top_up.top_up_id), top_up.clone());
        t.top_up_days.insert(
            day,
            TopUpDayRecord {
                count: count + 1,
                expires_at: start.day_expires_at,
            },
        );
        Ok(true)
    }

    async fn top_up(
        &self,
        user: &UserId,
        top_up: TopUpId,
    ) -> Result<Option<TopUpRecord>, StoreError> {
        Ok(self.tables().top_ups.get(&(user.clone(), top_up)).cloned())
    }

    async fn link_payment(&self, link: &PaymentLinkRecord) -> Result<(), StoreError> {
        let mut t = self.tables();
        if t.payment_links.contains_key(&link.payment_intent) {
            return Ok(());
        }
        within_limits(dynamo::meter_link_payment(link))?;
        t.payment_links
            .insert(link.payment_intent.clone(), link.clone());
        Ok(())
    }

    async fn payment_link(
        &self,
        payment_intent: &str,
    ) -> Result<Option<PaymentLinkRecord>, StoreError> {
        Ok(self.tables().payment_links.get(payment_intent).cloned())
    }

    async fn fail_top_up(&self, user: &UserId, top_up: TopUpId) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let Some(stored) = t.top_ups.get(&(user.clone(), top_up)) else {
            return Ok(false);
        };
        if stored.status != TopUpStatus::Pending {
            return Ok(false);
        }
        within_limits(dynamo::meter_fail_top_up(user, top_up))?;
        if let Some(stored) = t.top_ups.get_mut(&(user.clone(), top_up)) {
            stored.status = TopUpStatus::Failed;
        }
        Ok(true)
    }

    async fn credit_top_up(&self, credit: &TopUpCredit) -> Result<CommitOutcome, StoreError> {
        let mut t = self.tables();
        let wanted = &credit.top_up;
        let key = (wanted.user_id.clone(), wanted.top_up_id);
        let pending = t.top_ups.get(&key).is_some_and(|stored| {
            stored.status == TopUpStatus::Pending && stored.amount == wanted.amount
        });
        if !pending
            || !t.balance_change_allowed(&credit.balance)
            || t.payment_events.contains_key(&credit.event.event_id)
        {
            return Ok(CommitOutcome::Refused);
        }
        within_limits(dynamo::meter_credit_top_up(credit))?;
        if let Some(stored) = t.top_ups.get_mut(&key) {
            stored.status = TopUpStatus::Succeeded;
        }
        t.apply_balance_change(&credit.balance);
        t.payment_events
            .insert(credit.event.event_id.clone(), credit.event.clone());
        Ok(CommitOutcome::Committed)
    }

    async fn record_unmatched_payment(
        &self,
        record: &UnmatchedPaymentRecord,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        if t.unmatched_payments.contains_key(&record.event_id) {
            return Ok(false);
        }
        within_limits(dynamo::meter_record_unmatched_payment(record))?;
        t.unmatched_payments
            .insert(record.event_id.clone(), record.clone());
        Ok(true)
    }

    async fn unmatched_payments(
        &self,
        limit: usize,
    ) -> Result<Vec<UnmatchedPaymentRecord>, StoreError> {
        Ok(self
            .tables()
            .unmatched_payments
            .values()
            .take(limit)
            .cloned()
            .collect())
    }
}
