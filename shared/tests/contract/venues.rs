//! A stadium: a date of 100,000 seats in named sections, stored in blocks of 100 seats of one
//! section and counted in a ledger the tick reads. Racing holds in one block, an order across
//! a block boundary, listing a section while it sells, and what the tick learns.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::Barrier;
use tokio::task::JoinSet;

use ticketing::booking::{
    Catalog, HoldRequest, Reservation, SeatChart, SeatChoice, SeatStatus, SEAT_PAGE_LIMIT,
};
use ticketing::domain::{ConcertDate, QueueToken, SeatNumber, UserId};
use ticketing::store::{every_ledger_shard, SeatLedgerRecord, BLOCK_SEATS, LEDGER_SHARDS};
use ticketing::{BookingError, Settings};

use crate::world::*;

const STADIUM: &str = "stadium-night";
const NIGHT: &str = "2026-12-30";
/// 50 sections of 2,000 seats: "Floor 1".."Floor 10" dearest, then "Level 11".."Level 50".
const SECTION_SEATS: i64 = 2_000;

fn stadium() -> Catalog {
    let sections: Vec<String> = (0..50)
        .map(|i| {
            let name = if i < 10 {
                format!("Floor {}", i + 1)
            } else {
                format!("Level {}", i + 1)
            };
            let price = if i < 10 { 180_000 } else { 90_000 };
            format!(
                r#"{{"section": "{name}", "fromSeat": {}, "toSeat": {}, "price": {price}}}"#,
                i * SECTION_SEATS + 1,
                (i + 1) * SECTION_SEATS
            )
        })
        .collect();
    Catalog::from_json(&format!(
        r#"{{"concerts": [{{"concertId": "{STADIUM}", "title": "Stadium Night",
             "dates": ["{NIGHT}", "2026-12-31"], "maxTicketsPerFan": 4,
             "sections": [{}]}}]}}"#,
        sections.join(", ")
    ))
    .expect("the stadium is a valid catalog")
}

fn roomy() -> Settings {
    Settings {
        admit_per_tick: 1_000,
        max_active: 10_000,
        active_seconds: 30 * 86_400,
        ..Settings::default()
    }
}

async fn stadium_world(w: World) -> World {
    let w = w.with_settings(roomy());
    w.booking
        .load_catalog(&stadium())
        .await
        .expect("load the stadium");
    w
}

fn numbers(seats: &[i64]) -> Vec<SeatNumber> {
    seats
        .iter()
        .map(|s| SeatNumber::parse(*s).unwrap())
        .collect()
}

fn order(seats: SeatChoice) -> HoldRequest {
    HoldRequest {
        concert_id: concert_id(STADIUM),
        date: day(NIGHT),
        seats,
    }
}

async fn hold(
    w: &World,
    fan: &UserId,
    token: &QueueToken,
    seats: SeatChoice,
) -> Result<Reservation, BookingError> {
    w.booking
        .hold_seats(fan, Some(token), &order(seats), None)
        .await
        .map(|(reservation, _)| reservation)
}

fn seat_numbers(reservation: &Reservation) -> Vec<u32> {
    reservation.seat_numbers.iter().map(|s| s.get()).collect()
}

/// One section's seats as listed now, by status.
async fn listed(
    w: &World,
    fan: &UserId,
    token: &QueueToken,
    section: &str,
) -> (BTreeSet<u32>, BTreeSet<u32>) {
    let (seats, pages) = w
        .listed_seats(fan, token, STADIUM, NIGHT, Some(section), SEAT_PAGE_LIMIT)
        .await;
    assert_eq!((seats.len() as i64, pages), (SECTION_SEATS, 2), "{section}");
    let with = |status: SeatStatus| {
        seats
            .iter()
            .filter(|s| s.status == status)
            .map(|s| s.seat_number.get())
            .collect::<BTreeSet<u32>>()
    };
    (with(SeatStatus::Held), with(SeatStatus::Sold))
}

