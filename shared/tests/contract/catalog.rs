use ticketing::booking::{audit, Catalog, SeatStatus};
use ticketing::store::ConcertRecord;
use ticketing::BookingError;

use crate::world::*;

const AUTUMN: &str = "autumn-past";
const ENCORE: &str = "encore";

pub async fn concerts_on_sale_leave_out_finished_ones(w: World) {
    let list = w.booking.concerts_on_sale().await.unwrap();
    let ids: Vec<&str> = list
        .concerts
        .iter()
        .map(|c| c.concert_id.as_str())
        .collect();
    assert_eq!(ids, [SPRING, WINTER]);
    let spring = &list.concerts[0];
    assert_eq!(spring.title, "Spring Fest");
    assert_eq!(spring.first_date.to_string(), "2026-11-20");
    assert_eq!(spring.last_date.to_string(), "2026-12-25");
}

pub async fn dates_on_sale_are_upcoming_dates_with_unsold_seats(w: World) {
    let (ana, token) = w.admitted_fan("ana", WINTER).await;
    let dates = w
        .booking
        .dates_on_sale(&ana, Some(&token), &concert_id(WINTER))
        .await
        .unwrap();
    assert_eq!(dates.dates.len(), 1);
    assert_eq!(dates.dates[0].remaining_seats, 40);

    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    let dates = w
        .booking
        .dates_on_sale(&ana, Some(&token), &concert_id(SPRING))
        .await
        .unwrap();
    let listed: Vec<(String, u32)> = dates
        .dates
        .iter()
        .map(|d| (d.date.to_string(), d.remaining_seats))
        .collect();
    assert_eq!(
        listed,
        [("2026-12-24".into(), 50), ("2026-12-25".into(), 50)]
    );

    // On the day itself a date is still on sale; the day after, it is gone.
    w.advance(24 * 86_400);
    w.tick(SPRING).await;
    let (bob, token) = w.admitted_fan("bob", SPRING).await;
    let dates = w
        .booking
        .dates_on_sale(&bob, Some(&token), &concert_id(SPRING))
        .await
        .unwrap();
    assert_eq!(dates.dates.len(), 1);
    assert_eq!(dates.dates[0].date.to_string(), "2026-12-25");
}

pub async fn the_seat_chart_shows_every_seat_as_it_stands_now(w: World) {
    let (ana, token) = w.admitted_fan("ana", SPRING).await;
    w.hold(&ana, &token, SPRING, "2026-12-24", 7).await.unwrap();
    let chart = w
        .booking
        .seat_chart(&ana, Some(&token), &concert_id(SPRING), day("2026-12-24"))
        .await
        .unwrap();
    assert_eq!(chart.seats.len(), 50);
    assert_eq!(chart.seats[0].seat_number.get(), 1);
    assert_eq!(chart.seats[0].price.get(), 150_000);
    assert_eq!(chart.seats[49].price.get(), 90_000);
    let held: Vec<u32> = chart
        .seats
        .iter()
        .filter(|s| s.status == SeatStatus::Held)
        .map(|s| s.seat_number.get())
        .collect();
    assert_eq!(held, [7]);

    // The hold's item may outlive it (TTL is lazy), but the chart reads the clock.
    w.advance(300);
    let (bob, token) = w.admitted_fan("bob", SPRING).await;
    let chart = w
        .booking
        .seat_chart(&bob, Some(&token), &concert_id(SPRING), day("2026-12-24"))
        .await
        .unwrap();
    assert!(chart
        .seats
        .iter()
        .all(|s| s.status == SeatStatus::Available));

    let missing = w
        .booking
        .seat_chart(&bob, Some(&token), &concert_id(SPRING), day("2026-12-26"))
        .await;
    assert!(matches!(missing, Err(BookingError::DateNotFound)));
}

pub async fn loading_the_catalog_again_changes_nothing(w: World) {
    let (ana, token) = w.admitted_fan("ana", WINTER).await;
    w.charged(&ana, 50_000).await;
    let held = w.hold(&ana, &token, WINTER, "2026-12-31", 3).await.unwrap();
    w.booking
        .pay(&ana, Some(&token), held.reservation_id, None)
        .await
        .unwrap();

    let report = w.booking.load_catalog(&demo_catalog()).await.unwrap();
    assert_eq!((report.created, report.already_present), (0, 3));
    assert!(w.seat_is_sold(WINTER, "2026-12-31", 3).await);
    // The dates listing counts the sale from the next tick on.
    let (bob, token) = w.admitted_fan("bob", WINTER).await;
    let dates = w
        .booking
        .dates_on_sale(&bob, Some(&token), &concert_id(WINTER))
        .await
        .unwrap();
    assert_eq!(dates.dates[0].remaining_seats, 39);

    for bad in [
        r#"{"concerts": [{"concertId": "x", "title": "X", "dates": [], "seatPrices": [{"fromSeat": 1, "toSeat": 2, "price": 1}]}]}"#,
        r#"{"concerts": [{"concertId": "x", "title": "X", "dates": ["2026-12-01"], "seatPrices": [{"fromSeat": 1, "toSeat": 100001, "price": 1}]}]}"#,
        r#"{"concerts": [{"concertId": "x", "title": "X", "dates": ["2026-12-01"], "seatPrices": [{"fromSeat": 1, "toSeat": 5, "price": 1}, {"fromSeat": 5, "toSeat": 6, "price": 1}]}]}"#,
        r#"{"concerts": [{"concertId": "x", "title": "X", "dates": ["2026-02-30"], "seatPrices": [{"fromSeat": 1, "toSeat": 5, "price": 1}]}]}"#,
        r#"{"concerts": [{"concertId": "x", "title": "X", "dates": ["2026-12-01"], "seatPrices": [{"fromSeat": 1, "toSeat": 5, "price": -1}]}]}"#,
        r#"{"concerts": [{"concertId": "x", "title": "X", "dates": ["2026-12-01"], "seatPrices": [{"fromSeat": 1, "toSeat": 5, "price": 0}]}]}"#,
        r#"{"concerts": [], "extra": true}"#,
        r#"{"concerts": [{"concertId": "x", "title": "X", "dates": ["2026-12-01"], "seatPrices": [{"fromSeat": 1, "toSeat": 5, "price": 1}], "queueOpensAt": "soon"}]}"#,
        r#"{"concerts": [{"concertId": "x", "title": "X", "dates": ["2026-12-01"], "seatPrices": [{"fromSeat": 1, "toSeat": 5, "price": 1}], "queueOpensAt": "2026-11-02T10:00:00Z", "saleOpensAt": "2026-11-02T09:00:00Z"}]}"#,
    ] {
        assert!(
            matches!(
                Catalog::from_json(bad),
                Err(BookingError::InvalidCatalog(_))
            ),
            "{bad}"
        );
    }
}

