//! Concerts, the blocks of a date's seats (which are held, until when, and sold), and the
//! date's ledger (the counts the admission tick reads instead of the blocks). Both spread
//! their counts over top-level attributes, so that a hold's condition names one seat and a
//! count is one `ADD`:
//! - a block: `h7` for seat 7's hold (its end), `s7` for its sale (the admission batch);
//! - a ledger shard: `sold`, `s{section}` (seats sold), `h{until}` (seats held until then),
//!   `w{section}_{minute end}` (the same per section, by minute), `b{batch}` (orders sold to
//!   tokens of that admission batch).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::keys::{self, Key};
use super::meter::{self, DynamoRequest, Operation};
use super::request::{from_item, number_attribute, partition_key, value, Change, Item};
use super::size;
use super::*;
use crate::domain::SeatNumber;

pub(super) fn hold_attribute(seat: SeatNumber) -> String {
    format!("h{}", seat.get())
}

pub(super) fn sold_attribute(seat: SeatNumber) -> String {
    format!("s{}", seat.get())
}

/// Reads a block's per-seat attributes back.
pub(super) fn seats_from_item(item: &Item) -> DateSeatsRecord {
    let mut seats = DateSeatsRecord::default();
    for name in item.keys() {
        let (kind, number) = name.split_at(1.min(name.len()));
        let Some(seat) = number
            .parse::<i64>()
            .ok()
            .and_then(|n| SeatNumber::parse(n).ok())
        else {
            continue;
        };
        let Some(at) = number_attribute(item, name) else {
            continue;
        };
        match kind {
            "h" => {
                seats.holds.insert(seat, at);
            }
            "s" => {
                seats.sold.insert(seat, at);
            }
            _ => {}
        }
    }
    seats
}

/// The attributes of a ledger shard's counts, each with its amount.
fn ledger_attributes(
    sold: i64,
    sold_by_section: &std::collections::BTreeMap<u32, i64>,
    holds: &std::collections::BTreeMap<i64, i64>,
    section_holds: &std::collections::BTreeMap<(u32, i64), i64>,
) -> Vec<(String, i64)> {
    let mut attributes = Vec::new();
    if sold != 0 {
        attributes.push(("sold".to_owned(), sold));
    }
    attributes.extend(sold_by_section.iter().map(|(i, n)| (format!("s{i}"), *n)));
    attributes.extend(holds.iter().map(|(until, n)| (format!("h{until}"), *n)));
    attributes.extend(
        section_holds
            .iter()
            .map(|((i, end), n)| (format!("w{i}_{end}"), *n)),
    );
    attributes
}

/// Reads a ledger shard back.
pub(super) fn ledger_from_item(item: &Item) -> SeatLedgerRecord {
    let mut ledger = SeatLedgerRecord::default();
    for name in item.keys() {
        let Some(n) = number_attribute(item, name) else {
            continue;
        };
        if name == "sold" {
            ledger.sold = n;
            continue;
        }
        let (kind, rest) = name.split_at(1.min(name.len()));
        match (kind, rest.split_once('_')) {
            ("w", Some((section, end))) => {
                if let (Ok(section), Ok(end)) = (section.parse(), end.parse()) {
                    ledger.section_holds.insert((section, end), n);
                }
            }
            ("s", None) => {
                if let Ok(section) = rest.parse() {
                    ledger.sold_by_section.insert(section, n);
                }
            }
            ("h", None) => {
                if let Ok(until) = rest.parse() {
                    ledger.holds.insert(until, n);
                }
            }
            _ => {}
        }
    }
    ledger
}

impl DynamoStore {
    /// The transaction item that adds `change` to its ledger shard (creating it if absent).
    pub(super) fn ledger_item(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        change: &LedgerChange,
    ) -> Result<TransactWriteItem, StoreError> {
        let attributes = ledger_attributes(
            change.sold,
            &change.sold_by_section,
            &change.holds,
            &change.section_holds,
        );
        let adds: Vec<String> = attributes
            .iter()
            .enumerate()
            .map(|(i, (name, _))| format!("#{name} :n{i}"))
            .collect();
        let update = format!("ADD {}", adds.join(", "));
        let mut add = Change::new(&update);
        for (i, (_, n)) in attributes.iter().enumerate() {
            add = add.numbered(format!(":n{i}"), n)?;
        }
        self.update(&keys::seat_ledger(concert, date, change.shard), add)
    }
}

