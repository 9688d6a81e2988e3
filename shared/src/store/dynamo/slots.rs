//! The slot ledger (see `booking::slots`): `SLOT_SHARDS` items a concert, each counting active
//! tokens by the second their slot ends, one attribute a second (`e{end}`), so that a move is
//! one `ADD` and the tick reads every shard in one BatchGet. A renewal moves the fan's ticket
//! end and its count in one transaction, conditional on the end it read.

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::keys::{self, Key};
use super::meter::{self, DynamoRequest, Operation, SMALL_ITEM};
use super::request::{number_attribute, partition_key, Change, Item};
use super::size;
use super::*;

fn end_attribute(end: i64) -> String {
    format!("e{end}")
}

/// Reads a slot shard back.
fn slots_from_item(item: &Item) -> SlotShardRecord {
    let mut record = SlotShardRecord::default();
    for name in item.keys() {
        let Some(end) = name.strip_prefix('e').and_then(|e| e.parse::<i64>().ok()) else {
            continue;
        };
        if let Some(n) = number_attribute(item, name) {
            record.ends.insert(end, n);
        }
    }
    record
}

/// The size of a slot shard item.
pub(super) fn slots_size(key: &Key, record: &SlotShardRecord) -> usize {
    if record.ends.is_empty() {
        return 0;
    }
    "pk".len()
        + key.pk.len()
        + "sk".len()
        + key.sk.len()
        + record
            .ends
            .iter()
            .map(|(end, n)| end_attribute(*end).len() + size::integer(n.unsigned_abs().into()))
            .sum::<usize>()
}

/// The `ADD` of a move's amounts, `:n{i}` each.
fn add_expression(slots: &SlotMove) -> String {
    let adds: Vec<String> = slots
        .adds
        .iter()
        .enumerate()
        .map(|(i, (end, _))| format!("#{} :n{i}", end_attribute(*end)))
        .collect();
    format!("ADD {}", adds.join(", "))
}

impl DynamoStore {
    /// The transaction item that adds a move's amounts to its slot shard (creating it if
    /// absent).
    pub(super) fn slot_item(
        &self,
        concert: &ConcertId,
        slots: &SlotMove,
        expression: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut add = Change::new(expression);
        for (i, (_, n)) in slots.adds.iter().enumerate() {
            add = add.numbered(format!(":n{i}"), n)?;
        }
        self.update(&keys::slot_shard(concert, slots.shard), add)
    }

    /// The slot item of a move: `ADD` built here, kept alive for the transaction's build.
    pub(super) fn slot_move_item(
        &self,
        concert: &ConcertId,
        slots: &SlotMove,
    ) -> Result<TransactWriteItem, StoreError> {
        let expression = add_expression(slots);
        self.slot_item(concert, slots, &expression)
    }

    pub(super) async fn renew(&self, renewal: &SlotRenewal) -> Result<CommitOutcome, StoreError> {
        let renewed = Change::new("SET #active_until = :to, #expires_at = :expires")
            .when("#token = :token AND #status = :active AND #active_until = :from")
            .value(":to", renewal.to)?
            .value(":expires", memory::ticket_expiry(renewal.to))?
            .value(":token", &renewal.token)?
            .value(":active", TicketStatus::Active)?
            .value(":from", renewal.from)?;
        let items = vec![
            self.update(
                &keys::ticket(&renewal.user_id, &renewal.concert_id),
                renewed,
            )?,
            self.slot_move_item(&renewal.concert_id, &renewal.slot_move())?,
        ];
        Ok(plain_outcome(self.transact(items).await?))
    }

    pub(super) async fn slot_shards(
        &self,
        concert: &ConcertId,
    ) -> Result<Vec<(u32, SlotShardRecord)>, StoreError> {
        let keys: Vec<Key> = (0..SLOT_SHARDS)
            .map(|shard| keys::slot_shard(concert, shard))
            .collect();
        let items = self.batch_get(&keys).await?;
        Ok((0..SLOT_SHARDS)
            .zip(&keys)
            .map(|(shard, key)| {
                let item = items.iter().find(|i| partition_key(i) == key.pk);
                (shard, item.map(slots_from_item).unwrap_or_default())
            })
            .collect())
    }

    pub(super) async fn prune_slots(
        &self,
        concert: &ConcertId,
        shard: u32,
        ends: &[i64],
    ) -> Result<(), StoreError> {
        if ends.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = ends
            .iter()
            .map(|end| format!("#{}", end_attribute(*end)))
            .collect();
        let update = format!("REMOVE {}", names.join(", "));
        let change = Change::new(&update).when("attribute_exists(pk)");
        self.update_item(&keys::slot_shard(concert, shard), change, false)
            .await
            .map(|_| ())
    }
}

/// A slot shard's item in a transaction, sized as it stands after.
pub(super) fn meter_slot_item(
    concert: &ConcertId,
    shard: u32,
    after: &SlotShardRecord,
) -> (Key, usize) {
    let key = keys::slot_shard(concert, shard);
    let size = slots_size(&key, after).max(SMALL_ITEM);
    (key, size)
}

/// `after` is the fan's slot shard after the renewal.
pub(in crate::store) fn meter_renew_ticket(
    renewal: &SlotRenewal,
    after: &SlotShardRecord,
) -> Vec<DynamoRequest> {
    vec![meter::transact(vec![
        (
            keys::ticket(&renewal.user_id, &renewal.concert_id),
            SMALL_ITEM,
        ),
        meter_slot_item(&renewal.concert_id, slot_shard(&renewal.user_id), after),
    ])]
}

pub(in crate::store) fn meter_slot_ledger(
    concert: &ConcertId,
    found: &[(u32, SlotShardRecord)],
) -> Vec<DynamoRequest> {
    meter::batch_get(
        (0..SLOT_SHARDS)
            .map(|shard| {
                let key = keys::slot_shard(concert, shard);
                let size = found
                    .iter()
                    .find(|(s, _)| *s == shard)
                    .map_or(0, |(_, record)| slots_size(&key, record));
                (key, size)
            })
            .collect(),
    )
}

/// `before` is the shard before the prune.
pub(in crate::store) fn meter_prune_slot_shard(
    concert: &ConcertId,
    shard: u32,
    before: &SlotShardRecord,
) -> Vec<DynamoRequest> {
    let key = keys::slot_shard(concert, shard);
    let size = slots_size(&key, before);
    vec![meter::write(Operation::UpdateItem, &key, size)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[test]
    fn a_slot_shard_reads_back_its_counts_by_end() {
        let item: Item = [
            ("pk".to_owned(), AttributeValue::S("SLOTS#c#3".into())),
            ("sk".to_owned(), AttributeValue::S("SLOTS".into())),
            ("e1796083330".to_owned(), AttributeValue::N("2".into())),
            ("e1796083340".to_owned(), AttributeValue::N("-1".into())),
        ]
        .into_iter()
        .collect();
        let record = slots_from_item(&item);
        assert_eq!(
            record.ends.into_iter().collect::<Vec<_>>(),
            vec![(1_796_083_330, 2), (1_796_083_340, -1)]
        );
        let moved = SlotMove {
            shard: 3,
            adds: vec![(1_796_083_330, -1), (1_796_083_350, 1)],
        };
        assert_eq!(
            add_expression(&moved),
            "ADD #e1796083330 :n0, #e1796083350 :n1"
        );
    }
}
