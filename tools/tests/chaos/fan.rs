//! One fan's whole journey over HTTP, as a careful client walks it: join the queue, poll as told
//! until admitted, list the dates and the seats, hold an available seat, top the balance up in
//! two keyed charges, pay with a key. What the fan was told is kept for the audit.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{jitter, pause_until, Api, GaveUp, Request, Sent};

/// The demo catalog's concert with one date: every fan competes for the same 50 seats.
pub const CONCERT: &str = "midnight-orchestra";
/// A fan picks at random among the first few available seats, so fans collide.
const SEAT_CHOICES: usize = 5;

pub mod endpoint {
    pub const CONCERTS: &str = "GET /concerts";
    pub const JOIN: &str = "POST /concerts/{id}/queue/tokens";
    pub const STATUS: &str = "GET /queue/status";
    pub const DATES: &str = "GET /concerts/{id}/dates";
    pub const SEATS: &str = "GET /concerts/{id}/dates/{date}/seats";
    pub const SECTIONS: &str = "GET /concerts/{id}/dates/{date}/sections";
    pub const HOLD: &str = "POST /reservations";
    pub const RESERVATIONS: &str = "GET /reservations";
    pub const RESERVATION: &str = "GET /reservations/{id}";
    pub const CHARGE: &str = "POST /balance/charges";
    pub const PAY: &str = "POST /payments";
    pub const PAYMENT: &str = "GET /payments/{id}";
    pub const BALANCE: &str = "GET /balance";
    pub const HISTORY: &str = "GET /balance/transactions";
}

