//! After the run and the settling, with faults off: what the API shows must agree with what the
//! fans were told. No seat sold twice or without its one receipt, every receipt's seat owned,
//! every balance the sum of its history and never negative, every keyed charge and payment
//! applied exactly once, every 5xx a clean 503, and no fan told a seat or a key is taken by
//! someone else when the someone was itself.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{Api, Request};
use crate::fan::{compact, endpoint, own_reservations, FanRecord, HoldOutcome, Seat, CONCERT};

const AUDITOR: &str = "chaos-auditor";
/// A date of more seats than this is listed a section at a time.
const LISTED_AT_ONCE: u64 = 1000;

/// Every broken rule, each with its evidence.
pub async fn audit(api: &Api, fans: &[FanRecord], deadline: Instant) -> Vec<String> {
    let mut wrong = answers(fans);
    wrong.extend(api.bad_5xx());
    wrong.extend(one_receipt_per_seat(fans));
    let each_fan = fans.iter().map(|fan| async move {
        let mut wrong = receipt(api, fan, deadline).await;
        wrong.extend(unpaid_holds(api, fan, deadline).await);
        wrong.extend(balance(api, fan, deadline).await);
        wrong
    });
    wrong.extend(
        futures::future::join_all(each_fan)
            .await
            .into_iter()
            .flatten(),
    );
    let (broken, chart) = charts(api, fans, deadline).await;
    wrong.extend(broken);
    if let Some(chart) = chart {
        wrong.extend(held_seats(api, fans, &chart, deadline).await);
    }
    wrong
}

/// The table itself, read directly at `dynamodb` (DynamoDB Local, not the fault proxy): the domain's
/// audit of every seat, payment, reservation, balance and entry (no seat sold twice, every
/// sold seat paid once and confirmed once, every balance the sum of its entries and never
/// negative), and every receipt a fan was given stored as told.
pub async fn table_audit(dynamodb: &str, table: &str, fans: &[FanRecord]) -> Vec<String> {
    let store = ticketing::store::DynamoStore::connect(table, Some(dynamodb)).await;
    let inventory = match store.inventory().await {
        Ok(inventory) => inventory,
        Err(error) => return vec![format!("the table could not be read back: {error}")],
    };
    let mut broken: Vec<String> = ticketing::booking::audit(&inventory)
        .into_iter()
        .map(|v| format!("table: {v}"))
        .collect();
    // Every fan told 201 for a payment has that payment, of its seat, in the table.
    for fan in fans {
        let receipts = fan.payment.iter().flat_map(|p| p.receipts.iter());
        for receipt in receipts {
            let id = receipt["paymentId"].as_str().unwrap_or_default();
            let stored = inventory
                .payments
                .iter()
                .find(|p| p.payment_id.to_string() == id);
            match stored {
                Some(p)
                    if p.user_id.as_str() == fan.user
                        && Some(p.seat_numbers[0].get().into())
                            == receipt["seatNumber"].as_u64() => {}
                Some(p) => broken.push(format!(
                    "table: payment {id} told to {} is {}'s, for seats {:?}",
                    fan.user, p.user_id, p.seat_numbers
                )),
                None => broken.push(format!(
                    "table: {} was told 201 for payment {id}, which is not stored",
                    fan.user
                )),
            }
        }
    }
    broken
}

