//! Concerts, their dates and seats: loading a catalog, listing what is on sale, a date's
//! sections and its seat chart (the whole date for a hall, one section at a time for a venue
//! of more than `LIST_WHOLE_DATE_UP_TO` seats), a page at a time.
//!
//! A catalog is held to maxima (`MAX_DATES`, `MAX_SECTIONS`, `MAX_SEATS_PER_DATE`) that keep
//! every item the service stores for a concert under half of DynamoDB's 400 KB (the queue
//! state, a count per section per date, is the one that grows: see `MAX_DATES`); a listing page
//! of at most `SEAT_PAGE_LIMIT` seats keeps every answer far under Lambda's 6 MB.

use std::collections::BTreeSet;

use serde::Deserialize;
use tracing::instrument;

use super::{
    ConcertList, ConcertSummary, DateAvailability, DatesOnSale, PageLimit, SeatChart, SeatStatus,
    SeatView, SectionMap, SectionView, Ticketing,
};
use crate::domain::{
    BookingError, ConcertDate, ConcertId, QueueToken, SeatNumber, TicketLimit, Timestamp, UserId,
    Won, MAX_SEATS_PER_DATE,
};
use crate::store::{
    ConcertRecord, DateSeatsRecord, SectionRecord, MAX_DATES, MAX_SEATS_PER_SECTION, MAX_SECTIONS,
};

/// A date of at most this many seats is listed whole; a larger one, a section at a time.
pub const LIST_WHOLE_DATE_UP_TO: u32 = 1_000;

/// A page of a seat listing has at most this many seats (and this many when `limit` is not
/// given): at most about 136 KB of JSON (64-character section names), and ten blocks of
/// `BLOCK_SEATS` read in one `BatchGetItem` when the page starts at a block, as every page from
/// the first does. A section of the most seats (`MAX_SEATS_PER_SECTION`) is a hundred pages.
pub const SEAT_PAGE_LIMIT: usize = 1_000;

/// Which page of a seat listing: at most `limit` seats, from `cursor` on (from the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatPage {
    pub limit: PageLimit,
    pub cursor: Option<SeatCursor>,
}

impl SeatPage {
    /// The first page, as large as a page may be.
    pub const FIRST: SeatPage = SeatPage {
        limit: PageLimit(SEAT_PAGE_LIMIT),
        cursor: None,
    };
}

/// Where the next page of a seat listing starts: opaque to clients, the first seat not yet
/// listed here. A cursor outside the seats listed is refused when the listing is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatCursor(SeatNumber);

impl SeatCursor {
    pub fn parse(raw: &str) -> Result<Self, BookingError> {
        let canonical = !raw.starts_with('0') && raw.bytes().all(|b| b.is_ascii_digit());
        raw.parse::<i64>()
            .ok()
            .filter(|_| canonical)
            .and_then(|n| SeatNumber::parse(n).ok())
            .map(Self)
            .ok_or(BookingError::InvalidCursor)
    }
}

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
    /// Seats `fromSeat..=toSeat` cost `price`: a hall's seats, each tier a section without a
    /// name. Exactly one of `seatPrices` and `sections`.
    #[serde(default)]
    pub seat_prices: Option<Vec<PriceTier>>,
    /// A venue's named sections, each a range of seats at one price.
    #[serde(default)]
    pub sections: Option<Vec<CatalogSection>>,
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

