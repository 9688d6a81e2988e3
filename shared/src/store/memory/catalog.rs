use async_trait::async_trait;

use super::*;

#[async_trait]
impl CatalogStore for MemoryStore {
    async fn put_concert(&self, concert: &ConcertRecord) -> Result<bool, StoreError> {
        let mut t = self.tables();
        if t.concerts.contains_key(&concert.concert_id) {
            return Ok(false);
        }
        t.concerts
            .insert(concert.concert_id.clone(), concert.clone());
        Ok(true)
    }

    async fn concerts(&self) -> Result<Vec<ConcertRecord>, StoreError> {
        Ok(self.tables().concerts.values().cloned().collect())
    }

    async fn concert(&self, concert: &ConcertId) -> Result<Option<ConcertRecord>, StoreError> {
        Ok(self.tables().concerts.get(concert).cloned())
    }

    async fn mark_sold_out(&self, concert: &ConcertId) -> Result<(), StoreError> {
        if let Some(c) = self.tables().concerts.get_mut(concert) {
            c.sold_out = true;
        }
        Ok(())
    }

    async fn date_seats(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<DateSeatsRecord, StoreError> {
        Ok(self
            .tables()
            .date_seats(concert, date)
            .cloned()
            .unwrap_or_default())
    }

    async fn dates_seats(
        &self,
        concert: &ConcertId,
        dates: &[ConcertDate],
    ) -> Result<Vec<(ConcertDate, DateSeatsRecord)>, StoreError> {
        let t = self.tables();
        Ok(dates
            .iter()
            .map(|d| (*d, t.date_seats(concert, *d).cloned().unwrap_or_default()))
            .collect())
    }
}