#[derive(Debug)]
pub struct FanRecord {
    pub user: String,
    pub token: Option<String>,
    pub date: Option<String>,
    pub holds: Vec<Hold>,
    /// Charges sent at least once, in the order they were made.
    pub charges: Vec<Charge>,
    /// The payment, once sent at least once.
    pub payment: Option<PaymentAttempt>,
    pub end: End,
    /// From the start of the journey to the end, whatever it was.
    pub took: Duration,
    /// From the start of the journey to the poll that said ACTIVE.
    pub admitted_after: Option<Duration>,
    /// Answers a careful client following docs/api.md's retry rules should never get.
    pub surprises: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seat {
    pub concert: String,
    pub date: String,
    pub number: u64,
}

#[derive(Debug)]
pub struct Hold {
    pub seat: Seat,
    pub outcome: HoldOutcome,
}

#[derive(Debug)]
pub enum HoldOutcome {
    /// 200 or 201 (or found in `GET /reservations` after a retried hold): this reservation.
    Held { reservation: Value },
    /// `409 SEAT_UNAVAILABLE` to a hold sent once: someone else has it.
    Refused,
    /// No answer before the deadline, or a `409` to a retried hold with no way to look for our
    /// own: the fan may hold it.
    Unknown,
}

#[derive(Debug)]
pub struct Charge {
    pub key: String,
    pub amount: i64,
    /// Final answers (after any 5xx and transport retries), `+retry` when earlier attempts
    /// went out; then `settle:` answers sent after the run.
    pub answers: Vec<String>,
    pub acknowledged: bool,
    pub key_use: KeyUse,
}

/// What a key's requests can tell about the server's side of them.
#[derive(Debug, Default)]
pub struct KeyUse {
    /// Some request with the key went unanswered (transport error or timeout): the server may
    /// have been running it for a while, and may have left its claim to lapse.
    pub in_doubt: bool,
    /// `409 IDEMPOTENCY_KEY_IN_USE` answers while every earlier request with the key had been
    /// answered: nothing was in flight, so the key was not in use.
    pub in_use_with_nothing_in_flight: usize,
}

impl KeyUse {
    /// Notes an answer (`None`: gave up without one) and whether it is the key's in-use refusal.
    pub fn note(&mut self, after_transport_error: bool, in_use: bool) {
        self.in_doubt |= after_transport_error;
        if in_use && !self.in_doubt {
            self.in_use_with_nothing_in_flight += 1;
        }
    }
}

#[derive(Debug)]
pub struct PaymentAttempt {
    pub key: String,
    pub reservation_id: String,
    pub seat: Seat,
    pub price: i64,
    pub answers: Vec<String>,
    pub key_use: KeyUse,
    /// Every 201 body, first answers and replays: all must be the same receipt.
    pub receipts: Vec<Value>,
    /// Known not to have happened (its reservation still HELD after the run).
    pub unpaid: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Paid,
    NoSeatLeft,
    OutOfTime(&'static str),
    Surprised(&'static str),
}

pub enum Stop {
    OutOfTime(&'static str),
    Surprise(&'static str, String),
}

impl FanRecord {
    pub fn receipt(&self) -> Option<&Value> {
        self.payment.as_ref().and_then(|p| p.receipts.first())
    }
}

/// Walks the journey until paid, out of seats, surprised, or `deadline`.
pub async fn journey(api: &Api, user: String, deadline: Instant) -> FanRecord {
    let started = Instant::now();
    let mut fan = FanRecord {
        user,
        token: None,
        date: None,
        holds: Vec::new(),
        charges: Vec::new(),
        payment: None,
        end: End::OutOfTime("start"),
        took: Duration::ZERO,
        admitted_after: None,
        surprises: Vec::new(),
    };
    fan.end = match walk(api, &mut fan, started, deadline).await {
        Ok(end) => end,
        Err(Stop::OutOfTime(stage)) => End::OutOfTime(stage),
        Err(Stop::Surprise(stage, what)) => {
            fan.surprises.push(format!("{stage}: {what}"));
            End::Surprised(stage)
        }
    };
    fan.took = started.elapsed();
    fan
}

async fn walk(
    api: &Api,
    fan: &mut FanRecord,
    started: Instant,
    deadline: Instant,
) -> Result<End, Stop> {
    let user = fan.user.clone();
    let send = |request: Request, stage: &'static str| {
        let user = user.clone();
        async move {
            api.send(&user, &request, deadline)
                .await
                .map_err(|_| Stop::OutOfTime(stage))
        }
    };

    let join = Request::post(
        endpoint::JOIN,
        format!("/concerts/{CONCERT}/queue/tokens"),
        None,
    );
    let joined = expect(send(join, "join").await?, &[200, 201], "join")?;
    let token = text(&joined.body["token"], "join", &joined)?;
    fan.token = Some(token.clone());

    loop {
        let status = Request::get(endpoint::STATUS, "/queue/status").token(&token);
        let ticket = expect(send(status, "queue").await?, &[200], "queue")?;
        match ticket.body["status"].as_str() {
            Some("ACTIVE") => {
                fan.admitted_after = Some(started.elapsed());
                break;
            }
            Some("SOLD_OUT") => return Ok(End::NoSeatLeft),
            Some("WAITING" | "PRE_QUEUE") => {}
            _ => return Err(surprised("queue", &ticket)),
        }
        let after = ticket.body["pollAfterSeconds"].as_u64().unwrap_or(1);
        pause_until(Duration::from_secs(after), deadline).await;
    }

    let dates = Request::get(endpoint::DATES, format!("/concerts/{CONCERT}/dates")).token(&token);
    let dates = expect(send(dates, "dates").await?, &[200], "dates")?;
    let Some(date) = dates.body["dates"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["remainingSeats"].as_u64() > Some(0))
        .and_then(|d| d["date"].as_str())
        .map(str::to_owned)
    else {
        return Ok(End::NoSeatLeft);
    };
    fan.date = Some(date.clone());

    let reservation = loop {
        let seats = Request::get(
            endpoint::SEATS,
            format!("/concerts/{CONCERT}/dates/{date}/seats"),
        )
        .token(&token);
        let chart = expect(send(seats, "seats").await?, &[200], "seats")?;
        let available: Vec<u64> = chart.body["seats"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["status"] == "AVAILABLE")
            .filter_map(|s| s["seatNumber"].as_u64())
            .collect();
        if available.is_empty() {
            return Ok(End::NoSeatLeft);
        }
        let number = available[fastrand::usize(..available.len().min(SEAT_CHOICES))];
        let seat = Seat {
            concert: CONCERT.to_owned(),
            date: date.clone(),
            number,
        };
        if let Some(reservation) = hold(api, fan, &token, seat, deadline).await? {
            break reservation;
        }
    };

    let price = reservation["price"]
        .as_i64()
        .ok_or_else(|| Stop::Surprise("hold", format!("no price in {reservation}")))?;
    // Two top-ups at once, each with its own key: concurrent charges must all apply, once each.
    let first = price * 2 / 5;
    let ((one, one_done), (two, two_done)) = tokio::join!(
        charge(api, &user, format!("{user}-charge-1"), first, deadline),
        charge(
            api,
            &user,
            format!("{user}-charge-2"),
            price - first,
            deadline
        ),
    );
    fan.charges.extend(one.into_iter().chain(two));
    one_done?;
    two_done?;

    pay(api, fan, &token, &reservation, deadline).await
}

/// Holds `seat`: `Some(reservation)` when the fan holds it, `None` when it should try another.
async fn hold(
    api: &Api,
    fan: &mut FanRecord,
    token: &str,
    seat: Seat,
    deadline: Instant,
) -> Result<Option<Value>, Stop> {
    let body = json!({"concertId": seat.concert, "date": seat.date, "seatNumber": seat.number});
    let request = Request::post(endpoint::HOLD, "/reservations", Some(body)).token(token);
    let sent = match api.send(&fan.user, &request, deadline).await {
        Ok(sent) => sent,
        Err(GaveUp { attempts, .. }) => {
            if attempts > 0 {
                fan.holds.push(Hold {
                    seat,
                    outcome: HoldOutcome::Unknown,
                });
            }
            return Err(Stop::OutOfTime("hold"));
        }
    };
    let outcome = match (sent.reply.status, sent.reply.code()) {
        (200 | 201, _) => {
            let r = &sent.reply.body;
            if r["status"] != "HELD"
                || r["seatNumber"] != seat.number
                || r["date"] != seat.date.as_str()
                || !r["reservationId"].is_string()
            {
                return Err(surprised("hold", &sent.reply));
            }
            HoldOutcome::Held {
                reservation: r.clone(),
            }
        }
        // An earlier attempt may have taken the seat for us: the API answers a retried hold by
        // its holder with 200, and GET /reservations lists our own.
        (409, "SEAT_UNAVAILABLE") if sent.retried => {
            match own_live_hold(api, fan, &seat, deadline).await? {
                Lookup::Found(reservation) => HoldOutcome::Held { reservation },
                Lookup::Absent => HoldOutcome::Refused,
                Lookup::Unavailable => HoldOutcome::Unknown,
            }
        }
        (409, "SEAT_UNAVAILABLE") => HoldOutcome::Refused,
        _ => return Err(surprised("hold", &sent.reply)),
    };
    let held = match &outcome {
        HoldOutcome::Held { reservation } => Some(reservation.clone()),
        _ => None,
    };
    fan.holds.push(Hold { seat, outcome });
    Ok(held)
}

pub enum Lookup {
    Found(Value),
    Absent,
    /// `GET /reservations` is not there (404/405): the caller cannot tell.
    Unavailable,
}

/// The caller's live hold on `seat`, from `GET /reservations` (newest first, paged).
pub async fn own_live_hold(
    api: &Api,
    fan: &FanRecord,
    seat: &Seat,
    deadline: Instant,
) -> Result<Lookup, Stop> {
    let Some(items) = own_reservations(api, &fan.user, deadline).await? else {
        return Ok(Lookup::Unavailable);
    };
    Ok(items
        .into_iter()
        .find(|r| {
            r["status"] == "HELD"
                && r["concertId"] == seat.concert.as_str()
                && r["date"] == seat.date.as_str()
                && r["seatNumber"] == seat.number
        })
        .map_or(Lookup::Absent, Lookup::Found))
}

/// Every reservation of `user` from `GET /reservations`; `None` while the route is missing.
pub async fn own_reservations(
    api: &Api,
    user: &str,
    deadline: Instant,
) -> Result<Option<Vec<Value>>, Stop> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/reservations?limit=100".to_owned(),
            Some(c) => format!("/reservations?limit=100&cursor={c}"),
        };
        let sent = api
            .send(user, &Request::get(endpoint::RESERVATIONS, path), deadline)
            .await
            .map_err(|_| Stop::OutOfTime("reservations"))?;
        match sent.reply.status {
            200 => {}
            404 | 405 => return Ok(None),
            _ => return Err(surprised("reservations", &sent.reply)),
        }
        items.extend(
            sent.reply.body["items"]
                .as_array()
                .into_iter()
                .flatten()
                .cloned(),
        );
        match sent.reply.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(Some(items)),
        }
    }
}