/// Seat numbers are read as plain integers and checked by `CatalogConcert::record`, so that a
/// refusal names the field and the limit (`sections[3].toSeat: at most 100000 seats a date`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceTier {
    pub from_seat: i64,
    pub to_seat: i64,
    pub price: Won,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogSection {
    pub section: String,
    pub from_seat: i64,
    pub to_seat: i64,
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
        if let Some(c) = crate::domain::hidden_character(&self.title) {
            return invalid(format!(
                "the title holds U+{:04X}, a control or invisible character",
                u32::from(c)
            ));
        }
        let mut dates = self.dates.clone();
        dates.sort();
        dates.dedup();
        if dates.len() != self.dates.len() {
            return invalid("a date appears twice".into());
        }
        if dates.len() > MAX_DATES {
            return invalid(format!(
                "dates: at most {MAX_DATES} dates a concert, got {}",
                dates.len()
            ));
        }
        let (Some(&first_date), Some(&last_date)) = (dates.first(), dates.last()) else {
            return invalid("it has no dates".into());
        };
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
            sections: self.sections()?,
            queue_opens_at,
            sale_opens_at,
            sold_out: false,
            max_tickets_per_fan: self.max_tickets_per_fan,
        })
    }

    /// The seats as sections: from either form, in seat order, numbered from 1 with no gaps.
    fn sections(&self) -> Result<Vec<SectionRecord>, BookingError> {
        let refused = |why: String| {
            BookingError::InvalidCatalog(format!("concert {}: {why}", self.concert_id))
        };
        let invalid = |why: String| Err(refused(why));
        // Each row: its name (none for a price tier), its first and last seat, its price.
        type Row<'a> = (Option<&'a str>, i64, i64, Won);
        let (field, rows): (&str, Vec<Row>) = match (&self.seat_prices, &self.sections) {
            (Some(tiers), None) => (
                "seatPrices",
                tiers
                    .iter()
                    .map(|t| (None, t.from_seat, t.to_seat, t.price))
                    .collect(),
            ),
            (None, Some(named)) => (
                "sections",
                named
                    .iter()
                    .map(|s| (Some(s.section.trim()), s.from_seat, s.to_seat, s.price))
                    .collect(),
            ),
            (Some(_), Some(_)) => return invalid("give seatPrices or sections, not both".into()),
            (None, None) => return invalid("it has no seats: give seatPrices or sections".into()),
        };
        if rows.is_empty() {
            return invalid(format!("{field} is empty"));
        }
        if rows.len() > MAX_SECTIONS {
            return invalid(format!(
                "{field}: at most {MAX_SECTIONS} sections a concert, got {}",
                rows.len()
            ));
        }
        let mut names = BTreeSet::new();
        let mut sections = Vec::with_capacity(rows.len());
        for (i, (name, from, to, price)) in rows.into_iter().enumerate() {
            let seat = |end: &str, n: i64| {
                if n > i64::from(MAX_SEATS_PER_DATE) {
                    return Err(refused(format!(
                        "{field}[{i}].{end}: at most {MAX_SEATS_PER_DATE} seats a date, got {n}"
                    )));
                }
                SeatNumber::parse(n).map_err(|_| {
                    refused(format!(
                        "{field}[{i}].{end}: seats are numbered from 1, got {n}"
                    ))
                })
            };
            let (from_seat, to_seat) = (seat("fromSeat", from)?, seat("toSeat", to)?);
            if price == Won::ZERO {
                return invalid(format!("{field}[{i}].price: seats cost at least 1 won"));
            }
            if price.get() > crate::domain::MAX_SEAT_PRICE {
                return invalid(format!(
                    "{field}[{i}].price: a seat costs at most {} won",
                    crate::domain::MAX_SEAT_PRICE
                ));
            }
            if from_seat > to_seat {
                return invalid(format!("{field}[{i}]: fromSeat is after toSeat"));
            }
            let section = SectionRecord {
                name: name.map(str::to_owned),
                from_seat,
                to_seat,
                price,
            };
            if section.seat_count() > MAX_SEATS_PER_SECTION {
                return invalid(format!(
                    "{field}[{i}]: at most {MAX_SEATS_PER_SECTION} seats a section, got {}",
                    section.seat_count()
                ));
            }
            if let Some(name) = &section.name {
                if name.is_empty() || name.chars().count() > 64 {
                    return invalid(format!("{field}[{i}].section must be 1 to 64 characters"));
                }
                if let Some(c) = crate::domain::hidden_character(name) {
                    return invalid(format!(
                        "{field}[{i}].section holds U+{:04X}, a control or invisible character",
                        u32::from(c)
                    ));
                }
                if !names.insert(name.clone()) {
                    return invalid(format!("{field}[{i}].section {name:?} appears twice"));
                }
            }
            sections.push(section);
        }
        sections.sort_by_key(|s| s.from_seat);
        let mut next = 1;
        for section in &sections {
            if section.from_seat.get() != next {
                let why = if section.from_seat.get() < next {
                    format!("seat {} is in two ranges", section.from_seat.get())
                } else {
                    format!(
                        "seats {next} to {} are missing",
                        section.from_seat.get() - 1
                    )
                };
                return invalid(format!(
                    "{field}: seats run from 1 to the capacity with no gaps, but {why}"
                ));
            }
            next = section.to_seat.get() + 1;
        }
        // A larger date is listed a section at a time, by name.
        if field == "seatPrices" && next - 1 > LIST_WHOLE_DATE_UP_TO {
            return invalid(format!(
                "seatPrices covers {} seats; a date of more than {LIST_WHOLE_DATE_UP_TO} seats \
                 names its sections (give sections instead)",
                next - 1
            ));
        }
        Ok(sections)
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
            self.cache.concert_added(&record.concert_id);
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
            .concert_list(&*self.store, now.epoch_seconds(), today)
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
        let ticket = self.check_admission(ticket?, token, concert).await?;
        self.keep_ticket_slot(user, token, &ticket).await;
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

    /// The first page of the date's seats, as they stand now, for a date of at most
    /// `LIST_WHOLE_DATE_UP_TO` seats (a larger one is listed a section at a time).
    #[instrument(skip(self, token), fields(user = %user, concert = %concert, date = %date))]
    pub async fn seat_chart(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<SeatChart, BookingError> {
        self.seat_listing(user, token, concert, date, None, SeatPage::FIRST)
            .await
    }

    /// The first page of one section's seats of the date, as they stand now.
    #[instrument(skip(self, token), fields(user = %user, concert = %concert, date = %date))]
    pub async fn section_chart(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        concert: &ConcertId,
        date: ConcertDate,
        section: &str,
    ) -> Result<SeatChart, BookingError> {
        self.seat_listing(user, token, concert, date, Some(section), SeatPage::FIRST)
            .await
    }

    /// One page of the seats of the date, or of one of its sections, as they stand now: an
    /// ended hold reads AVAILABLE even while its mark is still stored. Only the blocks the page
    /// shows are read.
    #[instrument(skip(self, token, page), fields(user = %user, concert = %concert, date = %date))]
    pub async fn seat_listing(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        concert: &ConcertId,
        date: ConcertDate,
        section: Option<&str>,
        page: SeatPage,
    ) -> Result<SeatChart, BookingError> {
        let token = token.ok_or(BookingError::QueueTokenRequired)?;
        let record = self
            .seat_gate(user, token, concert)
            .await?
            .ok_or(BookingError::ConcertNotFound)?;
        if !record.has_date(date) {
            return Err(BookingError::DateNotFound);
        }
        let listed: Vec<&SectionRecord> = match section {
            Some(name) => vec![
                record
                    .section_named(name)
                    .ok_or(BookingError::SectionNotFound)?
                    .1,
            ],
            None if record.seat_count() <= LIST_WHOLE_DATE_UP_TO => {
                record.sections.iter().collect()
            }
            None => {
                return Err(BookingError::SectionRequired(
                    record
                        .sections
                        .iter()
                        .filter_map(|s| s.name.clone())
                        .collect(),
                ))
            }
        };
        // The listed seats are one run (a section, or the whole date), numbered without gaps.
        let (Some(first), Some(last)) = (listed.first(), listed.last()) else {
            return Err(BookingError::SectionNotFound);
        };
        let (first, last) = (first.from_seat, last.to_seat);
        let from = page.cursor.map_or(first, |c| c.0);
        if from < first || from > last {
            return Err(BookingError::InvalidCursor);
        }
        let to = from.get().saturating_add(page.limit.get() as u32 - 1);
        let to = SeatNumber::range(from, last)
            .take_while(|s| s.get() <= to)
            .last()
            .unwrap_or(from);
        let shown: Vec<(&SectionRecord, SeatNumber, SeatNumber)> = listed
            .iter()
            .filter(|s| s.from_seat <= to && s.to_seat >= from)
            .map(|s| (*s, s.from_seat.max(from), s.to_seat.min(to)))
            .collect();
        let blocks: Vec<SeatNumber> = shown
            .iter()
            .flat_map(|(section, lo, hi)| {
                let first_block = ConcertRecord::block_of(section, *lo);
                section
                    .blocks()
                    .skip_while(move |b| *b < first_block)
                    .take_while(move |b| b <= hi)
            })
            .collect();
        let taken = self.store.seat_blocks(concert, date, &blocks).await?;
        let now = self.now().epoch_seconds();
        let seats = shown
            .iter()
            .flat_map(|(section, lo, hi)| chart_of(section, *lo, *hi, &taken, now))
            .collect();
        Ok(SeatChart {
            concert_id: concert.clone(),
            date,
            seats,
            next_cursor: (to < last).then(|| (to.get() + 1).to_string()),
        })
    }

    /// The date's sections, each with its free seats as of the last admission tick: from the
    /// tick's cached summary, like the dates listing, never from the seats.
    #[instrument(skip(self, token), fields(user = %user, concert = %concert, date = %date))]
    pub async fn date_sections(
        &self,
        user: &UserId,
        token: Option<&QueueToken>,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<SectionMap, BookingError> {
        let token = token.ok_or(BookingError::QueueTokenRequired)?;
        let now = self.now();
        let (record, state) = tokio::join!(
            self.seat_gate(user, token, concert),
            self.cached_state(concert, now.epoch_seconds()),
        );
        let record = record?.ok_or(BookingError::ConcertNotFound)?;
        if !record.has_date(date) || date < now.date() {
            return Err(BookingError::DateNotFound);
        }
        let state = state?;
        let standing = state
            .as_ref()
            .and_then(|s| s.dates.iter().find(|d| d.date == date));
        let sections = record
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| SectionView {
                section: s.name.clone(),
                from_seat: s.from_seat,
                to_seat: s.to_seat,
                price: s.price,
                free_seats: standing
                    .and_then(|d| d.sections.get(i).copied())
                    .unwrap_or_else(|| s.seat_count()),
            })
            .collect();
        Ok(SectionMap {
            concert_id: concert.clone(),
            date,
            sections,
        })
    }
}