/// What the fans were told along the way.
fn answers(fans: &[FanRecord]) -> Vec<String> {
    let mut wrong = Vec::new();
    for fan in fans {
        let user = &fan.user;
        wrong.extend(
            fan.surprises
                .iter()
                .map(|s| format!("{user}: unexpected answer: {s}")),
        );
        // IN_USE is for while an earlier request with the key is still in flight. Once every
        // earlier one was answered (the server finished it), nothing is.
        let keys = fan
            .charges
            .iter()
            .map(|c| ("charge", &c.key, &c.key_use, &c.answers))
            .chain(
                fan.payment
                    .iter()
                    .map(|p| ("payment", &p.key, &p.key_use, &p.answers)),
            );
        for (what, key, key_use, answers) in keys {
            if key_use.in_use_with_nothing_in_flight > 0 {
                wrong.push(format!(
                    "{user}: {what} {key} was told 409 IDEMPOTENCY_KEY_IN_USE {} times while \
                     every earlier request with the key had been answered; answers: {}",
                    key_use.in_use_with_nothing_in_flight,
                    compact(answers)
                ));
            }
        }
        let Some(payment) = &fan.payment else {
            continue;
        };
        // Only this key pays this reservation: ALREADY_PAID, then its receipt, means the
        // request that paid was told it had not.
        if !payment.receipts.is_empty()
            && payment.answers.iter().any(|a| a.contains("ALREADY_PAID"))
        {
            wrong.push(format!(
                "{user}: payment {} of reservation {} was answered 409 ALREADY_PAID although \
                 the same key then replayed its receipt {}; answers: {}",
                payment.key,
                payment.reservation_id,
                payment.receipts[0],
                compact(&payment.answers)
            ));
        }
    }
    wrong
}

/// The seats of the fans' receipts, with the fan.
fn receipts(fans: &[FanRecord]) -> Vec<(&str, &Seat)> {
    fans.iter()
        .filter_map(|fan| {
            let payment = fan.payment.as_ref()?;
            payment.receipts.first()?;
            Some((fan.user.as_str(), &payment.seat))
        })
        .collect()
}

/// No two receipts name the same seat.
fn one_receipt_per_seat(fans: &[FanRecord]) -> Vec<String> {
    let mut owners: BTreeMap<&Seat, Vec<&str>> = BTreeMap::new();
    for (user, seat) in receipts(fans) {
        owners.entry(seat).or_default().push(user);
    }
    owners
        .into_iter()
        .filter(|(_, users)| users.len() > 1)
        .map(|(seat, users)| format!("{seat:?} has receipts of {users:?}"))
        .collect()
}

/// The fan's receipt is the same on every replay, for the seat it held, readable, and its
/// reservation CONFIRMED.
async fn receipt(api: &Api, fan: &FanRecord, deadline: Instant) -> Vec<String> {
    let mut wrong = Vec::new();
    let user = fan.user.as_str();
    let Some(payment) = &fan.payment else {
        return wrong;
    };
    let Some(receipt) = payment.receipts.first() else {
        return wrong;
    };
    if payment.receipts.iter().any(|r| r != receipt) {
        wrong.push(format!(
            "{user}: key {} answered different receipts: {:?}",
            payment.key, payment.receipts
        ));
    }
    let seat = &payment.seat;
    let names = (
        receipt["reservationId"].as_str(),
        receipt["concertId"].as_str(),
        receipt["date"].as_str(),
        receipt["seatNumber"].as_u64(),
        receipt["amount"].as_i64(),
    );
    let paid_for = (
        Some(payment.reservation_id.as_str()),
        Some(seat.concert.as_str()),
        Some(seat.date.as_str()),
        Some(seat.number),
        Some(payment.price),
    );
    if names != paid_for {
        wrong.push(format!(
            "{user}: receipt {receipt} is not for reservation {} of {seat:?} at {}",
            payment.reservation_id, payment.price
        ));
    }
    let payment_id = receipt["paymentId"].as_str().unwrap_or_default();
    let path = format!("/payments/{payment_id}");
    let read = get(api, user, endpoint::PAYMENT, &path, deadline).await;
    if read.as_ref() != Some(receipt) {
        wrong.push(format!(
            "{user}: GET {path} reads {read:?}, not the receipt {receipt}"
        ));
    }
    let path = format!("/reservations/{}", payment.reservation_id);
    let reservation = get(api, user, endpoint::RESERVATION, &path, deadline).await;
    let confirmed = reservation.as_ref().is_some_and(|r| {
        r["status"] == "CONFIRMED" && r["seatNumber"] == seat.number && r["date"] == seat.date
    });
    if !confirmed {
        wrong.push(format!(
            "{user}: paid reservation {} reads {reservation:?}, not CONFIRMED for seat {}",
            payment.reservation_id, seat.number
        ));
    }
    wrong
}

