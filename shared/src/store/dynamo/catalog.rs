//! Concerts, the blocks of a date's seats (which are held, until when, and sold), and the
//! date's ledger (the counts the admission tick reads instead of the blocks).
//!
//! A concert is two items, written in one transaction and changed only together (`sold_out`):
//! its record (dates, sections, prices: up to about 24 KB at the catalog's maxima), alone in its
//! partition and read by id with GetItem; and its listing (what `GET /concerts` shows, a few
//! hundred bytes), in the one listing partition, sorted by the concert's last date. Every
//! container lists once a second (`booking::cache`), eventually consistent, with one Query from
//! today's date on: a concert whose last date is past is never read again, however long the
//! history, and the read costs what the concerts on sale weigh, not their records (at 100 on
//! sale, about 30 KB: 4 units). What stays shared is that one partition, read by every
//! `list-concerts` container once a second: its 3,000 units a second serve about 750 such
//! containers at 100 concerts on sale. Why not keep the records in the listing partition and
//! filter: a filter is applied after the read, and charged for it. Why not one partition per
//! day of the last date: the listing would be one Query a day still on sale.
//!
//! Blocks and ledger shards spread their counts over top-level attributes, so that a hold's
//! condition names one seat and a count is one `ADD`:
//! - a block: `h7` for seat 7's hold (its end), `s7` for its sale (the admission batch);
//! - a ledger shard: `sold`, `s{section}` (seats sold), `h{until}` (seats held until then),
//!   `w{section}_{minute end}` (the same per section, by minute), `b{batch}` (orders sold to
//!   tokens of that admission batch).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::keys::{self, Key};
use super::meter::{self, DynamoRequest, Operation};
use super::request::{
    from_item, number_attribute, partition_key, record_item, value, Change, Item, Transaction,
};
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
        let record = keys::concert(&concert.concert_id);
        let listing = keys::concert_listing(&concert.concert_id, concert.last_date);
        let items = vec![
            self.put(
                record_item(&record, concert)?,
                Some("attribute_not_exists(pk)"),
                Vec::new(),
            )?,
            // Unconditioned: a listing exists only beside its record, and the record is absent.
            self.put(
                record_item(&listing, &ConcertListingRecord::of(concert))?,
                None,
                Vec::new(),
            )?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(true),
            found if found.failed_at(0) => Ok(false),
            Transaction::Cancelled(codes) => Err(StoreError::Request(format!(
                "put_concert cancelled [{}]",
                codes.join(", ")
            ))),
        }
    }

    async fn listed_concerts(
        &self,
        from: ConcertDate,
    ) -> Result<Vec<ConcertListingRecord>, StoreError> {
        // Eventually consistent: the listing is a second stale anyway (`booking::cache`), and
        // half the units. Nothing but listings lives in the partition, so `>=` reads only the
        // concerts not yet over.
        let items = self
            .query_read(
                LISTING_QUERY,
                vec![
                    (":pk", value(keys::CONCERTS_PK)?),
                    (":from", value(keys::listed_from(from))?),
                ],
                true,
                Some(MAX_LISTED_CONCERTS),
                false,
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn concert(&self, concert: &ConcertId) -> Result<Option<ConcertRecord>, StoreError> {
        self.get(&keys::concert(concert), true).await
    }

    async fn mark_sold_out(&self, concert: &ConcertRecord) -> Result<(), StoreError> {
        let sold_out = |key: &Key| {
            let change = Change::new("SET #sold_out = :yes")
                .when("attribute_exists(pk)")
                .value(":yes", true)?;
            self.update(key, change)
        };
        let items = vec![
            sold_out(&keys::concert(&concert.concert_id))?,
            sold_out(&keys::concert_listing(
                &concert.concert_id,
                concert.last_date,
            ))?,
        ];
        // Cancelled only by a failed condition: the concert does not exist, nothing to mark.
        self.transact(items).await.map(|_| ())
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

/// The key condition of the listing's Query.
const LISTING_QUERY: &str = "#pk = :pk AND #sk >= :from";

/// The concert's two items: its record and its listing, each with its size.
fn concert_items(concert: &ConcertRecord) -> Vec<(Key, usize)> {
    let record = keys::concert(&concert.concert_id);
    let listing = keys::concert_listing(&concert.concert_id, concert.last_date);
    let listing_size = meter::sized(&listing, &ConcertListingRecord::of(concert));
    vec![
        (record.clone(), meter::sized(&record, concert)),
        (listing, listing_size),
    ]
}

pub(in crate::store) fn meter_put_concert(concert: &ConcertRecord) -> Vec<DynamoRequest> {
    vec![meter::transact(concert_items(concert))]
}

/// `found` are the listings the Query read: all it returned.
pub(in crate::store) fn meter_listed_concerts(
    found: &[ConcertListingRecord],
) -> Vec<DynamoRequest> {
    meter::query_read(
        keys::CONCERTS_PK.to_owned(),
        found
            .iter()
            .map(|c| meter::sized(&keys::concert_listing(&c.concert_id, c.last_date), c)),
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

pub(in crate::store) fn meter_mark_sold_out(concert: &ConcertRecord) -> Vec<DynamoRequest> {
    vec![meter::transact(concert_items(concert))]
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

    fn concert_ending(id: &str, last_date: &str) -> ConcertRecord {
        let date = ConcertDate::parse(last_date).unwrap();
        ConcertRecord {
            concert_id: ConcertId::parse(id).unwrap(),
            title: "Encore \u{1D11E}".into(),
            first_date: date,
            last_date: date,
            dates: vec![date],
            sections: Vec::new(),
            queue_opens_at: Some(1_796_083_200),
            sale_opens_at: None,
            sold_out: false,
            max_tickets_per_fan: crate::domain::TicketLimit::default(),
        }
    }

    #[test]
    fn the_listing_query_starts_at_the_days_first_concert_and_skips_every_earlier_one() {
        let from = keys::listed_from(ConcertDate::parse("2026-12-07").unwrap());
        // Ids sort below and above the separator, and as long as an id may be.
        for id in ["a", "a-b", "0", "z_z", &"z".repeat(64)] {
            for (last_date, read) in [
                ("2026-12-06", false),
                ("2026-12-07", true),
                ("2026-12-08", true),
                ("2027-01-01", true),
                ("2025-12-31", false),
            ] {
                let key = keys::concert_listing(
                    &ConcertId::parse(id).unwrap(),
                    ConcertDate::parse(last_date).unwrap(),
                );
                assert_eq!(key.pk, keys::CONCERTS_PK);
                assert_eq!(key.sk >= from, read, "{id} ending {last_date}");
            }
        }
        // A record lives apart, never in the listing's partition.
        assert_ne!(
            keys::concert(&ConcertId::parse("a").unwrap()).pk,
            keys::CONCERTS_PK
        );
    }

    #[test]
    fn a_concert_is_written_and_marked_as_its_record_and_its_listing_in_one_transaction() {
        let concert = concert_ending("encore", "2026-12-28");
        let listing = ConcertListingRecord::of(&concert);
        let record_key = keys::concert(&concert.concert_id);
        let listing_key = keys::concert_listing(&concert.concert_id, concert.last_date);
        for requests in [meter_put_concert(&concert), meter_mark_sold_out(&concert)] {
            assert_eq!(requests.len(), 1);
            assert_eq!(requests[0].operation, Operation::TransactWriteItems);
            let items: Vec<(&str, Option<&str>, usize)> = requests[0]
                .items
                .iter()
                .map(|i| (i.pk.as_str(), i.sk.as_deref(), i.bytes))
                .collect();
            assert_eq!(
                items,
                [
                    (
                        record_key.pk.as_str(),
                        Some(record_key.sk.as_str()),
                        meter::item_size(&request::record_item(&record_key, &concert).unwrap())
                    ),
                    (
                        listing_key.pk.as_str(),
                        Some(listing_key.sk.as_str()),
                        meter::item_size(&request::record_item(&listing_key, &listing).unwrap())
                    ),
                ]
            );
        }
        // The listing reads its items by their size, at half the units (eventually consistent).
        let read = meter_listed_concerts(&[listing.clone(), listing]);
        assert_eq!(read.len(), 1);
        assert!(!read[0].consistent);
        assert_eq!(
            read[0].items[0].bytes,
            2 * meter::item_size(
                &request::record_item(&listing_key, &ConcertListingRecord::of(&concert)).unwrap()
            )
        );
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