#[async_trait]
impl CatalogStore for DynamoStore {
    async fn put_concert(&self, concert: &ConcertRecord) -> Result<bool, StoreError> {
        self.put_absent(&keys::concert(&concert.concert_id), concert)
            .await
    }

    async fn concerts(&self) -> Result<Vec<ConcertRecord>, StoreError> {
        // Eventually consistent: every container reads the list once a second for
        // `GET /concerts` (`booking::cache`), which is a second stale anyway; half the units on
        // the partition every concert shares.
        let items = self
            .query_read(
                "#pk = :pk",
                vec![(":pk", value(keys::CONCERTS_PK)?)],
                true,
                None,
                false,
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn concert(&self, concert: &ConcertId) -> Result<Option<ConcertRecord>, StoreError> {
        self.get(&keys::concert(concert), true).await
    }

    async fn mark_sold_out(&self, concert: &ConcertId) -> Result<(), StoreError> {
        let change = Change::new("SET #sold_out = :yes")
            .when("attribute_exists(pk)")
            .value(":yes", true)?;
        self.update_item(&keys::concert(concert), change, false)
            .await
            .map(|_| ())
    }

    async fn seat_blocks(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        blocks: &[SeatNumber],
    ) -> Result<DateSeatsRecord, StoreError> {
        let keys: Vec<Key> = blocks
            .iter()
            .map(|b| keys::seat_block(concert, date, *b))
            .collect();
        let mut seats = DateSeatsRecord::default();
        for item in self.batch_get(&keys).await? {
            seats.merge(seats_from_item(&item));
        }
        Ok(seats)
    }

    async fn seat_ledgers(
        &self,
        concert: &ConcertId,
        wanted: &[(ConcertDate, u32)],
    ) -> Result<Vec<(ConcertDate, u32, SeatLedgerRecord)>, StoreError> {
        let keys: Vec<Key> = wanted
            .iter()
            .map(|(d, shard)| keys::seat_ledger(concert, *d, *shard))
            .collect();
        let items = self.batch_get(&keys).await?;
        Ok(wanted
            .iter()
            .zip(&keys)
            .map(|((date, shard), key)| {
                let item = items.iter().find(|i| partition_key(i) == key.pk);
                (
                    *date,
                    *shard,
                    item.map(ledger_from_item).unwrap_or_default(),
                )
            })
            .collect())
    }

    async fn prune_seat_ledger(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        shard: u32,
        stale: &LedgerStale,
    ) -> Result<(), StoreError> {
        let update = prune_update(stale);
        let change = Change::new(&update).when("attribute_exists(pk)");
        self.update_item(&keys::seat_ledger(concert, date, shard), change, false)
            .await
            .map(|_| ())
    }
}

/// The update that removes a ledger shard's stale counts.
fn prune_update(stale: &LedgerStale) -> String {
    let names: Vec<String> = stale
        .holds
        .iter()
        .map(|until| format!("#h{until}"))
        .chain(
            stale
                .section_holds
                .iter()
                .map(|(i, end)| format!("#w{i}_{end}")),
        )
        .collect();
    format!("REMOVE {}", names.join(", "))
}

/// The size of a block item.
pub(super) fn block_size(key: &Key, seats: &DateSeatsRecord) -> usize {
    let attribute = |seat: &SeatNumber, at: &i64| {
        1 + seat.get().to_string().len() + size::integer(at.unsigned_abs().into())
    };
    key_size(key)
        + seats
            .holds
            .iter()
            .map(|(s, a)| attribute(s, a))
            .sum::<usize>()
        + seats
            .sold
            .iter()
            .map(|(s, a)| attribute(s, a))
            .sum::<usize>()
}

/// The size of a ledger shard item.
pub(super) fn ledger_size(key: &Key, ledger: &SeatLedgerRecord) -> usize {
    let attributes = ledger_attributes(
        ledger.sold,
        &ledger.sold_by_section,
        &ledger.holds,
        &ledger.section_holds,
    );
    if attributes.is_empty() {
        return 0;
    }
    key_size(key)
        + attributes
            .iter()
            .map(|(name, n)| name.len() + size::integer(n.unsigned_abs().into()))
            .sum::<usize>()
}

fn key_size(key: &Key) -> usize {
    "pk".len() + key.pk.len() + "sk".len() + key.sk.len()
}

pub(in crate::store) fn meter_put_concert(concert: &ConcertRecord) -> Vec<DynamoRequest> {
    let key = keys::concert(&concert.concert_id);
    vec![meter::write(
        Operation::PutItem,
        &key,
        meter::sized(&key, concert),
    )]
}

pub(in crate::store) fn meter_concerts(found: &[ConcertRecord]) -> Vec<DynamoRequest> {
    meter::query_read(
        keys::CONCERTS_PK.to_owned(),
        found
            .iter()
            .map(|c| meter::sized(&keys::concert(&c.concert_id), c)),
        false,
    )
}

pub(in crate::store) fn meter_concert(
    concert: &ConcertId,
    found: Option<&ConcertRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::concert(concert);
    let size = found.map_or(0, |c| meter::sized(&key, c));
    vec![meter::get(&key, size, true)]
}

pub(in crate::store) fn meter_mark_sold_out(
    concert: &ConcertId,
    found: Option<&ConcertRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::concert(concert);
    let size = found.map_or(0, |c| meter::sized(&key, c));
    vec![meter::write(Operation::UpdateItem, &key, size)]
}

/// `found` are the blocks read, each as it stands.
pub(in crate::store) fn meter_seat_blocks(
    concert: &ConcertId,
    date: ConcertDate,
    found: &[(SeatNumber, DateSeatsRecord)],
) -> Vec<DynamoRequest> {
    meter::batch_get(
        found
            .iter()
            .map(|(block, seats)| {
                let key = keys::seat_block(concert, date, *block);
                let size = block_size(&key, seats);
                (key, size)
            })
            .collect(),
    )
}

pub(in crate::store) fn meter_seat_ledgers(
    concert: &ConcertId,
    found: &[(ConcertDate, u32, SeatLedgerRecord)],
) -> Vec<DynamoRequest> {
    meter::batch_get(
        found
            .iter()
            .map(|(date, shard, ledger)| {
                let key = keys::seat_ledger(concert, *date, *shard);
                let size = ledger_size(&key, ledger);
                (key, size)
            })
            .collect(),
    )
}

/// `ledger` is the shard before the prune.
pub(in crate::store) fn meter_prune_seat_ledger(
    concert: &ConcertId,
    date: ConcertDate,
    shard: u32,
    ledger: &SeatLedgerRecord,
) -> Vec<DynamoRequest> {
    let key = keys::seat_ledger(concert, date, shard);
    let size = ledger_size(&key, ledger);
    vec![meter::write(Operation::UpdateItem, &key, size)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn number(n: i64) -> AttributeValue {
        AttributeValue::N(n.to_string())
    }

    #[test]
    fn a_block_item_reads_back_and_is_sized_exactly() {
        let key = keys::seat_block(
            &ConcertId::parse("c").unwrap(),
            ConcertDate::parse("2026-12-24").unwrap(),
            SeatNumber::parse(59_901).unwrap(),
        );
        let mut item = request::key_item(&key).unwrap();
        item.insert("h59907".into(), number(1_796_083_500));
        item.insert("s60000".into(), number(1_796_083_200));
        let seats = seats_from_item(&item);
        assert_eq!(
            seats.holds[&SeatNumber::parse(59_907).unwrap()],
            1_796_083_500
        );
        assert_eq!(
            seats.sold[&SeatNumber::parse(60_000).unwrap()],
            1_796_083_200
        );
        assert_eq!(block_size(&key, &seats), meter::item_size(&item));
    }

    #[test]
    fn a_ledger_shard_reads_back_and_is_sized_exactly() {
        let key = keys::seat_ledger(
            &ConcertId::parse("c").unwrap(),
            ConcertDate::parse("2026-12-24").unwrap(),
            15,
        );
        let mut item = request::key_item(&key).unwrap();
        for (name, n) in [
            ("sold", 1_204),
            ("s17", 480),
            ("h1796083500", 3),
            ("w17_1796083520", -2),
        ] {
            item.insert(name.into(), number(n));
        }
        let ledger = ledger_from_item(&item);
        assert_eq!(ledger.sold, 1_204);
        assert_eq!(ledger.sold_by_section[&17], 480);
        assert_eq!(ledger.holds[&1_796_083_500], 3);
        assert_eq!(ledger.section_holds[&(17, 1_796_083_520)], -2);
        assert_eq!(ledger_size(&key, &ledger), meter::item_size(&item));
    }
}
