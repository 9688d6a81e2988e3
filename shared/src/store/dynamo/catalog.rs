//! Concerts, and the one item per date that says which seats are held (until when) and sold (to
//! which admission batch). A date's seats item spreads its seats over top-level attributes,
//! `h07` for seat 7's hold and `s07` for its sale, so that a hold's condition names one seat.

use async_trait::async_trait;

use super::keys::{self, Key};
use super::meter::{self, DynamoRequest, Operation};
use super::request::{from_item, number_attribute, partition_key, value, Change, Item};
use super::size;
use super::*;
use crate::domain::SeatNumber;

pub(super) fn hold_attribute(seat: SeatNumber) -> String {
    format!("h{:02}", seat.get())
}

pub(super) fn sold_attribute(seat: SeatNumber) -> String {
    format!("s{:02}", seat.get())
}

/// Reads the per-seat attributes back.
pub(super) fn seats_from_item(item: &Item) -> DateSeatsRecord {
    let mut seats = DateSeatsRecord::default();
    for name in item.keys() {
        let (kind, number) = name.split_at(1.min(name.len()));
        let Some(seat) = number
            .parse::<i64>()
            .ok()
            .filter(|_| number.len() == 2)
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

#[async_trait]
impl CatalogStore for DynamoStore {
    async fn put_concert(&self, concert: &ConcertRecord) -> Result<bool, StoreError> {
        self.put_absent(&keys::concert(&concert.concert_id), concert)
            .await
    }

    async fn concerts(&self) -> Result<Vec<ConcertRecord>, StoreError> {
        let items = self
            .query(
                "#pk = :pk",
                vec![(":pk", value(keys::CONCERTS_PK)?)],
                true,
                None,
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

    async fn date_seats(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<DateSeatsRecord, StoreError> {
        let item = self
            .get_item(&keys::date_seats(concert, date), true)
            .await?;
        Ok(item.as_ref().map(seats_from_item).unwrap_or_default())
    }

    async fn dates_seats(
        &self,
        concert: &ConcertId,
        dates: &[ConcertDate],
    ) -> Result<Vec<(ConcertDate, DateSeatsRecord)>, StoreError> {
        let keys: Vec<Key> = dates
            .iter()
            .map(|d| keys::date_seats(concert, *d))
            .collect();
        let items = self.batch_get(&keys).await?;
        Ok(dates
            .iter()
            .zip(&keys)
            .map(|(date, key)| {
                let item = items.iter().find(|i| partition_key(i) == key.pk);
                (*date, item.map(seats_from_item).unwrap_or_default())
            })
            .collect())
    }
}

/// The size of a date's seats item.
pub(super) fn seats_size(key: &Key, seats: &DateSeatsRecord) -> usize {
    let attribute = |at: &i64| 3 + size::integer(at.unsigned_abs().into());
    "pk".len()
        + key.pk.len()
        + "sk".len()
        + key.sk.len()
        + seats.holds.values().map(attribute).sum::<usize>()
        + seats.sold.values().map(attribute).sum::<usize>()
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
    meter::query(
        keys::CONCERTS_PK.to_owned(),
        found
            .iter()
            .map(|c| meter::sized(&keys::concert(&c.concert_id), c)),
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

pub(in crate::store) fn meter_date_seats(
    concert: &ConcertId,
    date: ConcertDate,
    found: &DateSeatsRecord,
) -> Vec<DynamoRequest> {
    let key = keys::date_seats(concert, date);
    vec![meter::get(&key, seats_size(&key, found), true)]
}

pub(in crate::store) fn meter_dates_seats(
    concert: &ConcertId,
    found: &[(ConcertDate, DateSeatsRecord)],
) -> Vec<DynamoRequest> {
    meter::batch_get(
        found
            .iter()
            .map(|(date, seats)| {
                let key = keys::date_seats(concert, *date);
                let size = seats_size(&key, seats);
                (key, size)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[test]
    fn a_dates_seats_item_reads_back_and_is_sized_exactly() {
        let key = keys::date_seats(
            &ConcertId::parse("c").unwrap(),
            ConcertDate::parse("2026-12-24").unwrap(),
        );
        let mut item = request::key_item(&key).unwrap();
        item.insert("h07".into(), AttributeValue::N("1796083500".into()));
        item.insert("s12".into(), AttributeValue::N("1796083200".into()));
        let seats = seats_from_item(&item);
        assert_eq!(seats.holds[&SeatNumber::parse(7).unwrap()], 1_796_083_500);
        assert_eq!(seats.sold[&SeatNumber::parse(12).unwrap()], 1_796_083_200);
        assert_eq!(seats_size(&key, &seats), meter::item_size(&item));
    }
}
