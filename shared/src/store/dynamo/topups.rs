//! Top-ups in provider mode. A top-up starts as one transaction with the fan's count for the
//! day (so the daily cap holds under concurrent starts), and is credited as one transaction with
//! the balance, its entry and the provider's event id: the top-up's PENDING condition makes the
//! credit once per top-up, the event's absence once per event, however often and in whatever
//! order the provider delivers it.

use async_trait::async_trait;

use super::keys::{self, Key};
use super::meter::{self, DynamoRequest, Operation};
use super::request::{from_item, record_item, value, Change};
use super::wallet::meter_balance_items;
use super::*;

#[async_trait]
impl TopUpStore for DynamoStore {
    async fn start_top_up(&self, start: &TopUpStart) -> Result<bool, StoreError> {
        let t = &start.top_up;
        let items = vec![
            self.put(
                record_item(&keys::top_up(&t.user_id, t.top_up_id), t)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?,
            self.update(
                &keys::top_up_day(&t.user_id, start.day),
                Change::new(
                    "SET #count = if_not_exists(#count, :zero) + :one, #expires_at = :expires",
                )
                .when("attribute_not_exists(#count) OR #count < :max")
                .value(":zero", 0)?
                .value(":one", 1)?
                .value(":max", start.max_per_day)?
                .value(":expires", start.day_expires_at)?,
            )?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(true),
            tx if tx.failed_at(1) => Ok(false),
            Transaction::Cancelled(codes) => Err(StoreError::Request(format!(
                "a new top-up's id was taken: {}",
                codes.join(", ")
            ))),
        }
    }

    async fn top_up(
        &self,
        user: &UserId,
        top_up: TopUpId,
    ) -> Result<Option<TopUpRecord>, StoreError> {
        self.get(&keys::top_up(user, top_up), true).await
    }

    async fn link_payment(&self, link: &PaymentLinkRecord) -> Result<(), StoreError> {
        // Written once per payment; a resent create writes the same link again.
        self.put_absent(&keys::payment_link(&link.payment_intent), link)
            .await
            .map(|_| ())
    }

    async fn payment_link(
        &self,
        payment_intent: &str,
    ) -> Result<Option<PaymentLinkRecord>, StoreError> {
        self.get(&keys::payment_link(payment_intent), true).await
    }

    async fn fail_top_up(&self, user: &UserId, top_up: TopUpId) -> Result<bool, StoreError> {
        let change = Change::new("SET #status = :failed")
            .when("#status = :pending")
            .value(":failed", TopUpStatus::Failed)?
            .value(":pending", TopUpStatus::Pending)?;
        Ok(self
            .update_item(&keys::top_up(user, top_up), change, false)
            .await?
            .is_ok())
    }

    async fn credit_top_up(&self, credit: &TopUpCredit) -> Result<CommitOutcome, StoreError> {
        let t = &credit.top_up;
        let mut items = vec![self.update(
            &keys::top_up(&t.user_id, t.top_up_id),
            Change::new("SET #status = :succeeded")
                .when("#status = :pending AND #amount = :amount")
                .value(":succeeded", TopUpStatus::Succeeded)?
                .value(":pending", TopUpStatus::Pending)?
                .value(":amount", t.amount)?,
        )?];
        items.extend(self.balance_items(&credit.balance)?);
        items.push(self.put(
            record_item(&keys::payment_event(&credit.event.event_id), &credit.event)?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )?);
        Ok(match self.transact(items).await? {
            Transaction::Committed => CommitOutcome::Committed,
            Transaction::Cancelled(_) => CommitOutcome::Refused,
        })
    }

    async fn record_unmatched_payment(
        &self,
        record: &UnmatchedPaymentRecord,
    ) -> Result<bool, StoreError> {
        self.put_absent(&keys::unmatched_payment(&record.event_id), record)
            .await
    }

    async fn unmatched_payments(
        &self,
        limit: usize,
    ) -> Result<Vec<UnmatchedPaymentRecord>, StoreError> {
        let items = self
            .query(
                "#pk = :pk",
                vec![(":pk", value(keys::UNMATCHED_PAYMENTS_PK)?)],
                true,
                Some(limit),
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }
}

fn sized_top_up(t: &TopUpRecord) -> (Key, usize) {
    let key = keys::top_up(&t.user_id, t.top_up_id);
    let size = meter::sized(&key, t);
    (key, size)
}

pub(in crate::store) fn meter_start_top_up(start: &TopUpStart) -> Vec<DynamoRequest> {
    let day = keys::top_up_day(&start.top_up.user_id, start.day);
    let count = TopUpDayRecord {
        count: start.max_per_day,
        expires_at: start.day_expires_at,
    };
    let day_size = meter::sized(&day, &count);
    vec![meter::transact(vec![
        sized_top_up(&start.top_up),
        (day, day_size),
    ])]
}

pub(in crate::store) fn meter_top_up(
    user: &UserId,
    top_up: TopUpId,
    found: &Option<TopUpRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::top_up(user, top_up);
    let size = found.as_ref().map_or(0, |t| meter::sized(&key, t));
    vec![meter::get(&key, size, true)]
}

pub(in crate::store) fn meter_link_payment(link: &PaymentLinkRecord) -> Vec<DynamoRequest> {
    let key = keys::payment_link(&link.payment_intent);
    vec![meter::write(
        Operation::PutItem,
        &key,
        meter::sized(&key, link),
    )]
}

pub(in crate::store) fn meter_payment_link(
    payment_intent: &str,
    found: &Option<PaymentLinkRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::payment_link(payment_intent);
    let size = found.as_ref().map_or(0, |l| meter::sized(&key, l));
    vec![meter::get(&key, size, true)]
}

pub(in crate::store) fn meter_fail_top_up(user: &UserId, top_up: TopUpId) -> Vec<DynamoRequest> {
    let key = keys::top_up(user, top_up);
    // A top-up's fixed fields: ids, amount, status, time.
    let size = key.pk.len() + key.sk.len() + 160;
    vec![meter::write(Operation::UpdateItem, &key, size)]
}

pub(in crate::store) fn meter_credit_top_up(credit: &TopUpCredit) -> Vec<DynamoRequest> {
    let mut items = vec![sized_top_up(&credit.top_up)];
    items.extend(meter_balance_items(&credit.balance));
    let event = keys::payment_event(&credit.event.event_id);
    let event_size = meter::sized(&event, &credit.event);
    items.push((event, event_size));
    vec![meter::transact(items)]
}

pub(in crate::store) fn meter_record_unmatched_payment(
    record: &UnmatchedPaymentRecord,
) -> Vec<DynamoRequest> {
    let key = keys::unmatched_payment(&record.event_id);
    vec![meter::write(
        Operation::PutItem,
        &key,
        meter::sized(&key, record),
    )]
}

pub(in crate::store) fn meter_unmatched_payments(
    found: &[UnmatchedPaymentRecord],
) -> Vec<DynamoRequest> {
    meter::query(
        keys::UNMATCHED_PAYMENTS_PK.to_owned(),
        found
            .iter()
            .map(|r| meter::sized(&keys::unmatched_payment(&r.event_id), r)),
    )
}
