use ticketing::booking::{Catalog, SeatStatus};
use ticketing::BookingError;

use crate::world::*;

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