/// Every hold the fan was given and did not pay for is still HELD; once `GET /reservations`
/// exists, every HELD reservation it lists is one the fan was given (or may have been).
async fn unpaid_holds(api: &Api, fan: &FanRecord, deadline: Instant) -> Vec<String> {
    let mut wrong = Vec::new();
    let user = fan.user.as_str();
    let paid = fan
        .payment
        .as_ref()
        .filter(|p| !p.receipts.is_empty())
        .map(|p| p.reservation_id.as_str());
    for hold in &fan.holds {
        let HoldOutcome::Held { reservation } = &hold.outcome else {
            continue;
        };
        let id = reservation["reservationId"].as_str().unwrap_or_default();
        if Some(id) == paid {
            continue;
        }
        let read = get(
            api,
            user,
            endpoint::RESERVATION,
            &format!("/reservations/{id}"),
            deadline,
        )
        .await;
        if !read.as_ref().is_some_and(|r| r["status"] == "HELD") {
            wrong.push(format!(
                "{user}: unpaid hold {id} of seat {} reads {read:?}, not HELD",
                hold.seat.number
            ));
        }
    }
    let Ok(Some(listed)) = own_reservations(api, user, deadline).await else {
        return wrong; // not there yet (404/405), or unreadable: `held_seats` still counts
    };
    for item in listed.iter().filter(|r| r["status"] == "HELD") {
        let id = item["reservationId"].as_str().unwrap_or_default();
        let known = fan.holds.iter().any(|hold| match &hold.outcome {
            HoldOutcome::Held { reservation } => reservation["reservationId"] == id,
            HoldOutcome::Unknown => item["seatNumber"] == hold.seat.number,
            HoldOutcome::Refused => false,
        });
        if !known {
            let told: Vec<String> = fan
                .holds
                .iter()
                .filter(|h| item["seatNumber"] == h.seat.number)
                .map(|h| format!("{:?}", h.outcome))
                .collect();
            wrong.push(format!(
                "{user} holds {item} but was never told so; its answers for that seat: {told:?}"
            ));
        }
    }
    wrong
}

