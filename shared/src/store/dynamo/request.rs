//! The few request shapes the store uses, with items mapped through serde_dynamo and expression
//! attribute names derived from the `#name` placeholders in each expression.

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, TransactWriteItem, Update,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::keys::Key;
use super::DynamoStore;
use crate::store::StoreError;

pub(super) type Item = HashMap<String, AttributeValue>;
pub(super) type Values = Vec<(&'static str, AttributeValue)>;

/// BatchGetItem takes at most 100 keys.
pub(super) const BATCH_GET_LIMIT: usize = 100;
/// A transaction cancelled only by conflicts with other transactions is sent again this often.
const CONFLICT_RETRIES: u32 = 10;

pub(super) fn request_error<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: Debug,
{
    StoreError::Request(DisplayErrorContext(&error).to_string())
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

/// `#name` placeholders in the expressions, each standing for the attribute `name`.
pub(super) fn names(expressions: &[&str]) -> Option<HashMap<String, String>> {
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

impl DynamoStore {
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        key: &Key,
    ) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)?))
            .consistent_read(true)
            .send()
            .await
            .map_err(request_error)?;
        output.item.map(from_item).transpose()
    }

    /// Every item of a query, following pages.
    pub(super) async fn query_all(
        &self,
        condition: &str,
        values: Values,
        forward: bool,
        limit: Option<usize>,
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
                .set_expression_attribute_names(names(&[condition]))
                .set_expression_attribute_values(values.clone())
                .consistent_read(true)
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

    /// Items by key in one round trip per 100 keys, strongly consistent; missing ones are absent.
    pub(super) async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
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
        }
        Ok(found)
    }

    /// Sends a transaction; one cancelled only by conflicting transactions is sent again.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Transaction, StoreError> {
        for attempt in 0..=CONFLICT_RETRIES {
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
            let only_conflicts = codes.iter().any(|c| c == "TransactionConflict")
                && !codes.iter().any(|c| c == "ConditionalCheckFailed");
            if !only_conflicts || attempt == CONFLICT_RETRIES {
                return Ok(Transaction::Cancelled(codes));
            }
            let pause = fastrand::u64(0..=(5u64 << attempt.min(5)));
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        Ok(Transaction::Cancelled(Vec::new()))
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
            .set_expression_attribute_names(condition.and_then(|c| names(&[c])))
            .set_expression_attribute_values(self::values(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(super) fn update(
        &self,
        key: &Key,
        update: &str,
        condition: &str,
        values: Values,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)?))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(names(&[update, condition]))
            .set_expression_attribute_values(self::values(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub(super) fn delete(
        &self,
        key: &Key,
        condition: &str,
        values: Values,
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)?))
            .condition_expression(condition)
            .set_expression_attribute_names(names(&[condition]))
            .set_expression_attribute_values(self::values(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    pub(super) fn check(
        &self,
        key: &Key,
        condition: &str,
        values: Values,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)?))
            .condition_expression(condition)
            .set_expression_attribute_names(names(&[condition]))
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
    fn names_come_from_placeholders() {
        let names = names(&[
            "SET #status = :s",
            "#held_until > :now AND attribute_exists(#pk)",
        ])
        .unwrap();
        assert_eq!(names.len(), 3);
        assert_eq!(names["#status"], "status");
        assert_eq!(names["#held_until"], "held_until");
        assert_eq!(names["#pk"], "pk");
        assert!(super::names(&[":a = :b"]).is_none());
    }
}
