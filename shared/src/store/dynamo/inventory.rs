//! The whole table read back for an audit: tests run the invariants over it after chaos. No
//! request path scans.

use std::collections::BTreeMap;

use super::catalog::{ledger_from_item, seats_from_item};
use super::request::{from_item, partition_key, request_error, sort_key};
use super::*;

impl DynamoStore {
    /// Every concert, date's seats, reservation, payment, balance and entry in the table.
    pub async fn inventory(&self) -> Result<Inventory, StoreError> {
        let mut inventory = Inventory::default();
        let mut dates: BTreeMap<(ConcertId, ConcertDate), DateSeatsRecord> = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(request_error)?;
            for item in page.items.unwrap_or_default() {
                let (pk, sk) = (partition_key(&item).to_owned(), sort_key(&item).to_owned());
                let user = pk.strip_prefix("USER#").map(UserId::parse).transpose();
                if pk == keys::CONCERTS_PK && sk.starts_with(keys::LISTED_PREFIX) {
                    inventory.listings.push(from_item(item)?);
                } else if pk.starts_with("CONCERT#") && sk == keys::CONCERT_SK {
                    inventory.concerts.push(from_item(item)?);
                } else if let Some((concert, date, _)) = date_key(&pk, keys::SEATS_PREFIX) {
                    dates
                        .entry((concert, date))
                        .or_default()
                        .merge(seats_from_item(&item));
                } else if let Some((concert, date, shard)) = date_key(&pk, keys::LEDGER_PREFIX) {
                    inventory
                        .ledgers
                        .push((concert, date, shard, ledger_from_item(&item)));
                } else if let Ok(Some(user)) = user {
                    if sk.starts_with(keys::RESERVATION_PREFIX) {
                        inventory.reservations.push(from_item(item)?);
                    } else if sk.starts_with("PAYMENT#") {
                        inventory.payments.push(from_item(item)?);
                    } else if sk == "BALANCE" {
                        inventory.balances.push((user, from_item(item)?));
                    } else if sk.starts_with(keys::ENTRY_PREFIX) {
                        inventory.entries.push((user, from_item(item)?));
                    }
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                inventory.seats = dates.into_iter().map(|((c, d), s)| (c, d, s)).collect();
                return Ok(inventory);
            }
        }
    }
}

/// `{prefix}{concert}#{date}#{n}`, read back.
fn date_key(pk: &str, prefix: &str) -> Option<(ConcertId, ConcertDate, u32)> {
    let mut parts = pk.strip_prefix(prefix)?.split('#');
    let (concert, date, n) = (parts.next()?, parts.next()?, parts.next()?);
    Some((
        ConcertId::parse(concert).ok()?,
        ConcertDate::parse(date).ok()?,
        n.parse().ok()?,
    ))
}