/// Every date's chart: each SOLD seat has exactly one receipt among the fans, each receipt's
/// seat is SOLD, and the date's remaining count is its unsold seats. Also returns the chart
/// of the fans' date.
async fn charts(api: &Api, fans: &[FanRecord], deadline: Instant) -> (Vec<String>, Option<Value>) {
    let mut wrong = Vec::new();
    let Some(concerts) = get(api, AUDITOR, endpoint::CONCERTS, "/concerts", deadline).await else {
        return (vec!["audit: GET /concerts failed".to_owned()], None);
    };
    let ids: Vec<String> = concerts["concerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["concertId"].as_str().map(str::to_owned))
        .collect();
    let read = ids
        .iter()
        .map(|concert| concert_charts(api, concert, fans, deadline));
    let mut charts = BTreeMap::new();
    for (broken, read) in futures::future::join_all(read).await {
        wrong.extend(broken);
        charts.extend(read);
    }
    if charts.is_empty() {
        wrong.push("audit: no seat chart could be read".to_owned());
    }
    let paid = receipts(fans);
    for ((concert, date), (chart, remaining, capacity)) in &charts {
        let sold = seats_with(chart, "SOLD");
        for number in &sold {
            let paid_by: Vec<&str> = paid
                .iter()
                .filter(|(_, s)| &s.concert == concert && &s.date == date && s.number == *number)
                .map(|(user, _)| *user)
                .collect();
            if paid_by.len() != 1 {
                wrong.push(format!(
                    "seat {number} of {concert} on {date} is SOLD with receipts of {paid_by:?}"
                ));
            }
        }
        for (user, seat) in &paid {
            if &seat.concert == concert && &seat.date == date && !sold.contains(&seat.number) {
                wrong.push(format!(
                    "{user} has a receipt for seat {} of {concert} on {date}, which is not SOLD",
                    seat.number
                ));
            }
        }
        let unsold = capacity - sold.len() as u64;
        if chart["seats"].as_array().map(Vec::len) != Some(*capacity as usize) {
            wrong.push(format!(
                "{concert} on {date} has {capacity} seats but its chart lists another number"
            ));
        }
        if remaining.is_some_and(|r| r != unsold) {
            wrong.push(format!(
                "{concert} on {date} lists {remaining:?} remaining seats but {unsold} are unsold"
            ));
        }
    }
    let fans_chart = fans
        .iter()
        .find_map(|f| f.date.clone())
        .and_then(|date| charts.remove(&(CONCERT.to_owned(), date)))
        .map(|(chart, _, _)| chart);
    (wrong, fans_chart)
}

/// Per (concert, date): every seat, the remaining count the dates listed, and the capacity.
type Charts = BTreeMap<(String, String), (Value, Option<u64>, u64)>;

/// The seat chart and listed remaining count of each date of `concert`, read by the auditor.
async fn concert_charts(
    api: &Api,
    concert: &str,
    fans: &[FanRecord],
    deadline: Instant,
) -> (Vec<String>, Charts) {
    let mut charts = Charts::new();
    let Some(token) = admitted(api, concert, deadline).await else {
        return (
            vec![format!(
                "audit: the auditor was never admitted to {concert}"
            )],
            charts,
        );
    };
    let path = format!("/concerts/{concert}/dates");
    let Some(listed) = get_gated(api, &token, endpoint::DATES, &path, deadline).await else {
        return (vec![format!("audit: GET {path} failed")], charts);
    };
    let mut dates: BTreeMap<String, Option<u64>> = listed["dates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| Some((d["date"].as_str()?.to_owned(), d["remainingSeats"].as_u64())))
        .collect();
    // A date that sold out is no longer listed; the fans know theirs.
    if concert == CONCERT {
        for date in fans.iter().filter_map(|f| f.date.clone()) {
            dates.entry(date).or_insert(None);
        }
    }
    let mut wrong = Vec::new();
    for (date, remaining) in dates {
        match date_chart(api, &token, concert, &date, deadline).await {
            Ok((chart, capacity)) => {
                charts.insert((concert.to_owned(), date), (chart, remaining, capacity));
            }
            Err(failed) => wrong.push(failed),
        }
    }
    (wrong, charts)
}

/// Every seat of a date and how many it has: at once for a hall, a section at a time for a
/// venue too large to list at once, each listing followed through its pages.
async fn date_chart(
    api: &Api,
    token: &str,
    concert: &str,
    date: &str,
    deadline: Instant,
) -> Result<(Value, u64), String> {
    let dated = format!("/concerts/{concert}/dates/{date}");
    let path = format!("{dated}/sections");
    let sections = get_gated(api, token, endpoint::SECTIONS, &path, deadline)
        .await
        .ok_or(format!("audit: GET {path} failed"))?;
    let sections = sections["sections"].as_array().cloned().unwrap_or_default();
    let capacity = sections
        .last()
        .and_then(|s| s["toSeat"].as_u64())
        .ok_or(format!("audit: {path} lists no sections"))?;
    let queries: Vec<String> = if capacity <= LISTED_AT_ONCE {
        vec![String::new()]
    } else {
        sections
            .iter()
            .filter_map(|s| s["section"].as_str())
            .map(|name| format!("?section={}", percent_encoded(name)))
            .collect()
    };
    let mut seats = Vec::new();
    for query in queries {
        // A page at a time, each page's `nextCursor` passed back, until it is null.
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                None => format!("{dated}/seats{query}"),
                Some(next) => {
                    let joiner = if query.is_empty() { '?' } else { '&' };
                    format!(
                        "{dated}/seats{query}{joiner}cursor={}",
                        percent_encoded(next)
                    )
                }
            };
            let chart = get_gated(api, token, endpoint::SEATS, &path, deadline)
                .await
                .ok_or(format!("audit: GET {path} failed"))?;
            seats.extend(chart["seats"].as_array().cloned().unwrap_or_default());
            match chart["nextCursor"].as_str() {
                Some(next) if Some(next) != cursor.as_deref() => cursor = Some(next.to_owned()),
                Some(next) => return Err(format!("audit: {path} pages back to {next}")),
                None => break,
            }
        }
    }
    Ok((json!({ "seats": seats }), capacity))
}

fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every seat HELD on the fans' date is one some fan was given (or may have been: it never
/// learned the outcome), and every unpaid hold a fan was given is HELD; a seat held by a fan
/// who was told `409 SEAT_UNAVAILABLE`, or given to two fans, is not.
async fn held_seats(
    api: &Api,
    fans: &[FanRecord],
    chart: &Value,
    deadline: Instant,
) -> Vec<String> {
    let paid: BTreeSet<&str> = fans
        .iter()
        .filter_map(|f| f.payment.as_ref().filter(|p| !p.receipts.is_empty()))
        .map(|p| p.reservation_id.as_str())
        .collect();
    let accounted: BTreeSet<u64> = fans
        .iter()
        .flat_map(|f| &f.holds)
        .filter(|hold| match &hold.outcome {
            HoldOutcome::Held { reservation } => !reservation["reservationId"]
                .as_str()
                .is_some_and(|id| paid.contains(id)),
            HoldOutcome::Unknown => true,
            HoldOutcome::Refused => false,
        })
        .map(|hold| hold.seat.number)
        .collect();
    let held = seats_with(chart, "HELD");
    let mut wrong = Vec::new();
    // A seat is held by at most one live reservation: a hold a fan was given and did not pay
    // for shows in the chart as HELD, not SOLD to someone else, not AVAILABLE, and no other
    // fan was given one for the same seat.
    let mut holders: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for fan in fans {
        for hold in &fan.holds {
            let HoldOutcome::Held { reservation } = &hold.outcome else {
                continue;
            };
            let id = reservation["reservationId"].as_str().unwrap_or_default();
            if !paid.contains(id) {
                holders.entry(hold.seat.number).or_default().push(&fan.user);
            }
            if !paid.contains(id) && !held.contains(&hold.seat.number) {
                let status = chart["seats"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|s| s["seatNumber"] == hold.seat.number)
                    .map(|s| s["status"].clone());
                wrong.push(format!(
                    "{}: unpaid hold {id} of seat {} shows as {status:?} in the chart, not HELD",
                    fan.user, hold.seat.number
                ));
            }
        }
    }
    for (number, users) in holders.iter().filter(|(_, users)| users.len() > 1) {
        wrong.push(format!(
            "seat {number} of {CONCERT} is held, unpaid, by each of {users:?}"
        ));
    }
    for number in held.difference(&accounted) {
        let refused: Vec<&str> = fans
            .iter()
            .filter(|f| {
                f.holds
                    .iter()
                    .any(|h| h.seat.number == *number && matches!(h.outcome, HoldOutcome::Refused))
            })
            .map(|f| f.user.as_str())
            .collect();
        let mut holder = String::new();
        for user in &refused {
            if let Ok(Some(items)) = own_reservations(api, user, deadline).await {
                if items
                    .iter()
                    .any(|r| r["seatNumber"] == *number && r["status"] == "HELD")
                {
                    holder = format!("; GET /reservations shows {user} holds it");
                }
            }
        }
        wrong.push(format!(
            "seat {number} of {CONCERT} is HELD but no fan was told it holds it; told 409 \
             SEAT_UNAVAILABLE for it: {refused:?}{holder}"
        ));
    }
    wrong
}

