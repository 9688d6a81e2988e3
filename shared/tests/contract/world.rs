//! The test world: the service over a store, a hand-moved clock, and helpers that speak the
//! domain. The same scenarios run against memory and, when an endpoint is given, DynamoDB.

use std::sync::Arc;

use ticketing::booking::{
    Catalog, HoldRequest, PageLimit, QueueStatus, Reservation, SeatCursor, SeatPage, SeatView,
    SEAT_PAGE_LIMIT,
};
use ticketing::domain::{
    ChargeAmount, ConcertDate, ConcertId, ManualClock, OperatorId, QueueToken, SeatNumber,
    Timestamp, UserId,
};
use ticketing::store::{
    DateSeatsRecord, DynamoStore, GatedStore, Inventory, MemoryStore, QueueControlChange, Script,
    Store,
};
use ticketing::{Settings, Ticketing};

/// 2026-12-01T00:00:00Z: the catalog's dates lie ahead of it, and one lies behind.
pub const START: i64 = 1_796_083_200;

pub const SPRING: &str = "spring-fest";
/// The tick counts a second two seconds on and admits from it three seconds on.
pub const SETTLE_SECONDS: i64 = 3;
pub const WINTER: &str = "winter-gala";

pub fn demo_catalog() -> Catalog {
    Catalog::from_json(
        r#"{"concerts": [
            {"concertId": "spring-fest", "title": "Spring Fest",
             "dates": ["2026-11-20", "2026-12-24", "2026-12-25"],
             "seatPrices": [{"fromSeat": 1, "toSeat": 10, "price": 150000},
                            {"fromSeat": 11, "toSeat": 50, "price": 90000}]},
            {"concertId": "winter-gala", "title": "Winter Gala",
             "dates": ["2026-12-31"],
             "seatPrices": [{"fromSeat": 1, "toSeat": 40, "price": 50000}]},
            {"concertId": "autumn-past", "title": "Autumn (over)",
             "dates": ["2026-11-01"],
             "seatPrices": [{"fromSeat": 1, "toSeat": 50, "price": 10000}]}
        ]}"#,
    )
    .expect("the demo catalog is valid")
}

/// A store read whole, for an audit.
#[async_trait::async_trait]
pub trait Audited: Send + Sync {
    async fn inventory(&self) -> Inventory;
}

#[async_trait::async_trait]
impl Audited for MemoryStore {
    async fn inventory(&self) -> Inventory {
        MemoryStore::inventory(self)
    }
}

#[async_trait::async_trait]
impl Audited for DynamoStore {
    async fn inventory(&self) -> Inventory {
        DynamoStore::inventory(self).await.expect("scan the table")
    }
}

pub struct World {
    pub booking: Ticketing,
    pub clock: Arc<ManualClock>,
    /// The store behind a gate that passes every call but those `script` names.
    pub store: Arc<dyn Store>,
    pub script: Arc<Script>,
    audited: Arc<dyn Audited>,
    on_memory: bool,
    /// The first second of the tick slot after the last tick's: a tick runs once a slot.
    next_slot_at: Arc<std::sync::Mutex<i64>>,
}

impl World {
    pub async fn memory() -> World {
        World::over(MemoryStore::new(), true).await
    }

    /// A crowd's size: larger in memory than against DynamoDB Local, a JVM on the same two cores.
    pub fn scale(&self, on_memory: usize, on_dynamodb: usize) -> usize {
        if self.on_memory {
            on_memory
        } else {
            on_dynamodb
        }
    }