/// One keyed top-up, sent until answered: `None` when it never went out.
async fn charge(
    api: &Api,
    user: &str,
    key: String,
    amount: i64,
    deadline: Instant,
) -> (Option<Charge>, Result<(), Stop>) {
    let request = Request::post(
        endpoint::CHARGE,
        "/balance/charges",
        Some(json!({"amount": amount})),
    )
    .header("Idempotency-Key", &key);
    let mut charge = Charge {
        key,
        amount,
        answers: Vec::new(),
        acknowledged: false,
        key_use: KeyUse::default(),
    };
    loop {
        let sent = match api.send(user, &request, deadline).await {
            Ok(sent) => sent,
            Err(gave_up) => {
                charge.key_use.note(gave_up.after_transport_error, false);
                let sent_once = gave_up.attempts > 0 || !charge.answers.is_empty();
                return (sent_once.then_some(charge), Err(Stop::OutOfTime("charge")));
            }
        };
        charge.answers.push(answer(&sent));
        charge
            .key_use
            .note(sent.after_transport_error, is_in_use(&sent));
        match (sent.reply.status, sent.reply.code()) {
            (200, _) if sent.reply.body["balance"].as_i64() >= Some(amount) => {
                charge.acknowledged = true;
                return (Some(charge), Ok(()));
            }
            // The first attempt is still running (or its claim still locks the key): same again.
            (409, "IDEMPOTENCY_KEY_IN_USE") => {
                pause_until(Duration::from_secs(1) + jitter(500), deadline).await
            }
            _ => {
                let surprise = surprised("charge", &sent.reply);
                return (Some(charge), Err(surprise));
            }
        }
    }
}