/// The fan's balance is the sum of its history, never negative, with one CHARGE per charge
/// key the fan used and one PAYMENT per receipt.
async fn balance(api: &Api, fan: &FanRecord, deadline: Instant) -> Vec<String> {
    let mut wrong = Vec::new();
    let user = &fan.user;
    let Some(balance) = get(api, user, endpoint::BALANCE, "/balance", deadline).await else {
        return vec![format!("{user}: GET /balance failed")];
    };
    let balance = balance["balance"].as_i64().unwrap_or(i64::MIN);
    let Some(history) = history(api, user, deadline).await else {
        return vec![format!("{user}: GET /balance/transactions failed")];
    };
    let mut running = 0;
    for entry in history.iter().rev() {
        let amount = entry["amount"].as_i64().unwrap_or_default();
        running += match entry["type"].as_str() {
            Some("CHARGE") => amount,
            Some("PAYMENT") => -amount,
            _ => {
                wrong.push(format!("{user}: history entry {entry} has no known type"));
                0
            }
        };
        if entry["balanceAfter"].as_i64() != Some(running) || running < 0 {
            wrong.push(format!(
                "{user}: history entry {entry} after a running sum of {running}; \
                 history newest first: {history:?}"
            ));
        }
    }
    if balance != running || balance < 0 {
        wrong.push(format!(
            "{user}: balance {balance} but its history sums to {running}: {history:?}"
        ));
    }

    let mut charged: Vec<i64> = entries(&history, "CHARGE")
        .map(|e| e["amount"].as_i64().unwrap_or_default())
        .collect();
    let mut keyed: Vec<i64> = fan.charges.iter().map(|c| c.amount).collect();
    charged.sort_unstable();
    keyed.sort_unstable();
    if charged != keyed {
        let used: Vec<(&str, i64, String)> = fan
            .charges
            .iter()
            .map(|c| (c.key.as_str(), c.amount, compact(&c.answers)))
            .collect();
        wrong.push(format!(
            "{user}: history has charges {charged:?}, but the fan's keys (key, amount, \
             answers) were {used:?}"
        ));
    }
    let paid: Vec<(Option<i64>, Option<i64>)> = entries(&history, "PAYMENT")
        .map(|e| (e["amount"].as_i64(), e["balanceAfter"].as_i64()))
        .collect();
    let receipts: Vec<(Option<i64>, Option<i64>)> = fan
        .receipt()
        .map(|r| (r["amount"].as_i64(), r["balanceAfter"].as_i64()))
        .into_iter()
        .collect();
    if paid != receipts {
        wrong.push(format!(
            "{user}: history has payments (amount, balanceAfter) {paid:?}, receipts \
             {receipts:?}; payment answers: {:?}",
            fan.payment.as_ref().map(|p| compact(&p.answers))
        ));
    }
    wrong
}

fn entries<'h>(history: &'h [Value], kind: &'h str) -> impl Iterator<Item = &'h Value> {
    history.iter().filter(move |e| e["type"] == kind)
}

/// The whole balance history of `user`, newest first, following `nextCursor`.
async fn history(api: &Api, user: &str, deadline: Instant) -> Option<Vec<Value>> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/balance/transactions?limit=100".to_owned(),
            Some(c) => format!("/balance/transactions?limit=100&cursor={c}"),
        };
        let page = get(api, user, endpoint::HISTORY, &path, deadline).await?;
        items.extend(page["items"].as_array()?.iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Some(items),
        }
    }
}

fn seats_with(chart: &Value, status: &str) -> BTreeSet<u64> {
    chart["seats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["status"] == status)
        .filter_map(|s| s["seatNumber"].as_u64())
        .collect()
}

/// The auditor's ACTIVE token for `concert`.
async fn admitted(api: &Api, concert: &str, deadline: Instant) -> Option<String> {
    let join = Request::post(
        endpoint::JOIN,
        format!("/concerts/{concert}/queue/tokens"),
        None,
    );
    let joined = api.send(AUDITOR, &join, deadline).await.ok()?;
    let token = joined.reply.body["token"].as_str()?.to_owned();
    loop {
        let status = Request::get(endpoint::STATUS, "/queue/status").token(&token);
        let ticket = api.send(AUDITOR, &status, deadline).await.ok()?;
        match ticket.reply.body["status"].as_str()? {
            "ACTIVE" => return Some(token),
            "WAITING" | "PRE_QUEUE" => tokio::time::sleep(Duration::from_millis(250)).await,
            _ => return None,
        }
    }
}

/// A 200 body, or `None`.
async fn get(
    api: &Api,
    user: &str,
    endpoint: &'static str,
    path: &str,
    deadline: Instant,
) -> Option<Value> {
    let sent = api
        .send(user, &Request::get(endpoint, path), deadline)
        .await
        .ok()?;
    (sent.reply.status == 200).then_some(sent.reply.body)
}

async fn get_gated(
    api: &Api,
    token: &str,
    endpoint: &'static str,
    path: &str,
    deadline: Instant,
) -> Option<Value> {
    let request = Request::get(endpoint, path).token(token);
    let sent = api.send(AUDITOR, &request, deadline).await.ok()?;
    (sent.reply.status == 200).then_some(sent.reply.body)
}
