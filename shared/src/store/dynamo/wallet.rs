//! Balances: every change is conditional on the version it was computed from, and writes its
//! entry (and, with an Idempotency-Key, the key's completion) in the same transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::keys::{self, Key};
use super::meter::{self, DynamoRequest};
use super::request::{from_item, record_item, value, Change};
use super::*;

impl DynamoStore {
    /// The balance write and entry of a change, and the idempotency completion riding with it.
    pub(super) fn balance_items(
        &self,
        change: &BalanceChange,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let entry = &change.entry;
        let balance = BalanceRecord {
            amount: entry.balance_after,
            version: entry.version,
        };
        let balance_item = record_item(&keys::balance(&change.user_id), &balance)?;
        let mut items = vec![if entry.version == 1 {
            self.put(balance_item, Some("attribute_not_exists(pk)"), vec![])?
        } else {
            self.put(
                balance_item,
                Some("#version = :previous"),
                vec![(":previous", value(entry.version - 1)?)],
            )?
        }];
        items.push(self.put(
            record_item(&keys::balance_entry(&change.user_id, entry.version), entry)?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )?);
        if let Some(c) = &change.completion {
            items.push(self.completion_item(c)?);
        }
        Ok(items)
    }

    /// Marks the Idempotency-Key's claim done with its response, if the claim is still ours:
    /// the last item of the operation's own transaction.
    pub(super) fn completion_item(
        &self,
        c: &IdempotencyCompletion,
    ) -> Result<TransactWriteItem, StoreError> {
        self.update(
            &keys::idempotency(&c.user_id, &c.key),
            completion_change(c)?,
        )
    }
}

/// Marks a claim done with its response, if it is still ours and in flight.
pub(super) fn completion_change(c: &IdempotencyCompletion) -> Result<Change<'_>, StoreError> {
    Change::new("SET #state = :done, #response = :response")
        .when("#claim_id = :claim AND #state = :in_flight")
        .value(":done", IdempotencyState::Done)?
        .value(":response", &c.response)?
        .value(":claim", &c.claim_id)?
        .value(":in_flight", IdempotencyState::InFlight)
}

/// Maps a cancelled balance-changing transaction: the completion is always its last item.
pub(super) fn balance_outcome(tx: Transaction, completion_index: Option<usize>) -> CommitOutcome {
    match tx {
        Transaction::Committed => CommitOutcome::Committed,
        _ if completion_index.is_some_and(|i| tx.failed_at(i)) => CommitOutcome::ClaimLost,
        Transaction::Cancelled(_) => CommitOutcome::Refused,
    }
}

#[async_trait]
impl WalletStore for DynamoStore {
    async fn balance(&self, user: &UserId) -> Result<BalanceRecord, StoreError> {
        Ok(self
            .get(&keys::balance(user), true)
            .await?
            .unwrap_or_default())
    }

    async fn apply_balance_change(
        &self,
        change: &BalanceChange,
    ) -> Result<CommitOutcome, StoreError> {
        let items = self.balance_items(change)?;
        let completion_index = change.completion.as_ref().map(|_| items.len() - 1);
        Ok(balance_outcome(
            self.transact(items).await?,
            completion_index,
        ))
    }

    async fn balance_entries(
        &self,
        user: &UserId,
        before_version: Option<u64>,
        limit: usize,
    ) -> Result<Vec<BalanceEntryRecord>, StoreError> {
        let newest = match before_version {
            Some(0 | 1) => return Ok(Vec::new()),
            Some(v) => v - 1,
            None => u64::MAX,
        };
        let items = self
            .query(
                "#pk = :pk AND #sk BETWEEN :oldest AND :newest",
                vec![
                    (":pk", value(keys::user_pk(user))?),
                    (":oldest", value(keys::balance_entry_sk(1))?),
                    (":newest", value(keys::balance_entry_sk(newest))?),
                ],
                false,
                Some(limit),
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }
}

/// The balance, its entry and the idempotency completion riding with them, sized.
pub(super) fn meter_balance_items(change: &BalanceChange) -> Vec<(Key, usize)> {
    let entry = &change.entry;
    let balance_key = keys::balance(&change.user_id);
    let balance = BalanceRecord {
        amount: entry.balance_after,
        version: entry.version,
    };
    let entry_key = keys::balance_entry(&change.user_id, entry.version);
    let mut items = vec![
        (balance_key.clone(), meter::sized(&balance_key, &balance)),
        (entry_key.clone(), meter::sized(&entry_key, entry)),
    ];
    items.extend(change.completion.as_ref().map(meter_completion));
    items
}

pub(super) fn meter_completion(c: &IdempotencyCompletion) -> (Key, usize) {
    let key = keys::idempotency(&c.user_id, &c.key);
    // The claim's fixed fields (request, claim id, state, times) plus the response it keeps.
    let size = key.pk.len() + key.sk.len() + 160 + c.response.len();
    (key, size)
}

pub(in crate::store) fn meter_balance(user: &UserId, found: &BalanceRecord) -> Vec<DynamoRequest> {
    let key = keys::balance(user);
    let size = if found.version == 0 {
        0
    } else {
        meter::sized(&key, found)
    };
    vec![meter::get(&key, size, true)]
}

pub(in crate::store) fn meter_apply_balance_change(change: &BalanceChange) -> Vec<DynamoRequest> {
    vec![meter::transact(meter_balance_items(change))]
}

pub(in crate::store) fn meter_balance_entries(
    user: &UserId,
    before_version: Option<u64>,
    found: &[BalanceEntryRecord],
) -> Vec<DynamoRequest> {
    if matches!(before_version, Some(0 | 1)) {
        return Vec::new();
    }
    meter::query(
        keys::user_pk(user),
        found
            .iter()
            .map(|e| meter::sized(&keys::balance_entry(user, e.version), e)),
    )
}
