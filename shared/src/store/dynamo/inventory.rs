//! The whole table read back for an audit: tests run the invariants over it after chaos. No
//! request path scans.

use super::catalog::seats_from_item;
use super::request::{from_item, partition_key, request_error, sort_key};
use super::*;

impl DynamoStore {
    /// Every concert, date's seats, reservation, payment, balance and entry in the table.
    pub async fn inventory(&self) -> Result<Inventory, StoreError> {
        let mut inventory = Inventory::default();
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
                if pk == keys::CONCERTS_PK {
                    inventory.concerts.push(from_item(item)?);
                } else if let Some(date_of) = pk.strip_prefix("SEATS#") {
                    let Some((concert, date)) = date_of.rsplit_once('#') else {
                        continue;
                    };
                    let (Ok(concert), Ok(date)) =
                        (ConcertId::parse(concert), ConcertDate::parse(date))
                    else {
                        continue;
                    };
                    inventory
                        .seats
                        .push((concert, date, seats_from_item(&item)));
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
                return Ok(inventory);
            }
        }
    }
}