    /// A fresh table at `TEST_DYNAMODB_ENDPOINT`. Without one, the DynamoDB half of the suite
    /// is skipped, unless `REQUIRE_DYNAMODB=1` (the test command) makes that a failure.
    pub async fn dynamodb() -> Option<World> {
        let Ok(endpoint) = std::env::var("TEST_DYNAMODB_ENDPOINT") else {
            assert!(
                std::env::var("REQUIRE_DYNAMODB").as_deref() != Ok("1"),
                "REQUIRE_DYNAMODB=1 but TEST_DYNAMODB_ENDPOINT is not set"
            );
            eprintln!("TEST_DYNAMODB_ENDPOINT not set: DynamoDB contract test skipped");
            return None;
        };
        let table = format!("contract-{}", uuid::Uuid::new_v4().simple());
        let store = DynamoStore::connect(table, Some(&endpoint)).await;
        store
            .create_table_if_missing(ticketing::store::Expiry::Kept)
            .await
            .expect("create the test table");
        Some(World::over(store, false).await)
    }

    /// A fresh table reached through the fault proxy at `TEST_FAULT_PROXY_ENDPOINT` (DynamoDB
    /// Local behind it), and the proxy's address: for scenarios in which DynamoDB refuses what
    /// only the proxy makes it refuse. Skipped as [`World::dynamodb`] is.
    pub async fn dynamodb_through_proxy() -> Option<(World, String)> {
        let Ok(proxy) = std::env::var("TEST_FAULT_PROXY_ENDPOINT") else {
            assert!(
                std::env::var("REQUIRE_DYNAMODB").as_deref() != Ok("1"),
                "REQUIRE_DYNAMODB=1 but TEST_FAULT_PROXY_ENDPOINT is not set"
            );
            eprintln!("TEST_FAULT_PROXY_ENDPOINT not set: DynamoDB conflict test skipped");
            return None;
        };
        let table = format!("contract-{}", uuid::Uuid::new_v4().simple());
        let store = DynamoStore::connect(table, Some(&proxy)).await;
        store
            .create_table_if_missing(ticketing::store::Expiry::Kept)
            .await
            .expect("create the test table");
        Some((World::over(store, false).await, proxy))
    }

    async fn over<S: Store + Audited>(base: S, on_memory: bool) -> World {
        let clock = Arc::new(ManualClock::starting_at(Timestamp::from_epoch_seconds(
            START,
        )));
        let script = Script::new();
        let base = Arc::new(base);
        let audited: Arc<dyn Audited> = base.clone();
        let store: Arc<dyn Store> = Arc::new(GatedStore::new(base, script.clone()));
        let booking = Ticketing::new(store.clone(), clock.clone(), Settings::default());
        let world = World {
            booking,
            clock,
            store,
            script,
            audited,
            on_memory,
            next_slot_at: Arc::default(),
        };
        world
            .booking
            .load_catalog(&demo_catalog())
            .await
            .expect("load the demo catalog");
        world
    }

    /// Another container: the same store and settings, a cache of its own, and its own clock,
    /// `offset` seconds from the world's (fixed: it does not move with the world's).
    pub fn container(&self, offset: i64) -> Ticketing {
        let clock = Arc::new(ManualClock::starting_at(self.now().plus_seconds(offset)));
        Ticketing::new(self.store.clone(), clock, self.booking.settings().clone())
    }

    /// The same store and clock under other settings.
    pub fn with_settings(self, settings: Settings) -> World {
        World {
            booking: Ticketing::new(self.store.clone(), self.clock.clone(), settings),
            ..self
        }
    }

    /// The same world with tokens that do not idle out within their ACTIVE_SECONDS (the idle
    /// time at its most): for scenarios about something else that leave a fan silent for
    /// minutes, as a fan whose page is closed would be.
    pub fn unhurried(self) -> World {
        let settings = Settings {
            active_idle_seconds: *ticketing::booking::ACTIVE_IDLE_RANGE.end(),
            ..self.booking.settings().clone()
        };
        self.with_settings(settings)
    }

    /// Fans' pages poll while they are open: each poll carries the fan's token and keeps its
    /// slot (a token that ended answers an error, which a page would show).
    pub async fn keep_polling(&self, fans: &[(UserId, QueueToken)]) {
        for (fan, token) in fans {
            let _ = self.booking.queue_status(fan, Some(token)).await;
        }
    }

    /// Everything the store holds, read whole, for an audit.
    pub async fn inventory(&self) -> Inventory {
        self.audited.inventory().await
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
    }

