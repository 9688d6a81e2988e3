//! Transaction conflicts, as DynamoDB makes them, on DynamoDB only: DynamoDB Local never cancels
//! a transaction for `TransactionConflict`, so these scenarios reach it through the fault proxy
//! (`scripts/fault_proxy.py`), whose conflict window keeps each transaction in flight, owning its
//! items, for that long. Each scenario starts a write, then, once its transaction is in flight
//! (the proxy says so), a second write of one of its items. The window is the store's conflict
//! budget and more than as long again, so the second gives up for certain, however slow its
//! reads: `503 SERVICE_BUSY` with `Retry-After`, never a refusal that
//! blames the seat, the hold or the balance, and nothing of it written. Sent again once the
//! first is done, it applies, once. The state left is checked whole.
//!
//! The proxy's configuration is process-wide: the scenarios take turns (`TURNS`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Mutex;

use ticketing::booking::{audit, PageLimit, ReservationStatus};
use ticketing::domain::{ChargeAmount, IdempotencyKey, SeatNumber, UserId};
use ticketing::store::{StoredReservationStatus, CONFLICT_BUDGET};
use ticketing::{BookingError, Settings};

use crate::world::*;

/// One scenario at a time owns the proxy's conflict window.
static TURNS: Mutex<()> = Mutex::const_new(());
/// How long the first write's transaction stays in flight: the budget within which the store
/// resends a conflicted write, and twice that for the second write's reads before it (on a
/// busy machine, with the rest of the suite on the same DynamoDB Local).
const WINDOW: Duration = Duration::from_millis(3 * CONFLICT_BUDGET.as_millis() as u64);
/// How often the proxy is asked whether the first write's transaction is in flight yet.
const POLL: Duration = Duration::from_millis(10);
const DATE: &str = "2026-12-24";
/// Two seats of one price tier: one block, one ledger shard.
const SEATS: [i64; 2] = [11, 12];
const PRICE: i64 = 90_000;

/// The fault proxy's control API.
struct Proxy {
    address: String,
}

impl Proxy {
    fn call(&self, method: &str, path: &str, body: &str) -> Value {
        let mut stream = TcpStream::connect(&self.address).expect("reach the fault proxy");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "{method} {path}: {answer}"
        );
        serde_json::from_str(body).expect("JSON from the fault proxy")
    }

    /// Runs `first`, and `second` once a transaction is in flight (`first`'s: no other write
    /// runs); both answers.
    async fn overlapping<A, B>(
        &self,
        first: impl std::future::Future<Output = A>,
        second: impl std::future::Future<Output = B>,
    ) -> (A, B) {
        tokio::join!(first, async {
            // Not for ever: a first write that never reaches its transaction fails the scenario.
            let deadline = tokio::time::Instant::now() + WINDOW;
            while self.call("GET", "/__faults/stats", "")["inFlight"].as_u64() < Some(1)
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(POLL).await;
            }
            second.await
        })
    }

    /// Conflicts on until the guard is dropped, however the scenario ends.
    fn window_on(&self) -> WindowOn<'_> {
        self.call("DELETE", "/__faults/stats", "");
        let change = json!({"rate": 0, "conflictWindowMs": WINDOW.as_millis() as u64});
        self.call("PUT", "/__faults", &change.to_string());
        WindowOn(self)
    }
}

struct WindowOn<'p>(&'p Proxy);

impl WindowOn<'_> {
    /// Turns the window off and says what the proxy refused meanwhile.
    fn off(self) -> Value {
        let stats = self.0.call("GET", "/__faults/stats", "");
        drop(self);
        stats
    }
}

impl Drop for WindowOn<'_> {
    fn drop(&mut self) {
        self.0
            .call("PUT", "/__faults", r#"{"conflictWindowMs": 0}"#);
    }
}

/// A world through the proxy, its fans admitted for the whole scenario, and the proxy's turn.
async fn conflict_world() -> Option<(tokio::sync::MutexGuard<'static, ()>, World, Proxy)> {
    let turn = TURNS.lock().await;
    let (world, endpoint) = World::dynamodb_through_proxy().await?;
    let world = world.with_settings(Settings {
        active_seconds: 86_400,
        ..Settings::default()
    });
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let proxy = Proxy {
        address: address.to_owned(),
    };
    Some((turn, world, proxy))
}

/// The proxy cancelled at least one write, on one of `prefixes`' items.
fn conflicts_were_made(stats: &Value, prefixes: &[&str]) {
    assert!(stats["conflicts"].as_u64().unwrap_or(0) >= 1, "{stats}");
    let keys = stats["conflictsByKey"]
        .as_object()
        .expect("conflicts by key");
    assert!(
        keys.keys()
            .any(|k| prefixes.iter().any(|p| k.starts_with(p))),
        "no conflict on {prefixes:?}: {stats}"
    );
}

