//! A demo catalog whose dates always lie ahead, so a fresh local run has something on sale.

use ticketing::booking::Catalog;
use ticketing::domain::Timestamp;
use ticketing::BookingError;

/// Three concerts, 50 priced seats per date, dates 10 to 30 days after `today`.
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
              "dates": ["{}"], "seatPrices": {tiers}}}
        ]}}"#,
        day(10),
        day(11),
        day(12),
        day(20),
        day(21),
        day(30)
    ))
}
