use async_trait::async_trait;

use super::*;

#[async_trait]
impl CatalogStore for MemoryStore {
    async fn put_concert(&self, concert: &ConcertRecord) -> Result<bool, StoreError> {
        within_limits(dynamo::meter_put_concert(concert))?;
        let mut t = self.tables();
        if t.concerts.contains_key(&concert.concert_id) {
            return Ok(false);
        }
        t.concerts
            .insert(concert.concert_id.clone(), concert.clone());
        t.listings.insert(
            (concert.last_date, concert.concert_id.clone()),
            ConcertListingRecord::of(concert),
        );
        Ok(true)
    }

    async fn listed_concerts(
        &self,
        from: ConcertDate,
    ) -> Result<Vec<ConcertListingRecord>, StoreError> {
        // As the DynamoDB Query reads them: by last date, from `from` on, at most the bound.
        Ok(self
            .tables()
            .listings
            .iter()
            .skip_while(|((last_date, _), _)| *last_date < from)
            .take(MAX_LISTED_CONCERTS)
            .map(|(_, listing)| listing.clone())
            .collect())
    }

    async fn concert(&self, concert: &ConcertId) -> Result<Option<ConcertRecord>, StoreError> {
        Ok(self.tables().concerts.get(concert).cloned())
    }

    async fn mark_sold_out(&self, concert: &ConcertRecord) -> Result<(), StoreError> {
        let mut t = self.tables();
        let listing = (concert.last_date, concert.concert_id.clone());
        // Both or neither, as the DynamoDB transaction's conditions decide.
        if !t.concerts.contains_key(&concert.concert_id) || !t.listings.contains_key(&listing) {
            return Ok(());
        }
        if let Some(c) = t.concerts.get_mut(&concert.concert_id) {
            c.sold_out = true;
        }
        if let Some(l) = t.listings.get_mut(&listing) {
            l.sold_out = true;
        }
        Ok(())
    }

    async fn seat_blocks(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        blocks: &[SeatNumber],
    ) -> Result<DateSeatsRecord, StoreError> {
        let t = self.tables();
        let mut seats = DateSeatsRecord::default();
        for block in blocks {
            if let Some(found) = t.seats.get(&(concert.clone(), date, *block)) {
                seats.merge(found.clone());
            }
        }
        Ok(seats)
    }

    async fn seat_ledgers(
        &self,
        concert: &ConcertId,
        shards: &[(ConcertDate, u32)],
    ) -> Result<Vec<(ConcertDate, u32, SeatLedgerRecord)>, StoreError> {
        let t = self.tables();
        Ok(shards
            .iter()
            .map(|&(d, shard)| {
                let ledger = t.ledgers.get(&(concert.clone(), d, shard));
                (d, shard, ledger.cloned().unwrap_or_default())
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
        if let Some(ledger) = self
            .tables()
            .ledgers
            .get_mut(&(concert.clone(), date, shard))
        {
            ledger.forget(stale);
        }
        Ok(())
    }
}
