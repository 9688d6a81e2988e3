//! Concerts at the catalog's maxima (`MAX_DATES` dates of `MAX_SECTIONS` sections filling
//! `MAX_SEATS_PER_DATE` seats; one section of `MAX_SEATS_PER_SECTION`) go the whole way: the
//! ticks that count and admit them commit (their queue state is the largest item the service
//! writes), and a fan joins, is admitted, lists the sections and a section page by page, holds
//! and pays. Over any maximum, the catalog is refused naming it.

use ticketing::booking::{Catalog, SeatStatus, SEAT_PAGE_LIMIT};
use ticketing::domain::MAX_SEATS_PER_DATE;
use ticketing::store::{MAX_DATES, MAX_SEATS_PER_SECTION, MAX_SECTIONS};
use ticketing::{BookingError, Settings};

use crate::world::*;

const BIGGEST: &str = "biggest-tour";
const FIELD: &str = "one-big-field";
const PRICE: i64 = 120_000;

/// `n` dates from 2027-01-01 on, as the catalog writes them.
fn dates(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("2027-{:02}-{:02}", i / 28 + 1, i % 28 + 1))
        .collect()
}

/// A concert of `dates` dates and `sections` sections of `size` seats, named with 64
/// characters.
fn concert(id: &str, dates: &[String], sections: u32, size: u32) -> String {
    let sections: Vec<String> = (0..sections)
        .map(|i| {
            format!(
                r#"{{"section": "{:0>64}", "fromSeat": {}, "toSeat": {}, "price": {PRICE}}}"#,
                i + 1,
                i * size + 1,
                (i + 1) * size
            )
        })
        .collect();
    let dates: Vec<String> = dates.iter().map(|d| format!("{d:?}")).collect();
    format!(
        r#"{{"concerts": [{{"concertId": "{id}", "title": "At the maxima",
             "dates": [{}], "sections": [{}]}}]}}"#,
        dates.join(", "),
        sections.join(", ")
    )
}

fn section_name(n: u32) -> String {
    format!("{n:0>64}")
}

async fn loaded(w: World, catalog: &str) -> World {
    let w = w.with_settings(Settings {
        admit_per_tick: 100,
        max_active: 1_000,
        ..Settings::default()
    });
    let catalog = Catalog::from_json(catalog).expect("a catalog at the maxima is valid");
    w.booking.load_catalog(&catalog).await.expect("load it");
    w
}

pub async fn a_concert_at_the_maxima_is_counted_admitted_listed_and_sells(w: World) {
    let per_section = MAX_SEATS_PER_DATE / MAX_SECTIONS as u32;
    let all = dates(MAX_DATES);
    // One more date, or one more section, is refused naming the limit.
    for (over, limit) in [
        (
            concert(BIGGEST, &dates(MAX_DATES + 1), MAX_SECTIONS as u32, 1),
            format!("dates: at most {MAX_DATES} dates a concert"),
        ),
        (
            concert(BIGGEST, &all, MAX_SECTIONS as u32 + 1, 1),
            format!("sections: at most {MAX_SECTIONS} sections a concert"),
        ),
    ] {
        match Catalog::from_json(&over) {
            Err(BookingError::InvalidCatalog(why)) => assert!(why.contains(&limit), "{why}"),
            other => panic!("over a maximum, taken: {other:?}"),
        }
    }
    let w = loaded(w, &concert(BIGGEST, &all, MAX_SECTIONS as u32, per_section)).await;

    // Joined, counted and admitted by ticks that write the largest queue state there is.
    let (ana, token) = w.admitted_fan("ana", BIGGEST).await;
    let on_sale = w
        .booking
        .dates_on_sale(&ana, Some(&token), &concert_id(BIGGEST))
        .await
        .expect("the dates");
    assert_eq!(on_sale.dates.len(), MAX_DATES);
    let last_date = all.last().expect("a last date").clone();
    let sections = w
        .booking
        .date_sections(&ana, Some(&token), &concert_id(BIGGEST), day(&last_date))
        .await
        .expect("the sections");
    assert_eq!(sections.sections.len(), MAX_SECTIONS);
    assert!(sections
        .sections
        .iter()
        .all(|s| s.free_seats == per_section));

    // The date is too large to list whole; the last section lists in one page, every seat once.
    assert!(matches!(
        w.booking
            .seat_chart(&ana, Some(&token), &concert_id(BIGGEST), day(&last_date))
            .await,
        Err(BookingError::SectionRequired(names)) if names.len() == MAX_SECTIONS
    ));
    let last_section = section_name(MAX_SECTIONS as u32);
    let (seats, pages) = w
        .listed_seats(
            &ana,
            &token,
            BIGGEST,
            &last_date,
            Some(&last_section),
            SEAT_PAGE_LIMIT,
        )
        .await;
    assert_eq!((seats.len() as u32, pages), (per_section, 1));
    assert_eq!(
        seats.last().map(|s| s.seat_number.get()),
        Some(MAX_SEATS_PER_DATE)
    );

    // The last seat of the last date is held and paid, and the next tick counts it.
    let held = w
        .hold(
            &ana,
            &token,
            BIGGEST,
            &last_date,
            i64::from(MAX_SEATS_PER_DATE),
        )
        .await
        .expect("hold the last seat");
    w.charged(&ana, PRICE).await;
    w.booking
        .pay(&ana, Some(&token), held.reservation_id, None)
        .await
        .expect("pay for it");
    assert!(
        w.seat_is_sold(BIGGEST, &last_date, i64::from(MAX_SEATS_PER_DATE))
            .await
    );
    // The ticks that let the next fan in count the sale.
    let (bo, bo_token) = w.admitted_fan("bo", BIGGEST).await;
    let after = w
        .container(0)
        .date_sections(&bo, Some(&bo_token), &concert_id(BIGGEST), day(&last_date))
        .await
        .expect("the sections after the sale");
    let counted = after.sections.last().map(|s| s.free_seats);
    assert_eq!(counted, Some(per_section - 1), "the tick counted the sale");
}

