//! The items that grow with a concert's catalog, sized as DynamoDB counts them at the catalog's
//! maxima (`MAX_DATES`, `MAX_SECTIONS` with 64-character names, `MAX_SEATS_PER_DATE`): each must
//! stay under half of DynamoDB's item limit, so that no tick and no request ever meets it. Run
//! with `--nocapture` for the figures docs/scale.md, "Limits" table quotes.

use super::catalog::block_size;
use super::keys;
use super::meter::sized;
use crate::domain::{ConcertDate, ConcertId, SeatNumber, TicketLimit, Won, MAX_SEATS_PER_DATE};
use crate::store::limits::ITEM_BYTES_LIMIT;
use crate::store::*;

const HALF_THE_LIMIT: usize = ITEM_BYTES_LIMIT / 2;

/// `n` distinct dates, in order.
fn dates(n: usize) -> Vec<ConcertDate> {
    (0..n)
        .map(|i| {
            let (month, day) = (i / 28 + 1, i % 28 + 1);
            ConcertDate::parse(&format!("2027-{month:02}-{day:02}")).expect("a calendar date")
        })
        .collect()
}

/// A concert at every maximum: its sections named with 64 characters, its prices 8 digits.
fn concert_at_the_maxima(id: &ConcertId) -> ConcertRecord {
    let per_section = MAX_SEATS_PER_DATE / MAX_SECTIONS as u32;
    let seat = |n: u32| SeatNumber::parse(i64::from(n)).expect("a seat number");
    let dates = dates(MAX_DATES);
    ConcertRecord {
        concert_id: id.clone(),
        title: "T".repeat(200),
        first_date: dates[0],
        last_date: dates[dates.len() - 1],
        sections: (0..MAX_SECTIONS as u32)
            .map(|i| SectionRecord {
                name: Some(format!("{i:0>64}")),
                from_seat: seat(i * per_section + 1),
                to_seat: seat((i + 1) * per_section),
                price: Won::new(9_999_999).expect("a price"),
            })
            .collect(),
        dates,
        queue_opens_at: Some(1_796_083_200),
        sale_opens_at: Some(1_796_083_200),
        sold_out: false,
        max_tickets_per_fan: TicketLimit::default(),
    }
}

/// The queue state the tick writes for that concert, every count at its widest: 99,999 has the
/// most significant digits a count of at most `MAX_SEATS_PER_DATE` can have, so no real state
/// of the concert is larger.
fn widest_queue_state(concert: &ConcertRecord) -> QueueStateRecord {
    let widest = 99_999;
    QueueStateRecord {
        version: u64::from(u32::MAX),
        tick_at: 1_796_083_201,
        next_tick_at: 1_796_083_211,
        counted_from: 1_796_083_199,
        counted_through: 1_796_083_209,
        known: 12_345_678_901,
        processed: 12_345_678_901,
        pre_queue: 12_345_678_901,
        cursor: None,
        // An hour of queue still to walk, a page a minute.
        pages: (0..60).map(|m| 29_934_721 + m).collect(),
        lottery: Some(LotteryRecord {
            seed: u64::MAX,
            size: 12_345_678_901,
            drawn_at: 1_796_083_199,
        }),
        admitted_total: 12_345_678_901,
        dropped_total: 12_345_678_901,
        active: widest,
        admission_rate: 1_234.567_891_234_5,
        dates: concert
            .dates
            .iter()
            .map(|date| DateStanding {
                date: *date,
                unsold: widest,
                free: widest,
                sections: vec![widest; concert.sections.len()],
            })
            .collect(),
        seats: SeatCounts {
            free: widest,
            held: widest,
            sold: widest,
        },
        sold_out: false,
        paused: false,
        admit_per_tick: widest,
        max_active: widest,
        max_holds_per_session: widest,
    }
}

#[test]
fn every_item_a_concert_at_the_maxima_grows_stays_under_half_the_item_limit() {
    let id = ConcertId::parse(&"c".repeat(64)).expect("a concert id");
    let concert = concert_at_the_maxima(&id);
    assert_eq!(concert.seat_count(), MAX_SEATS_PER_DATE);
    let concert_bytes = sized(&keys::concert(&id), &concert);
    let state = widest_queue_state(&concert);
    let state_bytes = sized(&keys::queue_state(&id), &state);
    let mut one_date_less = state.clone();
    one_date_less.dates.pop();
    let per_date = state_bytes - sized(&keys::queue_state(&id), &one_date_less);
    // A block with every seat held and sold (a lapsed hold's mark stays until it is rewritten).
    let mut full = DateSeatsRecord::default();
    for n in 99_901..=MAX_SEATS_PER_DATE {
        let seat = SeatNumber::parse(i64::from(n)).expect("a seat number");
        full.holds.insert(seat, 1_796_083_500);
        full.sold.insert(seat, 1_796_083_201);
    }
    let block = SeatNumber::parse(99_901).expect("a seat number");
    let block_key = keys::seat_block(&id, concert.dates[0], block);
    let block_bytes = block_size(&block_key, &full);
    println!(
        "at {MAX_DATES} dates of {MAX_SECTIONS} sections: concert {concert_bytes} bytes, \
         queue state {state_bytes} bytes ({per_date} a date), a full seat block \
         {block_bytes} bytes (half the item limit: {HALF_THE_LIMIT})"
    );
    for (item, bytes) in [
        ("concert", concert_bytes),
        ("queue state", state_bytes),
        ("seat block", block_bytes),
    ] {
        assert!(
            bytes < HALF_THE_LIMIT,
            "{item}: {bytes} bytes, over half of DynamoDB's {ITEM_BYTES_LIMIT}"
        );
    }
}

#[test]
fn the_listing_at_its_bound_of_the_widest_listings_is_read_in_two_pages_at_most() {
    let id = ConcertId::parse(&"c".repeat(64)).expect("a concert id");
    let mut concert = concert_at_the_maxima(&id);
    // The widest title: 200 characters of four bytes each.
    concert.title = "\u{1D11E}".repeat(200);
    concert.max_tickets_per_fan = TicketLimit::parse(10).expect("a ticket limit");
    let listing = ConcertListingRecord::of(&concert);
    let listing_bytes = sized(&keys::concert_listing(&id, concert.last_date), &listing);
    let pages = super::catalog::meter_listed_concerts(&vec![listing; MAX_LISTED_CONCERTS]);
    println!(
        "a listing at the maxima: {listing_bytes} bytes; {MAX_LISTED_CONCERTS} of them: {} \
         Query pages",
        pages.len()
    );
    assert!(listing_bytes < 1_300, "{listing_bytes} bytes");
    assert!(pages.len() <= 2, "{} pages", pages.len());
}
