//! Idempotency-Key claims: a conditional put that hands back the existing record when the key is
//! taken, and a conditional delete that frees a claim whose operation was refused.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::contention::resend_on_conflict;
use super::keys;
use super::meter::{self, DynamoRequest, Operation, SMALL_ITEM};
use super::request::{
    from_item, is_condition_failure, key_item, names, record_item, request_error, value, values,
    Item,
};
use super::wallet::{completion_change, meter_completion};
use super::*;

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim_idempotency_key(
        &self,
        claim: &IdempotencyRecord,
        now: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        let key = keys::idempotency(&claim.user_id, &claim.key);
        let condition = "attribute_not_exists(pk) OR #expires_at <= :now \
                         OR (#state = :in_flight AND #locked_until <= :now AND #request = :request)";
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(&key, claim)?))
            .condition_expression(condition)
            .set_expression_attribute_names(names(&[condition], &Vec::new()))
            .set_expression_attribute_values(values(vec![
                (":now", value(now)?),
                (":in_flight", value(IdempotencyState::InFlight)?),
                (":request", value(&claim.request)?),
            ]))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let sent = resend_on_conflict(|| put.clone().send()).await;
        match sent {
            Ok(_) => Ok(ClaimOutcome::Claimed),
            Err(e) if is_condition_failure(&e) => {
                let old: Option<Item> = e.as_service_error().and_then(|s| match s {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                        c.item.clone()
                    }
                    _ => None,
                });
                let existing = match old {
                    Some(item) => from_item(item)?,
                    // Older servers do not return the item: read it.
                    None => self.get(&key, true).await?.ok_or_else(|| {
                        StoreError::Request("idempotency record vanished while claimed".into())
                    })?,
                };
                Ok(ClaimOutcome::Existing(existing))
            }
            Err(e) => Err(request_error(e)),
        }
    }

    async fn complete_idempotency_key(
        &self,
        completion: &IdempotencyCompletion,
    ) -> Result<bool, StoreError> {
        let key = keys::idempotency(&completion.user_id, &completion.key);
        Ok(self
            .update_item(&key, completion_change(completion)?, false)
            .await?
            .is_ok())
    }

    async fn release_idempotency_key(
        &self,
        user: &UserId,
        key: &IdempotencyKey,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        let condition = "#claim_id = :claim AND #state = :in_flight";
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::idempotency(user, key))?))
            .condition_expression(condition)
            .set_expression_attribute_names(names(&[condition], &Vec::new()))
            .set_expression_attribute_values(values(vec![
                (":claim", value(claim_id)?),
                (":in_flight", value(IdempotencyState::InFlight)?),
            ]));
        let sent = resend_on_conflict(|| delete.clone().send()).await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(request_error(e)),
        }
    }
}

pub(in crate::store) fn meter_claim_idempotency_key(
    claim: &IdempotencyRecord,
) -> Vec<DynamoRequest> {
    let key = keys::idempotency(&claim.user_id, &claim.key);
    vec![meter::write(
        Operation::PutItem,
        &key,
        meter::sized(&key, claim),
    )]
}

pub(in crate::store) fn meter_complete_idempotency_key(
    completion: &IdempotencyCompletion,
) -> Vec<DynamoRequest> {
    let (key, size) = meter_completion(completion);
    vec![meter::write(Operation::UpdateItem, &key, size)]
}

pub(in crate::store) fn meter_release_idempotency_key(
    user: &UserId,
    key: &IdempotencyKey,
) -> Vec<DynamoRequest> {
    vec![meter::write(
        Operation::DeleteItem,
        &keys::idempotency(user, key),
        SMALL_ITEM,
    )]
}
