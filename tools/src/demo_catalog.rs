//! A demo catalog whose dates always lie ahead, so a fresh local run has something on sale.

use ticketing::booking::Catalog;
use ticketing::domain::Timestamp;
use ticketing::BookingError;

/// Three concerts of 50 priced seats a date, dates 10 to 30 days after `today`, and a stadium
/// of 5,000 seats in named sections, listed a section at a time, 40 days after.
pub fn demo_catalog(now: Timestamp) -> Result<Catalog, BookingError> {
    let day = |offset: i64| now.plus_seconds(offset * 86_400).date().to_string();
    let tiers = r#"[{"fromSeat": 1, "toSeat": 10, "price": 165000},
                    {"fromSeat": 11, "toSeat": 30, "price": 132000},
                    {"fromSeat": 31, "toSeat": 50, "price": 99000}]"#;
    Catalog::from_json(&format!(
        r#"{{"concerts": [
            {{"concertId": "aurora-nights", "title": "Aurora Nights",
              "dates": ["{}", "{}", "{}"], "seatPrices": {tiers}}},
            {{"concertId": "han-river-jazz", "title": "Han River Jazz",
              "dates": ["{}", "{}"], "seatPrices": {tiers}}},
            {{"concertId": "midnight-orchestra", "title": "Midnight Orchestra",
              "dates": ["{}"], "seatPrices": {tiers}}},
            {{"concertId": "seoul-stadium", "title": "Seoul Stadium Live", "dates": ["{}"],
              "sections": [
                {{"section": "Floor A", "fromSeat": 1, "toSeat": 500, "price": 150000}},
                {{"section": "Floor B", "fromSeat": 501, "toSeat": 1000, "price": 150000}},
                {{"section": "Stand 101", "fromSeat": 1001, "toSeat": 5000, "price": 99000}}]}}
        ]}}"#,
        day(10),
        day(11),
        day(12),
        day(20),
        day(21),
        day(30),
        day(40)
    ))
}