/// The answer a conflict past its resends gets: 503 SERVICE_BUSY with Retry-After.
fn busy(error: &BookingError) {
    let (status, code) = ticketing::http::describe(error);
    assert_eq!((status.as_u16(), code), (503, "SERVICE_BUSY"), "{error:?}");
    let response = ticketing::http::problem_response(error);
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1"),
        "{error:?}"
    );
}

fn seat(n: i64) -> SeatNumber {
    SeatNumber::parse(n).unwrap()
}

/// Each fan's reservations as stored: its seats and status.
async fn reservations_of(w: &World, fan: &UserId) -> Vec<(Vec<i64>, StoredReservationStatus)> {
    w.inventory()
        .await
        .reservations
        .into_iter()
        .filter(|r| &r.user_id == fan)
        .map(|r| {
            let seats = r.seats.iter().map(|s| s.seat_number.get() as i64).collect();
            (seats, r.status)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_holds_in_one_block_the_second_waits_out_the_first_with_a_503() {
    let Some((_turn, w, proxy)) = conflict_world().await else {
        return;
    };
    let (ana, ana_token) = w.admitted_fan("ana", SPRING).await;
    let (ben, ben_token) = w.admitted_fan("ben", SPRING).await;

    let window = proxy.window_on();
    let (first, second) = proxy
        .overlapping(
            w.hold(&ana, &ana_token, SPRING, DATE, SEATS[0]),
            w.hold(&ben, &ben_token, SPRING, DATE, SEATS[1]),
        )
        .await;
    let stats = window.off();
    conflicts_were_made(&stats, &["SEATS#", "LEDGER#"]);
    let first = first.expect("the hold in flight first is applied");
    busy(&second.expect_err("the hold that met it in flight gives up"));
    assert!(
        reservations_of(&w, &ben).await.is_empty(),
        "the refused hold wrote nothing"
    );
    let seats = w.date_seats(SPRING, DATE).await;
    let now = w.now().epoch_seconds();
    assert!(seats.is_held(seat(SEATS[0]), now));
    assert!(seats.is_free(seat(SEATS[1]), now));

    // Sent again, it holds; each fan has its one seat, and nothing else moved.
    let again = w
        .hold(&ben, &ben_token, SPRING, DATE, SEATS[1])
        .await
        .expect("the retried hold is applied");
    assert_eq!(first.status, ReservationStatus::Held);
    assert_eq!(again.status, ReservationStatus::Held);
    for (fan, seat_number) in [(&ana, SEATS[0]), (&ben, SEATS[1])] {
        assert_eq!(
            reservations_of(&w, fan).await,
            vec![(vec![seat_number], StoredReservationStatus::Held)]
        );
    }
    let seats = w.date_seats(SPRING, DATE).await;
    for n in 1..=50 {
        assert_eq!(seats.is_held(seat(n), now), SEATS.contains(&n), "seat {n}");
        assert!(!seats.is_sold(seat(n)), "seat {n}");
    }
    let inventory = w.inventory().await;
    let held: i64 = inventory
        .ledgers
        .iter()
        .filter(|(_, date, _, _)| *date == day(DATE))
        .flat_map(|(_, _, _, ledger)| ledger.holds.values())
        .sum();
    assert_eq!(held, 2, "the ledger counts both holds, once each");
    assert_eq!(audit(&inventory), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_payments_on_one_block_the_second_waits_out_the_first_with_a_503() {
    let Some((_turn, w, proxy)) = conflict_world().await else {
        return;
    };
    let mut fans = Vec::new();
    for (name, n) in [("ana", SEATS[0]), ("ben", SEATS[1])] {
        let (fan, token) = w.admitted_fan(name, SPRING).await;
        let held = w.hold(&fan, &token, SPRING, DATE, n).await.expect("hold");
        w.charged(&fan, 200_000).await;
        fans.push((fan, token, held.reservation_id));
    }
    let [(ana, ana_token, ana_hold), (ben, ben_token, ben_hold)] = &fans[..] else {
        unreachable!()
    };

    let window = proxy.window_on();
    let (first, second) = proxy
        .overlapping(
            w.booking.pay(ana, Some(ana_token), *ana_hold, None),
            w.booking.pay(ben, Some(ben_token), *ben_hold, None),
        )
        .await;
    let stats = window.off();
    conflicts_were_made(&stats, &["SEATS#", "LEDGER#"]);
    first.expect("the payment in flight first is applied");
    busy(&second.expect_err("the payment that met it in flight gives up"));
    assert_eq!(w.booking.balance(ben).await.unwrap().balance.get(), 200_000);
    assert!(!w.seat_is_sold(SPRING, DATE, SEATS[1]).await);
    assert_eq!(
        reservations_of(&w, ben).await,
        vec![(vec![SEATS[1]], StoredReservationStatus::Held)],
        "the refused payment wrote nothing"
    );

    w.booking
        .pay(ben, Some(ben_token), *ben_hold, None)
        .await
        .expect("the retried payment is applied");
    let inventory = w.inventory().await;
    assert_eq!(inventory.payments.len(), 2, "one payment each");
    for (fan, n) in [(ana, SEATS[0]), (ben, SEATS[1])] {
        assert!(w.seat_is_sold(SPRING, DATE, n).await);
        assert_eq!(
            w.booking.balance(fan).await.unwrap().balance.get(),
            200_000 - PRICE,
            "{fan} paid once"
        );
        assert_eq!(
            reservations_of(&w, fan).await,
            vec![(vec![n], StoredReservationStatus::Confirmed)]
        );
    }
    assert_eq!(audit(&inventory), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_charges_on_one_balance_the_second_waits_out_the_first_with_a_503() {
    let Some((_turn, w, proxy)) = conflict_world().await else {
        return;
    };
    let ana = fan("ana");
    let (first_key, second_key) = (
        IdempotencyKey::parse("first").unwrap(),
        IdempotencyKey::parse("second").unwrap(),
    );
    let charge = |amount: i64, key: &IdempotencyKey| {
        let (booking, ana, key) = (w.booking.clone(), ana.clone(), key.clone());
        async move {
            booking
                .charge(&ana, ChargeAmount::parse(amount).unwrap(), Some(&key))
                .await
        }
    };

    let window = proxy.window_on();
    let (first, second) = proxy
        .overlapping(charge(5_000, &first_key), charge(7_000, &second_key))
        .await;
    let stats = window.off();
    conflicts_were_made(&stats, &["USER#ana|BALANCE"]);
    assert_eq!(
        first.expect("the charge in flight first").balance.get(),
        5_000
    );
    busy(&second.expect_err("the charge that met it in flight gives up"));
    assert_eq!(w.booking.balance(&ana).await.unwrap().balance.get(), 5_000);

    // The refused charge's key was freed: sent again, it applies; the first's replays.
    let again = charge(7_000, &second_key)
        .await
        .expect("the retried charge");
    assert_eq!(again.balance.get(), 12_000);
    let replay = charge(5_000, &first_key)
        .await
        .expect("the first, replayed");
    assert_eq!(
        replay.balance.get(),
        5_000,
        "the first answer, not a new charge"
    );
    assert_eq!(w.booking.balance(&ana).await.unwrap().balance.get(), 12_000);
    let history = w
        .booking
        .balance_history(&ana, PageLimit::parse("100").unwrap(), None)
        .await
        .unwrap();
    let after: Vec<i64> = history
        .items
        .iter()
        .map(|i| i.balance_after.get())
        .collect();
    assert_eq!(after, vec![12_000, 5_000], "two entries, newest first");
    assert_eq!(audit(&w.inventory().await), Vec::<String>::new());
}

/// A single-item write meets a transaction in flight (`TransactionConflictException`): a
/// client's retry of a charge whose first send is still being applied claims the same key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_claiming_a_key_in_flight_gets_a_503_then_the_first_answer() {
    let Some((_turn, w, proxy)) = conflict_world().await else {
        return;
    };
    let ana = fan("ana");
    let key = IdempotencyKey::parse("double-click").unwrap();
    let charge = || {
        let (booking, ana, key) = (w.booking.clone(), ana.clone(), key.clone());
        async move {
            booking
                .charge(&ana, ChargeAmount::parse(5_000).unwrap(), Some(&key))
                .await
        }
    };

    let window = proxy.window_on();
    let (first, second) = proxy.overlapping(charge(), charge()).await;
    let stats = window.off();
    conflicts_were_made(&stats, &["USER#ana|IDEMPOTENCY#double-click"]);
    assert!(
        stats["byOperation"]["PutItem"]["conflict"].as_u64() >= Some(1),
        "the claim itself was refused: {stats}"
    );
    assert_eq!(first.expect("the first send").balance.get(), 5_000);
    busy(&second.expect_err("the claim that met the first in flight gives up"));

    let replay = charge().await.expect("sent again, it replays");
    assert_eq!(replay.balance.get(), 5_000);
    assert_eq!(w.booking.balance(&ana).await.unwrap().balance.get(), 5_000);
    let history = w
        .booking
        .balance_history(&ana, PageLimit::parse("100").unwrap(), None)
        .await
        .unwrap();
    assert_eq!(history.items.len(), 1, "applied once");
}