/// Every ledger shard of the stadium's night, as the tick reads them.
async fn night_ledgers(w: &World) -> Vec<(ConcertDate, u32, SeatLedgerRecord)> {
    w.store
        .seat_ledgers(
            &concert_id(STADIUM),
            &every_ledger_shard(&[day(NIGHT)], LEDGER_SHARDS),
        )
        .await
        .unwrap()
}

/// The free seats the tick counted in each section of the night.
async fn free_by_section(w: &World, fan: &UserId, token: &QueueToken) -> Vec<u32> {
    w.booking
        .date_sections(fan, Some(token), &concert_id(STADIUM), day(NIGHT))
        .await
        .expect("the night's sections")
        .sections
        .iter()
        .map(|s| s.free_seats)
        .collect()
}

pub async fn a_stadium_date_is_listed_by_section_and_its_seats_exist_to_its_capacity(w: World) {
    let w = stadium_world(w).await;
    let (ana, token) = w.admitted_fan("ana", STADIUM).await;
    let concert = concert_id(STADIUM);

    // Too many seats to list at once: the answer names the sections.
    match w
        .booking
        .seat_chart(&ana, Some(&token), &concert, day(NIGHT))
        .await
    {
        Err(BookingError::SectionRequired(names)) => {
            assert_eq!(names.len(), 50);
            assert_eq!(
                (names[0].as_str(), names[49].as_str()),
                ("Floor 1", "Level 50")
            );
        }
        other => panic!("a whole stadium listed: {other:?}"),
    }
    // A section of 2,000 seats: two pages, the first of 1,000 pointing at the second.
    let chart = w
        .booking
        .section_chart(&ana, Some(&token), &concert, day(NIGHT), "Level 50")
        .await
        .unwrap();
    assert_eq!(chart.seats.len(), SEAT_PAGE_LIMIT);
    assert!(chart.next_cursor.is_some());
    let (seats, _) = w
        .listed_seats(
            &ana,
            &token,
            STADIUM,
            NIGHT,
            Some("Level 50"),
            SEAT_PAGE_LIMIT,
        )
        .await;
    let chart = SeatChart { seats, ..chart };
    assert_eq!(chart.seats.len(), 2_000);
    let (first, last) = (&chart.seats[0], &chart.seats[1_999]);
    assert_eq!(
        (first.seat_number.get(), last.seat_number.get()),
        (98_001, 100_000)
    );
    assert_eq!(first.section.as_deref(), Some("Level 50"));
    assert_eq!(first.price.get(), 90_000);
    assert!(chart
        .seats
        .iter()
        .all(|s| s.status == SeatStatus::Available));
    assert!(matches!(
        w.booking
            .section_chart(&ana, Some(&token), &concert, day(NIGHT), "Level 51")
            .await,
        Err(BookingError::SectionNotFound)
    ));

    // The sections as the tick counted them, before anything is held.
    let sections = w
        .booking
        .date_sections(&ana, Some(&token), &concert, day(NIGHT))
        .await
        .unwrap();
    assert_eq!(sections.sections.len(), 50);
    let floor = &sections.sections[0];
    assert_eq!(floor.section.as_deref(), Some("Floor 1"));
    assert_eq!((floor.from_seat.get(), floor.to_seat.get()), (1, 2_000));
    assert_eq!((floor.price.get(), floor.free_seats), (180_000, 2_000));

    // The last seat of the stadium is a seat; a best available order stays in its section.
    let last = hold(&w, &ana, &token, SeatChoice::Seats(numbers(&[100_000])))
        .await
        .unwrap();
    assert_eq!(last.seats[0].section.as_deref(), Some("Level 50"));
    let best = hold(
        &w,
        &ana,
        &token,
        SeatChoice::BestInSection {
            quantity: 3,
            section: "Level 12".into(),
        },
    )
    .await
    .unwrap();
    let picked = seat_numbers(&best);
    assert_eq!(picked.len(), 3);
    assert!(picked.windows(2).all(|w| w[1] == w[0] + 1), "{picked:?}");
    assert!(
        picked.iter().all(|s| (22_001..=24_000).contains(s)),
        "{picked:?}"
    );
    assert!(best
        .seats
        .iter()
        .all(|s| s.section.as_deref() == Some("Level 12")));
    assert!(matches!(
        hold(
            &w,
            &ana,
            &token,
            SeatChoice::BestInSection {
                quantity: 1,
                section: "Nowhere".into()
            }
        )
        .await,
        Err(BookingError::SectionNotFound)
    ));

    // The tick learns both holds from the ledger, per date and per section.
    w.tick(STADIUM).await;
    let free = free_by_section(&w, &ana, &token).await;
    assert_eq!((free[11], free[49], free[0]), (1_997, 1_999, 2_000));
    let dates = w
        .booking
        .dates_on_sale(&ana, Some(&token), &concert)
        .await
        .unwrap();
    assert_eq!(dates.dates[0].remaining_seats, 100_000, "held, not sold");
}

