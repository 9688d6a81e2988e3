//! DynamoDB's hard limits, and the one check that both stores (and the simulator's meter) hold
//! every request to. The DynamoDB service refuses a request that breaks one with a
//! `ValidationException`, whatever the table's capacity; the memory store, the local server and
//! the simulator must refuse the same request the same way, or a design passes every test here
//! and fails on its first on-sale. So the memory store checks, before it applies a write, the
//! requests the DynamoDB store would send for it (the meter's model of them, `dynamo::meter_*`),
//! and the DynamoDB store turns the service's refusal into the same [`StoreError::Limit`].
//!
//! What stays under these by design, and the maxima that keep it so, are listed in docs/scale.md's
//! "Limits" table.

use super::dynamo::meter::{DynamoRequest, Operation};
use super::StoreError;

/// An item, counted as DynamoDB counts it: attribute names plus values.
pub const ITEM_BYTES_LIMIT: usize = 400 * 1024;
/// A `TransactWriteItems` touches at most this many items (condition checks included)...
pub const TRANSACTION_ITEMS_LIMIT: usize = 100;
/// ... and carries at most this much.
pub const TRANSACTION_BYTES_LIMIT: usize = 4 * 1024 * 1024;
/// A `BatchGetItem` names at most this many keys.
pub const BATCH_GET_KEYS_LIMIT: usize = 100;

/// What DynamoDB says when a request breaks a limit: the text of its `ValidationException`s,
/// which the DynamoDB store recognises and the memory store repeats.
pub(super) const ITEM_TOO_LARGE: &str = "Item size has exceeded the maximum allowed size";
pub(super) const ITEM_UPDATE_TOO_LARGE: &str =
    "Item size to update has exceeded the maximum allowed size";
pub(super) const TRANSACTION_TOO_MANY_ITEMS: &str = "Member must have length less than or equal to";
pub(super) const TRANSACTION_TOO_LARGE: &str = "Transaction request size has exceeded";
pub(super) const BATCH_TOO_MANY_KEYS: &str = "Too many items requested for the BatchGetItem call";

/// Whether a DynamoDB error's text is a refusal for breaking one of these limits. (Inside a
/// transaction an item too large cancels it with a `ValidationError` reason instead: see
/// `dynamo::request`.)
pub(super) fn is_limit_refusal(text: &str) -> bool {
    let oversize = text.contains("ValidationException") && text.contains("exceed");
    oversize
        || [
            ITEM_TOO_LARGE,
            ITEM_UPDATE_TOO_LARGE,
            TRANSACTION_TOO_MANY_ITEMS,
            TRANSACTION_TOO_LARGE,
            BATCH_TOO_MANY_KEYS,
        ]
        .iter()
        .any(|refusal| text.contains(refusal))
}

/// Refuses the first request that DynamoDB would refuse, naming the item and the limit.
pub fn check(requests: &[DynamoRequest]) -> Result<(), StoreError> {
    requests.iter().try_for_each(check_request)
}

fn check_request(request: &DynamoRequest) -> Result<(), StoreError> {
    let refuse = |what: String| {
        Err(StoreError::Limit(format!(
            "{}: {what}",
            request.operation.name()
        )))
    };
    if let Some(item) = request.items.iter().find(|i| i.bytes > ITEM_BYTES_LIMIT) {
        let key = format!("{} {}", item.pk, item.sk.as_deref().unwrap_or(""));
        let message = if request.operation == Operation::UpdateItem {
            ITEM_UPDATE_TOO_LARGE
        } else {
            ITEM_TOO_LARGE
        };
        return refuse(format!(
            "{message} ({} bytes at {}, limit {ITEM_BYTES_LIMIT})",
            item.bytes,
            key.trim_end()
        ));
    }
    match request.operation {
        Operation::TransactWriteItems => {
            let items = request.items.len();
            if items > TRANSACTION_ITEMS_LIMIT {
                return refuse(format!(
                    "{TRANSACTION_TOO_MANY_ITEMS} {TRANSACTION_ITEMS_LIMIT} ({items} items)"
                ));
            }
            let bytes: usize = request.items.iter().map(|i| i.bytes).sum();
            if bytes > TRANSACTION_BYTES_LIMIT {
                return refuse(format!(
                    "{TRANSACTION_TOO_LARGE} {TRANSACTION_BYTES_LIMIT} bytes ({bytes} bytes)"
                ));
            }
        }
        Operation::BatchGetItem if request.items.len() > BATCH_GET_KEYS_LIMIT => {
            return refuse(format!(
                "{BATCH_TOO_MANY_KEYS} ({} keys, limit {BATCH_GET_KEYS_LIMIT})",
                request.items.len()
            ));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamo::meter::ItemUnits;

    fn item(n: usize, bytes: usize) -> ItemUnits {
        ItemUnits {
            pk: format!("PK#{n}"),
            sk: Some("SK".into()),
            read_units: 0.0,
            write_units: 0.0,
            bytes,
        }
    }

    fn request(operation: Operation, items: Vec<ItemUnits>) -> DynamoRequest {
        DynamoRequest {
            operation,
            consistent: false,
            items,
        }
    }

    fn refused(request: DynamoRequest) -> String {
        match check(&[request]) {
            Err(StoreError::Limit(text)) => text,
            other => panic!("expected a limit refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_item_of_400_kb_is_taken_and_one_byte_more_refused() {
        let at_limit = request(Operation::PutItem, vec![item(1, ITEM_BYTES_LIMIT)]);
        assert!(check(&[at_limit]).is_ok());
        let over = refused(request(
            Operation::PutItem,
            vec![item(1, ITEM_BYTES_LIMIT + 1)],
        ));
        assert!(
            over.contains(ITEM_TOO_LARGE) && over.contains("PK#1 SK"),
            "{over}"
        );
        assert!(is_limit_refusal(&over));
        let update = refused(request(
            Operation::UpdateItem,
            vec![item(1, ITEM_BYTES_LIMIT + 1)],
        ));
        assert!(update.contains(ITEM_UPDATE_TOO_LARGE), "{update}");
    }

    #[test]
    fn a_transaction_takes_100_items_and_4_mb() {
        let items = |n: usize, bytes: usize| (0..n).map(|i| item(i, bytes)).collect();
        assert!(check(&[request(Operation::TransactWriteItems, items(100, 1))]).is_ok());
        let many = refused(request(Operation::TransactWriteItems, items(101, 1)));
        assert!(
            many.contains("101 items") && is_limit_refusal(&many),
            "{many}"
        );
        // Eleven items of 390 KB: each fits, together they pass 4 MB.
        let heavy = refused(request(
            Operation::TransactWriteItems,
            items(11, 390 * 1024),
        ));
        assert!(is_limit_refusal(&heavy), "{heavy}");
    }

    #[test]
    fn a_batch_takes_100_keys() {
        let keys = |n: usize| (0..n).map(|i| item(i, 1)).collect();
        assert!(check(&[request(Operation::BatchGetItem, keys(100))]).is_ok());
        let over = refused(request(Operation::BatchGetItem, keys(101)));
        assert!(is_limit_refusal(&over), "{over}");
        // A Query reads many items in one request: no such limit.
        assert!(check(&[request(Operation::Query, keys(500))]).is_ok());
    }
}