    pub fn now(&self) -> Timestamp {
        ticketing::domain::Clock::now(&*self.clock)
    }

    /// Joins the queue and runs admission ticks until the fan is active. The tick admits from
    /// seconds that have settled, so the clock moves on a few seconds first.
    pub async fn admitted_fan(&self, name: &str, concert: &str) -> (UserId, QueueToken) {
        let fan = fan(name);
        let (ticket, _) = self
            .booking
            .join_queue(&fan, &concert_id(concert))
            .await
            .expect("join the queue");
        self.advance(SETTLE_SECONDS);
        for _ in 0..100 {
            self.tick(concert).await;
            let status = self
                .booking
                .queue_status(&fan, Some(&ticket.token))
                .await
                .expect("poll the queue");
            if status.status == QueueStatus::Active {
                return (fan, ticket.token);
            }
        }
        panic!("{name} was never admitted");
    }

    /// One admission tick over every live queue, as the scheduled function runs it, in the
    /// next tick slot (the clock moves on to it when the last tick took this one).
    pub async fn tick_report(&self) -> ticketing::booking::AdmissionReport {
        let report = self.tick_anyhow().await;
        assert_eq!(report.deferred, 0, "no other tick races this one");
        report
    }

    /// A tick in the next tick slot, whatever it reports.
    pub async fn tick_anyhow(&self) -> ticketing::booking::AdmissionReport {
        let every = self.booking.settings().admit_tick_seconds.max(1) as i64;
        let due = *self.next_slot_at.lock().unwrap();
        let now = self.now().epoch_seconds();
        if now < due {
            self.advance(due - now);
        }
        let now = self.now().epoch_seconds();
        *self.next_slot_at.lock().unwrap() = (now.div_euclid(every) + 1) * every;
        self.booking.admit_waiting().await.expect("admission tick")
    }

    /// One tick (see [`World::tick_report`]); what it admitted and dropped for `concert`.
    pub async fn tick(&self, concert: &str) -> (usize, usize) {
        self.tick_report()
            .await
            .concerts
            .iter()
            .find(|c| c.concert_id.as_str() == concert)
            .map_or((0, 0), |c| (c.admitted.len(), c.dropped.len()))
    }

    /// Loads a concert of one date, 2026-12-24, of `seats` seats at 1,000 each: a hall small
    /// enough for a test to count what every seat and every slot is doing.
    pub async fn small_concert(&self, id: &str, seats: i64) {
        let catalog = Catalog::from_json(&format!(
            r#"{{"concerts": [{{"concertId": "{id}", "title": "{id}", "dates": ["2026-12-24"],
                 "seatPrices": [{{"fromSeat": 1, "toSeat": {seats}, "price": 1000}}]}}]}}"#
        ))
        .expect("a small concert is a valid catalog");
        self.booking
            .load_catalog(&catalog)
            .await
            .expect("load the small concert");
    }

    pub async fn hold(
        &self,
        fan: &UserId,
        token: &QueueToken,
        concert: &str,
        date: &str,
        seat: i64,
    ) -> Result<Reservation, ticketing::BookingError> {
        self.booking
            .hold_seats(fan, Some(token), &hold_request(concert, date, seat), None)
            .await
            .map(|(reservation, _)| reservation)
    }

    /// An operator pauses or resumes the concert's admission, as `PATCH .../waiting-room` does.
    pub async fn pause(&self, concert: &str, paused: bool) {
        self.booking
            .change_admission(
                &OperatorId::parse("ops-desk").unwrap(),
                &concert_id(concert),
                &QueueControlChange {
                    paused: Some(paused),
                    ..QueueControlChange::default()
                },
            )
            .await
            .expect("change the waiting room");
    }

    pub async fn charged(&self, fan: &UserId, amount: i64) {
        self.booking
            .charge(fan, ChargeAmount::parse(amount).unwrap(), None)
            .await
            .expect("charge");
    }

    pub async fn seat_is_sold(&self, concert: &str, date: &str, seat: i64) -> bool {
        self.date_seats(concert, date)
            .await
            .is_sold(SeatNumber::parse(seat).unwrap())
    }

    /// Every block of the date's seats, as stored.
    pub async fn date_seats(&self, concert: &str, date: &str) -> DateSeatsRecord {
        let id = concert_id(concert);
        let record = self.store.concert(&id).await.unwrap().expect("the concert");
        self.store
            .seat_blocks(&id, day(date), &record.blocks())
            .await
            .unwrap()
    }
}

