//! Concerts, their dates and seats: loading a catalog, listing what is on sale, and a date's
//! seat chart.

use std::collections::BTreeMap;

use serde::Deserialize;
use tracing::instrument;

use super::{
    ConcertList, ConcertSummary, DateAvailability, DatesOnSale, SeatChart, SeatStatus, SeatView,
    Ticketing,
};
use crate::domain::{
    BookingError, ConcertDate, ConcertId, QueueToken, SeatNumber, TicketLimit, Timestamp, UserId,
    Won,
};
use crate::store::{ConcertRecord, SeatPriceRange};

/// A catalog file: concerts with their dates, the price of each seat, and when their queue and
/// sale open.
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
    /// Joining before this is refused. Absent or null: the queue is open.
    #[serde(default)]
    pub queue_opens_at: Option<String>,
    /// Joins before this wait in the pre-queue, drawn by lottery at this moment. Absent or
    /// null: the sale is open.
    #[serde(default)]
    pub sale_opens_at: Option<String>,
    /// Seats one fan may hold and buy of this concert, 1 to 10. Absent: 4.
    #[serde(default)]
    pub max_tickets_per_fan: TicketLimit,
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
    /// Parses and validates a catalog: any bad concert refuses the whole file.
    pub fn from_json(raw: &str) -> Result<Self, BookingError> {
        let catalog: Catalog =
            serde_json::from_str(raw).map_err(|e| BookingError::InvalidCatalog(e.to_string()))?;
        catalog.records()?;
        Ok(catalog)
    }

    /// The concerts as stored, each validated.
    pub fn records(&self) -> Result<Vec<ConcertRecord>, BookingError> {
        let mut ids = std::collections::HashSet::new();
        let mut records = Vec::new();
        for concert in &self.concerts {
            if !ids.insert(&concert.concert_id) {
                return Err(BookingError::InvalidCatalog(format!(
                    "concert {} appears twice",
                    concert.concert_id
                )));
            }
            records.push(concert.record()?);
        }
        Ok(records)
    }
}

impl CatalogConcert {
    /// The concert as stored: its dates in order, its prices, its opening times.
    pub fn record(&self) -> Result<ConcertRecord, BookingError> {
        let id = &self.concert_id;
        let invalid =
            |why: String| Err(BookingError::InvalidCatalog(format!("concert {id}: {why}")));
        if self.title.trim().is_empty() || self.title.chars().count() > 200 {
            return invalid("the title must be 1 to 200 characters".into());
        }
        let mut dates = self.dates.clone();
        dates.sort();
        dates.dedup();
        if dates.len() != self.dates.len() {
            return invalid("a date appears twice".into());
        }
        let (Some(&first_date), Some(&last_date)) = (dates.first(), dates.last()) else {
            return invalid("it has no dates".into());
        };
        if self.seat_prices.is_empty() {
            return invalid("it has no seat prices".into());
        }
        let time = |field: &str, raw: &Option<String>| -> Result<Option<i64>, BookingError> {
            raw.as_deref()
                .map(|raw| {
                    serde_json::from_value::<Timestamp>(serde_json::Value::String(raw.into()))
                        .map(Timestamp::epoch_seconds)
                        .map_err(|_| {
                            BookingError::InvalidCatalog(format!(
                                "concert {id}: {field} must be an RFC 3339 time, got {raw:?}"
                            ))
                        })
                })
                .transpose()
        };
        let queue_opens_at = time("queueOpensAt", &self.queue_opens_at)?;
        let sale_opens_at = time("saleOpensAt", &self.sale_opens_at)?;
        if let (Some(queue), Some(sale)) = (queue_opens_at, sale_opens_at) {
            if queue > sale {
                return invalid("queueOpensAt must not be after saleOpensAt".into());
            }
        }
        Ok(ConcertRecord {
            concert_id: id.clone(),
            title: self.title.clone(),
            first_date,
            last_date,
            dates,
            seat_prices: self.seat_ranges()?,
            queue_opens_at,
            sale_opens_at,
            sold_out: false,
            max_tickets_per_fan: self.max_tickets_per_fan,
        })
    }