/// Pays for `reservation` with one key, sent until a receipt comes back.
async fn pay(
    api: &Api,
    fan: &mut FanRecord,
    token: &str,
    reservation: &Value,
    deadline: Instant,
) -> Result<End, Stop> {
    let reservation_id = reservation["reservationId"].as_str().unwrap_or_default();
    let key = format!("{}-pay", fan.user);
    let request = payment_request(token, &key, reservation_id);
    let mut payment = PaymentAttempt {
        key,
        reservation_id: reservation_id.to_owned(),
        seat: Seat {
            concert: CONCERT.to_owned(),
            date: reservation["date"].as_str().unwrap_or_default().to_owned(),
            number: reservation["seatNumber"].as_u64().unwrap_or_default(),
        },
        price: reservation["price"].as_i64().unwrap_or_default(),
        answers: Vec::new(),
        key_use: KeyUse::default(),
        receipts: Vec::new(),
        unpaid: false,
    };
    let end = loop {
        let sent = match api.send(&fan.user, &request, deadline).await {
            Ok(sent) => sent,
            Err(gave_up) => {
                if gave_up.attempts == 0 && payment.answers.is_empty() {
                    return Err(Stop::OutOfTime("pay"));
                }
                payment.key_use.note(gave_up.after_transport_error, false);
                break Err(Stop::OutOfTime("pay"));
            }
        };
        payment.answers.push(answer(&sent));
        payment
            .key_use
            .note(sent.after_transport_error, is_in_use(&sent));
        match (sent.reply.status, sent.reply.code()) {
            (201, _) => {
                payment.receipts.push(sent.reply.body);
                break Ok(End::Paid);
            }
            // IN_USE: the first attempt is still running or its claim still locks the key.
            // ALREADY_PAID: only this key ever pays this reservation, so an earlier attempt did;
            // the same keyed request must come back with that receipt.
            (409, "IDEMPOTENCY_KEY_IN_USE" | "ALREADY_PAID") => {
                pause_until(Duration::from_secs(1) + jitter(500), deadline).await
            }
            _ => break Err(surprised("pay", &sent.reply)),
        }
    };
    fan.payment = Some(payment);
    end
}

pub fn payment_request(token: &str, key: &str, reservation_id: &str) -> Request {
    Request::post(
        endpoint::PAY,
        "/payments",
        Some(json!({"reservationId": reservation_id})),
    )
    .token(token)
    .header("Idempotency-Key", key)
}

pub fn is_in_use(sent: &Sent) -> bool {
    (sent.reply.status, sent.reply.code()) == (409, "IDEMPOTENCY_KEY_IN_USE")
}

/// `409 ALREADY_PAID`, marked `+retry` when earlier attempts went out first.
pub fn answer(sent: &Sent) -> String {
    match (sent.retried, sent.after_transport_error) {
        (false, _) => sent.reply.describe(),
        (true, false) => format!("{} +retry after 5xx", sent.reply.describe()),
        (true, true) => format!("{} +retry after transport error", sent.reply.describe()),
    }
}

/// Answers with repeats folded: `[409 IDEMPOTENCY_KEY_IN_USE x15, 200]`.
pub fn compact(answers: &[String]) -> String {
    let mut runs: Vec<(&str, usize)> = Vec::new();
    for answer in answers {
        match runs.last_mut() {
            Some((last, n)) if last == answer => *n += 1,
            _ => runs.push((answer, 1)),
        }
    }
    let runs: Vec<String> = runs
        .into_iter()
        .map(|(answer, n)| match n {
            1 => answer.to_owned(),
            n => format!("{answer} x{n}"),
        })
        .collect();
    format!("[{}]", runs.join(", "))
}

fn expect(sent: Sent, statuses: &[u16], stage: &'static str) -> Result<crate::client::Reply, Stop> {
    if statuses.contains(&sent.reply.status) {
        Ok(sent.reply)
    } else {
        Err(surprised(stage, &sent.reply))
    }
}

fn text(value: &Value, stage: &'static str, reply: &crate::client::Reply) -> Result<String, Stop> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| surprised(stage, reply))
}

fn surprised(stage: &'static str, reply: &crate::client::Reply) -> Stop {
    Stop::Surprise(stage, format!("{} {}", reply.status, reply.body))
}
