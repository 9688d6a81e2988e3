//! A concert at the catalog's maxima, added over HTTP and sold over HTTP; one over a maximum
//! refused naming it; each route's body cap.

use serde_json::{json, Value};
use ticketing::domain::MAX_SEATS_PER_DATE;
use ticketing::http::{MAX_BODY_BYTES, MAX_CONCERT_BODY_BYTES};
use ticketing::store::{MAX_DATES, MAX_SECTIONS};

use crate::server::{Backend, Options, Server};

const PRICE: i64 = 120_000;

/// A concert of `dates` dates from 2099-01-01 on and `sections` sections of `size` seats, each
/// named with 64 characters.
fn concert(id: &str, dates: usize, sections: u32, size: u32) -> Value {
    let dates: Vec<String> = (0..dates)
        .map(|i| format!("2099-{:02}-{:02}", i / 28 + 1, i % 28 + 1))
        .collect();
    let sections: Vec<Value> = (0..sections)
        .map(|i| {
            json!({"section": section_name(i + 1), "fromSeat": i * size + 1,
                   "toSeat": (i + 1) * size, "price": PRICE})
        })
        .collect();
    json!({"concertId": id, "title": "At the maxima", "dates": dates, "sections": sections})
}

fn section_name(n: u32) -> String {
    format!("{n:0>64}")
}

pub async fn a_concert_at_the_maxima_is_added_and_sells_over_http(backend: Backend) {
    let Some(server) = Server::start(backend, Options::default()) else {
        return;
    };
    let operator = server.anonymous().with("X-Operator-Id", "alice@ops");
    let per_section = MAX_SEATS_PER_DATE / MAX_SECTIONS as u32;

    // One date over the maximum: refused, naming the field and the limit.
    let over = operator
        .post(
            "/admin/concerts",
            concert("too-long", MAX_DATES + 1, 1, 100),
        )
        .await;
    over.assert_problem(400, "INVALID_CATALOG");
    let detail = over.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("dates: at most 150 dates a concert, got 151"),
        "{detail}"
    );

    // At the maxima, pretty-printed: over the 16 KiB every other route takes, under the 64 KiB
    // this one does.
    let at_maxima = concert("biggest-tour", MAX_DATES, MAX_SECTIONS as u32, per_section);
    let body = serde_json::to_string_pretty(&at_maxima).unwrap();
    assert!(
        (MAX_BODY_BYTES..MAX_CONCERT_BODY_BYTES).contains(&body.len()),
        "{} bytes",
        body.len()
    );
    let padded = format!(
        "{body}{}",
        " ".repeat(MAX_CONCERT_BODY_BYTES + 1 - body.len())
    );
    operator
        .post_raw("/admin/concerts", &padded)
        .await
        .assert_problem(413, "PAYLOAD_TOO_LARGE");
    server
        .as_user("ana")
        .post_raw("/balance/charges", &body)
        .await
        .assert_problem(413, "PAYLOAD_TOO_LARGE");
    let added = operator.post_raw("/admin/concerts", &body).await;
    assert_eq!(added.status, 201, "{}", added.body);

    // A fan joins, is admitted by ticks over the largest queue state there is, and buys.
    let ana = server.as_user("ana");
    let token = ana.admitted("biggest-tour").await;
    let fan = ana.token(&token);
    let dates = fan.get("/concerts/biggest-tour/dates").await;
    assert_eq!(dates.status, 200, "{}", dates.body);
    assert_eq!(dates.body["dates"].as_array().unwrap().len(), MAX_DATES);
    let date = dates.body["dates"][MAX_DATES - 1]["date"]
        .as_str()
        .unwrap()
        .to_owned();
    let sections = fan
        .get(&format!("/concerts/biggest-tour/dates/{date}/sections"))
        .await;
    assert_eq!(sections.status, 200, "{}", sections.body);
    assert_eq!(
        sections.body["sections"].as_array().unwrap().len(),
        MAX_SECTIONS
    );
    fan.get(&format!("/concerts/biggest-tour/dates/{date}/seats"))
        .await
        .assert_problem(400, "SECTION_REQUIRED");

    // The last section, in pages of 200: every seat once, the last page's cursor null.
    let last = section_name(MAX_SECTIONS as u32);
    let seats_path = format!("/concerts/biggest-tour/dates/{date}/seats?section={last}");
    let (mut listed, mut cursor) = (Vec::new(), None::<String>);
    for _ in 0..10 {
        let after = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = fan.get(&format!("{seats_path}&limit=200{after}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        listed.extend(
            page.body["seats"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["seatNumber"].as_u64().unwrap()),
        );
        cursor = page.body["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            assert!(page.body["nextCursor"].is_null());
            break;
        }
    }
    let whole: Vec<u64> =
        (u64::from(MAX_SEATS_PER_DATE - per_section + 1)..=u64::from(MAX_SEATS_PER_DATE)).collect();
    assert_eq!(listed, whole);
    fan.get(&format!("{seats_path}&limit=1001"))
        .await
        .assert_problem(400, "INVALID_LIMIT");
    fan.get(&format!("{seats_path}&cursor=1"))
        .await
        .assert_problem(400, "INVALID_CURSOR");

    let held = fan
        .post(
            "/reservations",
            json!({"concertId": "biggest-tour", "date": date, "seatNumber": MAX_SEATS_PER_DATE}),
        )
        .await;
    assert_eq!(held.status, 201, "{}", held.body);
    let charged = ana.post("/balance/charges", json!({"amount": PRICE})).await;
    assert_eq!(charged.status, 200, "{}", charged.body);
    let paid = fan
        .post(
            "/payments",
            json!({"reservationId": held.body["reservationId"]}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);
}
