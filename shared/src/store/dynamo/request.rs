//! The few request shapes the store uses, with items mapped through serde_dynamo and expression
//! attribute names derived from the `#name` placeholders in each expression (or given, where an
//! attribute's name is data: a seat, a second, a concert).

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::{BoxError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::contention::{self, Cancellation};
use super::keys::Key;
use super::DynamoStore;
use crate::store::StoreError;

pub(super) type Item = HashMap<String, AttributeValue>;
pub(super) type Values = Vec<(&'static str, AttributeValue)>;
/// Placeholders for attributes whose names are data: `("#seat", "h07")`.
pub(super) type Names = Vec<(&'static str, String)>;

/// BatchGetItem takes at most 100 keys.
pub(super) const BATCH_GET_LIMIT: usize = crate::store::limits::BATCH_GET_KEYS_LIMIT;
/// A transaction cancelled only by conflicts with other transactions is sent again this often.
/// (The simulator's world retries a conflicted transaction as this store does: these two.)
pub const CONFLICT_RETRIES: u32 = 10;

/// The longest pause, in ms, before sending a conflicted transaction again after attempt
/// `attempt` (from 0): the pause is drawn at random up to it.
pub fn conflict_pause_ms(attempt: u32) -> u64 {
    5u64 << attempt.min(5)
}

/// Counts DynamoDB's throttling answers for the request's metrics (each is retried by the SDK,
/// so they cost latency before they cost errors). Reads the error body the SDK has loaded.
#[derive(Debug)]
pub(super) struct ThrottleCounter;

/// The error codes and cancellation reasons by which DynamoDB says it is throttling.
const THROTTLING: [&str; 4] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingError",
];

impl Intercept for ThrottleCounter {
    fn name(&self) -> &'static str {
        "ThrottleCounter"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if response.status().is_client_error() {
            let body = response.body().bytes().unwrap_or_default();
            let text = String::from_utf8_lossy(body);
            if THROTTLING.iter().any(|code| text.contains(code)) {
                crate::metrics::record(crate::metrics::Event::DynamoDbThrottle);
            }
        }
        Ok(())
    }
}

pub(super) fn request_error<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: Debug,
{
    let text = DisplayErrorContext(&error).to_string();
    if contention::is_conflict(&error) {
        // Refused after its resends (`contention::resend_on_conflict`): nothing was written.
        StoreError::Contention(text)
    } else if crate::store::limits::is_limit_refusal(&text) {
        StoreError::Limit(text)
    } else {
        StoreError::Request(text)
    }
}

pub(super) fn build_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Request(format!("malformed request: {error}"))
}

pub(super) fn value(v: impl Serialize) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn key_item(key: &Key) -> Result<Item, StoreError> {
    serde_dynamo::to_item(key).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A record with its key: the record's own fields through serde_dynamo, plus `pk` and `sk`.
pub(super) fn record_item(key: &Key, record: &impl Serialize) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    item.extend(key_item(key)?);
    Ok(item)
}

pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn partition_key(item: &Item) -> &str {
    string_attribute(item, "pk")
}

pub(super) fn sort_key(item: &Item) -> &str {
    string_attribute(item, "sk")
}

fn string_attribute<'i>(item: &'i Item, name: &str) -> &'i str {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value,
        _ => "",
    }
}