/// Seats `from..=to` of one section as they stand at `now`.
fn chart_of<'a>(
    section: &'a SectionRecord,
    from: SeatNumber,
    to: SeatNumber,
    taken: &'a DateSeatsRecord,
    now: i64,
) -> impl Iterator<Item = SeatView> + 'a {
    SeatNumber::range(from, to).map(move |seat_number| SeatView {
        seat_number,
        section: section.name.clone(),
        price: section.price,
        status: if taken.is_sold(seat_number) {
            SeatStatus::Sold
        } else if taken.is_held(seat_number, now) {
            SeatStatus::Held
        } else {
            SeatStatus::Available
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concert(seats: &str) -> Result<Catalog, BookingError> {
        let seats = if seats.is_empty() {
            String::new()
        } else {
            format!(", {seats}")
        };
        Catalog::from_json(&format!(
            r#"{{"concerts": [{{"concertId": "c", "title": "C", "dates": ["2027-01-01"]{seats}}}]}}"#
        ))
    }

    #[test]
    fn a_title_that_hides_characters_is_refused_and_the_dearest_seat_is_taken() {
        let titled = |title: &str| {
            Catalog::from_json(&format!(
                r#"{{"concerts": [{{"concertId": "c", "title": "{title}", "dates": ["2027-01-01"],
                  "seatPrices": [{{"fromSeat": 1, "toSeat": 5, "price": 10000000}}]}}]}}"#
            ))
        };
        assert!(titled("Spring Fest 서울").is_ok());
        match titled("Spring\\u2066Fest") {
            Err(BookingError::InvalidCatalog(why)) => assert!(why.contains("U+2066"), "{why}"),
            other => panic!("accepted: {other:?}"),
        }
    }

    fn refusal(seats: &str) -> String {
        match concert(seats) {
            Err(BookingError::InvalidCatalog(why)) => why,
            other => panic!("{seats} was accepted: {other:?}"),
        }
    }

    #[test]
    fn a_stadium_is_named_sections_numbered_from_one_without_gaps() {
        let sections: Vec<String> = (0..200)
            .map(|i| {
                format!(
                    r#"{{"section": "S{i}", "fromSeat": {}, "toSeat": {}, "price": 1000}}"#,
                    i * 500 + 1,
                    (i + 1) * 500
                )
            })
            .collect();
        let catalog = concert(&format!(r#""sections": [{}]"#, sections.join(","))).unwrap();
        let record = &catalog.records().unwrap()[0];
        assert_eq!(record.seat_count(), 100_000);
        let seat = SeatNumber::parse(99_999).unwrap();
        let (index, section) = record.section_of(seat).unwrap();
        assert_eq!((index, section.name.as_deref()), (199, Some("S199")));
        assert_eq!(ConcertRecord::block_of(section, seat).get(), 99_901);
        assert_eq!(record.blocks().len(), 1_000);
        assert_eq!(record.ledger_shards(), 64);
    }

    #[test]
    fn a_bad_venue_is_refused_naming_the_field() {
        let section = |name: &str, from: u32, to: u32| {
            format!(r#"{{"section": "{name}", "fromSeat": {from}, "toSeat": {to}, "price": 1000}}"#)
        };
        for (seats, why) in [
            (String::new(), "give seatPrices or sections"),
            (
                format!(
                    r#""sections": [{}], "seatPrices": [{{"fromSeat": 1, "toSeat": 5, "price": 1}}]"#,
                    section("A", 1, 5)
                ),
                "not both",
            ),
            (r#""sections": []"#.into(), "sections is empty"),
            (
                format!(
                    r#""sections": [{}, {}]"#,
                    section("A", 1, 10),
                    section("B", 12, 20)
                ),
                "seats 11 to 11 are missing",
            ),
            (
                format!(
                    r#""sections": [{}, {}]"#,
                    section("A", 1, 10),
                    section("B", 10, 20)
                ),
                "seat 10 is in two ranges",
            ),
            (
                format!(r#""sections": [{}]"#, section("A", 2, 10)),
                "seats 1 to 1 are missing",
            ),
            (
                format!(
                    r#""sections": [{}, {}]"#,
                    section("A", 1, 10),
                    section("A", 11, 20)
                ),
                "sections[1].section \"A\" appears twice",
            ),
            (
                format!(r#""sections": [{}]"#, section(" ", 1, 10)),
                "sections[0].section must be 1 to 64 characters",
            ),
            (
                format!(r#""sections": [{}]"#, section("A", 10, 1)),
                "sections[0]: fromSeat is after toSeat",
            ),
            (
                r#""sections": [{"section": "A", "fromSeat": 1, "toSeat": 5, "price": 0}]"#.into(),
                "sections[0].price",
            ),
            (
                r#""seatPrices": [{"fromSeat": 1, "toSeat": 5, "price": 0}]"#.into(),
                "seatPrices[0].price",
            ),
            (
                r#""seatPrices": [{"fromSeat": 1, "toSeat": 5, "price": 10000001}]"#.into(),
                "seatPrices[0].price: a seat costs at most 10000000 won",
            ),
            // Looks like "Floor A", and is another section.
            (
                format!(r#""sections": [{}]"#, section("Floor\\u200bA", 1, 10)),
                "sections[0].section holds U+200B",
            ),
            (
                format!(r#""sections": [{}]"#, section("\\u202eA-1", 1, 10)),
                "sections[0].section holds U+202E",
            ),
        ] {
            let refused = refusal(&seats);
            assert!(refused.contains(why), "{seats}: {refused}");
        }
        let too_many: Vec<String> = (0..201)
            .map(|i| section(&format!("S{i}"), i + 1, i + 1))
            .collect();
        assert!(refusal(&format!(r#""sections": [{}]"#, too_many.join(",")))
            .contains("sections: at most 200 sections a concert, got 201"));
        assert!(
            refusal(r#""seatPrices": [{"fromSeat": 1, "toSeat": 1001, "price": 1}]"#)
                .contains("names its sections")
        );
        assert!(
            refusal(&format!(r#""sections": [{}]"#, section("A", 0, 10)))
                .contains("sections[0].fromSeat: seats are numbered from 1, got 0")
        );
    }

    /// A concert of `dates` dates and `sections` sections of `size` seats each.
    fn sized(dates: usize, sections: u32, size: u32) -> Result<Catalog, BookingError> {
        let dates: Vec<String> = (0..dates)
            .map(|i| format!(r#""2027-{:02}-{:02}""#, i / 28 + 1, i % 28 + 1))
            .collect();
        let sections: Vec<String> = (0..sections)
            .map(|i| {
                format!(
                    r#"{{"section": "{i:0>64}", "fromSeat": {}, "toSeat": {}, "price": 1000}}"#,
                    i * size + 1,
                    (i + 1) * size
                )
            })
            .collect();
        Catalog::from_json(&format!(
            r#"{{"concerts": [{{"concertId": "c", "title": "C", "dates": [{}], "sections": [{}]}}]}}"#,
            dates.join(","),
            sections.join(",")
        ))
    }

    fn refused(catalog: Result<Catalog, BookingError>) -> String {
        match catalog {
            Err(BookingError::InvalidCatalog(why)) => why,
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn a_concert_at_every_maximum_is_taken_and_one_over_any_is_refused_naming_it() {
        let per_section = MAX_SEATS_PER_DATE / MAX_SECTIONS as u32;
        let at_maxima = sized(MAX_DATES, MAX_SECTIONS as u32, per_section).unwrap();
        let record = &at_maxima.records().unwrap()[0];
        assert_eq!(
            (
                record.dates.len(),
                record.sections.len(),
                record.seat_count()
            ),
            (MAX_DATES, MAX_SECTIONS, MAX_SEATS_PER_DATE)
        );
        assert_eq!(
            refused(sized(MAX_DATES + 1, 1, 10)),
            "concert c: dates: at most 150 dates a concert, got 151"
        );
        assert!(refused(sized(1, MAX_SECTIONS as u32 + 1, 1))
            .ends_with("sections: at most 200 sections a concert, got 201"));
        // One section of a whole stadium is taken; a seat past it is not.
        let one_section = sized(1, 1, MAX_SEATS_PER_SECTION).unwrap();
        assert_eq!(
            one_section.records().unwrap()[0].sections[0].seat_count(),
            MAX_SEATS_PER_SECTION
        );
        assert!(refused(sized(1, 1, MAX_SEATS_PER_DATE + 1))
            .ends_with("sections[0].toSeat: at most 100000 seats a date, got 100001"));
        assert!(refused(sized(1, 2, MAX_SEATS_PER_DATE / 2 + 1))
            .ends_with("sections[1].toSeat: at most 100000 seats a date, got 100002"));
    }
}