    /// The price tiers, each seat priced once.
    fn seat_ranges(&self) -> Result<Vec<SeatPriceRange>, BookingError> {
        let invalid = |why: String| {
            Err(BookingError::InvalidCatalog(format!(
                "concert {}: {why}",
                self.concert_id
            )))
        };
        let mut priced = BTreeMap::new();
        for tier in &self.seat_prices {
            if tier.price == Won::ZERO {
                return invalid("seats cost at least 1 won".into());
            }
            if tier.from_seat > tier.to_seat {
                return invalid("a price tier runs backwards".into());
            }
            for seat in SeatNumber::all().filter(|s| (tier.from_seat..=tier.to_seat).contains(s)) {
                if priced.insert(seat, tier.price).is_some() {
                    return invalid(format!("seat {} has two prices", seat.get()));
                }
            }
        }
        Ok(self
            .seat_prices
            .iter()
            .map(|t| SeatPriceRange {
                from_seat: t.from_seat,
                to_seat: t.to_seat,
                price: t.price,
            })
            .collect())
    }
}

impl Ticketing {
    /// Creates the concerts that are missing and leaves every one present untouched: a concert
    /// is one item, written only if absent, so loading twice changes nothing. Every concert is
    /// checked before any is written.
    #[instrument(skip_all, fields(concerts = catalog.concerts.len()))]
    pub async fn load_catalog(&self, catalog: &Catalog) -> Result<CatalogLoadReport, BookingError> {
        let records = catalog.records()?;
        let mut report = CatalogLoadReport::default();
        for record in &records {
            if self.store.put_concert(record).await? {
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
        let now = self.now();
        let today = now.date();
        let list = self
            .cache
            .concert_list(&*self.store, now.epoch_seconds())
            .await?;
        let mut concerts: Vec<ConcertSummary> = list
            .iter()
            .filter(|c| c.last_date >= today)
            .map(ConcertSummary::of)
            .collect();
        concerts.sort_by(|a, b| (a.first_date, &a.concert_id).cmp(&(b.first_date, &b.concert_id)));
        Ok(ConcertList { concerts })
    }

    /// Dates from today on that still have unsold seats, as of the last admission tick: the
    /// crowd's listings read the tick's cached summary, never every date's seats.
    #[instrument(skip(self, token), fields(user = %user, concert = %concert))]
    pub async fn dates_on_sale(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        concert: &ConcertId,
    ) -> Result<DatesOnSale, BookingError> {
        let token = token.ok_or(BookingError::QueueTokenRequired)?;
        let now = self.now();
        let (ticket, record, state) = tokio::join!(
            self.store.ticket(user, token.concert()),
            self.cache.concert(&*self.store, concert),
            self.cached_state(concert, now.epoch_seconds()),
        );
        self.check_admission(ticket?, token, concert).await?;
        let record = record?.ok_or(BookingError::ConcertNotFound)?;
        let state = state?;
        let today = now.date();
        let seats = record.seat_count();
        let dates = record
            .dates
            .iter()
            .filter(|d| **d >= today)
            .map(|d| DateAvailability {
                date: *d,
                remaining_seats: state
                    .as_ref()
                    .and_then(|s| s.dates.iter().find(|x| x.date == *d))
                    .map_or(seats, |x| x.unsold),
            })
            .filter(|d| d.remaining_seats > 0)
            .collect();
        Ok(DatesOnSale {
            concert_id: concert.clone(),
            dates,
        })
    }

    /// Every seat of the date, as it stands now: an ended hold reads AVAILABLE even while its
    /// mark is still stored.
    #[instrument(skip(self, token), fields(user = %user, concert = %concert, date = %date))]
    pub async fn seat_chart(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<SeatChart, BookingError> {
        let token = token.ok_or(BookingError::QueueTokenRequired)?;
        let record = self
            .seat_gate(user, token, concert)
            .await?
            .ok_or(BookingError::ConcertNotFound)?;
        if !record.has_date(date) {
            return Err(BookingError::DateNotFound);
        }
        let taken = self.store.date_seats(concert, date).await?;
        let now = self.now().epoch_seconds();
        let seats = record
            .seats()
            .map(|(seat_number, price)| SeatView {
                seat_number,
                price,
                status: if taken.is_sold(seat_number) {
                    SeatStatus::Sold
                } else if taken.is_held(seat_number, now) {
                    SeatStatus::Held
                } else {
                    SeatStatus::Available
                },
            })
            .collect();
        Ok(SeatChart {
            concert_id: concert.clone(),
            date,
            seats,
        })
    }
}