pub fn fan(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

pub fn concert_id(id: &str) -> ConcertId {
    ConcertId::parse(id).unwrap()
}

pub fn day(date: &str) -> ConcertDate {
    ConcertDate::parse(date).unwrap()
}

pub fn hold_request(concert: &str, date: &str, seat: i64) -> HoldRequest {
    HoldRequest::seat(
        concert_id(concert),
        day(date),
        SeatNumber::parse(seat).unwrap(),
    )
}

impl World {
    /// Many fans joining at once, then a tick that counts them (and admits what the settings
    /// let it): how many joined.
    pub async fn counted_crowd(&self, prefix: &str, count: usize, concert: &str) -> usize {
        let mut joins = tokio::task::JoinSet::new();
        for i in 0..count {
            let booking = self.booking.clone();
            let name = format!("{prefix}{i:04}");
            let concert = concert_id(concert);
            joins.spawn(async move { booking.join_queue(&fan(&name), &concert).await.is_ok() });
        }
        let joined = joins.join_all().await.into_iter().filter(|j| *j).count();
        self.advance(SETTLE_SECONDS);
        self.tick(concert).await;
        joined
    }

    /// Many fans joining at once and admitted together (the settings must let them all in).
    pub async fn admitted_crowd(
        &self,
        prefix: &str,
        count: usize,
        concert: &str,
    ) -> Vec<(UserId, QueueToken)> {
        let mut joins = tokio::task::JoinSet::new();
        for i in 0..count {
            let booking = self.booking.clone();
            let name = format!("{prefix}{i:04}");
            let concert = concert_id(concert);
            joins.spawn(async move {
                let fan = fan(&name);
                let (ticket, _) = booking.join_queue(&fan, &concert).await.expect("join");
                (fan, ticket.token)
            });
        }
        let crowd = joins.join_all().await;
        self.advance(SETTLE_SECONDS);
        while self.tick(concert).await != (0, 0) {}
        crowd
    }
}

impl World {
    /// Every seat of a listing (the date's, or one section's), page after page of `limit` as a
    /// client follows `nextCursor`, and how many pages that took. Fails if a seat is listed
    /// twice or the pages never end.
    pub async fn listed_seats(
        &self,
        fan: &UserId,
        token: &QueueToken,
        concert: &str,
        date: &str,
        section: Option<&str>,
        limit: usize,
    ) -> (Vec<SeatView>, usize) {
        let limit = PageLimit::parse_up_to(&limit.to_string(), SEAT_PAGE_LIMIT).expect("a limit");
        let (mut seats, mut pages, mut cursor) = (Vec::<SeatView>::new(), 0, None);
        loop {
            let page = SeatPage { limit, cursor };
            let chart = self
                .booking
                .seat_listing(
                    fan,
                    Some(token),
                    &concert_id(concert),
                    day(date),
                    section,
                    page,
                )
                .await
                .expect("list a page of seats");
            pages += 1;
            assert!(chart.seats.len() <= limit.get(), "a page over its limit");
            if let (Some(before), Some(first)) = (seats.last(), chart.seats.first()) {
                assert!(
                    before.seat_number < first.seat_number,
                    "a seat listed twice"
                );
            }
            seats.extend(chart.seats);
            match chart.next_cursor {
                Some(next) => cursor = Some(SeatCursor::parse(&next).expect("a cursor")),
                None => return (seats, pages),
            }
            assert!(pages <= 1_000, "the pages never end");
        }
    }
}