/// A number attribute, when present and a number.
pub(super) fn number_attribute(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// `#name` placeholders in the expressions, each standing for the attribute `name`, and the
/// given placeholders for attributes whose names are data.
pub(super) fn names(expressions: &[&str], given: &Names) -> Option<HashMap<String, String>> {
    let mut names = HashMap::new();
    for expression in expressions {
        let mut rest = *expression;
        while let Some(start) = rest.find('#') {
            let tail = &rest[start + 1..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            names.insert(format!("#{}", &tail[..end]), tail[..end].to_owned());
            rest = &tail[end..];
        }
    }
    for (placeholder, attribute) in given {
        names.insert((*placeholder).to_owned(), attribute.clone());
    }
    (!names.is_empty()).then_some(names)
}

pub(super) fn values(values: Values) -> Option<Item> {
    (!values.is_empty()).then(|| {
        values
            .into_iter()
            .map(|(name, v)| (name.to_owned(), v))
            .collect()
    })
}

/// A change's values, the numbered ones included.
fn change_values(change: Change<'_>) -> Option<Item> {
    let mut all = values(change.values).unwrap_or_default();
    all.extend(change.numbered);
    (!all.is_empty()).then_some(all)
}

pub(super) fn is_condition_failure<E, R>(error: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// How a transaction ended: committed, or cancelled with each item's reason code.
pub(super) enum Transaction {
    Committed,
    Cancelled(Vec<String>),
}

impl Transaction {
    /// Whether the condition on item `index` is what failed.
    pub(super) fn failed_at(&self, index: usize) -> bool {
        matches!(self, Transaction::Cancelled(codes)
            if codes.get(index).is_some_and(|c| c == "ConditionalCheckFailed"))
    }
}

/// One UpdateItem: an update expression, an optional condition, and its placeholders.
pub(super) struct Change<'a> {
    pub update: &'a str,
    pub condition: Option<&'a str>,
    pub names: Names,
    pub values: Values,
    /// Values whose placeholders are made up with the expression (one per ledger count).
    pub numbered: Vec<(String, AttributeValue)>,
}

impl<'a> Change<'a> {
    pub(super) fn new(update: &'a str) -> Self {
        Change {
            update,
            condition: None,
            names: Vec::new(),
            values: Vec::new(),
            numbered: Vec::new(),
        }
    }

    pub(super) fn when(mut self, condition: &'a str) -> Self {
        self.condition = Some(condition);
        self
    }

    pub(super) fn name(mut self, placeholder: &'static str, attribute: impl Into<String>) -> Self {
        self.names.push((placeholder, attribute.into()));
        self
    }

    pub(super) fn value(
        mut self,
        placeholder: &'static str,
        v: impl Serialize,
    ) -> Result<Self, StoreError> {
        self.values.push((placeholder, value(v)?));
        Ok(self)
    }

    pub(super) fn numbered(
        mut self,
        placeholder: String,
        v: impl Serialize,
    ) -> Result<Self, StoreError> {
        self.numbered.push((placeholder, value(v)?));
        Ok(self)
    }

    fn expressions(&self) -> Vec<&str> {
        let mut expressions = vec![self.update];
        expressions.extend(self.condition);
        expressions
    }
}

impl DynamoStore {
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        key: &Key,
        consistent: bool,
    ) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)?))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(request_error)?;
        output.item.map(from_item).transpose()
    }

    /// The item as stored, for the items whose attributes are data.
    pub(super) async fn get_item(
        &self,
        key: &Key,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)?))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(request_error)?;
        Ok(output.item)
    }

    /// Items of a query, newest or oldest first, following pages up to `limit` items.
    pub(super) async fn query(
        &self,
        condition: &str,
        values: Values,
        forward: bool,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_read(condition, values, forward, limit, true)
            .await
    }

    /// A query read strongly (`consistent`) or eventually consistent, at half the read units.
    pub(super) async fn query_read(
        &self,
        condition: &str,
        values: Values,
        forward: bool,
        limit: Option<usize>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let values = self::values(values);
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .set_expression_attribute_names(names(&[condition], &Vec::new()))
                .set_expression_attribute_values(values.clone())
                .consistent_read(consistent)
                .scan_index_forward(forward)
                .set_limit(limit.map(|l| (l - items.len()) as i32))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(request_error)?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() || limit.is_some_and(|l| items.len() >= l) {
                return Ok(items);
            }
        }
    }

    /// Items by key, strongly consistent, in one round trip: the chunks of 100 keys go out
    /// together. Missing items are absent from the answer.
    pub(super) async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let chunks = keys
            .chunks(BATCH_GET_LIMIT)
            .map(|chunk| self.batch_get_chunk(chunk));
        let found = futures::future::try_join_all(chunks).await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn batch_get_chunk(&self, chunk: &[Key]) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut pending: Vec<Item> = chunk.iter().map(key_item).collect::<Result<_, _>>()?;
        let mut round = 0;
        while !pending.is_empty() {
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(10 << round.min(6))).await;
            }
            round += 1;
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(request_error)?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(&self.table).unwrap_or_default());
            }
            pending = output
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        Ok(found)
    }

    /// Writes an item only when its key is free. `false` when it already existed.
    pub(super) async fn put_absent(
        &self,
        key: &Key,
        record: &impl Serialize,
    ) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(key, record)?))
            .condition_expression("attribute_not_exists(pk)");
        let written = contention::resend_on_conflict(|| put.clone().send()).await;
        match written {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(request_error(e)),
        }
    }

    /// One UpdateItem. `Ok(Some(new item))` when applied; `Ok(None)` when its condition failed
    /// (with `old`, the item as it stood is returned instead, when it exists).
    pub(super) async fn update_item(
        &self,
        key: &Key,
        change: Change<'_>,
        old_on_failure: bool,
    ) -> Result<Result<Item, Option<Item>>, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)?))
            .update_expression(change.update)
            .set_condition_expression(change.condition.map(str::to_owned))
            .set_expression_attribute_names(names(&change.expressions(), &change.names))
            .set_expression_attribute_values(change_values(change))
            .return_values(ReturnValue::AllNew)
            .set_return_values_on_condition_check_failure(
                old_on_failure.then_some(ReturnValuesOnConditionCheckFailure::AllOld),
            );
        let sent = contention::resend_on_conflict(|| update.clone().send()).await;
        match sent {
            Ok(output) => Ok(Ok(output.attributes.unwrap_or_default())),
            Err(e) if is_condition_failure(&e) => Ok(Err(match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => failed.item,
                _ => None,
            })),
            Err(e) => Err(request_error(e)),
        }
    }

    /// Sends a transaction. One cancelled only by contention (conflicting transactions, a
    /// throttled item) is sent again within `contention`'s bounds, then refused
    /// `StoreError::Contention`; `Cancelled` is only ever a failed condition's answer.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Transaction, StoreError> {
        let mut resends = contention::Resends::new();
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match sent {
                Ok(_) => return Ok(Transaction::Committed),
                Err(error) => error,
            };
            let codes: Vec<String> = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_owned())
                    .collect(),
                _ => return Err(request_error(error)),
            };
            // An item the transaction would make too large cancels it with a ValidationError:
            // a limit broken, which no retry mends.
            if codes.iter().any(|c| c == "ValidationError") {
                return Err(StoreError::Limit(format!(
                    "TransactWriteItems cancelled: {}",
                    codes.join(", ")
                )));
            }
            match contention::cancellation(&codes) {
                Cancellation::Conditions => return Ok(Transaction::Cancelled(codes)),
                Cancellation::Contention if resends.pause().await => {}
                Cancellation::Contention => {
                    let what = format!("TransactWriteItems cancelled [{}]", codes.join(", "));
                    return Err(StoreError::Contention(resends.gave_up(&what)));
                }
                Cancellation::Invalid => {
                    return Err(StoreError::Request(format!(
                        "TransactWriteItems cancelled [{}]",
                        codes.join(", ")
                    )))
                }
            }
        }
    }

    pub(super) fn put(
        &self,
        item: Item,
        condition: Option<&str>,
        values: Values,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(condition.and_then(|c| names(&[c], &Vec::new())))
            .set_expression_attribute_values(self::values(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(super) fn update(
        &self,
        key: &Key,
        change: Change<'_>,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)?))
            .update_expression(change.update)
            .set_condition_expression(change.condition.map(str::to_owned))
            .set_expression_attribute_names(names(&change.expressions(), &change.names))
            .set_expression_attribute_values(change_values(change))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub(super) fn check(
        &self,
        key: &Key,
        condition: &str,
        names_given: Names,
        values: Values,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)?))
            .condition_expression(condition)
            .set_expression_attribute_names(names(&[condition], &names_given))
            .set_expression_attribute_values(self::values(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_placeholders_and_from_what_is_given() {
        let names = names(
            &[
                "SET #status = :s",
                "#held_until > :now AND attribute_exists(#pk)",
            ],
            &vec![("#seat", "h07".to_owned())],
        )
        .unwrap();
        assert_eq!(names.len(), 4);
        assert_eq!(names["#status"], "status");
        assert_eq!(names["#held_until"], "held_until");
        assert_eq!(names["#pk"], "pk");
        assert_eq!(names["#seat"], "h07");
        assert!(super::names(&[":a = :b"], &Vec::new()).is_none());
    }
}