pub async fn a_section_of_a_whole_stadium_is_listed_page_by_page_and_its_last_seat_sells(w: World) {
    let night = dates(1).remove(0);
    let w = loaded(
        w,
        &concert(
            FIELD,
            std::slice::from_ref(&night),
            1,
            MAX_SEATS_PER_SECTION,
        ),
    )
    .await;
    let (ana, token) = w.admitted_fan("ana", FIELD).await;
    let field = section_name(1);

    // A hundred pages of a thousand, every seat once and in order.
    let (seats, pages) = w
        .listed_seats(&ana, &token, FIELD, &night, Some(&field), SEAT_PAGE_LIMIT)
        .await;
    assert_eq!(pages, MAX_SEATS_PER_SECTION as usize / SEAT_PAGE_LIMIT);
    assert_eq!(seats.len(), MAX_SEATS_PER_SECTION as usize);
    assert!(seats
        .iter()
        .zip(1..)
        .all(|(s, n)| s.seat_number.get() == n && s.status == SeatStatus::Available));

    // Its last seat held and paid, the last page shows it sold.
    let last = i64::from(MAX_SEATS_PER_SECTION);
    let held = w
        .hold(&ana, &token, FIELD, &night, last)
        .await
        .expect("hold the last seat");
    w.charged(&ana, PRICE).await;
    w.booking
        .pay(&ana, Some(&token), held.reservation_id, None)
        .await
        .expect("pay for it");
    let (seats, _) = w
        .listed_seats(&ana, &token, FIELD, &night, Some(&field), SEAT_PAGE_LIMIT)
        .await;
    let sold: Vec<u32> = seats
        .iter()
        .filter(|s| s.status == SeatStatus::Sold)
        .map(|s| s.seat_number.get())
        .collect();
    assert_eq!(sold, [MAX_SEATS_PER_SECTION]);

    // Odd page sizes cross the blocks' edges and still list every seat once.
    let (seats, pages) = w
        .listed_seats(&ana, &token, FIELD, &night, Some(&field), 997)
        .await;
    assert_eq!((seats.len(), pages), (MAX_SEATS_PER_SECTION as usize, 101));
}

pub async fn a_hall_is_listed_whole_or_page_by_page_across_its_price_tiers(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    // Spring Fest's 50 seats, in two tiers: one page whole, or pages of 7 that cross the tiers.
    let (whole, pages) = w
        .listed_seats(&ana, &token, SPRING, "2026-12-24", None, SEAT_PAGE_LIMIT)
        .await;
    assert_eq!((whole.len(), pages), (50, 1));
    let (paged, pages) = w
        .listed_seats(&ana, &token, SPRING, "2026-12-24", None, 7)
        .await;
    assert_eq!(pages, 8);
    assert_eq!(paged, whole);
    // A cursor outside the listing is refused.
    let outside = ticketing::booking::SeatPage {
        cursor: Some(ticketing::booking::SeatCursor::parse("51").expect("a seat number")),
        ..ticketing::booking::SeatPage::FIRST
    };
    assert!(matches!(
        w.booking
            .seat_listing(
                &ana,
                Some(&token),
                &concert_id(SPRING),
                day("2026-12-24"),
                None,
                outside
            )
            .await,
        Err(BookingError::InvalidCursor)
    ));
}