pub async fn fans_racing_for_the_seats_of_one_block_take_each_seat_once(w: World) {
    let w = stadium_world(w).await;
    let racers = w.scale(40, 20);
    let crowd = w.admitted_crowd("block", racers, STADIUM).await;
    let barrier = Arc::new(Barrier::new(crowd.len()));
    let mut holds = JoinSet::new();
    for (i, (fan, token)) in crowd.iter().cloned().enumerate() {
        let (booking, barrier) = (w.booking.clone(), barrier.clone());
        // Overlapping pairs of seats 101..=110: one block, ten seats, many claims on each.
        let first = 101 + (i as i64 % 9);
        holds.spawn(async move {
            barrier.wait().await;
            let seats = SeatChoice::Seats(numbers(&[first, first + 1]));
            booking
                .hold_seats(&fan, Some(&token), &order(seats), None)
                .await
                .map(|(reservation, _)| seat_numbers(&reservation))
        });
    }
    let mut taken = Vec::new();
    for result in holds.join_all().await {
        match result {
            Ok(seats) => taken.extend(seats),
            Err(BookingError::SeatUnavailable(seats)) => assert!(!seats.is_empty()),
            Err(BookingError::Contention) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    let distinct: BTreeSet<u32> = taken.iter().copied().collect();
    assert_eq!(distinct.len(), taken.len(), "a seat held twice: {taken:?}");
    assert!(distinct.len() >= 2, "someone won a pair");

    // The block holds exactly those seats, and the ledger counts exactly as many.
    let stored = w.date_seats(STADIUM, NIGHT).await;
    let now = w.now().epoch_seconds();
    let held: BTreeSet<u32> = stored
        .holds
        .keys()
        .filter(|s| stored.is_held(**s, now))
        .map(|s| s.get())
        .collect();
    assert_eq!(held, distinct);
    let ledgers = night_ledgers(&w).await;
    let counted: i64 = ledgers
        .iter()
        .flat_map(|(_, _, l)| l.holds.range(now + 1..).map(|(_, n)| *n))
        .sum();
    assert_eq!(counted, distinct.len() as i64);
    let (fan, token) = &crowd[0];
    w.tick(STADIUM).await;
    let free = free_by_section(&w, fan, token).await;
    assert_eq!(free[0], 2_000 - distinct.len() as u32);
}

pub async fn an_order_across_a_block_boundary_is_held_paid_and_counted_all_or_none(w: World) {
    let w = stadium_world(w).await;
    let (ana, ana_token) = w.admitted_fan("ana", STADIUM).await;
    let (bob, bob_token) = w.admitted_fan("bob", STADIUM).await;
    let boundary = i64::from(BLOCK_SEATS);

    // Seats 100 and 101 lie in two blocks: one order, one transaction.
    let pair = hold(
        &w,
        &ana,
        &ana_token,
        SeatChoice::Seats(numbers(&[boundary, boundary + 1])),
    )
    .await
    .unwrap();
    assert_eq!(seat_numbers(&pair), vec![100, 101]);
    // Bob's order overlaps on 101: refused whole, 102 stays free.
    match hold(
        &w,
        &bob,
        &bob_token,
        SeatChoice::Seats(numbers(&[101, 102])),
    )
    .await
    {
        Err(BookingError::SeatUnavailable(seats)) => {
            assert_eq!(seats, numbers(&[101]))
        }
        other => panic!("{other:?}"),
    }
    let (held, sold) = listed(&w, &bob, &bob_token, "Floor 1").await;
    assert_eq!((held, sold.len()), (BTreeSet::from([100, 101]), 0));

    // Ana pays: both seats sold in both blocks, one receipt.
    w.charged(&ana, 360_000).await;
    let receipt = w
        .booking
        .pay(&ana, Some(&ana_token), pair.reservation_id, None)
        .await
        .unwrap();
    assert_eq!(receipt.amount.get(), 360_000);
    let (held, sold) = listed(&w, &bob, &bob_token, "Floor 1").await;
    assert_eq!((held.len(), sold), (0, BTreeSet::from([100, 101])));
    assert!(
        hold(&w, &bob, &bob_token, SeatChoice::Seats(numbers(&[102])))
            .await
            .is_ok()
    );

    // The tick counts two seats sold, one held, and one token that bought (not two).
    let before = w.tick_report().await;
    let tick = before
        .concerts
        .iter()
        .find(|c| c.concert_id.as_str() == STADIUM)
        .expect("the stadium ticked");
    assert_eq!(
        tick.state.active, 1,
        "bob is active; ana's one order ended hers"
    );
    let dates = w
        .booking
        .dates_on_sale(&bob, Some(&bob_token), &concert_id(STADIUM))
        .await
        .unwrap();
    assert_eq!(dates.dates[0].remaining_seats, 99_998);
    let free = free_by_section(&w, &bob, &bob_token).await;
    assert_eq!(free[0], 1_997);
    assert!(ticketing::booking::audit(&w.inventory().await).is_empty());
}

pub async fn a_section_listed_while_it_sells_shows_each_sale_once_it_lands(w: World) {
    let w = stadium_world(w).await;
    let buyers = w.scale(24, 12);
    let crowd = w.admitted_crowd("buyer", buyers, STADIUM).await;
    let (watcher, watcher_token) = w.admitted_fan("watcher", STADIUM).await;
    for (fan, _) in &crowd {
        w.charged(fan, 1_000_000).await;
    }
    let barrier = Arc::new(Barrier::new(crowd.len() + 1));
    let mut buying = JoinSet::new();
    for (fan, token) in crowd.clone() {
        let (booking, barrier) = (w.booking.clone(), barrier.clone());
        buying.spawn(async move {
            barrier.wait().await;
            let best = SeatChoice::BestInSection {
                quantity: 2,
                section: "Level 20".into(),
            };
            for _ in 0..10 {
                match booking
                    .hold_seats(&fan, Some(&token), &order(best.clone()), None)
                    .await
                {
                    Ok((reservation, _)) => {
                        booking
                            .pay(&fan, Some(&token), reservation.reservation_id, None)
                            .await
                            .expect("pay");
                        return seat_numbers(&reservation);
                    }
                    Err(BookingError::Contention | BookingError::SeatUnavailable(_)) => {}
                    Err(other) => panic!("{other:?}"),
                }
            }
            Vec::new()
        });
    }
    // The watcher lists the section while the crowd buys: a seat once sold stays sold, and
    // nothing outside the section shows up.
    let watching = {
        let w = &w;
        let (watcher, watcher_token) = (&watcher, &watcher_token);
        let barrier = barrier.clone();
        async move {
            barrier.wait().await;
            let mut seen_sold = BTreeSet::new();
            for _ in 0..8 {
                let (_, sold) = listed(w, watcher, watcher_token, "Level 20").await;
                assert!(seen_sold.is_subset(&sold), "a sold seat came back");
                assert!(sold.iter().all(|s| (38_001..=40_000).contains(s)));
                seen_sold = sold;
                tokio::task::yield_now().await;
            }
        }
    };
    let (bought, ()) = tokio::join!(buying.join_all(), watching);
    let bought: Vec<u32> = bought.into_iter().flatten().collect();
    let distinct: BTreeSet<u32> = bought.iter().copied().collect();
    assert_eq!(distinct.len(), bought.len(), "a seat sold twice");
    assert_eq!(bought.len(), 2 * crowd.len(), "every buyer got a pair");
    let (held, sold) = listed(&w, &watcher, &watcher_token, "Level 20").await;
    assert_eq!((held.len(), sold), (0, distinct.clone()));
    w.tick(STADIUM).await;
    let free = free_by_section(&w, &watcher, &watcher_token).await;
    assert_eq!(free[19], 2_000 - distinct.len() as u32);
    assert!(ticketing::booking::audit(&w.inventory().await).is_empty());
}

pub async fn best_available_on_a_stadium_spreads_over_sections_with_free_seats(w: World) {
    let w = stadium_world(w).await;
    let fans = w.scale(20, 10);
    let crowd = w.admitted_crowd("spread", fans, STADIUM).await;
    let mut sections = BTreeSet::new();
    for (fan, token) in &crowd {
        let reservation = hold(&w, fan, token, SeatChoice::BestAvailable(4))
            .await
            .unwrap();
        let picked = seat_numbers(&reservation);
        assert!(picked.windows(2).all(|w| w[1] == w[0] + 1), "{picked:?}");
        let section = reservation.seats[0].section.clone();
        assert!(reservation.seats.iter().all(|s| s.section == section));
        sections.insert(section);
    }
    // The lowest sixteen sections the tick counted free seats in, a few of them, not one.
    assert!(sections.len() > 1, "{sections:?}");
    let number = |name: &str| -> u32 { name.rsplit(' ').next().unwrap().parse().unwrap() };
    assert!(
        sections
            .iter()
            .all(|s| s.as_deref().is_some_and(|s| number(s) <= 16)),
        "{sections:?}"
    );
}

pub async fn lapsed_holds_free_their_seats_and_leave_the_ledger(w: World) {
    let w = stadium_world(w).await;
    // One fan's twenty-one holds: past the default bound on seat spinning.
    let settings = ticketing::Settings {
        max_holds_per_session: 30,
        active_idle_seconds: 1_800,
        ..w.booking.settings().clone()
    };
    let w = w.with_settings(settings);
    let (ana, token) = w.admitted_fan("ana", STADIUM).await;
    // Holds ending in twenty different seconds, then lapsing, all in one block (5,001 to
    // 5,100), so that their counts are in one ledger shard.
    for i in 0..20 {
        w.booking
            .release_reservation(
                &ana,
                hold(&w, &ana, &token, SeatChoice::Seats(numbers(&[5_001 + i])))
                    .await
                    .unwrap()
                    .reservation_id,
            )
            .await
            .unwrap();
        w.advance(1);
    }
    let kept = hold(
        &w,
        &ana,
        &token,
        SeatChoice::Seats(numbers(&[5_050, 5_051])),
    )
    .await
    .unwrap();
    w.tick(STADIUM).await;
    assert_eq!(free_by_section(&w, &ana, &token).await[2], 1_998);
    w.advance(301 + 60);
    w.tick(STADIUM).await;
    assert_eq!(
        free_by_section(&w, &ana, &token).await[2],
        2_000,
        "the lapsed hold of {:?} is free again",
        seat_numbers(&kept)
    );
    // The tick dropped the counts of holds that are over.
    let ledgers = night_ledgers(&w).await;
    let counts: usize = ledgers
        .iter()
        .map(|(_, _, l)| l.holds.len() + l.section_holds.len())
        .sum();
    assert_eq!(counts, 0, "{ledgers:?}");
}
