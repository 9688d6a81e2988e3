//! Concerts, their dates and seats: listing what is on sale, and loading a catalog file.

use std::collections::BTreeMap;

use serde::Deserialize;
use tokio::task::JoinSet;
use tracing::instrument;

use super::{
    ConcertList, ConcertSummary, DateAvailability, DatesOnSale, SeatChart, SeatStatus, SeatView,
    Ticketing,
};
use crate::domain::{BookingError, ConcertDate, ConcertId, QueueToken, SeatNumber, UserId, Won};
use crate::store::{CatalogItem, ConcertRecord, DateRecord, SeatRecord, StoreError};

/// Catalog writes in flight at once while loading.
const LOAD_CONCURRENCY: usize = 16;

/// A catalog file: concerts with their dates and the price of each seat.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Catalog {
    pub concerts: Vec<CatalogConcert>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogConcert {
    pub concert_id: ConcertId,
    pub title: String,
    pub dates: Vec<ConcertDate>,
    /// Seats `fromSeat..=toSeat` cost `price`; seats no tier covers do not exist.
    pub seat_prices: Vec<PriceTier>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceTier {
    pub from_seat: SeatNumber,
    pub to_seat: SeatNumber,
    pub price: Won,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatalogLoadReport {
    pub created: usize,
    pub already_present: usize,
}

impl Catalog {
    pub fn from_json(raw: &str) -> Result<Self, BookingError> {
        let catalog: Catalog =
            serde_json::from_str(raw).map_err(|e| BookingError::InvalidCatalog(e.to_string()))?;
        catalog.validate()?;
        Ok(catalog)
    }

    fn validate(&self) -> Result<(), BookingError> {
        let invalid = |why: String| Err(BookingError::InvalidCatalog(why));
        let mut ids = std::collections::HashSet::new();
        for concert in &self.concerts {
            let id = &concert.concert_id;
            if !ids.insert(id) {
                return invalid(format!("concert {id} appears twice"));
            }
            if concert.title.trim().is_empty() || concert.title.chars().count() > 200 {
                return invalid(format!("concert {id} needs a title of 1 to 200 characters"));
            }
            if concert.dates.is_empty() {
                return invalid(format!("concert {id} has no dates"));
            }
            if concert.seat_prices.is_empty() {
                return invalid(format!("concert {id} has no seat prices"));
            }
            let mut dates = concert.dates.clone();
            dates.sort();
            dates.dedup();
            if dates.len() != concert.dates.len() {
                return invalid(format!("concert {id} lists a date twice"));
            }
            concert.seat_prices()?;
        }
        Ok(())
    }
}

impl CatalogConcert {
    /// The price of each seat that exists.
    fn seat_prices(&self) -> Result<BTreeMap<SeatNumber, Won>, BookingError> {
        let mut prices = BTreeMap::new();
        for tier in &self.seat_prices {
            if tier.price == Won::ZERO {
                return Err(BookingError::InvalidCatalog(format!(
                    "concert {}: seats cost at least 1 won",
                    self.concert_id
                )));
            }
            if tier.from_seat > tier.to_seat {
                return Err(BookingError::InvalidCatalog(format!(
                    "concert {}: a price tier runs backwards",
                    self.concert_id
                )));
            }
            for seat in SeatNumber::all().filter(|s| (tier.from_seat..=tier.to_seat).contains(s)) {
                if prices.insert(seat, tier.price).is_some() {
                    return Err(BookingError::InvalidCatalog(format!(
                        "concert {}: seat {} has two prices",
                        self.concert_id,
                        seat.get()
                    )));
                }
            }
        }
        Ok(prices)
    }

    /// Its items, the concert last: it is listed only once its dates and seats exist.
    fn items(&self) -> Result<Vec<CatalogItem>, BookingError> {
        let prices = self.seat_prices()?;
        let mut items = Vec::new();
        for &date in &self.dates {
            for (&seat_number, &price) in &prices {
                items.push(CatalogItem::Seat(SeatRecord {
                    concert_id: self.concert_id.clone(),
                    date,
                    seat_number,
                    price,
                    sold: false,
                }));
            }
            items.push(CatalogItem::Date(DateRecord {
                concert_id: self.concert_id.clone(),
                date,
                remaining_seats: prices.len() as u32,
            }));
        }
        let (Some(&first_date), Some(&last_date)) =
            (self.dates.iter().min(), self.dates.iter().max())
        else {
            return Err(BookingError::InvalidCatalog(format!(
                "concert {} has no dates",
                self.concert_id
            )));
        };
        items.push(CatalogItem::Concert(ConcertRecord {
            concert_id: self.concert_id.clone(),
            title: self.title.clone(),
            first_date,
            last_date,
        }));
        Ok(items)
    }
}

impl Ticketing {
    /// Creates what is missing and leaves everything present untouched, sold seats included.
    #[instrument(skip_all, fields(concerts = catalog.concerts.len()))]
    pub async fn load_catalog(&self, catalog: &Catalog) -> Result<CatalogLoadReport, BookingError> {
        catalog.validate()?;
        let mut report = CatalogLoadReport::default();
        for concert in &catalog.concerts {
            let mut rest = concert.items()?;
            let Some(concert_item) = rest.pop() else {
                continue;
            };
            let mut writes = JoinSet::new();
            for chunk in rest.chunks(rest.len().div_ceil(LOAD_CONCURRENCY).max(1)) {
                let store = self.store.clone();
                let chunk = chunk.to_vec();
                writes.spawn(async move {
                    let mut created = 0;
                    for item in &chunk {
                        created += usize::from(store.put_catalog_item(item).await?);
                    }
                    Ok::<_, BookingError>((created, chunk.len() - created))
                });
            }
            while let Some(done) = writes.join_next().await {
                let (created, present) =
                    done.map_err(|e| StoreError::Request(format!("catalog write task: {e}")))??;
                report.created += created;
                report.already_present += present;
            }
            if self.store.put_catalog_item(&concert_item).await? {
                report.created += 1;
            } else {
                report.already_present += 1;
            }
        }
        Ok(report)
    }

    /// Concerts whose last date has not passed.
    #[instrument(skip(self))]
    pub async fn concerts_on_sale(&self) -> Result<ConcertList, BookingError> {
        let today = self.now().date();
        let mut concerts: Vec<ConcertSummary> = self
            .store
            .concerts()
            .await?
            .into_iter()
            .filter(|c| c.last_date >= today)
            .map(|c| ConcertSummary {
                concert_id: c.concert_id,
                title: c.title,
                first_date: c.first_date,
                last_date: c.last_date,
            })
            .collect();
        concerts.sort_by(|a, b| (a.first_date, &a.concert_id).cmp(&(b.first_date, &b.concert_id)));
        Ok(ConcertList { concerts })
    }

    /// Dates from today on that still have unsold seats.
    #[instrument(skip(self, token), fields(user = %user, concert = %concert))]
    pub async fn dates_on_sale(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        concert: &ConcertId,
    ) -> Result<DatesOnSale, BookingError> {
        self.admitted(user, token, concert).await?;
        let today = self.now().date();
        let mut dates: Vec<DateAvailability> = self
            .store
            .dates(concert)
            .await?
            .into_iter()
            .filter(|d| d.date >= today && d.remaining_seats > 0)
            .map(|d| DateAvailability {
                date: d.date,
                remaining_seats: d.remaining_seats,
            })
            .collect();
        dates.sort_by_key(|d| d.date);
        Ok(DatesOnSale {
            concert_id: concert.clone(),
            dates,
        })
    }

    /// Every seat of the date, as it stands now: an ended hold reads AVAILABLE even while its
    /// item still exists.
    #[instrument(skip(self, token), fields(user = %user, concert = %concert, date = %date))]
    pub async fn seat_chart(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<SeatChart, BookingError> {
        self.admitted(user, token, concert).await?;
        let now = self.now().epoch_seconds();
        let map = self.store.seat_map(concert, date).await?;
        if map.seats.is_empty() {
            return Err(BookingError::DateNotFound);
        }
        let held: Vec<SeatNumber> = map
            .holds
            .iter()
            .filter(|h| h.expires_at > now)
            .map(|h| h.seat_number)
            .collect();
        let mut seats: Vec<SeatView> = map
            .seats
            .iter()
            .map(|s| SeatView {
                seat_number: s.seat_number,
                price: s.price,
                status: if s.sold {
                    SeatStatus::Sold
                } else if held.contains(&s.seat_number) {
                    SeatStatus::Held
                } else {
                    SeatStatus::Available
                },
            })
            .collect();
        seats.sort_by_key(|s| s.seat_number);
        Ok(SeatChart {
            concert_id: concert.clone(),
            date,
            seats,
        })
    }
}