/// The concerts the store's listing returns from `from` on, by id: what it read (it returns
/// every listing it reads).
async fn listed(w: &World, from: &str) -> Vec<(String, bool)> {
    w.store
        .listed_concerts(day(from))
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.concert_id.to_string(), l.sold_out))
        .collect()
}

fn entry(concert: &str, sold_out: bool) -> (String, bool) {
    (concert.to_owned(), sold_out)
}

/// A concert is its record and a small listing item, written together; `GET /concerts` reads
/// the listings from today's date on, by last date, so a concert whose last date is past is
/// never read again (its record is still found by id), and a sell-out marks both at once.
pub async fn the_listing_never_reads_a_concert_that_is_over_and_shows_a_sell_out(w: World) {
    let inventory = w.inventory().await;
    let mut listed_ids: Vec<&str> = inventory
        .listings
        .iter()
        .map(|l| l.concert_id.as_str())
        .collect();
    listed_ids.sort();
    assert_eq!(
        listed_ids,
        [AUTUMN, SPRING, WINTER],
        "every concert has its listing"
    );
    assert_eq!(audit(&inventory), Vec::<String>::new());

    // Autumn's last date (2026-11-01) is a month past: its listing is not read, only theirs.
    assert_eq!(
        listed(&w, "2026-12-01").await,
        [entry(SPRING, false), entry(WINTER, false)]
    );
    assert!(w
        .store
        .concert(&concert_id(AUTUMN))
        .await
        .unwrap()
        .is_some());
    // On its last day a concert is read; the day after, not.
    assert_eq!(
        listed(&w, "2026-12-25").await,
        [entry(SPRING, false), entry(WINTER, false)]
    );
    assert_eq!(listed(&w, "2026-12-26").await, [entry(WINTER, false)]);
    assert_eq!(listed(&w, "2027-01-01").await, []);

    // A one-seat encore sells out: the tick marks its record and its listing.
    let encore = Catalog::from_json(&format!(
        r#"{{"concerts": [{{"concertId": "{ENCORE}", "title": "Encore", "dates": ["2026-12-28"],
             "seatPrices": [{{"fromSeat": 1, "toSeat": 1, "price": 70000}}]}}]}}"#
    ))
    .unwrap();
    w.booking.load_catalog(&encore).await.unwrap();
    assert_eq!(
        listed(&w, "2026-12-26").await,
        [entry(ENCORE, false), entry(WINTER, false)]
    );
    let (ana, token) = w.admitted_fan("ana", ENCORE).await;
    let held = w.hold(&ana, &token, ENCORE, "2026-12-28", 1).await.unwrap();
    w.charged(&ana, 70_000).await;
    w.booking
        .pay(&ana, Some(&token), held.reservation_id, None)
        .await
        .unwrap();
    w.tick(ENCORE).await;
    assert_eq!(
        listed(&w, "2026-12-26").await,
        [entry(ENCORE, true), entry(WINTER, false)]
    );
    let record = w.store.concert(&concert_id(ENCORE)).await.unwrap().unwrap();
    assert!(record.sold_out);
    w.advance(1);
    let shown = w.booking.concerts_on_sale().await.unwrap();
    let sold_out: Vec<(&str, bool)> = shown
        .concerts
        .iter()
        .map(|c| (c.concert_id.as_str(), c.sold_out))
        .collect();
    assert_eq!(
        sold_out,
        [(SPRING, false), (ENCORE, true), (WINTER, false)],
        "by first date"
    );

    // Marking a concert that does not exist writes neither item.
    let ghost = ConcertRecord {
        concert_id: concert_id("ghost"),
        ..record
    };
    w.store.mark_sold_out(&ghost).await.unwrap();
    let inventory = w.inventory().await;
    assert!(!inventory
        .concerts
        .iter()
        .any(|c| c.concert_id == ghost.concert_id));
    assert!(!inventory
        .listings
        .iter()
        .any(|l| l.concert_id == ghost.concert_id));
    assert_eq!((inventory.concerts.len(), inventory.listings.len()), (4, 4));
    assert_eq!(audit(&inventory), Vec::<String>::new());
}
